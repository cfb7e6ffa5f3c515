// report.h — turn a Profile into text for people and tools, and compare two.
//
// Every report is a pure function from (Profile, options) to a string; the CLI
// only writes it out. Path rules (--fold, --map) rewrite node paths first and
// merge the nodes whose rewritten paths coincide (FoldProfile), so that
// layer_0 … layer_11 become one layer_* and an ALBERT profile lines up with BERT.
//
//   ReportOptions o;
//   o.rules.push_back(*ParseFoldRule(R"(layer_\d+)"));
//   SMG_ASSIGN_OR_RETURN(std::string text, RenderReport(profile, o));
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/status.h"

namespace smaragdine {

// One path rewriting rule. Patterns are RE2 syntax (Perl-like: classes, groups,
// quantifiers, anchors, \d \w \s, lazy `*?`), matched byte by byte in time
// linear in the path; lookaround and backreferences, which need backtracking,
// are refused when the rule is parsed (docs/reports.md, "Path rules").
//  kFold: in each path component, every match of the pattern has each run of
//         digits replaced by '*' (`layer_\d+`: layer_3 → layer_*).
//  kMap:  every match in the whole path is replaced by `replacement`, which
//         may hold $1…$99 (groups), $& (the match), $` and $' (the text before
//         and after it) and $$ (a '$'), as the C++ library's regex_replace reads them.
struct PathRegex;  // the compiled pattern (src/report/fold.cpp): no engine in this header
struct PathRule {
  enum class Kind { kFold, kMap };
  Kind kind = Kind::kFold;
  std::string pattern;      // the regex as the user wrote it (for messages)
  std::string replacement;  // kMap only
  // Immutable once parsed, so copies of a rule share it (and threads may too).
  std::shared_ptr<const PathRegex> regex;
};

// Compiles a --fold RE. Errors: kUsage with the regex error (and, for
// lookaround or a backreference, how to write the rule without it).
Result<PathRule> ParseFoldRule(std::string_view pattern);
// Compiles a --map RE=REPL; splits at the first '=' not preceded by '\' or '?'
// (so `\=` stays in the regex, and `(?=x)` reaches it and is refused with a
// message rather than split). Errors: kUsage.
Result<PathRule> ParseMapRule(std::string_view spec);

// Applies the rules in order to one path; '/' separates components.
std::string RewritePath(const std::string& path, const std::vector<PathRule>& rules);

// The longest node path the rules are applied to. Matching is linear in the
// path, but a rule matching at many places searches onward from each, so the
// work can grow with the square of the length (and the C++ library's regex,
// before RE2, recursed once per character: a 100 KB name crashed it). Paths in real
// profiles are well under 1 KB.
constexpr size_t kMaxRulePathBytes = 4096;
// With rules, every node path of `profile` must be at most kMaxRulePathBytes.
// RenderReport and WriteReport check it; a caller that folds otherwise (diff)
// should too. Errors: kBadInput naming `file` and the node.
Status CheckPathsForRules(const Profile& profile, const std::vector<PathRule>& rules,
                          const std::string& file);

// Rewrites every node path and merges nodes whose paths coincide. Self
// energies, time, calls and phase figures add; totals are recomputed from the
// selfs of the new tree (so conservation still holds); step stats add their
// means and combine std and ci95 as sqrt(sum of squares) — exact only if the
// merged nodes' per-step energies are independent (an approximation); so does
// total_ci95, per domain (the same approximation for the attribution's errors). A node
// merged from ≥ 2 originals (not nested in one another) gets `siblings`: n,
// mean, sample std, min and max of the originals' total energies; a node from
// one original keeps that original's `siblings`. With no rules, returns a copy.
Profile FoldProfile(const Profile& profile, const std::vector<PathRule>& rules);

// A profile with only the named domain (figures of other domains dropped). Step
// stats and sibling stats are totals over all domains, so with more than one
// domain they become unknown (n = 0). RenderReport restricts before it folds, so
// that the sibling stats it shows are of the one domain. Errors: kBadInput
// naming `file` when no such domain exists.
Result<Profile> RestrictToDomain(const Profile& profile, const std::string& domain,
                                 const std::string& file);

enum class ReportFormat {
  kTable, kCsv, kJson, kFolded,
  // The views of views.h.
  kPerfetto, kSvg, kDot, kGraphSvg, kHtml,
};
enum class SortKey { kEnergy, kPower, kTime };
// Each Parse is the inverse of its ToString (a usage error naming the choices
// otherwise): "table", "csv", "json", "folded", "perfetto", "svg", "dot",
// "graph-svg", "html"; "energy", "power", "time"; "flame", "top", "power", "phases".
const char* ToString(ReportFormat f);
Result<ReportFormat> ParseReportFormat(std::string_view s);
const char* ToString(SortKey k);
Result<SortKey> ParseSortKey(std::string_view s);

// --format svg: which picture (views.h): the flame graph or one of the charts.
enum class SvgChart { kFlame, kTopOps, kPower, kPhases };
const char* ToString(SvgChart c);
Result<SvgChart> ParseSvgChart(std::string_view s);

// --by: what the report breaks each node's energy down by. kRank: by the
// profile's processes (ranks; report --by rank, RenderRankReport below).
enum class ReportBy { kTree, kRank };
Result<ReportBy> ParseReportBy(std::string_view s);  // "rank"

struct ReportOptions {
  std::string file = "profile.json";  // the profile's name, for messages and the header
  ReportFormat format = ReportFormat::kTable;
  // Levels below the root to show (root's children are depth 1). Unset: 6 for
  // the table, everything for csv/json/folded.
  std::optional<int> depth;
  std::string root;    // path of the subtree to show; "" is the whole tree
  int top = 0;         // > 0: the table lists the top N ops/kernels instead of the tree
  SortKey sort = SortKey::kEnergy;
  std::vector<PathRule> rules;  // --fold / --map, applied first
  std::string domain;  // "" is all domains summed
  int name_width = 56;  // table: widest name column before names are cut in the middle
  // --format svg: the picture; flame frames sized by busy time instead of
  // energy (--weight time); the step of the power chart (-1: the whole window).
  SvgChart chart = SvgChart::kFlame;
  bool weight_time = false;
  int step = -1;
  // --by rank: per-rank columns and the imbalance across ranks (table, csv,
  // html); RenderReport hands it to RenderRankReport.
  ReportBy by = ReportBy::kTree;
};

constexpr int kDefaultTableDepth = 6;

// Applies rules and --domain, then renders in options.format. Errors (kBadInput,
// naming options.file): unknown --root (with suggestions) or --domain.
Result<std::string> RenderReport(const Profile& profile, const ReportOptions& options);
// The same handed to `sink` (TextSink, smaragdine/profile.h) in pieces: the
// Perfetto trace and the JSON as they are written (WritePerfetto,
// WriteProfileJson), every other format whole. Errors: RenderReport's, or sink's.
Status WriteReport(const Profile& profile, const ReportOptions& options, const TextSink& sink);

// The renderers, on a profile already folded and restricted; `root` is a node index.
std::string RenderTable(const Profile& profile, uint32_t root, const ReportOptions& options);
std::string RenderCsv(const Profile& profile, uint32_t root, const ReportOptions& options);
std::string RenderFolded(const Profile& profile, uint32_t root, const ReportOptions& options);
// The subtree under `root` (down to options.depth) as a profile of its own.
Profile SubtreeProfile(const Profile& profile, uint32_t root, std::optional<int> depth);

// Paths in the profile most like `path` (same last component, substring, …), best first.
std::vector<std::string> SuggestPaths(const Profile& profile, const std::string& path,
                                      size_t max_count = 3);

// ---- Ranks: report --by rank (src/report/ranks.cpp; docs/reports.md) ----

// How one node's energy spreads over the profile's processes (the ranks of a
// job; Profile::processes). Energies are over all the profile's domains.
struct RankSpread {
  std::vector<double> energy_j;  // per process, Profile::processes order
  std::vector<int64_t> time_ns;  // busy time per process
  double min_j = 0, median_j = 0, max_j = 0;  // over the processes (median of an even
                                              // count: the mean of the middle two)
  // (max − min) / median: how far apart the cheapest and the dearest rank are,
  // against the typical one; NaN when the median is 0.
  double spread = NAN;
  // The straggler: the process with the longest busy time on the node (ties:
  // the first in RankOrder); -1 when that is no longer than the median
  // process's (all equally long, 0 included).
  int64_t straggler = -1;
  // The straggler's busy time over the median process's, minus 1 (0.25: a
  // quarter longer); NaN when the median busy time is 0 or there is no straggler.
  double straggler_excess = NAN;
};
RankSpread RankSpreadOf(const Profile& profile, const ProfileNode& node);
// The processes in the order reports list them: ranks ascending, then the
// processes no launcher numbered, by pid.
std::vector<size_t> RankOrder(const Profile& profile);

// What --by rank allows: --format table, csv or html, and not --top.
// Errors: kUsage saying which formats support it.
Status CheckRankReportOptions(const ReportOptions& options);
// report --by rank: checks the options, applies --domain and the path rules,
// resolves --root as RenderReport does, then renders RenderRankTable,
// RenderRankCsv, or the HTML page (whose imbalance section is there for any
// profile of ≥ 2 processes). Errors: kUsage (above); kBadInput naming
// options.file when the profile has no per-rank figures (it was recorded as
// one process), and RenderReport's.
Result<std::string> RenderRankReport(const Profile& profile, const ReportOptions& options);
// The renderers, on a profile already folded and restricted, with processes;
// `root` is a node index. Table: a per-rank summary, then the tree as
// RenderTable walks it with each node's energy per rank (≤ 8 processes),
// min / median / max, spread and straggler. CSV: one row per node and process.
std::string RenderRankTable(const Profile& profile, uint32_t root, const ReportOptions& options);
std::string RenderRankCsv(const Profile& profile, uint32_t root, const ReportOptions& options);
// Per-rank energy columns appear in the table and the HTML section up to this many processes.
constexpr size_t kMaxRankColumns = 8;
// The per-rank summaries (table, HTML) list every process up to
// kMaxRankSummaryRows, in RankOrder; beyond, the kRankSummaryRowsWhenMany
// dearest (by energy on the whole tree, dearest first) and one row for the rest.
constexpr size_t kMaxRankSummaryRows = 32;
constexpr size_t kRankSummaryRowsWhenMany = 16;
std::vector<size_t> RankSummaryOrder(const Profile& profile);

// ---- diff ----

struct DiffOptions {
  std::vector<PathRule> rules;  // applied to both profiles
  std::optional<int> depth;     // unset: all depths
  int top = 0;                  // > 0: only the N matched rows with the largest |B − A|
  ReportFormat format = ReportFormat::kTable;  // kTable or kCsv
  std::string a_file = "A.json";
  std::string b_file = "B.json";
};

struct DiffRow {
  std::string path;
  int depth = 0;
  bool leaf = false;  // no children in either profile
  double a_j = 0, b_j = 0;  // total energy, all domains
  double a_power_w = 0, b_power_w = 0;
  int64_t a_time_ns = 0, b_time_ns = 0;
  // Half-width of the 95 % interval of a_j / b_j from the attribution
  // (ProfileNode::TotalCi95J); NaN when that side's profile has none.
  double a_ci95_j = NAN, b_ci95_j = NAN;
  // Spread of the originals the rules merged into this node, per side (n = 0
  // when the side was not merged from ≥ 2 originals).
  SiblingStats a_siblings, b_siblings;
  double DeltaJ() const { return b_j - a_j; }
  double Ratio() const;  // b_j / a_j; NaN when a_j is 0
  // Half-width of the 95 % interval of B − A, the two runs' attribution errors
  // being independent: sqrt(a² + b²); NaN unless both sides have an interval.
  double DeltaCi95J() const { return std::hypot(a_ci95_j, b_ci95_j); }
};

// The job a side of a diff came from (issue 13): its ranks, its machines and
// how evenly the ranks shared the energy, so that a 2-rank and an 8-rank run
// of the same training can be compared per rank as well as in total.
struct DiffJob {
  size_t ranks = 0;          // Profile::processes; 0 for a run of one process
  size_t machines = 1;       // Profile::machines, or 1 for one machine's profile
  double per_rank_j = NAN;   // the nodes' energy (all domains) over the ranks
  double spread = NAN;       // (max − min) / median of the ranks' energy
};

struct ProfileDiff {
  DiffJob a_job, b_job;
  double a_measured_j = 0, b_measured_j = 0;
  double a_idle_j = 0, b_idle_j = 0;
  double a_other_j = 0, b_other_j = 0;  // (other processes): the process share's other part
  std::vector<DiffRow> matched;  // sorted by |B − A| descending, then path
  std::vector<DiffRow> only_a;   // sorted by energy descending
  std::vector<DiffRow> only_b;
  int64_t matched_leaves = 0;
  double leaf_correlation = NAN;  // Pearson r of matched leaves' energies; NaN if undefined
};

// Matches nodes by path after applying options.rules to both profiles.
ProfileDiff DiffProfiles(const Profile& a, const Profile& b, const DiffOptions& options);
std::string RenderDiff(const ProfileDiff& diff, const DiffOptions& options);

}  // namespace smaragdine
