// RenderFlameSvg: the energy flame graph (an icicle: the root on top, callees
// below), self-contained SVG with tooltips, click-to-zoom and search.
//
//   ┌──────────────────────────── all (window) ───────────────────────────┐
//   ├──────────── bert ─────────────┬── optimizer ──┬─ (idle) ─┬ (other) ─┤
//   ├── encoder ──────┬ embeddings ─┤
//
// A frame's width is its total energy (or time); its children sit under it
// from the left, largest first; the gap a frame leaves on its right is its self
// energy. Colour is the frame's average power (energy / busy time).
#include <algorithm>
#include <cmath>
#include <functional>
#include <unordered_set>

#include <fmt/format.h>

#include "report/svg_util.h"
#include "report/text.h"
#include "report/tree.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using report_text::Exact;
using report_text::Sig4;

constexpr double kPadPx = 10;
constexpr double kRowPx = 18;    // one level of the tree
constexpr double kFramePx = 17;  // a frame's height (1 px gap between levels)
constexpr double kTopPx = 64;    // title, subtitle and buttons above the frames
constexpr double kCharPx = 7;    // average advance of a 12 px Verdana glyph, for label fitting

struct Frame {
  std::string key;   // node path, or "(idle)", "(idle)/<domain>", …; zoom and search use it
  std::string name;  // the label
  std::string kind;  // scope | op | kernel | root | idle | other
  int depth = 0;
  double weight = 0;  // J or ns: what the width stands for
  double energy_j = 0;
  double time_ns = NAN;  // NaN: not applicable (idle, other processes)
  int64_t calls = -1;    // -1: not applicable
  double power_w = NAN;  // NaN: no time to average over
  double ci95_j = NAN;   // the attribution's 95 % half-width of energy_j; NaN: none
  double x = 0, w = 0;   // px
};

// The label that fits `w` px: the name, cut with ".." (as flamegraph.pl does),
// or nothing under three characters.
std::string FitLabel(const std::string& name, double w) {
  const auto fit = static_cast<int64_t>(std::floor((w - 6) / kCharPx));
  if (fit < 3) return "";
  if (static_cast<int64_t>(report_text::DisplayWidth(name)) <= fit) return name;
  // Cut at a code point boundary.
  size_t bytes = 0;
  for (int64_t n = 0; n < fit - 2 && bytes < name.size(); ++n) {
    ++bytes;
    while (bytes < name.size() && (static_cast<unsigned char>(name[bytes]) & 0xC0) == 0x80)
      ++bytes;
  }
  return name.substr(0, bytes) + "..";
}

