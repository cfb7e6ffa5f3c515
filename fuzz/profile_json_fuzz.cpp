// libFuzzer target: the profile.json reader (ParseProfileJson), the file that
// `report` and `diff` open from others.
//
//   fuzz/run.sh profile_json_fuzz 600
//
// Besides "no crash", every accepted profile must keep the promises the
// renderers rely on (profile.h): node 0 is the root, parents come before their
// children, timeline events point at existing nodes and lanes; and writing it
// back must read again (the reader accepts what the writer makes).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smaragdine/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smaragdine;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Profile> p = ParseProfileJson("fuzz", text);
  if (!p.ok()) {
    if (p.error().code != ErrorCode::kBadInput) std::abort();
    return 0;
  }
  if (p->nodes.empty() || p->nodes[0].parent != -1) std::abort();
  for (size_t i = 1; i < p->nodes.size(); ++i) {
    const int64_t parent = p->nodes[i].parent;
    if (parent < 0 || static_cast<size_t>(parent) >= i) std::abort();
    if (p->nodes[i].self_j.size() != p->domains.size()) std::abort();
  }
  for (const TimelineEvent& e : p->timeline.events)
    if (e.node >= p->nodes.size() || e.lane >= p->timeline.lanes.size()) std::abort();
  for (const auto& [from, to] : p->dataflow)
    if (from >= p->nodes.size() || to >= p->nodes.size()) std::abort();
  Result<Profile> again = ParseProfileJson("fuzz-again", ProfileToJson(*p));
  if (!again.ok() || again->nodes.size() != p->nodes.size()) std::abort();
  return 0;
}
