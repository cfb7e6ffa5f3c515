// libFuzzer target: every report renderer on a parsed profile.json — table,
// csv, json, folded, perfetto, svg (flame and the three charts), dot,
// graph-svg and html — and diff against itself.
//
//   fuzz/run.sh report_fuzz 600
//
// Besides "no crash, no hang", the outputs must hold what docs/security.md
// promises for names from others: no terminal escape in the table, no
// character XML forbids in svg/graph-svg/html, one folded line per stack, and
// no CSV field that a spreadsheet would take for a formula.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smaragdine/profile.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace {

using namespace smaragdine;

// C0 controls other than tab, newline and carriage return, and DEL, are not
// allowed in XML 1.0 (DEL is, but a terminal would act on ESC sequences).
bool HasXmlForbidden(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
  return false;
}

// The table goes to a terminal: no control character but the newline.
bool HasTerminalControl(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  return false;
}

// Every CSV field that starts (after its opening quote) with = + - @ tab or CR
// is a formula to a spreadsheet unless it is a plain number.
bool HasFormulaField(std::string_view csv) {
  size_t i = 0;
  while (i < csv.size()) {
    bool quoted = csv[i] == '"';
    size_t start = quoted ? i + 1 : i;
    size_t end = start;
    if (quoted) {
      while (end < csv.size() && !(csv[end] == '"' && (end + 1 >= csv.size() || csv[end + 1] != '"')))
        end += csv[end] == '"' ? 2 : 1;
    } else {
      while (end < csv.size() && csv[end] != ',' && csv[end] != '\n') ++end;
    }
    std::string_view field = csv.substr(start, end - start);
    if (!field.empty() && std::string_view("=+-@\t\r").find(field[0]) != std::string_view::npos) {
      // -1.5, -inf and the like are numbers, not formulas.
      char* parse_end = nullptr;
      std::string f(field);
      std::strtod(f.c_str(), &parse_end);
      if (field[0] != '-' || parse_end != f.c_str() + f.size()) return true;
    }
    i = quoted ? end + 1 : end;
    if (i < csv.size() && (csv[i] == ',' || csv[i] == '\n')) ++i;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Profile> parsed = ParseProfileJson("fuzz", text);
  if (!parsed.ok()) return 0;
  const Profile& p = *parsed;
  const ReportFormat formats[] = {ReportFormat::kTable, ReportFormat::kCsv,
                                  ReportFormat::kJson,  ReportFormat::kFolded,
                                  ReportFormat::kPerfetto, ReportFormat::kSvg,
                                  ReportFormat::kDot,   ReportFormat::kGraphSvg,
                                  ReportFormat::kHtml};
  for (ReportFormat f : formats) {
    // Graphviz lays out every child of the root: keep big fuzzed scopes out of
    // the in-process layout, which is slow, not unsafe.
    if ((f == ReportFormat::kGraphSvg || f == ReportFormat::kHtml) && p.nodes.size() > 300)
      continue;
    ReportOptions o;
    o.file = "fuzz.json";
    o.format = f;
    Result<std::string> out = RenderReport(p, o);
    if (!out.ok()) continue;
    switch (f) {
      case ReportFormat::kTable:
        if (HasTerminalControl(*out)) std::abort();
        break;
      case ReportFormat::kCsv:
        if (HasFormulaField(*out)) std::abort();
        break;
      case ReportFormat::kSvg:
      case ReportFormat::kGraphSvg:
      case ReportFormat::kHtml:
      case ReportFormat::kDot:
        if (HasXmlForbidden(*out)) std::abort();
        break;
      case ReportFormat::kFolded: {
        // One line per node with energy, and per domain an (idle) and an
        // (other processes) line: a newline in a name must not add one.
        size_t lines = 0;
        for (char c : *out) lines += c == '\n';
        if (lines > p.nodes.size() + 2 * p.domains.size()) std::abort();
        break;
      }
      default: break;
    }
  }
  for (SvgChart chart : {SvgChart::kTopOps, SvgChart::kPower, SvgChart::kPhases}) {
    ReportOptions o;
    o.format = ReportFormat::kSvg;
    o.chart = chart;
    Result<std::string> out = RenderReport(p, o);
    if (out.ok() && HasXmlForbidden(*out)) std::abort();
  }
  ReportOptions top;
  top.top = 5;
  Result<std::string> table = RenderReport(p, top);
  if (table.ok() && HasTerminalControl(*table)) std::abort();
  DiffOptions d;
  for (ReportFormat f : {ReportFormat::kTable, ReportFormat::kCsv}) {
    d.format = f;
    std::string diff = RenderDiff(DiffProfiles(p, p, d), d);
    if (f == ReportFormat::kTable && HasTerminalControl(diff)) std::abort();
    if (f == ReportFormat::kCsv && HasFormulaField(diff)) std::abort();
  }
  return 0;
}
