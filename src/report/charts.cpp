// The SVG charts of views.h: top ops with 95 % confidence intervals, power
// over one step with its phases, energy by phase, and side-by-side module
// bars. Plain SVG (no script): axes with units, a title and a subtitle that
// say what is drawn, a <title> tooltip on every bar, and data-* attributes
// carrying the exact figures (for tools and tests).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "report/svg_util.h"
#include "report/text.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using report_text::Exact;
using report_text::Sig4;
using svg::Px;

constexpr const char* kCss =
    "<style>\n"
    ".smaragdine-chart .axis { stroke: #333; stroke-width: 1; }\n"
    ".smaragdine-chart .grid { stroke: #ddd; stroke-width: 1; }\n"
    ".smaragdine-chart .ci { stroke: #222; stroke-width: 1.5; }\n"
    ".smaragdine-chart .label { fill: #222; }\n"
    ".smaragdine-chart .note { fill: #666; font-size: 11px; }\n"
    "</style>\n";

// Keeps the end of a path (where the op's name is) within `max_chars`.
std::string TailOf(const std::string& path, size_t max_chars) {
  const size_t w = report_text::DisplayWidth(path);
  if (w <= max_chars) return path;
  // Prefer to cut at a '/' so that whole components remain.
  size_t cut = path.size();
  size_t kept = 0;
  for (size_t i = path.size(); i-- > 0;) {
    if ((static_cast<unsigned char>(path[i]) & 0xC0) != 0x80) ++kept;
    if (kept + 1 > max_chars) break;
    cut = i;
  }
  size_t slash = path.find('/', cut);
  if (slash != std::string::npos && slash + 1 < path.size() &&
      report_text::DisplayWidth(path.substr(slash)) >= max_chars / 2)
    cut = slash;
  return "…" + path.substr(cut);
}

// Header shared by the charts: background, title and subtitle.
void Header(fmt::memory_buffer& out, double width, double height, const std::string& title,
            const std::string& subtitle) {
  auto put = [&](const std::string& s) { out.append(std::string_view(s)); };
  put(svg::Open(width, height, title, "smaragdine-chart"));
  put(kCss);
  fmt::format_to(std::back_inserter(out),
                 "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fdfdfb\"/>\n", Px(width),
                 Px(height));
  put(svg::Text(width / 2, 24, "middle", title, "font-size=\"16\" font-weight=\"bold\""));
  if (!subtitle.empty()) put(svg::Text(width / 2, 42, "middle", subtitle, "class=\"note\""));
}

void Line(fmt::memory_buffer& out, const char* cls, double x1, double y1, double x2, double y2) {
  fmt::format_to(std::back_inserter(out),
                 "<line class=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", cls, Px(x1),
                 Px(y1), Px(x2), Px(y2));
}

double TickStep(const std::vector<double>& ticks) {
  return ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
}

// A horizontal axis from x0 to x1 px at y: a gridline up to y_top and a label
// at each tick `x_of` places (ticks past `last` are dropped), the axis title
// below.
template <typename XOf>
void HorizontalAxis(fmt::memory_buffer& out, double x0, double x1, double y, double y_top,
                    const std::vector<double>& ticks, double last, XOf x_of,
                    const std::string& title) {
  const double step = TickStep(ticks);
  for (double t : ticks) {
    if (t > last) break;
    const double x = x_of(t);
    Line(out, "grid", x, y_top, x, y);
    out.append(std::string_view(svg::Text(x, y + 16, "middle", svg::TickLabel(t, step))));
  }
  Line(out, "axis", x0, y, x1, y);
  out.append(std::string_view(svg::Text((x0 + x1) / 2, y + 36, "middle", title)));
}

// A horizontal value axis from x0 to x1 px at y (ticks, labels, gridlines up
// to y_top, the axis title below). Returns px per unit.
double ValueAxisX(fmt::memory_buffer& out, double x0, double x1, double y, double y_top,
                  const std::vector<double>& ticks, const std::string& title) {
  const double lo = ticks.front(), hi = ticks.back();
  const double scale = (x1 - x0) / (hi - lo);
  HorizontalAxis(out, x0, x1, y, y_top, ticks, hi, [&](double t) { return x0 + (t - lo) * scale; },
                 title);
  return scale;
}

