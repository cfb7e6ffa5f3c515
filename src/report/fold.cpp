// Path rules (--fold, --map) and the report-facing faces of the profile's
// tree algebra (src/profile/transform.cpp): FoldProfile applies the rules,
// RestrictToDomain looks a domain up by name.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "smaragdine/report.h"

namespace smaragdine {
namespace {

Result<std::regex> Compile(std::string_view pattern, const char* option) {
  try {
    return std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return UsageError(fmt::format("{} '{}': not a valid regular expression: {}", option,
                                  std::string(pattern), e.what()));
  }
}

// Every match of `re` inside one component has each run of digits turned into one '*'.
std::string FoldComponent(std::string_view comp, const std::regex& re) {
  std::string out;
  auto last = comp.begin();
  using It = std::regex_iterator<std::string_view::const_iterator>;
  for (It it(comp.begin(), comp.end(), re), end; it != end; ++it) {
    const auto& m = (*it)[0];
    out.append(last, m.first);
    bool in_digits = false;
    for (auto c = m.first; c != m.second; ++c) {
      bool digit = *c >= '0' && *c <= '9';
      if (!digit) out.push_back(*c);
      else if (!in_digits) out.push_back('*');
      in_digits = digit;
    }
    last = m.second;
  }
  out.append(last, comp.end());
  return out;
}

std::string FoldPath(const std::string& path, const std::regex& re) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view comp(path.data() + start,
                          (slash == std::string::npos ? path.size() : slash) - start);
    out += FoldComponent(comp, re);
    if (slash == std::string::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

}  // namespace

Result<PathRule> ParseFoldRule(std::string_view pattern) {
  PathRule r;
  r.kind = PathRule::Kind::kFold;
  r.pattern = std::string(pattern);
  SMG_ASSIGN_OR_RETURN(r.regex, Compile(pattern, "--fold"));
  return r;
}

Result<PathRule> ParseMapRule(std::string_view spec) {
  size_t eq = std::string_view::npos;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '=' && (i == 0 || (spec[i - 1] != '\\' && spec[i - 1] != '?'))) {
      eq = i;
      break;
    }
  }
  if (eq == std::string_view::npos || eq == 0)
    return UsageError(fmt::format(
        "--map '{}': expected RE=REPLACEMENT, e.g. --map 'albert=bert' or --map "
        "'layer_(\\d+)=block_$1'",
        std::string(spec)));
  PathRule r;
  r.kind = PathRule::Kind::kMap;
  r.pattern = std::string(spec.substr(0, eq));
  r.replacement = std::string(spec.substr(eq + 1));
  SMG_ASSIGN_OR_RETURN(r.regex, Compile(r.pattern, "--map"));
  return r;
}

std::string RewritePath(const std::string& path, const std::vector<PathRule>& rules) {
  std::string p = path;
  for (const PathRule& r : rules) {
    if (r.kind == PathRule::Kind::kFold)
      p = FoldPath(p, r.regex);
    else
      p = std::regex_replace(p, r.regex, r.replacement);
  }
  return p;
}

Profile FoldProfile(const Profile& in, const std::vector<PathRule>& rules) {
  if (rules.empty()) return in;
  return MergeNodesByPath(in, [&](const std::string& path) { return RewritePath(path, rules); });
}

Result<Profile> RestrictToDomain(const Profile& in, const std::string& domain,
                                 const std::string& file) {
  for (size_t d = in.domains.size(); d-- > 0;)  // of equal names, the last (as before)
    if (in.domains[d].name == domain) return DomainProfile(in, d);
  std::string names;
  for (const ProfileDomain& x : in.domains) names += (names.empty() ? "" : ", ") + x.name;
  return BadInput("", fmt::format("no domain '{}' in {} (it has: {})", domain, file, names));
}

std::vector<std::string> SuggestPaths(const Profile& profile, const std::string& path,
                                      size_t max_count) {
  auto last_of = [](std::string_view p) {
    size_t slash = p.rfind('/');
    return slash == std::string_view::npos ? p : p.substr(slash + 1);
  };
  std::string_view want_last = last_of(path);
  struct Scored {
    int score;
    const std::string* path;
  };
  std::vector<Scored> scored;
  for (const ProfileNode& n : profile.nodes) {
    if (n.path.empty()) continue;
    const std::string& p = n.path;
    int score = 0;
    if (p.size() > path.size() && p.compare(p.size() - path.size(), path.size(), path) == 0 &&
        p[p.size() - path.size() - 1] == '/')
      score = 4;  // the user left out the leading scopes
    else if (last_of(p) == want_last)
      score = 3;
    else if (p.find(path) != std::string::npos)
      score = 2;
    else if (!want_last.empty() && last_of(p).find(want_last) != std::string_view::npos)
      score = 1;
    if (score > 0) scored.push_back({score, &p});
  }
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.path->size() != b.path->size()) return a.path->size() < b.path->size();
    return *a.path < *b.path;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < max_count; ++i) out.push_back(*scored[i].path);
  return out;
}

}  // namespace smaragdine