// Zoom, search and hover details. Everything is looked up under the <svg> that
// holds the script, so the graph also works inlined in an HTML page.
constexpr const char* kScript = R"JS(
(function () {
  var script = document.currentScript;
  var svg = script && script.closest ? script.closest('svg') : document.documentElement;
  var box = svg.querySelector('g.frames');
  var X0 = +box.getAttribute('data-x'), W = +box.getAttribute('data-width');
  var frames = Array.prototype.slice.call(box.querySelectorAll('g.fr'));
  var details = svg.querySelector('.details'), matched = svg.querySelector('.matched');
  var unzoomBtn = svg.querySelector('.unzoom'), searchBtn = svg.querySelector('.search');
  var top = frames[0], searching = null;
  frames.forEach(function (g) {
    var r = g.querySelector('rect');
    g._x = +r.getAttribute('x'); g._w = +r.getAttribute('width'); g._fill = r.getAttribute('fill');
    g._key = g.getAttribute('data-key'); g._name = g.getAttribute('data-name');
    g._weight = +g.getAttribute('data-w'); g._depth = +g.getAttribute('data-depth');
  });
  // Is frame key k below frame key a? The top frame of the whole profile has key "".
  function below(k, a) { return a === '' ? k !== '' : k.indexOf(a + '/') === 0; }
  function fit(g, x, w) {
    var t = g.querySelector('text'), n = Math.floor((w - 6) / 7), c = Array.from(g._name);
    t.setAttribute('x', (x + 3).toFixed(2));
    t.textContent = n < 3 ? '' : c.length <= n ? g._name : c.slice(0, n - 2).join('') + '..';
  }
  function place(g, x, w, shown, ancestor) {
    var r = g.querySelector('rect');
    r.setAttribute('x', x.toFixed(2)); r.setAttribute('width', w.toFixed(3));
    g.style.display = shown ? '' : 'none';
    g.style.opacity = ancestor ? '0.55' : '';
    fit(g, x, w);
  }
  function zoom(z) {
    var s = W / (z._w || 1e-9);
    frames.forEach(function (g) {
      if (g === z || below(g._key, z._key)) place(g, X0 + (g._x - z._x) * s, g._w * s, true, false);
      else if (below(z._key, g._key)) place(g, X0, W, true, true);
      else place(g, g._x, g._w, false, false);
    });
    unzoomBtn.style.display = z === top ? 'none' : '';
  }
  function search(re) {
    searching = re;
    var hits = [];
    frames.forEach(function (g) {
      var hit = re && re.test(g._key === '' ? g._name : g._key);
      g.querySelector('rect').setAttribute('fill', hit ? 'rgb(230,0,230)' : g._fill);
      if (hit) hits.push(g);
    });
    // Count each hit once: skip hits below another hit (their weight is inside it).
    hits.sort(function (a, b) { return a._depth - b._depth; });
    var kept = [], sum = 0;
    hits.forEach(function (g) {
      if (kept.some(function (k) { return below(g._key, k); })) return;
      kept.push(g._key); sum += g._weight;
    });
    matched.textContent = re ? 'Matched: ' + (100 * sum / (top._weight || 1)).toFixed(1) + ' %' : '';
    searchBtn.textContent = re ? 'Clear search' : 'Search';
  }
  function ask() {
    var term = window.prompt('Highlight frames whose path matches (regular expression):', '');
    if (!term) return;
    try { search(new RegExp(term)); } catch (e) { window.alert('Not a valid regular expression: ' + e.message); }
  }
  frames.forEach(function (g) {
    g.addEventListener('click', function () { zoom(g); });
    g.addEventListener('mouseover', function () {
      details.textContent = g.querySelector('title').textContent.split('\n').slice(0, 2).join(' \u2014 ');
    });
    g.addEventListener('mouseout', function () { details.textContent = ''; });
  });
  unzoomBtn.addEventListener('click', function () { zoom(top); });
  searchBtn.addEventListener('click', function () { if (searching) search(null); else ask(); });
  // Ctrl-F belongs to the graph only when it is the whole document; inlined
  // in a page, the browser's own find stays (the Search button still works).
  var own = document.documentElement === svg;
  if (!own) svg.querySelector('.hint').textContent = 'Click a frame to zoom in; Search highlights frames by path.';
  window.addEventListener('keydown', function (e) {
    if (own && (e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) { e.preventDefault(); ask(); }
    else if (e.key === 'Escape' && searching) search(null);
  });
})();
)JS";

// The frames before layout: the top one (the whole window or the --root
// node) and, for the whole window by energy, the root-level frames that are no
// nodes: (root), (idle), (other processes), with one child per domain.
struct TopFrames {
  Frame top;
  std::vector<Frame> extras;
};

Frame NodeFrame(const ProfileNode& n, int depth, bool by_time) {
  Frame f;
  f.key = n.path;
  f.name = n.name;
  f.kind = ToString(n.kind);
  f.depth = depth;
  f.energy_j = n.TotalJ();
  f.time_ns = static_cast<double>(n.time_ns);
  f.calls = n.calls;
  if (n.time_ns > 0) f.power_w = n.PowerW();
  if (!n.total_ci95_j.empty()) f.ci95_j = n.TotalCi95J();
  f.weight = by_time ? f.time_ns : f.energy_j;
  return f;
}