// A vertical value axis from y0 (bottom) to y1 (top) at x. Returns px per unit.
double ValueAxisY(fmt::memory_buffer& out, double y0, double y1, double x, double x_right,
                  const std::vector<double>& ticks, const std::string& title) {
  const double lo = ticks.front(), hi = ticks.back();
  const double scale = (y0 - y1) / (hi - lo);
  const double step = TickStep(ticks);
  for (double t : ticks) {
    const double y = y0 - (t - lo) * scale;
    Line(out, "grid", x, y, x_right, y);
    out.append(std::string_view(svg::Text(x - 6, y + 4, "end", svg::TickLabel(t, step))));
  }
  Line(out, "axis", x, y0, x, y1);
  const double ty = (y0 + y1) / 2;
  out.append(std::string_view(
      svg::Text(x - 52, ty, "middle", title,
                fmt::format("transform=\"rotate(-90 {} {})\"", Px(x - 52), Px(ty)))));
  return scale;
}

// A row of legend swatches starting at (x, y).
void Legend(fmt::memory_buffer& out, double x, double y,
            const std::vector<std::pair<std::string, svg::Rgb>>& items) {
  for (const auto& [name, colour] : items) {
    fmt::format_to(std::back_inserter(out),
                   "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", Px(x),
                   Px(y - 10), colour.Hex());
    out.append(std::string_view(svg::Text(x + 16, y, "start", name)));
    x += 16 + 7.2 * static_cast<double>(report_text::DisplayWidth(name)) + 20;
  }
}

std::string Finish(fmt::memory_buffer& out) {
  out.append(std::string_view("</svg>\n"));
  return fmt::to_string(out);
}

const svg::Rgb kPhaseColours[kPhaseCount] = {
    {78, 121, 167},   // forward: blue
    {242, 142, 43},   // backward: orange
    {89, 161, 79},    // optimizer: green
    {176, 176, 176},  // other: grey
};

// The unit energies are shown in: J, or mJ / µJ for small runs, so that
// labels read "2.935 mJ" rather than "0.002935 J". Figures in data-*
// attributes stay in J.
struct EnergyUnit {
  double per_j = 1;
  const char* name = "J";
  explicit EnergyUnit(double max_j) {
    if (max_j > 0 && max_j < 1e-4) {
      per_j = 1e6;
      name = "µJ";
    } else if (max_j > 0 && max_j < 0.1) {
      per_j = 1e3;
      name = "mJ";
    }
  }
  std::string Label(double j) const { return Sig4(j * per_j) + " " + name; }
};

double PhaseJ(const Profile& p, int phase) { return PhaseFigures::SumOf(p.nodes[0].phases[phase].total_j); }

}  // namespace

// ---- Top ops with 95 % confidence intervals ----

