// text.h — number and column formatting shared by the report renderers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smaragdine::report_text {

// Four significant digits in fixed notation ("12.35", "0.001235", "1235"),
// "0" for zero: one rule for J, W and ms so that columns read alike.
std::string Sig4(double v);
// Sig4 with an explicit '+' on positive values, for differences.
std::string SignedSig4(double v);
// Two significant digits, fixed notation ("0.42", "0.0050", "12", "130"), for
// the half-width of an interval: the half-width is itself an estimate good to
// ten percent at best, so further digits are noise (the GUM's rule of at most
// two significant digits for an uncertainty). "-" for NaN.
std::string Sig2(double v);
// "43.81 ± 0.42": a value (Sig4) with the half-width of its interval (Sig2).
std::string WithInterval(double v, double half_width);
// One column of half-widths (bare numbers, "" where a row has none) turned into
// "± 0.42", padded so that in a right-aligned column the signs line up and
// the numbers end together; empty cells stay empty.
void AlignPlusMinus(const std::vector<std::string*>& cells);
// Shortest text that reads back to the same double (machine formats).
std::string Exact(double v);
// Columns are counted in code points: tree glyphs and '…' are one column each
// but several UTF-8 bytes.
size_t DisplayWidth(std::string_view s);
// Cuts the middle out of `s` (keeping both ends, joined by '…') to fit `width`.
std::string Ellipsize(std::string_view s, size_t width);
std::string PadRight(std::string_view s, size_t width);
std::string PadLeft(std::string_view s, size_t width);
// A text table, the one layout of every table a report prints (the node table,
// --top, --by rank): the header, then the rows; each column as wide as its
// widest cell (DisplayWidth), two spaces between columns, the first `left`
// columns padded on the right (names) and the rest on the left (numbers),
// trailing blanks cut. An empty row is a line of '-' as wide as the table.
std::string RenderColumns(const std::vector<std::string>& header, size_t left,
                          const std::vector<std::vector<std::string>>& rows);
// How a sibling merged into `folded_path` is told apart from the others: the
// components of `original_path` that the rules changed ("layer_3" for
// bert/encoder/layer_3/attention under bert/encoder/layer_*/attention), or the
// whole original path when the rules changed the number of components.
std::string SiblingLabel(std::string_view folded_path, std::string_view original_path);
// RFC 4180: quoted (with doubled quotes) when it holds ',', '"', CR or LF. A
// field that a spreadsheet would run as a formula (starting with = + - @, tab or
// CR: OWASP's CSV-injection list) gets a leading ' and is quoted, so that
// `=HYPERLINK(…)` in a name from someone else's profile shows as text.
// For text fields only: numbers (-1.5) are written without it.
std::string CsvField(std::string_view s);
// A name from a profile as text a terminal shows and does not obey: C0 and C1
// control characters, DEL, bytes that are not UTF-8 and the bidirectional
// overrides (U+202A-202E, U+2066-2069, "Trojan Source") are written as \xNN or
// \uNNNN; everything else, other UTF-8 included, is kept. `keep_newlines` keeps
// '\n' (for a whole report whose lines are ours); names get none.
std::string Printable(std::string_view s, bool keep_newlines = false);

}  // namespace smaragdine::report_text