// One frame per kind of unattributed energy, one child per domain that has some.
template <typename Get>
void AddUnattributedGroup(const Profile& p, const char* name, const char* kind, Get get,
                          std::vector<Frame>* extras) {
  double sum = 0;
  for (const ProfileDomain& d : p.domains) sum += get(d);
  if (!(sum > 0)) return;
  Frame g;
  g.key = g.name = name;
  g.kind = kind;
  g.depth = 1;
  g.energy_j = g.weight = sum;
  extras->push_back(g);
  for (const ProfileDomain& d : p.domains) {
    if (!(get(d) > 0)) continue;
    Frame f;
    f.key = std::string(name) + "/" + d.name;
    f.name = d.name;
    f.kind = kind;
    f.depth = 2;
    f.energy_j = f.weight = get(d);
    extras->push_back(f);
  }
}

TopFrames MakeTopFrames(const Profile& p, uint32_t root, bool by_time, double window_ns) {
  const ProfileNode& rn = p.nodes[root];
  TopFrames t{NodeFrame(rn, 0, by_time), {}};
  if (root != 0) return t;
  Frame& top = t.top;
  top.key = "";
  top.name = "all";
  top.kind = "root";
  top.calls = -1;
  top.energy_j = rn.TotalJ();
  if (by_time) return t;
  const double self_j = rn.SelfJ();
  if (self_j > 0) {
    Frame f;
    f.key = "(root)";
    f.name = "(root)";
    f.kind = "root";
    f.depth = 1;
    f.energy_j = f.weight = self_j;
    t.extras.push_back(f);
  }
  AddUnattributedGroup(p, "(idle)", "idle", [](const ProfileDomain& d) { return d.idle_j; },
                       &t.extras);
  AddUnattributedGroup(p, "(other processes)", "other",
                       [](const ProfileDomain& d) { return d.other_j; }, &t.extras);
  for (const Frame& e : t.extras)
    if (e.depth == 1) top.energy_j += e.energy_j;
  top.weight = top.energy_j;
  // The whole window: its length is the time, so the power is the mean draw.
  top.time_ns = window_ns > 0 ? window_ns : NAN;
  top.power_w = window_ns > 0 ? top.energy_j / (window_ns * 1e-9) : NAN;
  return t;
}

struct FlameLayout {
  std::vector<Frame> frames;  // pre-order, the top frame first, the extras last
  int deepest = 0;
};

