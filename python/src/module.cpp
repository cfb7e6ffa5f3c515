// smaragdine._C: the live LibTorch recorder (src/torch/live/) driven from
// Python. The extension loads next to torch, in the same process and against
// the same libtorch, so the global RecordFunction callback sees every operator
// the Python program runs; what Python adds (module names, optimizer steps) is
// scopes, phases and step marks through the same calls a C++ program makes.
//
// No torch headers and no torch Python objects cross this boundary: the
// module takes and returns plain Python data, so it does not depend on torch's
// own pybind11 bindings.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/version.h>

#include <fmt/format.h>

#include "smaragdine/energy_log.h"
#include "smaragdine/profile.h"
#include "smaragdine/recording.h"
#include "smaragdine/report.h"
#include "smaragdine/torch/live.h"
#include "smaragdine/torch/scope.h"
#include "torch/live/recorder.h"

namespace py = pybind11;

namespace smaragdine::python {
namespace {

// Errors are values in the library; here, at its Python edge, they become
// smaragdine.Error (a RuntimeError) carrying the library's message and code.
PyObject* g_error_type = nullptr;

[[noreturn]] void Raise(const Error& e) {
  py::object type = py::reinterpret_borrow<py::object>(g_error_type);
  py::object exc = type(e.ToString());
  exc.attr("code") = static_cast<int>(e.code);
  exc.attr("file") = e.file;
  PyErr_SetObject(g_error_type, exc.ptr());
  throw py::error_already_set();
}

template <typename T>
T Take(Result<T> r) {
  if (!r.ok()) Raise(r.error());
  return std::move(*r);
}

// ---- profiles as Python data ----

std::string PhaseKey(int phase) { return std::string(ToString(static_cast<Phase>(phase))) + "_j"; }

// One dict per node, parents before children: what pandas.DataFrame takes as
// is. Energies are summed over domains (energy_j, self_j, the phases) and
// also given per domain ("<domain>_j"), so a DataFrame has one column each.
py::list NodesAsDicts(const Profile& p) {
  py::list out;
  std::vector<int> depth(p.nodes.size(), 0);
  for (const ProfileNode& n : p.nodes) {
    if (n.parent >= 0) depth[n.id] = depth[static_cast<size_t>(n.parent)] + 1;
    py::dict d;
    d["path"] = n.path;
    d["name"] = n.name;
    d["parent"] = n.parent >= 0 ? py::object(py::str(p.nodes[n.parent].path)) : py::none();
    d["depth"] = depth[n.id];
    d["kind"] = ToString(n.kind);
    d["energy_j"] = n.TotalJ();
    d["self_j"] = n.SelfJ();
    d["ci95_j"] = n.TotalCi95J();
    d["time_s"] = n.time_ns * 1e-9;
    d["power_w"] = n.PowerW();
    d["calls"] = n.calls;
    for (int ph = 0; ph < kPhaseCount; ++ph)
      d[py::str(PhaseKey(ph))] = PhaseFigures::SumOf(n.phases[ph].total_j);
    for (size_t i = 0; i < p.domains.size() && i < n.total_j.size(); ++i)
      d[py::str(p.domains[i].name + "_j")] = n.total_j[i];
    d["steps"] = n.steps.n;
    d["step_mean_j"] = n.steps.mean_j;
    d["step_ci95_j"] = n.steps.ci95_j;
    out.append(std::move(d));
  }
  return out;
}

py::list DomainsAsDicts(const Profile& p) {
  py::list out;
  for (const ProfileDomain& d : p.domains) {
    py::dict x;
    x["name"] = d.name;
    x["device"] = d.device;
    x["source"] = d.source;
    x["measured_j"] = d.measured_j;
    x["idle_j"] = d.idle_j;
    x["other_j"] = d.other_j;
    x["modeled"] = d.modeled;
    out.append(std::move(x));
  }
  return out;
}

std::string Report(const Profile& p, const std::string& format, int top, std::optional<int> depth,
                   const std::string& root) {
  ReportOptions o;
  o.file = "(live session)";
  o.format = Take(ParseReportFormat(format));
  o.top = top;
  o.depth = depth;
  o.root = root;
  return Take(RenderReport(p, o));
}

// ---- sessions ----

live::SessionOptions ToSessionOptions(const py::kwargs& kw) {
  live::SessionOptions o;
  auto str = [&](const char* key, std::string& field) {
    if (kw.contains(key) && !kw[key].is_none()) field = py::cast<std::string>(kw[key]);
  };
  str("run_dir", o.run_dir);
  str("output_dir", o.output_dir);
  str("trace_name", o.trace_name);
  str("nvml_library", o.sampling.sources.nvml_library);
  if (kw.contains("use_run_dir_env")) o.use_run_dir_env = py::cast<bool>(kw["use_run_dir_env"]);
  if (kw.contains("write_profile")) o.write_profile = py::cast<bool>(kw["write_profile"]);
  if (kw.contains("step_after_last_mark"))
    o.step_after_last_mark = py::cast<bool>(kw["step_after_last_mark"]);
  if (kw.contains("sources") && !kw["sources"].is_none())
    o.sampling.forced_sources = py::cast<std::vector<std::string>>(kw["sources"]);
  if (kw.contains("baseline_w") && !kw["baseline_w"].is_none())
    o.baseline_w = py::cast<std::map<std::string, double>>(kw["baseline_w"]);
  if (kw.contains("rate_hz") && !kw["rate_hz"].is_none()) {
    const double hz = py::cast<double>(kw["rate_hz"]);
    if (!(hz > 0 && hz <= 10000)) Raise(UsageError(fmt::format("rate_hz {} is outside (0, 10000]", hz)));
    o.sampling.fast_period_ns = static_cast<int64_t>(1e9 / hz);
  }
  return o;
}

py::dict InfoAsDict(const live::SessionInfo& i) {
  py::dict d;
  d["joined"] = i.joined;
  d["run_dir"] = i.run_dir;
  d["trace_path"] = i.trace_path;
  d["profile_path"] = i.profile_path;
  d["events"] = i.events;
  d["steps"] = i.steps;
  d["gpu_events"] = i.gpu_events;
  d["gpu_activity_error"] = i.gpu_activity_error;
  py::list domains;
  for (const DomainInfo& x : i.domains) {
    py::dict dd;
    dd["name"] = x.name;
    dd["source"] = x.source;
    dd["modeled"] = x.modeled;
    domains.append(std::move(dd));
  }
  d["domains"] = std::move(domains);
  return d;
}

class PySession {
 public:
  explicit PySession(std::unique_ptr<live::Session> s) : s_(std::move(s)) {}
  void Step() { s_->Step(); }
  void BeginSteps() { s_->BeginSteps(); }
  Profile Stop() {
    Result<Profile> r = [&] {
      py::gil_scoped_release release;  // accounting takes a while; other threads run
      return s_->Stop();
    }();
    return Take(std::move(r));
  }
  std::string StopAndWriteTrace() {
    Result<std::string> r = [&] {
      py::gil_scoped_release release;
      return s_->StopAndWriteTrace();
    }();
    return Take(std::move(r));
  }
  void AddGpuActivity(const std::string& path, uint64_t sync_os_tid, int64_t sync_begin_ns,
                      int64_t sync_end_ns) {
    s_->AddGpuActivity({path, sync_os_tid, sync_begin_ns, sync_end_ns});
  }
  py::dict Info() const { return InfoAsDict(s_->info()); }

