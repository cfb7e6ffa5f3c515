#include "report/svg_util.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace smaragdine::svg {

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // XML 1.0 has no way to write these, not even as character references.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string Px(double v, int decimals) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string Rgb::Hex() const { return fmt::format("#{:02x}{:02x}{:02x}", r, g, b); }

namespace {
Rgb Mix(Rgb a, Rgb b, double t) {
  auto ch = [t](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(x + (static_cast<double>(y) - x) * t));
  };
  return {ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b)};
}
}  // namespace

Rgb HeatColour(double t) {
  if (!(t > 0)) t = 0;  // also NaN
  if (t > 1) t = 1;
  // Three stops, like flamegraph.pl's warm palette but ordered: low power
  // reads pale, high power dark.
  const Rgb low{254, 236, 160}, mid{246, 146, 52}, high{178, 24, 24};
  return t < 0.5 ? Mix(low, mid, t * 2) : Mix(mid, high, (t - 0.5) * 2);
}

bool DarkTextOn(Rgb c) {
  // Relative luminance (sRGB weights); above ~0.35 black text has the better contrast.
  const double y = (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0;
  return y > 0.35;
}

Rgb SeriesColour(size_t i) {
  // Tableau-like qualitative colours, distinguishable for most colour vision.
  static const Rgb kPalette[] = {{78, 121, 167}, {242, 142, 43}, {89, 161, 79},  {225, 87, 89},
                                 {118, 183, 178}, {237, 201, 72}, {176, 122, 161}, {156, 117, 95}};
  return kPalette[i % 8];
}

std::vector<double> NiceTicks(double min, double max, int target) {
  // Any profile value reaches here (issue 17): an infinite, NaN or absurd range
  // must not loop or allocate without bound. Non-finite ends are clamped to the
  // largest finite doubles, and at most kMaxTicks ticks are made whatever the
  // range (a step too small to move `first` ends the axis at two ticks).
  constexpr int64_t kMaxTicks = 64;
  const double kBig = std::numeric_limits<double>::max() / 4;
  auto clamp = [&](double v) { return std::isnan(v) ? 0.0 : std::clamp(v, -kBig, kBig); };
  min = clamp(min);
  max = clamp(max);
  target = std::clamp(target, 1, static_cast<int>(kMaxTicks) - 2);
  if (!(max > min)) max = min + std::max(1.0, std::abs(min) * 1e-9);
  const double raw = (max - min) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(min / step) * step;
  if (!std::isfinite(step) || !(step > 0) || !std::isfinite(first)) return {min, max};
  // Integer multiples rather than repeated addition, so 0.3 is not 0.30000000000000004.
  for (int64_t k = 0; k < kMaxTicks; ++k) {
    double v = first + static_cast<double>(k) * step;
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    if (v >= max - step * 1e-9) break;
  }
  if (ticks.back() < max) ticks.push_back(max);  // the last tick is >= max, even when cut short
  return ticks;
}

std::string TickLabel(double v, double step) {
  int decimals = 0;
  if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return Px(v, std::min(decimals, 9));
}

std::string Open(double width_px, double height_px, std::string_view title,
                 std::string_view css_class) {
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" class=\"{}\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"Verdana, DejaVu Sans, sans-serif\" "
      "font-size=\"12\">\n<title>{}</title>\n",
      XmlEscape(css_class), Px(width_px), Px(height_px), Px(width_px), Px(height_px),
      XmlEscape(title));
}

std::string Text(double x, double y, std::string_view anchor, std::string_view text,
                 std::string_view extra) {
  return fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\"{}{}>{}</text>\n", Px(x), Px(y),
                     anchor, extra.empty() ? "" : " ", extra, XmlEscape(text));
}

}  // namespace smaragdine::svg