std::string RenderTopOpsChart(const Profile& p, int n) {
  if (n <= 0) n = 15;
  // The ops and kernels with the highest self energy, as `report --top` lists them.
  std::vector<uint32_t> ops;
  for (const ProfileNode& node : p.nodes)
    if (node.kind != NodeKind::kScope && node.SelfJ() > 0) ops.push_back(node.id);
  std::stable_sort(ops.begin(), ops.end(), [&](uint32_t a, uint32_t b) {
    const double va = p.nodes[a].SelfJ(), vb = p.nodes[b].SelfJ();
    return va != vb ? va > vb : p.nodes[a].path < p.nodes[b].path;
  });
  if (ops.size() > static_cast<size_t>(n)) ops.resize(static_cast<size_t>(n));
  const auto children = p.Children();
  // Per step when the profile has steps: the op's own energy per step is its
  // inclusive mean minus its children's (means add, so this is exact); the
  // interval is known only for ops with nothing nested (self = inclusive).
  const int64_t steps = p.nodes.empty() ? 0 : p.nodes[0].steps.n;
  const bool per_step = steps >= 1;
  struct Bar {
    uint32_t id;
    double value_j;
    double ci95_j;  // NaN: unknown
  };
  std::vector<Bar> bars;
  double hi = 0;
  bool some_without_ci = false;
  for (uint32_t id : ops) {
    const ProfileNode& node = p.nodes[id];
    Bar b{id, node.SelfJ(), NAN};
    if (per_step) {
      b.value_j = node.steps.mean_j;
      for (uint32_t c : children[id]) b.value_j -= p.nodes[c].steps.mean_j;
      b.value_j = std::max(b.value_j, 0.0);
      if (children[id].empty() && node.steps.n >= 2) b.ci95_j = node.steps.ci95_j;
      else some_without_ci = true;
    }
    hi = std::max(hi, b.value_j + (std::isnan(b.ci95_j) ? 0 : b.ci95_j));
    bars.push_back(b);
  }

  const double width = 960, label_w = 330, left = 16 + label_w, right = width - 150;
  const double row = 24, top = 64;
  const double plot_bottom = top + row * static_cast<double>(std::max<size_t>(bars.size(), 1));
  const double height = plot_bottom + 84;
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  std::string subtitle;
  if (per_step)
    subtitle = steps >= 2 ? fmt::format("Own energy per step, mean over {} steps; whiskers: 95 % "
                                        "confidence interval of the mean",
                                        steps)
                          : "Own energy in the one step of the profile (too few steps for an interval)";
  else
    subtitle = "Own energy in the window (the profile has no steps, so no intervals)";
  Header(out, width, height, fmt::format("Top {} ops by energy", bars.size()), subtitle);
  const EnergyUnit unit(hi);
  const auto ticks = svg::NiceTicks(0, hi > 0 ? hi * unit.per_j : 1, 6);
  // px per J (the axis is drawn in the display unit).
  const double scale =
      unit.per_j *
      ValueAxisX(out, left, right, plot_bottom, top - 4, ticks,
                 fmt::format("energy {} ({})", per_step ? "per step" : "in the window", unit.name));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const ProfileNode& node = p.nodes[b.id];
    const double y = top + row * static_cast<double>(i);
    const double w = b.value_j * scale;
    const bool ci = !std::isnan(b.ci95_j);
    std::string value = unit.Label(b.value_j);
    if (ci) value += " ± " + Sig4(b.ci95_j * unit.per_j);
    std::string tip = fmt::format("{}\n{}: {}\nkind: {}\ncalls: {}", node.path,
                                  per_step ? "energy per step" : "energy", value,
                                  ToString(node.kind), node.calls);
    if (per_step && !ci)
      tip += steps >= 2 ? "\nno interval: ops or kernels nested in it share its per-step energy"
                        : "";
    fmt::format_to(it,
                   "<g class=\"bar\" data-path=\"{}\" data-value-j=\"{}\" data-ci95-j=\"{}\">"
                   "<title>{}</title>\n",
                   svg::XmlEscape(node.path), Exact(b.value_j), ci ? Exact(b.ci95_j) : "",
                   svg::XmlEscape(tip));
    out.append(std::string_view(svg::Text(left - 8, y + 15, "end", TailOf(node.path, 46),
                                          "class=\"label\" font-size=\"11\"")));
    fmt::format_to(it, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
                   Px(left), Px(y + 4), Px(w, 3), Px(row - 8),
                   svg::SeriesColour(node.kind == NodeKind::kKernel ? 1 : 0).Hex());
    double end_x = left + w;
    if (ci) {
      const double x0 = left + std::max(0.0, b.value_j - b.ci95_j) * scale;
      const double x1 = left + (b.value_j + b.ci95_j) * scale;
      const double ym = y + row / 2;
      fmt::format_to(it,
                     "<path class=\"ci\" d=\"M{0} {1}H{2}M{0} {3}V{4}M{2} {3}V{4}\" fill=\"none\"/>\n",
                     Px(x0), Px(ym), Px(x1), Px(ym - 5), Px(ym + 5));
      end_x = x1;
    }
    out.append(std::string_view(
        svg::Text(end_x + 6, y + 16, "start", value, "class=\"value\" font-size=\"11\"")));
    out.append(std::string_view("</g>\n"));
  }
  Legend(out, left, height - 14,
         {{"op", svg::SeriesColour(0)}, {"kernel", svg::SeriesColour(1)}});
  if (per_step && some_without_ci && steps >= 2)
    out.append(std::string_view(svg::Text(
        width - 16, height - 14, "end", "no whiskers: the op has nested ops or kernels",
        "class=\"note\"")));
  return Finish(out);
}

// ---- Power over one step ----