// Places the nodes under the top frame, then the extras on its right.
FlameLayout LayOutFrames(const Profile& p, uint32_t root, bool by_time, int max_depth,
                         double frames_w, TopFrames t) {
  FlameLayout out;
  Frame& top = t.top;
  // With --weight time, children's busy times can add up to more than the
  // parent's (concurrent lanes); the layout then squeezes them into the parent.
  const auto children = report_tree::SortedChildren(p, by_time ? SortKey::kTime : SortKey::kEnergy);
  if (by_time) {
    double sum = 0;
    for (uint32_t c : children[root]) sum += static_cast<double>(p.nodes[c].time_ns);
    if (top.weight < sum) top.weight = sum;
  }
  top.x = kPadPx;
  top.w = frames_w;
  out.frames.push_back(top);
  const double top_scale = top.weight > 0 ? frames_w / top.weight : 0;
  // Depth-first, frames in pre-order, with an explicit stack rather than
  // recursion: a profile from someone else may be a chain of any depth. Each
  // level holds the node whose children are being placed, where the next child
  // goes, and the scale its children share.
  struct Level {
    uint32_t id;
    double x;
    double scale;
    int depth;
    size_t next = 0;
  };
  std::vector<Level> levels;
  auto enter = [&](uint32_t id, double x, double avail_px, double scale, int depth) {
    double sum = 0;
    for (uint32_t c : children[id]) {
      const ProfileNode& n = p.nodes[c];
      sum += by_time ? static_cast<double>(n.time_ns) : n.TotalJ();
    }
    if (sum * scale > avail_px && sum > 0) scale = avail_px / sum;
    levels.push_back({id, x, scale, depth});
  };
  if (max_depth >= 1 && top_scale > 0) enter(root, kPadPx, frames_w, top_scale, 1);
  while (!levels.empty()) {
    Level& level = levels.back();
    if (level.next == children[level.id].size()) {
      levels.pop_back();
      continue;
    }
    const uint32_t c = children[level.id][level.next++];
    Frame f = NodeFrame(p.nodes[c], level.depth, by_time);
    if (!(f.weight > 0)) continue;
    f.x = level.x;
    f.w = f.weight * level.scale;
    out.frames.push_back(f);
    out.deepest = std::max(out.deepest, level.depth);
    level.x += f.w;
    const int depth = level.depth;
    const double scale = level.scale;
    if (depth < max_depth) enter(c, f.x, f.w, scale, depth + 1);  // `level` is stale after this
  }
  if (top_scale > 0 && max_depth >= 1) {
    // The extras follow the nodes, on the right of the top frame.
    double x = kPadPx + frames_w;
    for (const Frame& e : t.extras)
      if (e.depth == 1) x -= e.weight * top_scale;
    double child_x = x;
    for (Frame e : t.extras) {
      if (e.depth == 2 && max_depth < 2) continue;
      e.w = e.weight * top_scale;
      if (e.depth == 1) {
        e.x = x;
        child_x = x;
        x += e.w;
      } else {
        e.x = child_x;
        child_x += e.w;
      }
      out.deepest = std::max(out.deepest, e.depth);
      out.frames.push_back(e);
    }
  }
  return out;
}

// Colour scale: 0 W to a round number above the highest power among frames
// wide enough to see (a sliver at 10 kW would wash out everything else);
// frames above it take the darkest colour. The top frame of the whole window
// does not set the scale: its power is the window's mean draw over all
// domains, idle included, not a busy-time average like the others'.
struct PowerScale {
  std::vector<double> ticks;
  double max_w = 0;      // ticks.back()
  bool clipped = false;  // some frame draws more than max_w
};

PowerScale MakePowerScale(const std::vector<Frame>& frames, bool whole) {
  const Frame& top = frames.front();
  double max_power_w = 0;
  for (const Frame& f : frames)
    if (f.power_w > 0 && f.weight >= top.weight * 1e-3 && (f.depth > 0 || !whole))
      max_power_w = std::max(max_power_w, f.power_w);
  PowerScale s;
  s.ticks = svg::NiceTicks(0, max_power_w > 0 ? max_power_w : 1, 4);
  s.max_w = s.ticks.back();
  for (const Frame& f : frames) s.clipped |= f.power_w > s.max_w;
  return s;
}

// The tooltip: the first two lines are also what the details bar shows on
// hover; with the attribution's interval where the profile has one.
std::string FrameTip(const Frame& f, const Frame& top, const std::string& top_label) {
  const bool has_power = f.power_w > 0;
  std::string tip = f.key.empty() ? f.name + " (" + top_label + ")" : f.key;
  const double share = top.energy_j > 0 ? 100 * f.energy_j / top.energy_j : 0;
  const bool ci = !std::isnan(f.ci95_j);
  tip += fmt::format("\nenergy: {} J ({:.2f} % of {})",
                     ci ? report_text::WithInterval(f.energy_j, f.ci95_j) : Sig4(f.energy_j),
                     share, top_label);
  tip += has_power ? fmt::format("\npower: {} W",
                                 ci && f.time_ns > 0
                                     ? report_text::WithInterval(f.power_w,
                                                                 f.ci95_j / (f.time_ns * 1e-9))
                                     : Sig4(f.power_w))
                   : std::string("\npower: n/a (no busy time)");
  if (!std::isnan(f.time_ns)) tip += fmt::format("\ntime: {} ms", Sig4(f.time_ns * 1e-6));
  if (f.calls >= 0) tip += fmt::format("\ncalls: {}", f.calls);
  tip += "\nkind: " + f.kind;
  return tip;
}

