// energy_csv.h — the reading rows of energy.csv (§7.1) and of a plain CSV import (§7.2).
//
// One parser serves both: a run directory's energy.csv checks its domains
// against run.json; an import discovers its domains and their devices.
//
//   EnergyLog log;  // log.domains from run.json
//   SMG_RETURN_IF_ERROR(ParseReadingsInto("run/energy.csv", text, CsvKind::kRunDirectory, {}, log));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/energy_log.h"
#include "smaragdine/status.h"

namespace smaragdine {
class OutputDirectory;
}

namespace smaragdine::energy {

enum class CsvKind {
  kRunDirectory,  // log.domains given (run.json); an unterminated last line is always dropped
  kImport,        // domains discovered; an unterminated last line is dropped only if malformed
};

// Parses the CSV `text` (`file` names it in messages), normalises every domain
// and fills log.series (and, for kImport, log.domains) and log.diagnostics.
// Errors: kBadInput with file and 1-based line; kNothingMeasurable when no
// domain has two readings.
Status ParseReadingsInto(const std::string& file, std::string_view text, CsvKind kind,
                         const EnergyImportOptions& options, EnergyLog& log);

// Decimal seconds as text ("12.5", "1700000000.123456789", "-0.5", "1e-3") →
// integer nanoseconds, exactly, rounded half away from zero beyond 1 ns.
// nullopt when the text is not a decimal number or overflows int64 ns.
std::optional<int64_t> ParseSecondsToNs(std::string_view text);

// WriteRunDirectory into a folder already open (simulate's DIR/run, opened
// relative to DIR): energy.csv and run.json, each made and replaced relative
// to `run`'s descriptor (docs/security.md).
Status WriteRunDirectoryIn(const OutputDirectory& run, const EnergyLog& meta,
                           const std::vector<RawReading>& readings);

}  // namespace smaragdine::energy