namespace {

// The range the chart covers: the step's events, or the window, or (a
// profile without one) the power tracks. False when it is empty.
bool PowerRange(const Profile& p, int step, int64_t* t0_out, int64_t* t1_out) {
  const Timeline& tl = p.timeline;
  int64_t t0 = p.meta.window_start_ns, t1 = p.meta.window_end_ns;
  if (step >= 0) {
    t0 = INT64_MAX;
    t1 = INT64_MIN;
    for (const TimelineEvent& e : tl.events)
      if (e.step == step) {
        t0 = std::min(t0, e.start_ns);
        t1 = std::max(t1, e.end_ns);
      }
    if (t0 >= t1) return false;
  }
  if (t0 >= t1) {
    for (const PowerTrack& track : tl.power)
      if (!track.t_ns.empty()) {
        t0 = std::min(t0 == t1 ? track.t_ns.front() : t0, track.t_ns.front());
        t1 = std::max(t1, track.t_ns.back());
      }
    if (t0 >= t1) return false;
  }
  *t0_out = t0;
  *t1_out = t1;
  return true;
}

// One domain's power as steps over the range.
struct PowerSeries {
  std::string domain;
  std::vector<std::pair<double, double>> steps;  // (start ns from t0, power W)
  double end_ns = 0;                             // where the last step ends
  double mean_w = 0;
};

// Each domain's power as steps, averaged into ≤ 1 point per px column so a
// long window stays a small file: energy in the column / its length.
PowerSeries BinPowerTrack(const PowerTrack& track, int64_t t0, int64_t t1, int columns,
                          double px_per_ns, double* max_w) {
  PowerSeries s;
  s.domain = track.domain;
  std::vector<double> col_j(static_cast<size_t>(columns), 0), col_ns(static_cast<size_t>(columns), 0);
  double energy_j = 0, covered_ns = 0;
  for (size_t i = 0; i + 1 < track.t_ns.size() && i < track.power_w.size(); ++i) {
    const int64_t a = std::max(track.t_ns[i], t0), b = std::min(track.t_ns[i + 1], t1);
    if (a >= b) continue;
    const double w = track.power_w[i];
    energy_j += w * static_cast<double>(b - a) * 1e-9;
    covered_ns += static_cast<double>(b - a);
    // Spread over the columns it covers, each getting its overlap.
    const double xa = static_cast<double>(a - t0), xb = static_cast<double>(b - t0);
    const auto c_first = std::max<int64_t>(0, static_cast<int64_t>(std::floor(xa * px_per_ns)));
    const auto c_last = std::min<int64_t>(columns - 1, static_cast<int64_t>(std::ceil(xb * px_per_ns)));
    for (int64_t c = c_first; c <= c_last; ++c) {
      const double len = std::min(xb, static_cast<double>(c + 1) / px_per_ns) -
                         std::max(xa, static_cast<double>(c) / px_per_ns);
      if (len <= 0) continue;
      col_j[static_cast<size_t>(c)] += w * len;
      col_ns[static_cast<size_t>(c)] += len;
    }
  }
  s.mean_w = covered_ns > 0 ? energy_j / (covered_ns * 1e-9) : 0;
  for (int c = 0; c < columns; ++c) {
    if (col_ns[static_cast<size_t>(c)] <= 0) continue;
    const double w = col_j[static_cast<size_t>(c)] / col_ns[static_cast<size_t>(c)];
    *max_w = std::max(*max_w, w);
    s.end_ns = static_cast<double>(c + 1) / px_per_ns;
    // Runs of one value are one step.
    if (!s.steps.empty() && std::abs(s.steps.back().second - w) <= 1e-9 * std::max(1.0, std::abs(w)))
      continue;
    s.steps.emplace_back(static_cast<double>(c) / px_per_ns, w);
  }
  return s;
}

// The plot area of the power chart and its time scale.
struct PowerPlot {
  int64_t t0 = 0, t1 = 0;
  double left = 80, right = 960 - 24, top = 78, bottom = 380;
  double span_ns = 0, px_per_ns = 0;
  int step = -1;
};

// Phase bands: each phase's events merged into spans (gaps under 0.5 % of
// the range closed, so one backward pass is one band, not hundreds). Returns
// the legend entries of the phases drawn.
std::vector<std::pair<std::string, svg::Rgb>> WritePhaseBands(fmt::memory_buffer& out,
                                                              const Timeline& tl,
                                                              const PowerPlot& pl) {
  auto it = std::back_inserter(out);
  std::vector<std::pair<std::string, svg::Rgb>> legend;
  for (int ph = 0; ph < 3; ++ph) {
    std::vector<std::pair<int64_t, int64_t>> iv;
    for (const TimelineEvent& e : tl.events)
      if (static_cast<int>(e.phase) == ph && e.end_ns > pl.t0 && e.start_ns < pl.t1 &&
          (pl.step < 0 || e.step == pl.step))
        iv.emplace_back(std::max(e.start_ns, pl.t0), std::min(e.end_ns, pl.t1));
    if (iv.empty()) continue;
    std::sort(iv.begin(), iv.end());
    const auto gap = static_cast<int64_t>(pl.span_ns * 0.005);
    std::vector<std::pair<int64_t, int64_t>> spans{iv.front()};
    for (const auto& v : iv) {
      if (v.first <= spans.back().second + gap) spans.back().second = std::max(spans.back().second, v.second);
      else spans.push_back(v);
    }
    const svg::Rgb c = kPhaseColours[ph];
    const char* name = ToString(static_cast<Phase>(ph));
    for (const auto& [a, b] : spans) {
      const double x = pl.left + static_cast<double>(a - pl.t0) * pl.px_per_ns;
      const double w = static_cast<double>(b - a) * pl.px_per_ns;
      fmt::format_to(it,
                     "<rect class=\"phase\" data-phase=\"{}\" data-start-ns=\"{}\" data-end-ns=\"{}\" "
                     "x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"0.18\">"
                     "<title>{}: {} ms</title></rect>\n",
                     name, a, b, Px(x), Px(pl.top), Px(w, 3), Px(pl.bottom - pl.top), c.Hex(), name,
                     Sig4(static_cast<double>(b - a) * 1e-6));
      if (w >= 8.0 * static_cast<double>(std::char_traits<char>::length(name)))
        out.append(std::string_view(
            svg::Text(x + w / 2, pl.top - 6, "middle", name, "class=\"note\"")));
    }
    legend.emplace_back(name, svg::Rgb{static_cast<uint8_t>(c.r / 2 + 128),
                                       static_cast<uint8_t>(c.g / 2 + 128),
                                       static_cast<uint8_t>(c.b / 2 + 128)});
  }
  return legend;
}

// Each series as a step path; its legend entry goes before the phases'.
void WritePowerPaths(fmt::memory_buffer& out, const std::vector<PowerSeries>& series,
                     const PowerPlot& pl, double yscale,
                     std::vector<std::pair<std::string, svg::Rgb>>* legend) {
  for (size_t i = 0; i < series.size(); ++i) {
    const PowerSeries& s = series[i];
    std::string d;
    for (size_t k = 0; k < s.steps.size(); ++k) {
      const double x = pl.left + s.steps[k].first * pl.px_per_ns;
      const double x_end =
          pl.left + (k + 1 < s.steps.size() ? s.steps[k + 1].first : s.end_ns) * pl.px_per_ns;
      const double y = pl.bottom - s.steps[k].second * yscale;
      d += fmt::format("{}{} {}H{}", k == 0 ? "M" : "L", Px(x), Px(y), Px(std::min(x_end, pl.right)));
    }
    fmt::format_to(std::back_inserter(out),
                   "<path class=\"power\" data-domain=\"{}\" data-mean-w=\"{}\" d=\"{}\" fill=\"none\" "
                   "stroke=\"{}\" stroke-width=\"1.5\"><title>{}: mean {} W</title></path>\n",
                   svg::XmlEscape(s.domain), Exact(s.mean_w), d, svg::SeriesColour(i).Hex(),
                   svg::XmlEscape(s.domain), Sig4(s.mean_w));
    legend->insert(legend->begin() + static_cast<std::ptrdiff_t>(i),
                   {fmt::format("{} (mean {} W)", s.domain, Sig4(s.mean_w)), svg::SeriesColour(i)});
  }
}

}  // namespace