 private:
  std::unique_ptr<live::Session> s_;
};

// ---- scopes and phases, per thread ----

// Scopes opened from Python on this thread, innermost last. A Scope is an
// RAII guard in C++; Python's module hooks open and close them in pairs, and
// LeaveScope closes the innermost.
thread_local std::vector<std::unique_ptr<live::Scope>> t_scopes;

void EnterScope(const std::string& name) { t_scopes.push_back(std::make_unique<live::Scope>(name)); }
bool LeaveScope() {
  if (t_scopes.empty()) return false;
  t_scopes.pop_back();
  return true;
}

std::optional<Phase> ParsePhase(const std::string& s) {
  for (int i = 0; i < kPhaseCount; ++i)
    if (s == ToString(static_cast<Phase>(i))) return static_cast<Phase>(i);
  return std::nullopt;
}

// A phase guard that Python opens and closes: live::PhaseGuard is RAII, so a
// stack of them per thread, like the scopes.
thread_local std::vector<std::unique_ptr<live::PhaseGuard>> t_phases;

void EnterPhase(const std::string& name) {
  std::optional<Phase> p = ParsePhase(name);
  if (!p) Raise(UsageError(fmt::format("unknown phase '{}': forward, backward, optimizer or other", name)));
  t_phases.push_back(std::make_unique<live::PhaseGuard>(*p));
}
bool LeavePhase() {
  if (t_phases.empty()) return false;
  t_phases.pop_back();
  return true;
}

// ---- plain energy windows (smaragdine.measure) ----

class Measurement {
 public:
  static std::unique_ptr<Measurement> Start(const py::kwargs& kw) {
    auto m = std::make_unique<Measurement>();
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = fmt::format("{}/smaragdine-measure-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir.data()) == nullptr)
      Raise(BadInput(dir, fmt::format("cannot create a temporary directory: {}", std::strerror(errno))));
    m->dir_ = dir;
    RecordingOptions o;
    o.dir = dir;
    o.existing = ExistingRunDirectory::kReplaceOwnFiles;
    if (kw.contains("sources") && !kw["sources"].is_none())
      o.sampling.forced_sources = py::cast<std::vector<std::string>>(kw["sources"]);
    o.pid = getpid();
    o.record_cpu_time = false;
    o.command = {fmt::format("(smaragdine.measure in pid {})", getpid())};
    Result<std::unique_ptr<Recording>> r = Recording::Start(o);
    if (!r.ok()) {
      m->Cleanup();
      Raise(r.error());
    }
    m->recording_ = std::move(*r);
    return m;
  }
  ~Measurement() {
    recording_.reset();
    Cleanup();
  }

  // Per domain: joules, source, whether modeled; and the window's length.
  py::dict Stop() {
    if (!recording_) Raise(UsageError("smaragdine.measure: the window was already stopped"));
    RecordingSummary s;
    {
      py::gil_scoped_release release;
      s = recording_->Stop(0);
    }
    recording_.reset();
    Cleanup();
    if (!s.errors.empty()) Raise(s.errors.front());
    py::dict out;
    py::dict energy;
    py::list modeled;
    double total_j = 0;
    for (size_t i = 0; i < s.meta.domains.size() && i < s.tallies.size(); ++i) {
      energy[py::str(s.meta.domains[i].name)] = s.tallies[i].energy_j;
      total_j += s.tallies[i].energy_j;
      if (s.meta.domains[i].modeled) modeled.append(s.meta.domains[i].name);
    }
    out["energy_j"] = std::move(energy);
    out["total_j"] = total_j;
    out["modeled"] = std::move(modeled);
    const int64_t start = s.meta.started_ns.value_or(0), end = s.meta.ended_ns.value_or(start);
    out["duration_s"] = (end - start) * 1e-9;
    return out;
  }

 private:
  void Cleanup() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
  std::string dir_;
  std::unique_ptr<Recording> recording_;
};

}  // namespace
}  // namespace smaragdine::python

PYBIND11_MODULE(_C, m) {
  using namespace smaragdine;
  using namespace smaragdine::python;
  m.doc() = "Smaragdine's live LibTorch recorder, driven from Python (use the smaragdine package)";
  m.attr("built_torch_version") = py::str(TORCH_VERSION);

  static py::exception<std::runtime_error> error_type(m, "Error", PyExc_RuntimeError);
  g_error_type = error_type.ptr();

  py::class_<Profile>(m, "Profile")
      .def("nodes", &NodesAsDicts)
      .def("domains", &DomainsAsDicts)
      .def("report", &Report, py::arg("format") = "table", py::arg("top") = 0,
           py::arg("depth") = py::none(), py::arg("root") = "")
      .def("save",
           [](const Profile& p, const std::string& path) {
             if (Status s = WriteProfileJson(p, path); !s.ok()) Raise(s.error());
           })
      .def_property_readonly("measured_j", &Profile::MeasuredJ)
      .def_property_readonly("idle_j", &Profile::IdleJ)
      .def_property_readonly("warnings", [](const Profile& p) { return p.diagnostics.warnings(); });
  m.def("load_profile", [](const std::string& path) { return Take(ReadProfileJson(path)); });

  py::class_<PySession>(m, "Session")
      .def("step", &PySession::Step)
      .def("begin_steps", &PySession::BeginSteps)
      .def("stop", &PySession::Stop)
      .def("stop_and_write_trace", &PySession::StopAndWriteTrace)
      .def("add_gpu_activity", &PySession::AddGpuActivity, py::arg("path"),
           py::arg("sync_os_tid"), py::arg("sync_begin_ns"), py::arg("sync_end_ns"))
      .def_property_readonly("info", &PySession::Info);
  m.def("start_session", [](const py::kwargs& kw) {
    live::SessionOptions o = ToSessionOptions(kw);
    return std::make_unique<PySession>(Take(live::Session::Start(o)));
  });

  m.def("enter_scope", &EnterScope, py::arg("name"));
  m.def("leave_scope", &LeaveScope);
  m.def("scope_depth", [] { return t_scopes.size(); });
  m.def("current_scope_path", [] { return live::ScopePath(live::CurrentScope()); });
  m.def("enter_phase", &EnterPhase, py::arg("phase"));
  m.def("leave_phase", &LeavePhase);
  m.def("disable_after_fork", [] {
    live::internal::DisableAfterFork();
    // The child's copies of the parent's scope guards must not close the
    // parent's scopes' records; they are dropped without running.
    for (auto& s : t_scopes) (void)s.release();
    t_scopes.clear();
  });

  py::class_<Measurement>(m, "Measurement").def("stop", &Measurement::Stop);
  m.def("start_measurement", [](const py::kwargs& kw) { return Measurement::Start(kw); });
}
