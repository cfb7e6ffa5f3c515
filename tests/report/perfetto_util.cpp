// Structural checks of `report --format perfetto` output (perfetto_util.h).
#include "report/perfetto_util.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace smaragdine::testing {

namespace dom = simdjson::dom;

// µs with three decimals back to ns, exactly for the magnitudes of a run's clock.
int64_t Nanos(double us) { return std::llround(us * 1000.0); }

PerfettoSummary CheckPerfetto(const Profile& p, const std::string& json) {
  PerfettoSummary s;
  dom::parser parser;
  dom::element doc;
  simdjson::padded_string padded(json);
  auto err = parser.parse(padded).get(doc);
  EXPECT_FALSE(err) << "not valid JSON: " << simdjson::error_message(err);
  if (err) return s;
  dom::array events;
  EXPECT_FALSE(doc["traceEvents"].get(events)) << "no traceEvents array";
  if (!events.size()) return s;

  struct Slice {
    int64_t tid, start_ns, end_ns;
    std::string path;
    double energy_j, self_j;
  };
  std::vector<Slice> slices;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> counters;
  for (dom::element e : events) {
    std::string_view ph, name;
    EXPECT_FALSE(e["ph"].get(ph));
    EXPECT_FALSE(e["name"].get(name));
    int64_t pid = 0, tid = 0;
    EXPECT_FALSE(e["pid"].get(pid));
    if (e["tid"].get(tid)) tid = 0;  // counters may leave it out
    if (ph == "M") {
      if (name == "thread_name") {
        std::string_view n;
        EXPECT_FALSE(e["args"]["name"].get(n));
        s.thread_names[tid] = std::string(n);
      }
      continue;
    }
    double ts = 0;
    EXPECT_FALSE(e["ts"].get(ts)) << "event without ts";
    if (ph == "C") {
      double w = 0;
      EXPECT_FALSE(e["args"]["W"].get(w));
      counters[std::string(name)].push_back({Nanos(ts), w});
      continue;
    }
    EXPECT_EQ(ph, "X");
    double dur = 0;
    EXPECT_FALSE(e["dur"].get(dur));
    if (pid == 1) {  // the steps' track
      ++s.step_slices;
      continue;
    }
    Slice sl{tid, Nanos(ts), Nanos(ts) + Nanos(dur), "", 0, 0};
    std::string_view path;
    EXPECT_FALSE(e["args"]["path"].get(path));
    sl.path = std::string(path);
    EXPECT_FALSE(e["args"]["energy_j"].get(sl.energy_j));
    EXPECT_FALSE(e["args"]["self_energy_j"].get(sl.self_j));
    std::string_view phase;
    EXPECT_FALSE(e["args"]["phase"].get(phase));
    double power_w = 0;
    EXPECT_FALSE(e["args"]["power_w"].get(power_w));
    slices.push_back(sl);
  }
  s.slices = slices.size();

  // Every timeline event once: same lane, times to the ns, and node path.
  using Key = std::tuple<int64_t, int64_t, int64_t, std::string>;
  std::vector<Key> want, got;
  for (const TimelineEvent& e : p.timeline.events)
    want.emplace_back(int64_t{e.lane} + 1, e.start_ns, e.end_ns, p.nodes[e.node].path);
  for (const Slice& sl : slices) got.emplace_back(sl.tid, sl.start_ns, sl.end_ns, sl.path);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(want.size(), got.size()) << "slices vs timeline events";
  EXPECT_TRUE(want == got) << "the slices are not the timeline's events";

  // Inclusive energy: a slice's energy_j is its self plus its nested slices'.
  std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
    return std::tie(a.tid, a.start_ns, b.end_ns) < std::tie(b.tid, b.start_ns, a.end_ns);
  });
  std::vector<double> children_j(slices.size(), 0);
  std::vector<size_t> stack;
  auto close = [&] {
    const size_t top = stack.back();
    stack.pop_back();
    const double want_j = slices[top].self_j + children_j[top];
    EXPECT_NEAR(slices[top].energy_j, want_j, 1e-9 * std::max(1e-9, std::fabs(want_j)))
        << slices[top].path;
    if (!stack.empty()) children_j[stack.back()] += slices[top].energy_j;
  };
  for (size_t i = 0; i < slices.size(); ++i) {
    while (!stack.empty() && (slices[stack.back()].tid != slices[i].tid ||
                              slices[i].end_ns > slices[stack.back()].end_ns))
      close();
    stack.push_back(i);
  }
  while (!stack.empty()) close();
  for (const Slice& sl : slices) s.self_j += sl.self_j;

  // Counter tracks: the integral of the step function.
  for (auto& [name, samples] : counters) {
    std::sort(samples.begin(), samples.end());
    double j = 0;
    for (size_t i = 0; i + 1 < samples.size(); ++i)
      j += samples[i].second * (samples[i + 1].first - samples[i].first) * 1e-9;
    EXPECT_EQ(samples.back().second, 0) << name << " ends at 0 W";
    s.counter_j[name] = j;
  }
  return s;
}

}  // namespace smaragdine::testing
