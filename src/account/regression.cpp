// Meter-aware regression attribution: the meter's equations, the fit, and
// its resampled uncertainty. See regression.h for the model.
//
//   readings ──► changes (the meter updated in (lo, hi]) ──► update times u_k
//            (candidate periods and phases; the one whose fit leaves the least
//            residual wins) ──► rows: "E joules were spent in [a, b)"
//   lanes ────► activity: per elementary interval, each leaf class's time
//   rows × activity ──► normal equations ──► non-negative, shrunk fit
//                   ──► resampled fits (blocks of steps) for the error bars
#include "account/regression.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>

#include <fmt/format.h>

namespace smaragdine::regression {
namespace {

// The meter updated its value somewhere in (lo_ns, hi_ns]; `value` is the
// cumulative energy (counter) or the power (power meters) it then showed.
struct Change {
  int64_t lo_ns;
  int64_t hi_ns;
  double value;
};

struct Meter {
  bool counter = true;
  int64_t window_ns = 0;  // power meters: the averaging window (instantaneous: kInstantNs)
  std::vector<Change> changes;
  std::string kind_words;
};

// An instantaneous power sample is modelled as the average over this short a
// window: short against any op, long enough to keep the sweep's arithmetic exact.
constexpr int64_t kInstantNs = 1000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t Median(std::vector<int64_t> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

Meter ReadMeter(const DomainInput& in) {
  const DomainInfo& info = *in.info;
  const EnergySeries& s = *in.series;
  Meter m;
  MeterKind kind = info.meter.kind;
  if (kind == MeterKind::kUnknown)
    kind = info.quantity == Quantity::kPower ? MeterKind::kInstantPower : MeterKind::kCounter;
  const size_t n = s.t_ns.size();
  const bool have_power = in.series_is_raw && s.power_w.size() == n;
  if (kind == MeterKind::kCounter || !have_power) {
    // A power domain without its raw readings (split by CPU time, or built in
    // memory) is fitted as the energy its integration gives.
    m.counter = true;
    m.kind_words = kind == MeterKind::kCounter ? "energy counter" : "integrated power readings";
    const bool have_previous = in.series_is_raw && s.previous_ns.size() == n;
    m.changes.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      const int64_t lo = k == 0 ? s.t_ns[0] : have_previous ? s.previous_ns[k] : s.t_ns[k - 1];
      m.changes.push_back({std::min(lo, s.t_ns[k]), s.t_ns[k], s.energy_j[k]});
    }
    return m;
  }
  m.counter = false;
  if (kind == MeterKind::kWindowedPower) {
    m.window_ns = info.meter.window_ns > 0 ? info.meter.window_ns : info.update_interval_ns;
    m.kind_words = "windowed power meter";
  }
  if (m.window_ns <= 0) {
    m.window_ns = kInstantNs;
    m.kind_words = kind == MeterKind::kWindowedPower ? "power meter (window unknown: taken as "
                                                       "instantaneous)"
                                                     : "instantaneous power meter";
  }
  for (size_t k = 0; k < n; ++k) {
    if (k > 0 && s.power_w[k] == s.power_w[k - 1]) continue;  // no update seen
    m.changes.push_back({k == 0 ? s.t_ns[0] : s.t_ns[k - 1], s.t_ns[k], s.power_w[k]});
  }
  return m;
}

// When the meter updates: every period_ns at phase_ns + k·period_ns, or (period
// 0) at the reads themselves, as the proportional rule assumes.
struct Timing {
  int64_t period_ns = 0;
  int64_t phase_ns = 0;
};

int64_t UpdateTime(const Change& c, const Timing& tm) {
  if (tm.period_ns <= 0) return c.hi_ns;
  int64_t u = tm.phase_ns + FloorDiv(c.hi_ns - tm.phase_ns, tm.period_ns) * tm.period_ns;
  // The value changed after lo: an update before it contradicts the grid; the
  // nearest time the data allow is just after lo.
  if (c.lo_ns < c.hi_ns && u <= c.lo_ns) u = c.lo_ns + 1;
  return u;
}

// "energy_j joules were spent in [start_ns, end_ns)".
struct Rows {
  std::vector<int64_t> start_ns, end_ns;
  std::vector<double> energy_j;
  size_t size() const { return energy_j.size(); }
};

// Rows from changes [first, last) and, for counters, the update times (the
// series the split uses).
Rows MakeRows(const Meter& m, const Timing& tm, size_t first, size_t last,
              std::vector<int64_t>* update_ns) {
  Rows r;
  if (m.counter) {
    int64_t prev_u = 0;
    double prev_v = 0;
    for (size_t k = first; k < last; ++k) {
      int64_t u = UpdateTime(m.changes[k], tm);
      if (k > first && u <= prev_u) u = prev_u + 1;  // keep the order the reads had
      if (update_ns) update_ns->push_back(u);
      if (k > first) {
        r.start_ns.push_back(prev_u);
        r.end_ns.push_back(u);
        r.energy_j.push_back(m.changes[k].value - prev_v);
      }
      prev_u = u;
      prev_v = m.changes[k].value;
    }
    return r;
  }
  for (size_t k = first; k < last; ++k) {
    const int64_t u = UpdateTime(m.changes[k], tm);
    r.start_ns.push_back(u - m.window_ns);
    r.end_ns.push_back(u);
    r.energy_j.push_back(m.changes[k].value * static_cast<double>(m.window_ns) * 1e-9);
  }
  return r;
}

// Per elementary interval [bounds_ns[j], bounds_ns[j + 1]), the seconds each
// leaf class was innermost on one of the domain's lanes (two lanes: counted twice).
struct Activity {
  std::vector<int64_t> bounds_ns;
  std::vector<uint32_t> offset;  // entries of interval j: [offset[j], offset[j + 1])
  std::vector<uint32_t> cls;
  std::vector<double> time_s;
  size_t intervals() const { return bounds_ns.size() < 2 ? 0 : bounds_ns.size() - 1; }
};

Activity SweepActivity(const DomainInput& in, std::vector<int64_t> bounds) {
  Activity a;
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  a.bounds_ns = std::move(bounds);
  const size_t intervals = a.intervals();
  a.offset.assign(intervals + 1, 0);
  if (intervals == 0) return a;
  const int64_t b0 = a.bounds_ns.front(), b1 = a.bounds_ns.back();
  struct Piece {
    uint32_t interval;
    uint32_t cls;
    double time_s;
  };
  std::vector<Piece> pieces;
  for (uint32_t lane : in.lanes) {
    const std::vector<ChangePoint>& ch = in.prepared->changes[lane];
    // The change in force at b0, then every segment until b1.
    size_t k = std::upper_bound(ch.begin(), ch.end(), b0,
                                [](int64_t t, const ChangePoint& c) { return t < c.t_ns; }) -
               ch.begin();
    k = k == 0 ? 0 : k - 1;
    size_t j = 0;
    for (; k < ch.size() && ch[k].t_ns < b1; ++k) {
      if (ch[k].event < 0) continue;
      int64_t s = std::max(ch[k].t_ns, b0);
      const int64_t e = std::min(k + 1 < ch.size() ? ch[k + 1].t_ns : b1, b1);
      if (e <= s) continue;
      const uint32_t c =
          (*in.class_of_combo)[(*in.combo_of_event)[static_cast<size_t>(ch[k].event)]];
      j = std::upper_bound(a.bounds_ns.begin() + j, a.bounds_ns.end(), s) - a.bounds_ns.begin() - 1;
      while (s < e && j < intervals) {
        const int64_t end = std::min(e, a.bounds_ns[j + 1]);
        pieces.push_back({static_cast<uint32_t>(j), c, static_cast<double>(end - s) * 1e-9});
        s = end;
        if (s == a.bounds_ns[j + 1]) ++j;
      }
    }
  }
  // Counting sort by interval, then one entry per class within each.
  for (const Piece& p : pieces) ++a.offset[p.interval + 1];
  for (size_t j = 0; j < intervals; ++j) a.offset[j + 1] += a.offset[j];
  std::vector<uint32_t> cls(pieces.size());
  std::vector<double> time_s(pieces.size());
  {
    std::vector<uint32_t> fill(a.offset.begin(), a.offset.end() - 1);
    for (const Piece& p : pieces) {
      const uint32_t at = fill[p.interval]++;
      cls[at] = p.cls;
      time_s[at] = p.time_s;
    }
  }
  std::vector<uint32_t> slot(in.class_count, std::numeric_limits<uint32_t>::max());
  std::vector<uint32_t> merged_offset(intervals + 1, 0);
  a.cls.reserve(cls.size());
  a.time_s.reserve(cls.size());
  for (size_t j = 0; j < intervals; ++j) {
    const uint32_t begin = static_cast<uint32_t>(a.cls.size());
    for (uint32_t q = a.offset[j]; q < a.offset[j + 1]; ++q) {
      const uint32_t c = cls[q];
      if (slot[c] != std::numeric_limits<uint32_t>::max() && slot[c] >= begin) {
        a.time_s[slot[c]] += time_s[q];
      } else {
        slot[c] = static_cast<uint32_t>(a.cls.size());
        a.cls.push_back(c);
        a.time_s.push_back(time_s[q]);
      }
    }
    merged_offset[j + 1] = static_cast<uint32_t>(a.cls.size());
  }
  a.offset = std::move(merged_offset);
  return a;
}

// The equations in the unknowns' own columns: 0 is static power, 1 + i the
// i-th class that has any activity. x in seconds, y in joules: solutions in W.
struct Design {
  std::vector<uint32_t> class_of_column;  // column − 1 → class
  std::vector<uint32_t> column_of_class;  // class → column (0: none)
  std::vector<uint32_t> row_offset;
  std::vector<uint32_t> col;
  std::vector<double> x;
  std::vector<double> y;
  std::vector<int64_t> mid_ns;  // each row's middle, for the resampling blocks
  std::vector<uint32_t> rows_of_column;  // in how many rows each column appears
  size_t columns() const { return class_of_column.size() + 1; }
  size_t rows() const { return y.size(); }
};

Design MakeDesign(const DomainInput& in, const Rows& rows) {
  std::vector<int64_t> bounds;
  bounds.reserve(rows.size() * 2);
  for (size_t r = 0; r < rows.size(); ++r) {
    bounds.push_back(rows.start_ns[r]);
    bounds.push_back(rows.end_ns[r]);
  }
  const Activity a = SweepActivity(in, std::move(bounds));
  Design d;
  d.column_of_class.assign(in.class_count, 0);
  d.row_offset.push_back(0);
  std::vector<uint32_t> slot(in.class_count + 1, std::numeric_limits<uint32_t>::max());
  for (size_t r = 0; r < rows.size(); ++r) {
    const size_t j0 = std::lower_bound(a.bounds_ns.begin(), a.bounds_ns.end(), rows.start_ns[r]) -
                      a.bounds_ns.begin();
    const size_t j1 = std::lower_bound(a.bounds_ns.begin(), a.bounds_ns.end(), rows.end_ns[r]) -
                      a.bounds_ns.begin();
    const uint32_t begin = static_cast<uint32_t>(d.col.size());
    d.col.push_back(0);
    d.x.push_back(static_cast<double>(rows.end_ns[r] - rows.start_ns[r]) * 1e-9);
    for (size_t j = j0; j < j1; ++j) {
      for (uint32_t q = a.offset[j]; q < a.offset[j + 1]; ++q) {
        const uint32_t c = a.cls[q];
        if (d.column_of_class[c] == 0) {
          d.class_of_column.push_back(c);
          d.column_of_class[c] = static_cast<uint32_t>(d.class_of_column.size());
        }
        const uint32_t column = d.column_of_class[c];
        if (slot[column] != std::numeric_limits<uint32_t>::max() && slot[column] >= begin) {
          d.x[slot[column]] += a.time_s[q];
        } else {
          slot[column] = static_cast<uint32_t>(d.col.size());
          d.col.push_back(column);
          d.x.push_back(a.time_s[q]);
        }
      }
    }
    d.row_offset.push_back(static_cast<uint32_t>(d.col.size()));
    d.y.push_back(rows.energy_j[r]);
    d.mid_ns.push_back(rows.start_ns[r] + (rows.end_ns[r] - rows.start_ns[r]) / 2);
  }
  d.rows_of_column.assign(d.columns(), 0);
  for (uint32_t c : d.col) ++d.rows_of_column[c];
  return d;
}

// The normal equations G β = b of the (optionally weighted) rows; dense: the
// fitted classes number in the hundreds for a model, and a dense matrix keeps
// the solver's inner loop simple and fast.
struct Normal {
  size_t n = 0;
  std::vector<double> g;  // n × n, row-major
  std::vector<double> b;
  double yy = 0;
  double& G(size_t i, size_t j) { return g[i * n + j]; }
  double G(size_t i, size_t j) const { return g[i * n + j]; }
};

Normal MakeNormal(const Design& d, const std::vector<double>* row_weight) {
  Normal ne;
  ne.n = d.columns();
  ne.g.assign(ne.n * ne.n, 0.0);
  ne.b.assign(ne.n, 0.0);
  for (size_t r = 0; r < d.rows(); ++r) {
    const double w = row_weight ? (*row_weight)[r] : 1.0;
    if (w == 0) continue;
    const uint32_t q0 = d.row_offset[r], q1 = d.row_offset[r + 1];
    for (uint32_t p = q0; p < q1; ++p) {
      const double wx = w * d.x[p];
      double* row = &ne.g[size_t{d.col[p]} * ne.n];
      for (uint32_t q = q0; q < q1; ++q) row[d.col[q]] += wx * d.x[q];
      ne.b[d.col[p]] += wx * d.y[r];
    }
    ne.yy += w * d.y[r] * d.y[r];
  }
  return ne;
}

// Shrinkage toward each group's mean power: a class the data identify well
// barely moves, one they cannot separate from its neighbours takes its
// group's power. kShrink scales the pull against a typical class's
// information; a pooled class is tied to its group outright.
constexpr double kShrink = 1e-3;
constexpr double kPooled = 1e6;
constexpr uint32_t kMinRowsOfClass = 3;
// Least share of the readings' variance a fit must explain to be used.
constexpr double kMinR2 = 0.5;
constexpr double kMinR2Pooled = 0.9;

struct Penalty {
  std::vector<double> lambda;     // per column (0 for static)
  std::vector<uint32_t> group;    // per column (unused for static)
  std::vector<char> pooled_column;  // per column: tied to its group's mean
  size_t groups = 0;
  int64_t pooled = 0;
};

Penalty MakePenalty(const DomainInput& in, const Design& d, const Normal& ne, bool pool_all) {
  Penalty p;
  p.lambda.assign(d.columns(), 0.0);
  p.group.assign(d.columns(), 0);
  p.pooled_column.assign(d.columns(), 0);
  p.groups = in.group_count;
  std::vector<double> diag;
  for (size_t c = 1; c < d.columns(); ++c) diag.push_back(ne.G(c, c));
  double typical = 0;
  if (!diag.empty()) {
    std::nth_element(diag.begin(), diag.begin() + diag.size() / 2, diag.end());
    typical = diag[diag.size() / 2];
  }
  for (size_t c = 1; c < d.columns(); ++c) {
    p.group[c] = (*in.group_of_class)[d.class_of_column[c - 1]];
    const bool pooled =
        pool_all || d.rows_of_column[c] < kMinRowsOfClass || ne.G(c, c) < 1e-6 * typical;
    p.lambda[c] = (pooled ? kPooled : kShrink) * typical;
    p.pooled_column[c] = pooled;
    p.pooled += pooled;
  }
  return p;
}

// y[i] += x[i] · a for every i. Two lanes at a time: each element gets the
// same multiply and add as alone (no sum is reordered), so the results are
// the scalar loop's, bit for bit, at half the instructions.
void AddScaled(double* y, const double* x, double a, size_t n) {
  using Pair = double __attribute__((vector_size(16)));  // two doubles
  const Pair a2 = {a, a};
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    Pair xv, yv;
    std::memcpy(&xv, x + i, sizeof xv);
    std::memcpy(&yv, y + i, sizeof yv);
    yv += xv * a2;
    std::memcpy(y + i, &yv, sizeof yv);
  }
  for (; i < n; ++i) y[i] += x[i] * a;
}

// Minimises |y − Xβ|² + Σ λ_c (β_c − mean of its group)² over β ≥ 0 by
// cyclic coordinate descent on the normal equations (each step exact for its
// coordinate; the group means are refreshed after each sweep). Warm-started
// from `beta`.
void Solve(const Normal& ne, const Penalty& pen, std::vector<double>& beta, int max_sweeps,
           double tolerance) {
  const size_t n = ne.n;
  beta.resize(n, 0.0);
  std::vector<double> gb(n, 0.0);  // G β
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < n; ++j) s += ne.G(i, j) * beta[j];
    gb[i] = s;
  }
  std::vector<double> mean(pen.groups, 0.0), weight(pen.groups, 0.0);
  auto refresh_means = [&] {
    std::fill(mean.begin(), mean.end(), 0.0);
    std::fill(weight.begin(), weight.end(), 0.0);
    for (size_t c = 1; c < n; ++c) {
      mean[pen.group[c]] += pen.lambda[c] * beta[c];
      weight[pen.group[c]] += pen.lambda[c];
    }
    for (size_t g = 0; g < pen.groups; ++g) mean[g] = weight[g] > 0 ? mean[g] / weight[g] : 0;
  };
  refresh_means();
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    double worst = 0;
    for (size_t c = 0; c < n; ++c) {
      const double gcc = ne.G(c, c);
      const double lambda = c == 0 ? 0.0 : pen.lambda[c];
      const double den = gcc + lambda;
      if (den <= 0) continue;
      const double num = ne.b[c] - gb[c] + gcc * beta[c] + (c == 0 ? 0.0 : lambda * mean[pen.group[c]]);
      const double next = std::max(0.0, num / den);
      const double delta = next - beta[c];
      if (delta == 0) continue;
      const double* column = &ne.g[c * n];  // symmetric: row c is column c
      AddScaled(gb.data(), column, delta, n);
      beta[c] = next;
      // The change's effect on the fit, in joules²: comparable across columns.
      worst = std::max(worst, delta * delta * den);
    }
    refresh_means();
    if (worst <= tolerance) break;
  }
}

