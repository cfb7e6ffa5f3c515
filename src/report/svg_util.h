// svg_util.h — small pieces shared by the SVG views (flame graph, charts,
// module graphs): escaping, number formatting, a colour scale, axis ticks.
//
// The SVG text is built by hand (no DOM): every attribute value and text node
// goes through XmlEscape, every coordinate through Px, so the output is
// well-formed XML and byte-stable across runs (golden files).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smaragdine::svg {

// Escapes &, <, >, " and ' for text nodes and attribute values; drops control
// characters XML 1.0 forbids (everything below 0x20 except tab, LF and CR).
std::string XmlEscape(std::string_view s);

// A coordinate in px: up to `decimals` decimals, trailing zeros removed, no
// "-0" ("12.5", "3", "0.333").
std::string Px(double v, int decimals = 2);

// An RGB colour as "#rrggbb".
struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  std::string Hex() const;
};

// The sequential heat scale of the power colouring: pale yellow at 0, orange,
// dark red at 1 (`t` is clamped to [0, 1]).
Rgb HeatColour(double t);
// Whether black text stays readable on `c` (else use white).
bool DarkTextOn(Rgb c);
// Distinct colours for series (profiles in a chart, phases, domains): a
// qualitative palette that repeats after 8.
Rgb SeriesColour(size_t i);

// Round tick values covering [0, max] (or [min, max]) with at most about
// `target` intervals: steps of 1, 2 or 5 × 10^k. The last tick is ≥ max.
// Never more than 64 ticks: infinite or NaN ends are clamped to finite ones.
std::vector<double> NiceTicks(double min, double max, int target = 5);
// A tick label without float noise: as many decimals as the tick step needs.
std::string TickLabel(double v, double step);

// The opening <svg> element with the XML declaration, a viewBox and the
// default font, and a <title> (shown by browsers as the document title).
std::string Open(double width_px, double height_px, std::string_view title,
                 std::string_view css_class);
// <text> at (x, y); anchor "start" | "middle" | "end"; `extra` is appended to
// the attributes verbatim (e.g. "font-weight=\"bold\"").
std::string Text(double x, double y, std::string_view anchor, std::string_view text,
                 std::string_view extra = "");

}  // namespace smaragdine::svg
