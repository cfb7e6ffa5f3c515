// text.h — number and column formatting shared by the report renderers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smaragdine::report_text {

// Four significant digits in fixed notation ("12.35", "0.001235", "1235"),
// "0" for zero: one rule for J, W and ms so that columns read alike.
std::string Sig4(double v);
// Sig4 with an explicit '+' on positive values, for differences.
std::string SignedSig4(double v);
// Shortest text that reads back to the same double (machine formats).
std::string Exact(double v);
// Columns are counted in code points: tree glyphs and '…' are one column each
// but several UTF-8 bytes.
size_t DisplayWidth(std::string_view s);
// Cuts the middle out of `s` (keeping both ends, joined by '…') to fit `width`.
std::string Ellipsize(std::string_view s, size_t width);
std::string PadRight(std::string_view s, size_t width);
std::string PadLeft(std::string_view s, size_t width);
// RFC 4180: quoted (with doubled quotes) when it holds ',', '"', CR or LF.
std::string CsvField(std::string_view s);

}  // namespace smaragdine::report_text