std::string RenderPowerChart(const Profile& p, int step) {
  const Timeline& tl = p.timeline;
  if (tl.power.empty()) return "";
  PowerPlot pl;
  if (!PowerRange(p, step, &pl.t0, &pl.t1)) return "";
  const double width = 960, height = pl.bottom + 92;
  pl.step = step;
  pl.span_ns = static_cast<double>(pl.t1 - pl.t0);
  pl.px_per_ns = (pl.right - pl.left) / pl.span_ns;

  std::vector<PowerSeries> series;
  double max_w = 0;
  const int columns = static_cast<int>(pl.right - pl.left);
  for (const PowerTrack& track : tl.power)
    series.push_back(BinPowerTrack(track, pl.t0, pl.t1, columns, pl.px_per_ns, &max_w));

  fmt::memory_buffer out;
  // A step is titled with the trace's name for it (ProfilerStep#103), which
  // is what --step chose it by, not with its position in the profile.
  const bool named = step >= 0 && static_cast<size_t>(step) < tl.steps.size() &&
                     !tl.steps[static_cast<size_t>(step)].name.empty();
  const std::string title = named  ? "Power over " + tl.steps[static_cast<size_t>(step)].name
                            : step >= 0 ? fmt::format("Power over step {}", step)
                                        : std::string("Power over the window");
  Header(out, width, height, title,
         fmt::format("{} ms from {} ns on {}; shaded: the phases of the operations",
                     Sig4(pl.span_ns * 1e-6), pl.t0,
                     p.meta.clock.empty() ? "the run's clock" : p.meta.clock));

  std::vector<std::pair<std::string, svg::Rgb>> legend = WritePhaseBands(out, tl, pl);
  const auto yticks = svg::NiceTicks(0, max_w > 0 ? max_w * 1.05 : 1, 5);
  const double yscale = ValueAxisY(out, pl.bottom, pl.top, pl.left, pl.right, yticks, "power (W)");
  // The x axis in ms from the start of the range; ticks beyond the range are dropped.
  HorizontalAxis(out, pl.left, pl.right, pl.bottom, pl.top, svg::NiceTicks(0, pl.span_ns * 1e-6, 8),
                 pl.span_ns * 1e-6 * (1 + 1e-9),
                 [&](double t) { return pl.left + t * 1e6 * pl.px_per_ns; },
                 step >= 0 ? "time since the step began (ms)" : "time since the window began (ms)");
  WritePowerPaths(out, series, pl, yscale, &legend);
  Legend(out, pl.left, height - 14, legend);
  return Finish(out);
}