// The penalised Hessian H = G + L, where L ties each class to its group's
// weighted mean (the group means eliminated: per group, diag(λ) − λλᵀ/Σλ),
// plus a ridge of 1e-9 of each diagonal so that a class the data cannot
// separate at all still gives a definite system.
std::vector<double> PenalisedHessian(const Normal& ne, const Penalty& pen) {
  const size_t n = ne.n;
  std::vector<double> h = ne.g;
  std::vector<double> group_weight(pen.groups, 0.0);
  for (size_t c = 1; c < n; ++c) group_weight[pen.group[c]] += pen.lambda[c];
  std::vector<std::vector<uint32_t>> members(pen.groups);
  for (size_t c = 1; c < n; ++c) members[pen.group[c]].push_back(static_cast<uint32_t>(c));
  for (size_t g = 0; g < pen.groups; ++g) {
    if (group_weight[g] <= 0) continue;
    for (uint32_t i : members[g]) {
      h[i * n + i] += pen.lambda[i];
      for (uint32_t j : members[g]) h[i * n + j] -= pen.lambda[i] * pen.lambda[j] / group_weight[g];
    }
  }
  double typical = 0;
  for (size_t i = 0; i < n; ++i) typical = std::max(typical, h[i * n + i]);
  for (size_t i = 0; i < n; ++i) h[i * n + i] += 1e-9 * std::max(h[i * n + i], 1e-6 * typical) + 1e-300;
  return h;
}