void Put(fmt::memory_buffer& out, const std::string& s) { out.append(std::string_view(s)); }

// Title, subtitle, hint and the two buttons.
void WriteFlameHeader(fmt::memory_buffer& out, const Profile& p, uint32_t root, const Frame& top,
                      const FlameOptions& options, double width_px, double height_px,
                      double window_ns) {
  const ProfileNode& rn = p.nodes[root];
  const bool whole = root == 0;
  const bool by_time = options.weight == FlameWeight::kTime;
  std::string title = options.title;
  if (title.empty())
    title = whole ? "Energy flame graph" : fmt::format("Energy flame graph of {}", rn.path);
  bool modeled = false;
  for (const ProfileDomain& d : p.domains) modeled |= d.modeled;

  Put(out, svg::Open(width_px, height_px, title, "smaragdine-flame"));
  Put(out,
      "<style>\n"
      ".smaragdine-flame g.fr { cursor: pointer; }\n"
      ".smaragdine-flame g.fr:hover rect { stroke: #000; stroke-width: 0.5; }\n"
      ".smaragdine-flame .btn { cursor: pointer; fill: #1f4e8c; text-decoration: underline; }\n"
      "</style>\n");
  fmt::format_to(std::back_inserter(out),
                 "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fdfdfb\"/>\n",
                 svg::Px(width_px), svg::Px(height_px));
  Put(out, svg::Text(width_px / 2, 22, "middle", title, "font-size=\"16\" font-weight=\"bold\""));
  std::string sub = fmt::format(
      "width: {} · colour: average power · {} J {}{}", by_time ? "busy time" : "energy",
      Sig4(top.energy_j), whole ? "measured" : "under " + rn.path,
      whole && window_ns > 0 ? fmt::format(" in {} s", Sig4(window_ns * 1e-9)) : "");
  if (!p.meta.energy_source.empty()) sub += " · " + p.meta.energy_source;
  if (modeled) sub += " · MODELED energy (estimated from CPU time)";
  Put(out, svg::Text(width_px / 2, 40, "middle", sub, "fill=\"#444\""));
  Put(out, svg::Text(width_px / 2, 56, "middle",
                     "Click a frame to zoom in; Search or Ctrl-F highlights frames by path.",
                     "class=\"hint\" fill=\"#777\" font-size=\"11\""));
  Put(out, svg::Text(kPadPx, 22, "start", "Reset zoom",
                     "class=\"btn unzoom\" style=\"display:none\""));
  Put(out, svg::Text(width_px - kPadPx, 22, "end", "Search", "class=\"btn search\""));
}

void WriteFrames(fmt::memory_buffer& out, const std::vector<Frame>& frames, double frames_w,
                 double scale_w, const std::string& top_label) {
  auto it = std::back_inserter(out);
  const Frame& top = frames.front();
  fmt::format_to(it, "<g class=\"frames\" data-x=\"{}\" data-width=\"{}\">\n", svg::Px(kPadPx),
                 svg::Px(frames_w));
  for (const Frame& f : frames) {
    const double y = kTopPx + f.depth * kRowPx;
    const svg::Rgb fill =
        f.power_w > 0 ? svg::HeatColour(f.power_w / scale_w) : svg::Rgb{200, 200, 200};
    fmt::format_to(it,
                   "<g class=\"fr\" data-key=\"{}\" data-name=\"{}\" data-depth=\"{}\" "
                   "data-energy-j=\"{}\" data-w=\"{}\"><title>{}</title>"
                   "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\" fill=\"{}\"/>"
                   "<text x=\"{}\" y=\"{}\"{}>{}</text></g>\n",
                   svg::XmlEscape(f.key), svg::XmlEscape(f.name), f.depth, Exact(f.energy_j),
                   Exact(f.weight), svg::XmlEscape(FrameTip(f, top, top_label)), svg::Px(f.x),
                   svg::Px(y), svg::Px(f.w, 3), svg::Px(kFramePx), fill.Hex(),
                   svg::Px(f.x + 3), svg::Px(y + 12.5),
                   svg::DarkTextOn(fill) ? "" : " fill=\"#fff\"",
                   svg::XmlEscape(FitLabel(f.name, f.w)));
  }
  Put(out, "</g>\n");
}