// ---- Energy by phase ----

std::string RenderPhaseChart(const std::vector<const Profile*>& profiles,
                             const std::vector<std::string>& names) {
  const size_t k = profiles.size();
  bool used[kPhaseCount] = {};
  double hi = 0;
  for (const Profile* p : profiles) {
    if (p->nodes.empty()) continue;
    double total = 0;
    for (int ph = 0; ph < kPhaseCount; ++ph) {
      used[ph] |= PhaseJ(*p, ph) > 0;
      total += PhaseJ(*p, ph);
    }
    hi = std::max(hi, total);
  }
  const double bar_w = 90, gap = 60, left = 90, top = 64, plot_bottom = 400;
  const double width = std::max(520.0, left + static_cast<double>(k) * (bar_w + gap) + 40);
  const double height = plot_bottom + 90;
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  Header(out, width, height, k == 1 ? "Energy by phase" : "Energy by phase per profile",
         "Energy attributed to operations in each training phase (idle energy not included)");
  const EnergyUnit unit(hi);
  const auto ticks = svg::NiceTicks(0, hi > 0 ? hi * 1.08 * unit.per_j : 1, 6);
  const double scale = unit.per_j * ValueAxisY(out, plot_bottom, top, left, width - 20, ticks,
                                               fmt::format("energy ({})", unit.name));
  for (size_t i = 0; i < k; ++i) {
    const Profile& p = *profiles[i];
    const std::string name = i < names.size() ? names[i] : fmt::format("profile {}", i + 1);
    const double x = left + gap / 2 + static_cast<double>(i) * (bar_w + gap);
    double y = plot_bottom, total = 0;
    fmt::format_to(it, "<g class=\"bar\" data-profile=\"{}\">\n", svg::XmlEscape(name));
    for (int ph = 0; ph < kPhaseCount && !p.nodes.empty(); ++ph) {
      const double j = PhaseJ(p, ph);
      if (!(j > 0)) continue;
      total += j;
      const double h = j * scale;
      y -= h;
      const svg::Rgb c = kPhaseColours[ph];
      const double t_ms = static_cast<double>(p.nodes[0].phases[ph].time_ns) * 1e-6;
      fmt::format_to(it,
                     "<rect class=\"seg\" data-phase=\"{}\" data-energy-j=\"{}\" x=\"{}\" y=\"{}\" "
                     "width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} · {}: {}, {} ms</title></rect>\n",
                     ToString(static_cast<Phase>(ph)), Exact(j), Px(x), Px(y, 3), Px(bar_w), Px(h, 3),
                     c.Hex(), svg::XmlEscape(name), ToString(static_cast<Phase>(ph)), unit.Label(j), Sig4(t_ms));
      if (h >= 16)
        out.append(std::string_view(svg::Text(x + bar_w / 2, y + h / 2 + 4, "middle", unit.Label(j),
                                              svg::DarkTextOn(c) ? "font-size=\"11\""
                                                                 : "font-size=\"11\" fill=\"#fff\"")));
    }
    out.append(std::string_view(svg::Text(x + bar_w / 2, y - 6, "middle", unit.Label(total),
                                          "class=\"total\" font-weight=\"bold\"")));
    out.append(std::string_view(svg::Text(x + bar_w / 2, plot_bottom + 18, "middle", name, "class=\"label\"")));
    out.append(std::string_view("</g>\n"));
  }
  fmt::format_to(it, "<line class=\"axis\" x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\"/>\n", Px(left),
                 Px(width - 20), Px(plot_bottom));
  std::vector<std::pair<std::string, svg::Rgb>> legend;
  for (int ph = 0; ph < kPhaseCount; ++ph)
    if (used[ph]) legend.emplace_back(ToString(static_cast<Phase>(ph)), kPhaseColours[ph]);
  Legend(out, left, height - 18, legend);
  return Finish(out);
}

