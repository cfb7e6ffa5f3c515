// diagnostic_names.h — the table of every diagnostic name the library counts.
//
// Diagnostics (diagnostics.h) are counted under stable `<stage>.<what_happened>`
// names that profiles keep; this table says, for each, where the docs explain
// it and what it means:
//
//   if (const DiagnosticName* d = FindDiagnostic("trace.unmatched_end_event"))
//     fmt::print("{}: {} ({})\n", d->name, d->meaning, d->doc);
#pragma once

#include <span>
#include <string_view>

namespace smaragdine {

struct DiagnosticName {
  std::string_view name;     // "trace.unmatched_end_event"
  std::string_view doc;      // "docs/trace-formats.md", whose table has a row for it
  std::string_view meaning;  // one sentence, as that row says it
};

// Every name, sorted (src/common/diagnostic_names.cpp).
std::span<const DiagnosticName> KnownDiagnostics();
// The row for `name`, or nullptr for a name the table does not have.
const DiagnosticName* FindDiagnostic(std::string_view name);

}  // namespace smaragdine
