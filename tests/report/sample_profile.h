// sample_profile.h — small hand-built profiles for the profile and report tests.
//
// The tests cannot wait for attribution, so the profiles are built here: a
// BERT-like tree with two domains (cpu:0/package with a 5 W baseline, gpu:0
// without), forward and backward phases, three steps, and idle energy. Leaves
// are given; scopes are summed the way DESIGN §7.3 defines totals.
#pragma once

#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "smaragdine/profile.h"

namespace smaragdine::testing {

class SampleBuilder {
 public:
  explicit SampleBuilder(std::vector<std::string> domains) {
    for (const std::string& d : domains) {
      ProfileDomain pd;
      pd.name = d;
      pd.device = d.rfind("gpu", 0) == 0 ? "GPU:0" : "CPU:0";
      pd.source = d.rfind("gpu", 0) == 0 ? "nvml" : "rapl-powercap";
      p_.domains.push_back(pd);
    }
    NewNode("", "", -1, NodeKind::kScope);
  }

  // A leaf op with its own energy per domain; `backward_share` of it ran in the
  // backward phase; `step_std_j` is its per-step standard deviation over 3 steps.
  SampleBuilder& Leaf(const std::string& path, std::vector<double> self_j, int64_t time_ns,
                      int64_t calls, double backward_share = 0, double step_std_j = 0,
                      NodeKind kind = NodeKind::kOp) {
    uint32_t parent = 0;
    size_t start = 0;
    while (true) {
      size_t slash = path.find('/', start);
      bool last = slash == std::string::npos;
      std::string prefix = path.substr(0, last ? path.size() : slash);
      auto it = index_.find(prefix);
      if (it == index_.end()) {
        parent = NewNode(prefix, prefix.substr(start), parent, last ? kind : NodeKind::kScope);
      } else {
        parent = it->second;
      }
      if (last) break;
      start = slash + 1;
    }
    ProfileNode& n = p_.nodes[parent];
    n.self_j = self_j;
    n.time_ns = time_ns;
    n.calls = calls;
    double total = 0;
    for (double x : self_j) total += x;
    for (size_t d = 0; d < self_j.size(); ++d) {
      n.phases[0].self_j[d] = self_j[d] * (1 - backward_share);
      n.phases[1].self_j[d] = self_j[d] * backward_share;
    }
    n.phases[0].calls = calls;
    n.phases[0].time_ns = static_cast<int64_t>(time_ns * (1 - backward_share));
    if (backward_share > 0) {
      n.phases[1].calls = calls;
      n.phases[1].time_ns = time_ns - n.phases[0].time_ns;
    }
    n.steps.n = 3;
    n.steps.mean_j = total / 3;
    n.steps.std_j = step_std_j;
    n.steps.ci95_j = 4.302652729911275 * step_std_j / std::sqrt(3.0);  // t(0.975, 2 dof)
    return *this;
  }

  // A leaf that runs in the optimizer phase (no forward or backward part).
  SampleBuilder& Optimizer(const std::string& path, std::vector<double> self_j, int64_t time_ns,
                           int64_t calls, double step_std_j) {
    Leaf(path, std::move(self_j), time_ns, calls, 0, step_std_j);
    ProfileNode& n = p_.nodes.back();
    std::swap(n.phases[0], n.phases[2]);
    return *this;
  }

  // Sums scopes from their children, sets idle and measured energy, a 5 W
  // baseline on the first domain over a 2 s window.
  Profile Finish(std::vector<double> idle_j, bool baseline = true) {
    const size_t nd = p_.domains.size();
    for (size_t i = p_.nodes.size(); i-- > 0;) {
      ProfileNode& n = p_.nodes[i];
      for (size_t d = 0; d < nd; ++d) {
        n.total_j[d] += n.self_j[d];
        for (auto& ph : n.phases) ph.total_j[d] += ph.self_j[d];
      }
      if (baseline) n.total_static_j[0] = n.total_j[0] * 0.25;  // a plausible static part
      if (n.parent < 0) continue;
      ProfileNode& p = p_.nodes[static_cast<size_t>(n.parent)];
      bool scope = p.calls == 0;
      for (size_t d = 0; d < nd; ++d) {
        p.total_j[d] += n.total_j[d];
        for (int ph = 0; ph < kPhaseCount; ++ph) p.phases[ph].total_j[d] += n.phases[ph].total_j[d];
      }
      if (scope) {
        p.time_ns += n.time_ns;
        for (int ph = 0; ph < kPhaseCount; ++ph) p.phases[ph].time_ns += n.phases[ph].time_ns;
        p.steps.n = 3;
        p.steps.mean_j += n.steps.mean_j;
        p.steps.std_j = std::hypot(p.steps.std_j, n.steps.std_j);
        p.steps.ci95_j = std::hypot(p.steps.ci95_j, n.steps.ci95_j);
      }
    }
    for (size_t d = 0; d < nd; ++d) {
      p_.domains[d].idle_j = idle_j[d];
      p_.domains[d].measured_j = p_.nodes[0].total_j[d] + idle_j[d];
    }
    if (baseline) {
      p_.domains[0].baseline_w = 5;
      p_.domains[0].static_j = 10;
    }
    p_.meta.tool = "smaragdine 0.1.0";
    p_.meta.energy_source = "runs/bert-train";
    p_.meta.traces = {"bert-train.pt.trace.json"};
    p_.meta.dialect = "pytorch";
    p_.meta.method = "proportional, equal split among concurrently active leaves";
    p_.meta.alignment = "realtime to monotonic through 3 clock-sync pairs";
    p_.meta.clock = "CLOCK_MONOTONIC";
    p_.meta.window_start_ns = 1000000000;
    p_.meta.window_end_ns = 3000000000;
    p_.meta.steps = 3;
    return p_;
  }