// ---- Side-by-side module bars ----

std::string RenderModuleBarsChart(const std::vector<const Profile*>& profiles,
                                  const std::vector<std::string>& names, int depth,
                                  const std::vector<PathRule>& rules) {
  const size_t k = profiles.size();
  if (depth < 1) depth = 1;
  // Energy of every module at `depth` below the root, per profile, after the rules.
  std::map<std::string, std::vector<double>> energy;
  for (size_t i = 0; i < k; ++i) {
    const Profile folded = FoldProfile(*profiles[i], rules);
    const auto kids = folded.Children();
    std::vector<int> level(folded.nodes.size(), 0);
    for (size_t n = 1; n < folded.nodes.size(); ++n) {
      const ProfileNode& node = folded.nodes[n];
      level[n] = node.parent >= 0 ? level[static_cast<size_t>(node.parent)] + 1 : 0;
      // A branch that ends above `depth` shows as itself (`loss` with no
      // children stays beside bert/encoder at depth 2).
      if (level[n] != depth && !(level[n] < depth && kids[n].empty())) continue;
      auto& v = energy[node.path];
      v.resize(k, 0);
      v[i] += node.TotalJ();
    }
  }
  struct Row {
    std::string path;
    std::vector<double> j;
    double max_j;
  };
  std::vector<Row> rows;
  for (auto& [path, v] : energy) {
    double m = 0;
    for (double x : v) m = std::max(m, x);
    if (m > 0) rows.push_back({path, v, m});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.max_j != b.max_j ? a.max_j > b.max_j : a.path < b.path;
  });
  constexpr size_t kMaxRows = 20;
  size_t dropped = 0;
  if (rows.size() > kMaxRows) {
    dropped = rows.size() - kMaxRows;
    rows.resize(kMaxRows);
  }
  double hi = 0;
  for (const Row& r : rows) hi = std::max(hi, r.max_j);

  const double width = 960, left = 16 + 300, right = width - 110, top = 64;
  const double bar_h = 14, group_h = bar_h * static_cast<double>(k) + 10;
  const double plot_bottom = top + group_h * static_cast<double>(std::max<size_t>(rows.size(), 1));
  const double height = plot_bottom + 84;
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  std::string names_text;
  for (size_t i = 0; i < k; ++i)
    names_text += (i ? (i + 1 == k ? " and " : ", ") : "") + (i < names.size() ? names[i] : "?");
  Header(out, width, height, fmt::format("Energy per module, depth {}", depth),
         fmt::format("Total energy of each module in {}{}", names_text,
                     dropped ? fmt::format(" ({} smaller modules not shown)", dropped) : ""));
  const EnergyUnit unit(hi);
  const auto ticks = svg::NiceTicks(0, hi > 0 ? hi * unit.per_j : 1, 6);
  const double scale = unit.per_j * ValueAxisX(out, left, right, plot_bottom, top - 4, ticks,
                                               fmt::format("energy ({})", unit.name));
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    const double y = top + group_h * static_cast<double>(r);
    fmt::format_to(it, "<g class=\"module\" data-path=\"{}\">\n", svg::XmlEscape(row.path));
    out.append(std::string_view(svg::Text(left - 8, y + group_h / 2 + 2, "end", TailOf(row.path, 42),
                                          "class=\"label\" font-size=\"11\"")));
    for (size_t i = 0; i < k; ++i) {
      const std::string name = i < names.size() ? names[i] : "?";
      const double by = y + 5 + bar_h * static_cast<double>(i);
      fmt::format_to(it,
                     "<rect class=\"bar\" data-profile=\"{}\" data-energy-j=\"{}\" x=\"{}\" y=\"{}\" "
                     "width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} · {}: {}</title></rect>\n",
                     svg::XmlEscape(name), Exact(row.j[i]), Px(left), Px(by), Px(row.j[i] * scale, 3),
                     Px(bar_h - 2), svg::SeriesColour(i).Hex(), svg::XmlEscape(row.path),
                     svg::XmlEscape(name), unit.Label(row.j[i]));
      out.append(std::string_view(svg::Text(left + row.j[i] * scale + 4, by + bar_h - 4, "start",
                                            unit.Label(row.j[i]), "class=\"value\" font-size=\"10\"")));
    }
    out.append(std::string_view("</g>\n"));
  }
  std::vector<std::pair<std::string, svg::Rgb>> legend;
  for (size_t i = 0; i < k; ++i)
    legend.emplace_back(i < names.size() ? names[i] : "?", svg::SeriesColour(i));
  Legend(out, left, height - 14, legend);
  return Finish(out);
}