// Legend: the power scale as swatches, then the grey of frames without time;
// below it the details and match lines the script fills.
void WriteFlameLegend(fmt::memory_buffer& out, const PowerScale& scale, double legend_y,
                      double width_px, double height_px) {
  auto it = std::back_inserter(out);
  Put(out, svg::Text(kPadPx, legend_y + 12, "start", "average power (W):"));
  const double swatch_x = kPadPx + 130, swatch_w = 240;
  constexpr int kSwatches = 24;
  for (int i = 0; i < kSwatches; ++i)
    fmt::format_to(it, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\" fill=\"{}\"/>\n",
                   svg::Px(swatch_x + swatch_w * i / kSwatches), svg::Px(legend_y + 2),
                   svg::Px(swatch_w / kSwatches + 0.5),
                   svg::HeatColour((i + 0.5) / kSwatches).Hex());
  const std::vector<double>& ticks = scale.ticks;
  const double tick_step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  for (size_t i = 0; i < ticks.size(); ++i) {
    std::string label = svg::TickLabel(ticks[i], tick_step);
    if (i + 1 == ticks.size() && scale.clipped) label = "≥ " + label;
    Put(out, svg::Text(swatch_x + swatch_w * ticks[i] / scale.max_w, legend_y + 28, "middle",
                       label, "font-size=\"11\""));
  }
  fmt::format_to(it, "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#c8c8c8\"/>\n",
                 svg::Px(swatch_x + swatch_w + 24), svg::Px(legend_y + 2));
  Put(out, svg::Text(swatch_x + swatch_w + 40, legend_y + 12, "start",
                     "no busy time (idle, other processes)"));
  Put(out, svg::Text(kPadPx, height_px - 6, "start", "", "class=\"details\" fill=\"#333\""));
  Put(out, svg::Text(width_px - kPadPx, height_px - 6, "end", "",
                     "class=\"matched\" fill=\"#333\""));
}

}  // namespace

std::string RenderFlameSvg(const Profile& p, uint32_t root, const FlameOptions& options) {
  const bool by_time = options.weight == FlameWeight::kTime;
  const int max_depth = options.depth.value_or(INT32_MAX);
  const double width_px = std::max(options.width_px, 200);
  const double frames_w = width_px - 2 * kPadPx;
  const bool whole = root == 0;
  const double window_ns = static_cast<double>(p.meta.window_end_ns - p.meta.window_start_ns);

  const FlameLayout layout = LayOutFrames(p, root, by_time, max_depth, frames_w,
                                          MakeTopFrames(p, root, by_time, window_ns));
  const Frame& top = layout.frames.front();
  const PowerScale scale = MakePowerScale(layout.frames, whole);
  const double legend_y = kTopPx + (layout.deepest + 1) * kRowPx + 14;
  const double height_px = legend_y + 52;

  fmt::memory_buffer out;
  WriteFlameHeader(out, p, root, top, options, width_px, height_px, window_ns);
  WriteFrames(out, layout.frames, frames_w, scale.max_w, whole ? "the window" : p.nodes[root].path);
  WriteFlameLegend(out, scale, legend_y, width_px, height_px);
  fmt::format_to(std::back_inserter(out),
                 "<script type=\"text/javascript\"><![CDATA[{}]]></script>\n</svg>\n", kScript);
  return fmt::to_string(out);
}

}  // namespace smaragdine