  Profile& profile() { return p_; }

 private:
  uint32_t NewNode(const std::string& path, const std::string& name, int64_t parent,
                   NodeKind kind) {
    const size_t nd = p_.domains.size();
    ProfileNode n;
    n.id = static_cast<uint32_t>(p_.nodes.size());
    n.parent = parent;
    n.name = name;
    n.path = path;
    n.kind = kind;
    n.ZeroEnergies(nd);
    index_[path] = n.id;
    p_.nodes.push_back(std::move(n));
    return p_.nodes.back().id;
  }

  Profile p_;
  std::unordered_map<std::string, uint32_t> index_;
};

// A two-layer BERT training step: embeddings, encoder/layer_{0,1}, pooler, loss.
// `model` names the top scope ("bert" or "albert"); `scale` multiplies energies.
inline Profile SmallBert(const std::string& model = "bert", double scale = 1.0) {
  SampleBuilder b({"cpu:0/package", "gpu:0"});
  auto s = [scale](double x) { return x * scale; };
  b.Leaf(model + "/embeddings/word_embeddings/Gather", {s(0.25), s(0.5)}, 2000000, 3, 0.5, 0.01)
      .Leaf(model + "/embeddings/LayerNorm", {s(0.125), s(0.25)}, 1000000, 3, 0.5, 0.005);
  for (int layer = 0; layer < 2; ++layer) {
    std::string l = model + "/encoder/layer_" + std::to_string(layer);
    double k = 1.0 + 0.125 * layer;  // later layers a little dearer, so sorting is visible
    b.Leaf(l + "/attention/self/query/MatMul", {s(0.5 * k), s(4.0 * k)}, 8000000, 3, 0.625, 0.05)
        .Leaf(l + "/attention/self/Softmax", {s(0.25 * k), s(1.5 * k)}, 4000000, 3, 0.5, 0.02)
        .Leaf(l + "/attention/self/Softmax/softmax_kernel", {0, s(0.75 * k)}, 2000000, 3, 0.5,
              0.01, NodeKind::kKernel)
        .Leaf(l + "/intermediate/dense/MatMul", {s(0.75 * k), s(6.0 * k)}, 12000000, 3, 0.625,
              0.08)
        .Leaf(l + "/output/dense/MatMul", {s(0.75 * k), s(5.5 * k)}, 11000000, 3, 0.625, 0.07);
  }
  b.Leaf(model + "/pooler/dense/Tanh", {s(0.0625), s(0.125)}, 500000, 3, 0.5, 0.002)
      .Leaf("loss/CrossEntropy", {s(0.125), s(0.25)}, 1000000, 3, 0.5, 0.003)
      .Optimizer("optimizer/Adam", {s(0.5), s(1.0)}, 6000000, 3, 0.01);
  Profile p = b.Finish({s(4.0), s(8.0)});
  p.diagnostics.Add("trace.unmatched_end_event", 2);
  p.diagnostics.Warn("gpu:0 counter updates every 100 ms; ops shorter than that share it evenly");
  return p;
}

// SmallBert as the regression attribution writes it: every node with
// total_ci95 (leaves 4 % of each domain's total plus 1 mJ, scopes the root of
// the sum of their children's squares, as independent errors add), and
// meta.method, method_reason and a two-line meta.meter.
inline Profile SmallBertWithIntervals(const std::string& model = "bert", double scale = 1.0) {
  Profile p = SmallBert(model, scale);
  const size_t nd = p.domains.size();
  for (ProfileNode& n : p.nodes) n.total_ci95_j.assign(nd, 0.0);
  std::vector<std::vector<double>> squares(p.nodes.size(), std::vector<double>(nd, 0.0));
  const auto children = p.Children();
  for (size_t i = p.nodes.size(); i-- > 0;) {
    ProfileNode& n = p.nodes[i];
    for (size_t d = 0; d < nd; ++d) {
      const double leaf = n.SelfJ() > 0 && n.self_j[d] > 0 ? 0.04 * n.self_j[d] + 0.001 : 0.0;
      n.total_ci95_j[d] = std::sqrt(squares[i][d] + leaf * leaf);
      if (n.parent >= 0)
        squares[static_cast<size_t>(n.parent)][d] += n.total_ci95_j[d] * n.total_ci95_j[d];
    }
  }
  p.meta.method =
      "regression: per-class average powers fitted to all readings (non-negative, pooled by op "
      "name)";
  p.meta.method_reason = "auto: 3 steps and 1962 readings, enough to fit 9 classes";
  p.meta.meter =
      "cpu:0/package counter, update period 0.977 ms (estimated), lag 0.21 ms (estimated)\n"
      "gpu:0 counter, update period 100 ms (nominal), lag 0 (assumed)";
  return p;
}

}  // namespace smaragdine::testing
