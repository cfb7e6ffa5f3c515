// Path rules (--fold, --map) and the report-facing faces of the profile's
// tree algebra (src/profile/transform.cpp): FoldProfile applies the rules,
// RestrictToDomain looks a domain up by name.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>
#include <re2/re2.h>

#include "smaragdine/report.h"

namespace smaragdine {

// RE2 rather than libstdc++'s regex, which backtracks (`(.*)(.*)b` took 21 s
// on a 1000-byte path) and recurses once per character (a 100 KB name crashed
// it); RE2's time is linear in the text and its stack does not grow with it.
struct PathRegex {
  explicit PathRegex(std::string_view pattern, const RE2::Options& options)
      : re(re2::StringPiece(pattern.data(), pattern.size()), options) {}
  RE2 re;
};

namespace {

// What RE2 refuses that the ECMAScript syntax of the rules before it took, and
// how to say it instead.
std::string UnsupportedHint(std::string_view pattern) {
  for (const char* look : {"(?=", "(?!", "(?<=", "(?<!"})
    if (pattern.find(look) != std::string_view::npos)
      return "; lookaround is not supported (the rules use RE2, whose time is linear in the "
             "path): match what follows and put it back, e.g. --map 'a(/|$)=b$1' for "
             "'a(?=/|$)=b'";
  for (size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (pattern[i + 1] >= '1' && pattern[i + 1] <= '9')
        return "; backreferences (\\1) are not supported (the rules use RE2, whose time is "
               "linear in the path)";
      ++i;
    }
  }
  return "";
}

Result<std::shared_ptr<const PathRegex>> Compile(std::string_view pattern, const char* option) {
  RE2::Options options;
  // Byte by byte, as the rules matched before RE2: `.` is one byte, and a path
  // that is not UTF-8 still matches.
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  auto compiled = std::make_shared<const PathRegex>(pattern, options);
  if (!compiled->re.ok())
    return UsageError(fmt::format("{} '{}': not a valid regular expression: {}{}", option,
                                  std::string(pattern), compiled->re.error(),
                                  UnsupportedHint(pattern)));
  return compiled;
}

re2::StringPiece Piece(std::string_view s) { return re2::StringPiece(s.data(), s.size()); }
std::string_view View(const re2::StringPiece& s) { return std::string_view(s.data(), s.size()); }

// Calls `on_match(groups, from)` for each match of `re` in `text`, left to
// right, as the C++ library's regex_iterator finds them: each search starts where the last
// match ended; after an empty match, one byte further. `groups[0]` is the
// match; a group that did not take part is empty. `from` is where the search
// began (the end of the previous match), for $`. Returns where the last
// match ended (0 if none).
template <typename OnMatch>
size_t ForEachMatch(const RE2& re, std::string_view text, OnMatch&& on_match) {
  const int n = 1 + re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
  size_t pos = 0, last_end = 0;
  while (pos <= text.size() &&
         re.Match(Piece(text), pos, text.size(), RE2::UNANCHORED, groups.data(), n)) {
    const size_t begin = static_cast<size_t>(groups[0].data() - text.data());
    const size_t end = begin + groups[0].size();
    on_match(groups, last_end);
    last_end = end;
    pos = end > begin ? end : end + 1;
  }
  return last_end;
}

// Every match of `re` inside one component has each run of digits turned into one '*'.
std::string FoldComponent(std::string_view comp, const RE2& re) {
  std::string out;
  const size_t rest = ForEachMatch(re, comp, [&](const std::vector<re2::StringPiece>& g, size_t from) {
    const size_t begin = static_cast<size_t>(g[0].data() - comp.data());
    out.append(comp.substr(from, begin - from));
    bool in_digits = false;
    for (char c : View(g[0])) {
      bool digit = c >= '0' && c <= '9';
      if (!digit) out.push_back(c);
      else if (!in_digits) out.push_back('*');
      in_digits = digit;
    }
  });
  out.append(comp.substr(rest));
  return out;
}

// `format` expanded for one match, as the C++ library's regex_replace reads
// its default (ECMAScript) format: $n and $nn (a group; nothing if there is no such group), $&,
// $` (from the previous match's end to this one's start), $' (from this
// match's end to the end of the text), $$; any other '$' is itself.
void AppendReplacement(std::string& out, std::string_view format, std::string_view text,
                       const std::vector<re2::StringPiece>& g, size_t from) {
  const size_t begin = static_cast<size_t>(g[0].data() - text.data());
  const size_t end = begin + g[0].size();
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c != '$' || i + 1 == format.size()) {
      out.push_back(c);
      continue;
    }
    const char next = format[i + 1];
    if (next == '$') {
      out.push_back('$');
      ++i;
    } else if (next == '&') {
      out.append(View(g[0]));
      ++i;
    } else if (next == '`') {
      out.append(text.substr(from, begin - from));
      ++i;
    } else if (next == '\'') {
      out.append(text.substr(end));
      ++i;
    } else if (next >= '0' && next <= '9') {
      size_t num = static_cast<size_t>(next - '0');
      ++i;
      if (i + 1 < format.size() && format[i + 1] >= '0' && format[i + 1] <= '9') {
        num = num * 10 + static_cast<size_t>(format[i + 1] - '0');
        ++i;
      }
      if (num < g.size()) out.append(View(g[num]));
    } else {
      out.push_back('$');
    }
  }
}

std::string MapPath(const std::string& path, const RE2& re, std::string_view format) {
  std::string out;
  const size_t rest = ForEachMatch(re, path, [&](const std::vector<re2::StringPiece>& g, size_t from) {
    const size_t begin = static_cast<size_t>(g[0].data() - path.data());
    out.append(path, from, begin - from);
    AppendReplacement(out, format, path, g, from);
  });
  out.append(path, rest);
  return out;
}

std::string FoldPath(const std::string& path, const RE2& re) {
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
    if (!r.regex) continue;  // a default-constructed rule matches nothing
    if (r.kind == PathRule::Kind::kFold)
      p = FoldPath(p, r.regex->re);
    else
      p = MapPath(p, r.regex->re, r.replacement);
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