// ---- report --format svg ----

std::string ProfileLabel(const std::string& file) {
  std::string name = file.substr(file.find_last_of('/') + 1);
  for (const char* ext : {".gz", ".json", ".profile"})
    if (name.size() > std::strlen(ext) && name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0)
      name.resize(name.size() - std::strlen(ext));
  return name;
}

namespace {

// `--step N` names a step as the trace numbers it: by the number at the end of
// its name (ProfilerStep#101 → 101, "step 3" → 3), not by its position in the
// profile, which starts at 0 whatever step the trace began with. Without
// numbered names (or without a steps list) N is the position. Returns the
// index into Timeline::steps, or -1 when no numbered step has that number.
int StepIndexByNumber(const Timeline& t, int number) {
  bool numbered = false;
  for (size_t i = 0; i < t.steps.size(); ++i) {
    const std::string& name = t.steps[i].name;
    size_t start = name.size();
    while (start > 0 && std::isdigit(static_cast<unsigned char>(name[start - 1]))) --start;
    const size_t digits = name.size() - start;
    if (digits == 0 || digits > 9) continue;
    numbered = true;
    if (std::stoi(name.substr(start)) == number) return static_cast<int>(i);
  }
  return numbered ? -1 : number;
}

}  // namespace

Result<std::string> RenderSvgView(const Profile& p, uint32_t root, const ReportOptions& o) {
  switch (o.chart) {
    case SvgChart::kFlame: {
      FlameOptions f;
      f.weight = o.weight_time ? FlameWeight::kTime : FlameWeight::kEnergy;
      f.depth = o.depth;
      return RenderFlameSvg(p, root, f);
    }
    case SvgChart::kTopOps:
      return RenderTopOpsChart(root == 0 ? p : SubtreeProfile(p, root, std::nullopt),
                               o.top > 0 ? o.top : 15);
    case SvgChart::kPower: {
      if (p.timeline.power.empty())
        return BadInput(o.file,
                        "the profile has no timeline, which the power chart needs (re-run "
                        "`smaragdine account` with --timeline always)");
      const int index = o.step < 0 ? -1 : StepIndexByNumber(p.timeline, o.step);
      if (o.step >= 0 && index < 0) {
        const auto& steps = p.timeline.steps;
        const std::string which =
            steps.empty() ? "the profile has no steps"
            : steps.size() == 1
                ? fmt::format("its one step is {}", steps.front().name)
                : fmt::format("its {} steps are {} … {}", steps.size(), steps.front().name,
                              steps.back().name);
        return BadInput(o.file, fmt::format("no step {} in the profile ({}; --step takes the "
                                            "number at the end of a step's name, -1 charts the "
                                            "whole window)",
                                            o.step, which));
      }
      std::string svg = RenderPowerChart(p, index);
      if (svg.empty())
        return BadInput(o.file, fmt::format("no timeline events in step {} (--step -1 charts the "
                                            "whole window)",
                                            o.step));
      return svg;
    }
    case SvgChart::kPhases: return RenderPhaseChart({&p}, {ProfileLabel(o.file)});
  }
  return Internal("unknown chart");
}

}  // namespace smaragdine