// The Cholesky factor of SolveOn, rows stored in pairs: element (i, k) of
// rows 2p and 2p + 1 side by side, so that two rows' elements k load as one
// pair of doubles. (An odd last row is paired with zeros.)
class PairedRows {
 public:
  explicit PairedRows(size_t m) : m_(m), a_((m + 1) / 2 * 2 * m, 0.0) {}
  double& At(size_t i, size_t k) { return a_[(i >> 1) * 2 * m_ + 2 * k + (i & 1)]; }
  double* Pair(size_t i) { return &a_[(i >> 1) * 2 * m_]; }  // rows i, i + 1 (i even)
  const double* Row(size_t i) const { return &a_[(i >> 1) * 2 * m_ + (i & 1)]; }  // stride 2

 private:
  size_t m_;
  std::vector<double> a_;
};

using PairOfDoubles = double __attribute__((vector_size(16)));

PairOfDoubles LoadPair(const double* p) {
  PairOfDoubles v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Column j of the factor below the diagonal, for rows [i, end) (i even, end
// − i a multiple of 8): four pairs of rows at once. Each row's sum runs over k
// in the order the one-row loop takes (the same result, bit for bit); the
// eight rows' chains of subtractions overlap instead of each waiting on the
// last. This loop is most of a fit attempt's time (the first, unconstrained
// solve of every active set is a factorisation of all the classes).
void FactorColumnEightRows(PairedRows& a, size_t j, double d, size_t i, size_t end) {
  const double* aj = a.Row(j);
  const PairOfDoubles dd = {d, d};
  for (; i < end; i += 8) {
    double* q0 = a.Pair(i);
    double* q1 = a.Pair(i + 2);
    double* q2 = a.Pair(i + 4);
    double* q3 = a.Pair(i + 6);
    PairOfDoubles v0 = LoadPair(q0 + 2 * j), v1 = LoadPair(q1 + 2 * j);
    PairOfDoubles v2 = LoadPair(q2 + 2 * j), v3 = LoadPair(q3 + 2 * j);
    for (size_t k = 0; k < j; ++k) {
      const PairOfDoubles ajk = {aj[2 * k], aj[2 * k]};
      v0 -= LoadPair(q0 + 2 * k) * ajk;
      v1 -= LoadPair(q1 + 2 * k) * ajk;
      v2 -= LoadPair(q2 + 2 * k) * ajk;
      v3 -= LoadPair(q3 + 2 * k) * ajk;
    }
    v0 /= dd;
    v1 /= dd;
    v2 /= dd;
    v3 /= dd;
    std::memcpy(q0 + 2 * j, &v0, sizeof v0);
    std::memcpy(q1 + 2 * j, &v1, sizeof v1);
    std::memcpy(q2 + 2 * j, &v2, sizeof v2);
    std::memcpy(q3 + 2 * j, &v3, sizeof v3);
  }
}

// Solves H_FF x_F = b_F (x = 0 off F) by Cholesky. False when not definite.
bool SolveOn(const std::vector<double>& h, size_t n, const std::vector<uint32_t>& free,
             const std::vector<double>& b, std::vector<double>& x) {
  const size_t m = free.size();
  PairedRows a(m);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j <= i; ++j) a.At(i, j) = h[size_t{free[i]} * n + free[j]];
  auto factor_row = [&a](size_t i, size_t j, double d) {
    const double* aj = a.Row(j);
    const double* ai = a.Row(i);
    double v = ai[2 * j];
    for (size_t k = 0; k < j; ++k) v -= ai[2 * k] * aj[2 * k];
    a.At(i, j) = v / d;
  };
  for (size_t j = 0; j < m; ++j) {
    const double* aj = a.Row(j);
    double d = aj[2 * j];
    for (size_t k = 0; k < j; ++k) d -= aj[2 * k] * aj[2 * k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a.At(j, j) = d;
    size_t i = j + 1;
    if (i < m && (i & 1)) factor_row(i++, j, d);  // row j's partner
    const size_t eights = i + (m - i) / 8 * 8;
    FactorColumnEightRows(a, j, d, i, eights);
    for (i = eights; i < m; ++i) factor_row(i, j, d);
  }
  std::vector<double> y(m);
  for (size_t i = 0; i < m; ++i) {
    const double* ai = a.Row(i);
    double v = b[free[i]];
    for (size_t k = 0; k < i; ++k) v -= ai[2 * k] * y[k];
    y[i] = v / ai[2 * i];
  }
  for (size_t i = m; i-- > 0;) {
    double v = y[i];
    for (size_t k = i + 1; k < m; ++k) v -= a.At(k, i) * y[k];
    y[i] = v / a.At(i, i);
  }
  std::fill(x.begin(), x.end(), 0.0);
  for (size_t i = 0; i < m; ++i) x[free[i]] = y[i];
  return true;
}

// Non-negative minimum of ½βᵀHβ − bᵀβ by an active set started from the
// unconstrained solution: variables that come out negative are fixed at 0,
// fixed ones whose gradient pulls them up are freed again, until the KKT
// conditions hold. A good model fits with few or no bounds, so this is one to
// a handful of Cholesky solves. False when it does not settle (the caller then
// uses coordinate descent).
bool SolveActiveSet(const Normal& ne, const Penalty& pen, std::vector<double>& beta) {
  const size_t n = ne.n;
  const std::vector<double> h = PenalisedHessian(ne, pen);
  std::vector<char> fixed(n, 0);
  std::vector<double> x(n, 0.0);
  for (int iteration = 0; iteration < 60; ++iteration) {
    std::vector<uint32_t> free;
    for (size_t i = 0; i < n; ++i)
      if (!fixed[i]) free.push_back(static_cast<uint32_t>(i));
    if (!SolveOn(h, n, free, ne.b, x)) return false;
    bool changed = false;
    for (uint32_t i : free)
      if (x[i] < 0) {
        fixed[i] = 1;
        changed = true;
      }
    if (changed) continue;
    // KKT for the fixed ones: the gradient b − Hx must not pull them above 0.
    double worst = 0;
    size_t worst_i = n;
    for (size_t i = 0; i < n; ++i) {
      if (!fixed[i]) continue;
      // x is 0 off the free set: only its columns change g (in the same
      // order as a sum over every column; a zero term leaves g as it was).
      double g = ne.b[i];
      for (uint32_t j : free) g -= h[i * n + j] * x[j];
      if (g > worst * (1 + 1e-12) && g > 1e-12 * std::fabs(ne.b[i]) + 1e-300) {
        worst = g;
        worst_i = i;
      }
    }
    if (worst_i == n) {
      beta = x;
      return true;
    }
    fixed[worst_i] = 0;
  }
  return false;
}

double ResidualSquares(const Normal& ne, const std::vector<double>& beta) {
  // |y − Xβ|² = yy − 2 βᵀb + βᵀGβ
  double btb = 0, bgb = 0;
  for (size_t i = 0; i < ne.n; ++i) {
    btb += beta[i] * ne.b[i];
    double s = 0;
    for (size_t j = 0; j < ne.n; ++j) s += ne.G(i, j) * beta[j];
    bgb += beta[i] * s;
  }
  return std::max(0.0, ne.yy - 2 * btb + bgb);
}

// Direct solves while the system is small enough for a dense factorisation
// per active-set step; coordinate descent beyond, or if the active set cycles.
constexpr size_t kDirectMaxColumns = 1500;

void Minimise(const Normal& ne, const Penalty& pen, std::vector<double>& beta, int max_sweeps,
              double tolerance) {
  if (ne.n <= kDirectMaxColumns && SolveActiveSet(ne, pen, beta)) return;
  Solve(ne, pen, beta, max_sweeps, tolerance);
}

struct Fit {
  Design design;
  Normal normal;
  Penalty penalty;
  std::vector<double> beta;
  double rss = 0;
};

// `search`: every class pooled into its group (op name + phase). The timing
// search compares fits across candidate update times; with one power per
// class the system is ill-conditioned enough that any timing error is
// absorbed by wild powers and every wrong candidate looks alike, while a few
// group powers leave a residual that falls smoothly toward the true timing.
Fit FitRows(const DomainInput& in, const Rows& rows, std::vector<double> warm, int max_sweeps,
            bool search = false) {
  Fit f;
  f.design = MakeDesign(in, rows);
  f.normal = MakeNormal(f.design, nullptr);
  f.penalty = MakePenalty(in, f.design, f.normal, search);
  // Stop when no coordinate moves the fit by more than a 1e-12 part of the readings' energy².
  const double tolerance = 1e-12 * std::max(f.normal.yy, 1e-300);
  f.beta = std::move(warm);
  if (f.beta.size() != f.design.columns()) f.beta.assign(f.design.columns(), 0.0);
  Minimise(f.normal, f.penalty, f.beta, max_sweeps, tolerance);
  f.rss = ResidualSquares(f.normal, f.beta);
  return f;
}

// Changes [first, last) that overlap the window (with one change of margin
// each side, so that the rows cover it).
std::pair<size_t, size_t> ChangesInWindow(const Meter& m, int64_t w0, int64_t w1) {
  size_t first = 0, last = m.changes.size();
  while (first + 1 < last && m.changes[first + 1].hi_ns <= w0) ++first;
  while (last > first + 1 && m.changes[last - 2].hi_ns >= w1) --last;
  return {first, last};
}

// Candidate update timings: the reads themselves, and grids of period × phase.
// Periods: the nominal one (run.json), refined from the data when the reads
// outpace the updates (then each change brackets one update tightly).
std::vector<int64_t> CandidatePeriods(const Meter& m, const DomainInfo& info, size_t first,
                                      size_t last, std::string* how) {
  std::vector<int64_t> bracket, spacing;
  for (size_t k = first + 1; k < last; ++k) {
    bracket.push_back(m.changes[k].hi_ns - m.changes[k].lo_ns);
    spacing.push_back(m.changes[k].hi_ns - m.changes[k - 1].hi_ns);
  }
  std::vector<int64_t> periods;
  const int64_t nominal = info.update_interval_ns;
  const int64_t median_spacing = Median(spacing);
  const bool oversampled = !bracket.empty() && Median(bracket) * 4 < median_spacing * 3;
  int64_t estimated = 0;
  if (oversampled && last - first >= 3) {
    // Least-squares slope of the brackets' midpoints against the change index:
    // one update per change, so the slope is the period.
    const double n = static_cast<double>(last - first);
    const double k_mean = (n - 1) / 2;
    const double origin = static_cast<double>(m.changes[first].hi_ns);
    double mid_mean = 0;
    for (size_t k = first; k < last; ++k)
      mid_mean += (0.5 * (m.changes[k].lo_ns + m.changes[k].hi_ns) - origin) / n;
    double sxy = 0, sxx = 0;
    for (size_t k = first; k < last; ++k) {
      const double dk = static_cast<double>(k - first) - k_mean;
      sxy += dk * (0.5 * (m.changes[k].lo_ns + m.changes[k].hi_ns) - origin - mid_mean);
      sxx += dk * dk;
    }
    if (sxx > 0) estimated = std::llround(sxy / sxx);
  }
  // A power meter can show the same value twice (a steady window average),
  // hiding an update, so its changes undercount updates: only a counter's
  // period is refined from the data.
  if (!m.counter && nominal > 0) estimated = 0;
  if (nominal > 0 && estimated > 0 && std::llabs(estimated - nominal) * 5 < nominal) {
    periods.push_back(estimated);
    *how = fmt::format("{:.4g} ms (run.json said {:.4g} ms; refined from the readings)",
                       estimated * 1e-6, nominal * 1e-6);
  } else if (nominal > 0) {
    periods.push_back(nominal);
    *how = fmt::format("{:.4g} ms (run.json)", nominal * 1e-6);
    if (estimated > 0) periods.push_back(estimated);
  } else if (estimated > 0) {
    periods.push_back(estimated);
    *how = fmt::format("{:.4g} ms (estimated from the readings)", estimated * 1e-6);
  } else if (median_spacing > 0) {
    // Every read shows a new value: updates are at least this frequent.
    periods.push_back(median_spacing);
    *how = fmt::format("{:.4g} ms (assumed: the reads' spacing)", median_spacing * 1e-6);
  }
  return periods;
}

// Resampling blocks: the trace's steps when there are enough of them (a step
// is the unit that repeats), else contiguous runs of rows.
std::vector<uint32_t> BlocksOf(const Design& d, const std::vector<int64_t>& starts, size_t* count) {
  std::vector<uint32_t> block(d.rows(), 0);
  constexpr size_t kMinBlocks = 5;
  if (starts.size() >= kMinBlocks) {
    for (size_t r = 0; r < d.rows(); ++r) {
      const size_t s = std::upper_bound(starts.begin(), starts.end(), d.mid_ns[r]) - starts.begin();
      block[r] = static_cast<uint32_t>(s == 0 ? 0 : s - 1);
    }
    *count = starts.size();
    return block;
  }
  const size_t n = std::clamp<size_t>(d.rows() / 8, 1, 40);
  for (size_t r = 0; r < d.rows(); ++r) block[r] = static_cast<uint32_t>(r * n / d.rows());
  *count = n;
  return block;
}

// SplitMix64: the same resamples on every platform and run.
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The arc of phases (offsets from `origin`, mod `period`) most consistent with
// the reads: each change's bracket (lo, hi] holds an update, and (previous
// change, lo] — reads that still showed the old value — holds none. Returns
// {begin, width}; a width of `period` when the reads say nothing.
std::pair<int64_t, int64_t> ConsistentPhaseArc(const Meter& meter, int64_t period, int64_t origin,
                                               size_t first, size_t last) {
  // Arcs as [begin, end) with a weight; the best phases are where the summed
  // weight is highest.
  std::vector<std::pair<int64_t, int64_t>> edges;  // (position, weight change)
  int64_t always = 0;                               // weight every phase has
  auto mark = [&](int64_t lo, int64_t hi, int64_t weight) {  // an update in (lo, hi]
    if (hi <= lo) return;
    if (hi - lo >= period) {
      always += weight;
      return;
    }
    const int64_t a = ((lo - origin) % period + period) % period;
    const int64_t b = a + (hi - lo);
    if (b <= period) {
      edges.push_back({a, weight});
      edges.push_back({b, -weight});
    } else {
      edges.push_back({a, weight});
      edges.push_back({period, -weight});
      edges.push_back({0, weight});
      edges.push_back({b - period, -weight});
    }
  };
  for (size_t k = first + 1; k < last; ++k) {
    mark(meter.changes[k].lo_ns, meter.changes[k].hi_ns, 1);
    mark(meter.changes[k - 1].hi_ns, meter.changes[k].lo_ns, -1);
  }
  std::sort(edges.begin(), edges.end());
  int64_t level = always, best_level = std::numeric_limits<int64_t>::min();
  int64_t best_begin = 0, best_width = period;
  for (size_t e = 0; e < edges.size();) {
    const int64_t at = edges[e].first;
    for (; e < edges.size() && edges[e].first == at; ++e) level += edges[e].second;
    const int64_t next = e < edges.size() ? edges[e].first : period;
    if (next > at && (level > best_level || (level == best_level && next - at > best_width))) {
      best_level = level;
      best_begin = at;
      best_width = next - at;
    }
  }
  if (edges.empty()) best_width = period;
  return {best_begin, best_width};
}

// The update timings worth a fit: none (updates at the reads) always; per
// candidate period, points across the arc the reads pin the phase to
// (*phase_from_reads), else 16 phases.
std::vector<Timing> TimingCandidates(const DomainInput& in, const Meter& meter, size_t first,
                                     size_t last, std::string* period_words,
                                     bool* phase_from_reads) {
  std::vector<Timing> candidates{Timing{}};
  if (!in.series_is_raw) return candidates;
  for (int64_t period : CandidatePeriods(meter, *in.info, first, last, period_words)) {
    // Scored on the reads; when they straddle the updates the best phases form
    // a narrow arc, and a phase a little off would move many updates by a
    // whole period, so the arc decides. Otherwise every phase is about as
    // consistent, and the residual of the fit chooses among 16.
    const int64_t origin = meter.changes[first].hi_ns;
    const auto [begin, width] = ConsistentPhaseArc(meter, period, origin, first, last);
    if (width * 8 <= period) {
      // The reads pin the updates down to this arc (the no-shift candidate
      // is out); inside it, a timing off by a fraction of a microsecond
      // still moves the powers, so the full model's residual picks among
      // points across the arc.
      candidates.clear();
      constexpr int kInArc = 17;
      for (int j = 0; j < kInArc; ++j)
        candidates.push_back({period, origin + begin + width * j / (kInArc - 1)});
      *phase_from_reads = true;
      break;
    }
    constexpr int kPhases = 16;
    for (int j = 0; j < kPhases; ++j) candidates.push_back({period, origin + period * j / kPhases});
  }
  return candidates;
}

// The candidate with the least residual on changes [first, last), then (when
// the phase was not pinned by the reads) a golden-section refinement of its
// phase. `warm` carries the last fit's powers from one candidate to the next.
Timing ChooseTiming(const DomainInput& in, const Meter& meter, size_t first, size_t last,
                    const std::vector<Timing>& candidates, bool phase_from_reads,
                    std::vector<double>& warm) {
  constexpr int kSearchSweeps = 200;
  Timing best{};
  double best_rss = std::numeric_limits<double>::infinity();
  auto evaluate = [&](const Timing& tm) {
    Fit f = FitRows(in, MakeRows(meter, tm, first, last, nullptr), warm, kSearchSweeps,
                    /*search=*/!phase_from_reads);
    if (warm.empty() || warm.size() == f.beta.size()) warm = f.beta;
    return f.rss;
  };
  for (const Timing& tm : candidates) {
    const double rss = evaluate(tm);
    if (rss < best_rss) {
      best_rss = rss;
      best = tm;
    }
  }
  if (best.period_ns <= 0 || phase_from_reads) return best;
  // Golden-section refinement of the phase around the best grid point.
  const double span = static_cast<double>(best.period_ns) / 16;
  double lo = static_cast<double>(best.phase_ns) - span, hi = static_cast<double>(best.phase_ns) + span;
  constexpr double kGolden = 0.6180339887498949;
  auto at = [&](double phase) {
    return Timing{best.period_ns, static_cast<int64_t>(std::llround(phase))};
  };
  double x1 = hi - kGolden * (hi - lo), x2 = lo + kGolden * (hi - lo);
  double f1 = evaluate(at(x1)), f2 = evaluate(at(x2));
  for (int it = 0; it < 12 && hi - lo > 1000; ++it) {
    if (f1 <= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - kGolden * (hi - lo);
      f1 = evaluate(at(x1));
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + kGolden * (hi - lo);
      f2 = evaluate(at(x2));
    }
  }
  const double x = f1 <= f2 ? x1 : x2;
  if (std::min(f1, f2) < best_rss) best = at(x);
  return best;
}

// Free parameters of a fit: each class fitted on its own, and one per group
// whose classes are all pooled (they share one power).
int64_t FreeParameters(const DomainInput& in, const Fit& f) {
  int64_t parameters = 1;
  std::vector<char> free_group(in.group_count, 0), pooled_group(in.group_count, 0);
  for (size_t c = 1; c < f.design.columns(); ++c) {
    if (f.penalty.pooled_column[c]) {
      pooled_group[f.penalty.group[c]] = 1;
    } else {
      ++parameters;
      free_group[f.penalty.group[c]] = 1;
    }
  }
  for (size_t g = 0; g < in.group_count; ++g) parameters += pooled_group[g] && !free_group[g];
  return parameters;
}

bool EnoughEquations(const DomainInput& in, const Fit& f) {
  const double rows_n = static_cast<double>(f.design.rows());
  return f.design.rows() >= static_cast<size_t>(kMinRows) &&
         rows_n >= kMinRowsPerClass * static_cast<double>(FreeParameters(in, f));
}

// The fit on every row: a power per class, or, with too few equations for
// that (a slow power meter, a short run), one power per op name and phase
// (*pooled_all) where that may still be identified.
Fit FitAllRows(const DomainInput& in, const Rows& rows, const std::vector<double>& warm,
               bool* pooled_all, Diagnostics& diag) {
  Fit fit = FitRows(in, rows, warm, 5000);
  if (EnoughEquations(in, fit)) return fit;
  Fit pooled = FitRows(in, rows, {}, 5000, /*search=*/true);
  if (!EnoughEquations(in, pooled)) return fit;
  diag.Add("account.regression_pooled_by_op");
  diag.Warn(fmt::format(
      "{}: {} equations cannot separate {} leaf classes; each op name (and phase) was "
      "given one power",
      in.info->name, pooled.design.rows(), pooled.design.columns() - 1));
  *pooled_all = true;
  return pooled;
}

// Why the fit must not be used (the proportional answer is the honest one
// then), or "" when it may.
std::string JudgeFit(const DomainInput& in, const Fit& fit, bool pooled_all, DomainFit& out) {
  const std::string& name = in.info->name;
  const Design& d = fit.design;
  double y_mean = 0;
  for (double y : d.y) y_mean += y / static_cast<double>(d.rows());
  double tss = 0;
  for (double y : d.y) tss += (y - y_mean) * (y - y_mean);
  out.r2 = tss > 0 ? 1 - fit.rss / tss : 0;
  if (!EnoughEquations(in, fit))
    return fmt::format(
        "{}: {} equations for {} free powers ({} leaf classes, {} pooled; needs at least {} "
        "equations and {:.1f} per power)",
        name, out.rows, FreeParameters(in, fit), out.classes_fitted, out.classes_pooled, kMinRows,
        kMinRowsPerClass);
  // A fit that explains little of the readings would split energy by powers
  // it does not know.
  const double min_r2 = pooled_all ? kMinR2Pooled : kMinR2;
  if (tss > 1e-12 * fit.normal.yy && out.r2 < min_r2)
    return fmt::format(
        "{}: the fitted model explains {:.0f} % of the readings' variance (needs {:.0f} %{})",
        name, 100 * std::max(out.r2, 0.0), 100 * min_r2,
        pooled_all ? " with one power per op name" : "");
  // Rounding in the cumulative readings leaves a trace of variance even when
  // every interval had the same energy: relative to the energy, that is none.
  if (tss <= 1e-12 * fit.normal.yy)
    return fmt::format("{}: the readings never vary; nothing tells the classes apart", name);
  if (out.classes_fitted == 0) return fmt::format("{}: no leaf was active while it was read", name);
  return "";
}

// The floor of the static power: a zero one would leave idle slices with
// nothing to scale; far below any real meter, it keeps every interval's
// prediction positive.
double StaticFloorW(const Design& d) {
  double e = 0, t = 0;
  for (size_t r = 0; r < d.rows(); ++r) {
    e += d.y[r];
    t += d.x[d.row_offset[r]];
  }
  const double mean_power_w = t > 0 ? e / t : 0;
  return 1e-6 * mean_power_w + 1e-12;
}

// Every class's power from the fit; classes never active while the meter read
// (outside every row) take their group's mean.
void ClassPowers(const DomainInput& in, const Fit& fit, DomainFit& out) {
  const Design& d = fit.design;
  out.class_power_w.assign(in.class_count, 0.0);
  for (size_t c = 1; c < d.columns(); ++c) out.class_power_w[d.class_of_column[c - 1]] = fit.beta[c];
  std::vector<double> sum(in.group_count, 0.0);
  std::vector<int64_t> n(in.group_count, 0);
  for (size_t c = 1; c < d.columns(); ++c) {
    sum[fit.penalty.group[c]] += fit.beta[c];
    n[fit.penalty.group[c]] += 1;
  }
  for (size_t c = 0; c < in.class_count; ++c)
    if (d.column_of_class[c] == 0) {
      const uint32_t g = (*in.group_of_class)[c];
      out.class_power_w[c] = n[g] > 0 ? sum[g] / static_cast<double>(n[g]) : 0.0;
    }
}

// The series to split — counters at their update times, power meters as read —
// and alpha: measured over predicted energy per interval of it.
void SplitSeries(const DomainInput& in, const Meter& meter, size_t first,
                 const std::vector<int64_t>& update_ns, DomainFit& out) {
  if (meter.counter && in.series_is_raw) {
    for (size_t k = 0; k < update_ns.size(); ++k) {
      out.series.t_ns.push_back(update_ns[k]);
      out.series.energy_j.push_back(meter.changes[first + k].value - meter.changes[first].value);
    }
  } else {
    out.series = *in.series;
    out.series.previous_ns.clear();
    out.series.power_w.clear();
  }
  const Activity a = SweepActivity(in, out.series.t_ns);
  const size_t intervals = out.series.t_ns.size() - 1;
  out.alpha.assign(intervals, 1.0);
  // SweepActivity merged equal times; the series' times are strictly increasing, so it is 1:1.
  for (size_t i = 0; i < intervals && i < a.intervals(); ++i) {
    double predicted = out.static_w * static_cast<double>(out.series.t_ns[i + 1] - out.series.t_ns[i]) * 1e-9;
    for (uint32_t q = a.offset[i]; q < a.offset[i + 1]; ++q)
      predicted += out.class_power_w[a.cls[q]] * a.time_s[q];
    const double measured = out.series.energy_j[i + 1] - out.series.energy_j[i];
    out.alpha[i] = predicted > 0 ? measured / predicted : 0.0;
  }
}

// Uncertainty: refits on resampled blocks of rows (steps), warm from the fit.
void Replicates(const DomainInput& in, const Fit& fit, double static_floor_w, DomainFit& out) {
  const Design& d = fit.design;
  size_t block_count = 0;
  const std::vector<uint32_t> block = BlocksOf(d, in.block_starts_ns, &block_count);
  uint64_t state = in.seed;
  std::vector<double> weight_of_block(block_count), row_weight(d.rows());
  for (int r = 0; r < in.replicates; ++r) {
    std::fill(weight_of_block.begin(), weight_of_block.end(), 0.0);
    for (size_t k = 0; k < block_count; ++k) weight_of_block[NextRandom(state) % block_count] += 1;
    for (size_t q = 0; q < d.rows(); ++q) row_weight[q] = weight_of_block[block[q]];
    const Normal ne = MakeNormal(d, &row_weight);
    std::vector<double> beta = fit.beta;
    Minimise(ne, fit.penalty, beta, 2000, 1e-12 * std::max(ne.yy, 1e-300));
    std::vector<double> power(out.class_power_w);
    for (size_t c = 1; c < d.columns(); ++c) power[d.class_of_column[c - 1]] = beta[c];
    out.replicate_static_w.push_back(std::max(beta[0], static_floor_w));
    out.replicate_class_power_w.push_back(std::move(power));
  }
}

// meta.meter's words for the domain: the meter, the fit, and the update timing used.
std::string DescribeFit(const DomainInput& in, const Meter& meter, size_t first, const Timing& best,
                        const std::string& period_words, bool phase_from_reads,
                        const DomainFit& out) {
  const std::string timing =
      best.period_ns > 0
          ? fmt::format("updates every {}, phase {:.4g} ms after the first reading ({})",
                        period_words.empty() ? fmt::format("{:.4g} ms", best.period_ns * 1e-6)
                                             : period_words,
                        static_cast<double>(((best.phase_ns - meter.changes[first].hi_ns) %
                                                 best.period_ns +
                                             best.period_ns) %
                                            best.period_ns) *
                            1e-6,
                        phase_from_reads ? "from the reads that bracket each update"
                                         : "fitted: least residual")
          : std::string("updates taken at the reads (no update grid fitted better)");
  const std::string fit_words = fmt::format(
      "{}: {}{}; {} equations, {} leaf classes ({} pooled toward their op), R² {:.4f}, static "
      "{:.4g} W",
      in.info->name, meter.kind_words,
      meter.counter ? "" : fmt::format(" ({:.4g} ms window)", meter.window_ns * 1e-6),
      out.rows, out.classes_fitted, out.classes_pooled, out.r2, out.static_w);
  return fmt::format("{}; {}", fit_words, timing);
}

}  // namespace

DomainFit FitDomain(const DomainInput& in, Diagnostics& diag) {
  DomainFit out;
  const DomainInfo& info = *in.info;
  const EnergySeries& series = *in.series;
  if (series.t_ns.size() < 3) {
    out.reason = fmt::format("{} has {} reading(s): too few to fit", info.name, series.t_ns.size());
    return out;
  }
  Meter meter = ReadMeter(in);
  const auto [first, last] = ChangesInWindow(meter, in.w0_ns, in.w1_ns);
  if (last - first < 3) {
    out.reason = fmt::format("{} shows {} update(s) inside the window: too few to fit", info.name,
                             last - first);
    return out;
  }

  // Choose the update timing on a prefix of the run (the timing is a property
  // of the meter, not of the program; a prefix keeps the search cheap on long runs).
  // At most kSearchChanges updates, and few enough that the search sweeps
  // about kSearchSegments lane segments per candidate: on a long trace of
  // short ops, the 30-odd candidate fits would otherwise cost far more than
  // the attribution itself.
  constexpr size_t kSearchChanges = 3000, kMinSearchChanges = 200;
  constexpr double kSearchSegments = 150'000;
  size_t segments = 0;
  for (uint32_t lane : in.lanes) segments += in.prepared->changes[lane].size();
  const double segments_per_change =
      static_cast<double>(segments) / static_cast<double>(std::max<size_t>(1, last - first));
  const size_t budget = static_cast<size_t>(kSearchSegments / std::max(segments_per_change, 1.0));
  const size_t search_last =
      std::min(last, first + std::clamp(budget, kMinSearchChanges, kSearchChanges));
  std::string period_words;
  bool phase_from_reads = false;
  const std::vector<Timing> candidates =
      TimingCandidates(in, meter, first, search_last, &period_words, &phase_from_reads);
  std::vector<double> warm;
  const Timing best = ChooseTiming(in, meter, first, search_last, candidates, phase_from_reads, warm);

  // The fit on every change in the window.
  std::vector<int64_t> update_ns;
  const Rows rows = MakeRows(meter, best, first, last, &update_ns);
  bool pooled_all = false;
  const Fit fit = FitAllRows(in, rows, warm, &pooled_all, diag);
  out.rows = static_cast<int64_t>(fit.design.rows());
  out.classes_fitted = static_cast<int64_t>(fit.design.columns() - 1);
  out.classes_pooled = fit.penalty.pooled;
  out.reason = JudgeFit(in, fit, pooled_all, out);
  if (!out.reason.empty()) return out;
  if (out.classes_pooled > 0 && !pooled_all)
    diag.Add("account.regression_class_pooled", out.classes_pooled);

  ClassPowers(in, fit, out);
  const double static_floor_w = StaticFloorW(fit.design);
  out.static_w = std::max(fit.beta[0], static_floor_w);
  SplitSeries(in, meter, first, update_ns, out);
  if (in.replicates > 0) Replicates(in, fit, static_floor_w, out);
  out.meter = DescribeFit(in, meter, first, best, period_words, phase_from_reads, out);
  out.ok = true;
  return out;
}

}  // namespace smaragdine::regression
