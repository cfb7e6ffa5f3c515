// Names are data (issue 17, item 5): a profile from someone else may hold any
// tree shape and any bytes in its names. Reports walk the tree without
// recursion, escape names for every output, and the path rules run on RE2
// (linear time) over bounded paths. docs/security.md says what each case does.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "report/text.h"
#include "smaragdine/profile.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Ran;
using testing::TempDir;

// JSON string literal of arbitrary bytes (\u00XX for every control byte).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// A profile of one domain "gpu:0" whose nodes are given as (parent, name,
// path), 1 J of self energy each.
std::string ProfileJson(const std::vector<std::tuple<int64_t, std::string, std::string>>& nodes,
                        const std::string& domain = "gpu:0") {
  const size_t n = nodes.size();
  // Totals: every node's own 1 J plus its descendants' (parents come first).
  std::vector<double> total(n + 1, 0);
  for (size_t i = n; i >= 1; --i) {
    total[i] += 1;
    total[static_cast<size_t>(std::get<0>(nodes[i - 1]))] += total[i];
  }
  std::ostringstream out;
  const std::string d = Quote(domain);
  out << R"({"format":"smaragdine-profile/1","domains":[{"name":)" << d
      << R"(,"measured_j":)" << total[0] << R"(}],"nodes":[{"id":0,"parent":null,"self":{)" << d
      << R"(:0},"total":{)" << d << ":" << total[0] << "}}";
  for (size_t i = 1; i <= n; ++i) {
    const auto& [parent, name, path] = nodes[i - 1];
    out << ",\n{\"id\":" << i << ",\"parent\":" << parent << ",\"name\":" << Quote(name)
        << ",\"path\":" << Quote(path) << R"(,"kind":")" << (i == n ? "op" : "scope")
        << R"(","self":{)" << d << R"(:1},"total":{)" << d << ":" << total[i]
        << R"(},"time_ns":1000,"calls":1})";
  }
  out << "]}";
  return out.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

Ran Report(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> all = {"/usr/bin/timeout", "120", SMARAGDINE_BINARY, "report"};
  all.insert(all.end(), args.begin(), args.end());
  return testing::Run(all, dir);
}

// Before: svg and html crashed (recursive layout, stack overflow), and the
// table at full depth drew glyphs as long as the depth on each row (1.6 GB of
// output, killed by the timeout).
TEST(HostileNamesTest, DeepChainRendersInEveryFormat) {
  TempDir tmp;
  constexpr int kDepth = 40000;
  std::vector<std::tuple<int64_t, std::string, std::string>> chain;
  for (int i = 1; i <= kDepth; ++i) chain.emplace_back(i - 1, "a", "p" + std::to_string(i));
  const std::string path = tmp.path() + "/chain.json";
  WriteText(path, ProfileJson(chain));
  const std::vector<std::vector<std::string>> runs = {
      {"--format", "table", "--depth", "100000"},
      {"--format", "table", "--top", "5"},
      {"--format", "csv"},
      {"--format", "json"},
      {"--format", "folded"},
      {"--format", "svg"},
      {"--format", "svg", "--chart", "top"},
      {"--format", "svg", "--chart", "phases"},
      {"--format", "dot"},
      {"--format", "graph-svg"},
      {"--format", "html"},
      {"--format", "table", "--root", "p20000"},
  };
  for (const auto& run : runs) {
    std::vector<std::string> args = {path};
    args.insert(args.end(), run.begin(), run.end());
    args.insert(args.end(), {"-o", tmp.path() + "/out"});
    Ran r = Report(args, tmp.path());
    std::string what;
    for (const std::string& a : run) what += a + " ";
    EXPECT_EQ(r.status, 0) << what << r.err;
  }
  // The table says how deep a row is once its glyphs would be too many.
  Ran table = Report({path, "--depth", "100000"}, tmp.path());
  EXPECT_THAT(table.out, HasSubstr("[40000] "));
  // Perfetto needs a timeline, which this profile has not: exit 2, not a crash.
  Ran perfetto = Report({path, "--format", "perfetto", "-o", tmp.path() + "/out"}, tmp.path());
  EXPECT_EQ(perfetto.status, 2) << perfetto.err;
  // diff walks both trees.
  Ran diff = testing::Run({"/usr/bin/timeout", "120", SMARAGDINE_BINARY, "diff", path, path},
                          tmp.path());
  EXPECT_EQ(diff.status, 0) << diff.err;
}

// The hostile names of the probe, as names, paths and a domain name. (Bytes
// that are not UTF-8 cannot reach a name: the reader refuses the file; the
// unit test below covers how Printable shows them.)
const std::vector<std::string> kNames = {
    "\x1b[31mred\x1b[0m",         std::string("nul\0byte", 8), "new\nline;fake 999",
    "=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0",       "ctl\x01\x7f\xc2\x85\xc2\x9b",
    "<b>&amp;</b>\"'",             "@SUM(1)",                    "-2+3",
    "bidi\xe2\x80\xae" "evil",
};

std::string NamesProfile() {
  std::vector<std::tuple<int64_t, std::string, std::string>> nodes;
  for (const std::string& n : kNames) nodes.emplace_back(0, n, n);
  return ProfileJson(nodes, "gpu:0\x1b[2J");
}

// For a terminal (xml = false): any control character but the newline, DEL,
// or a C1 control (U+0080-009F; U+009B is CSI). For XML (xml = true): the C0
// characters XML 1.0 cannot hold at all, not even as references (C1 and DEL
// are legal XML).
bool HasControl(const std::string& s, bool xml) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || (xml && (c == '\t' || c == '\r'))) continue;
    if (c < 0x20) return true;
    if (xml) continue;
    if (c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9f)
      return true;
  }
  return false;
}

// Before: the table printed raw ESC sequences, folded let a newline forge a
// stack, CSV passed =HYPERLINK( through, graph-svg and html exited 4 on a NUL.
TEST(HostileNamesTest, NamesAreEscapedInEveryFormat) {
  TempDir tmp;
  const std::string path = tmp.path() + "/names.json";
  WriteText(path, NamesProfile());
  auto render = [&](const std::string& format) {
    Ran r = Report({path, "--format", format, "-o", tmp.path() + "/out." + format}, tmp.path());
    EXPECT_EQ(r.status, 0) << format << ": " << r.err;
    return testing::ReadText(tmp.path() + "/out." + format);
  };
  // Terminal: no control character but the newline; escapes shown as text.
  const std::string table = render("table");
  EXPECT_FALSE(HasControl(table, false)) << table;
  EXPECT_THAT(table, HasSubstr("\\x1b[31mred\\x1b[0m"));
  EXPECT_THAT(table, HasSubstr("nul\\x00byte"));
  EXPECT_THAT(table, HasSubstr("new\\nline;fake 999"));
  EXPECT_THAT(table, HasSubstr("\\u0085\\u009b"));
  EXPECT_THAT(table, HasSubstr("bidi\\u202eevil"));
  EXPECT_THAT(table, HasSubstr("gpu:0\\x1b[2J"));
  Ran top = Report({path, "--top", "20"}, tmp.path());
  EXPECT_FALSE(HasControl(top.out, false)) << top.out;
  Ran diff = testing::Run({SMARAGDINE_BINARY, "diff", path, path}, tmp.path());
  EXPECT_FALSE(HasControl(diff.out, false)) << diff.out;

  // Folded: one "stack count" line per node with energy, nothing forged.
  const std::string folded = render("folded");
  std::istringstream lines(folded);
  std::string line;
  size_t count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_TRUE(std::regex_match(line, std::regex("[^\\x00-\\x1f]* [0-9]+"))) << line;
  }
  EXPECT_EQ(count, kNames.size());  // the nodes; no idle (0 J)
  EXPECT_THAT(folded, HasSubstr("new\\nline:fake 999 "));

  // CSV: formulas neutralised (OWASP: a leading ' inside a quoted field).
  const std::string csv = render("csv");
  EXPECT_THAT(csv, HasSubstr("\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","));
  EXPECT_THAT(csv, HasSubstr("\n\"'+cmd|' /C calc'!A0\","));
  EXPECT_THAT(csv, HasSubstr("\n\"'@SUM(1)\","));
  EXPECT_THAT(csv, HasSubstr("\n\"'-2+3\","));
  for (const char* formula : {"\n=", "\n+", "\n@", "\n-", ",=", ",+", ",@"})
    EXPECT_THAT(csv, Not(HasSubstr(formula))) << formula;
  Ran diff_csv = testing::Run({SMARAGDINE_BINARY, "diff", path, path, "--format", "csv"},
                              tmp.path());
  EXPECT_THAT(diff_csv.out, HasSubstr(",\"'=HYPERLINK("));

  // XML and DOT: no character XML forbids; the NUL no longer stops Graphviz.
  for (const char* format : {"svg", "graph-svg", "html", "dot"}) {
    const std::string out = render(format);
    EXPECT_FALSE(out.empty()) << format;
    EXPECT_FALSE(HasControl(out, /*xml=*/true)) << format;
  }
}

TEST(HostileNamesTest, PrintableAndCsvFieldUnits) {
  using report_text::CsvField;
  using report_text::Printable;
  EXPECT_EQ(Printable("plain/ünïcode 名前"), "plain/ünïcode 名前");
  EXPECT_EQ(Printable("\x1b[2J\x07"), "\\x1b[2J\\x07");
  EXPECT_EQ(Printable(std::string("a\0b\n\t\x7f", 6)), "a\\x00b\\n\\t\\x7f");
  EXPECT_EQ(Printable("a\nb", true), "a\nb");
  EXPECT_EQ(Printable("\xc2\x9b" "31m"), "\\u009b31m");                    // C1 CSI
  EXPECT_EQ(Printable("\xe2\x81\xa6x"), "\\u2066x");                       // bidi isolate
  EXPECT_EQ(Printable("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80"),             // overlong, surrogate,
            "\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80");                // > U+10FFFF
  EXPECT_EQ(Printable("\xe2\x82"), "\\xe2\\x82");                          // cut short
  EXPECT_EQ(CsvField("=1+1"), "\"'=1+1\"");
  EXPECT_EQ(CsvField("\tx"), "\"'\tx\"");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("bert/encoder"), "bert/encoder");
}

// Before: std::regex recursed once per character of a 100 KB name and
// overflowed the stack (exit 139). Now the path is refused before the rules
// run, naming the file and the node; without rules the profile reports.
TEST(HostileNamesTest, HugeNameUnderPathRulesIsRefusedNotACrash) {
  TempDir tmp;
  const std::string huge(100 * 1024, 'x');
  const std::string path = tmp.path() + "/huge.json";
  WriteText(path, ProfileJson({{0, "layer_1", "layer_1"}, {1, huge, "layer_1/" + huge}}));
  for (const std::vector<std::string>& rule :
       {std::vector<std::string>{"--map", "(.*)=x"}, {"--fold", "layer_\\d+"}}) {
    Ran r = Report({path, rule[0], rule[1]}, tmp.path());
    EXPECT_EQ(r.status, 2) << rule[1] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(path + ": nodes[2]: its path is 102408 bytes"));
  }
  Ran plain = Report({path}, tmp.path());
  EXPECT_EQ(plain.status, 0) << plain.err;
  // diff folds both profiles with the same rules: the same check, in every
  // format (before, its table, csv and svg ran the rules on the 100 KB path).
  for (const char* format : {"table", "csv", "svg", "html"}) {
    Ran d = testing::Run({"/usr/bin/timeout", "120", SMARAGDINE_BINARY, "diff", path, path,
                          "--map", "(.*)=x", "--format", format},
                         tmp.path());
    EXPECT_EQ(d.status, 2) << format << ": " << d.err;
    EXPECT_THAT(d.err, HasSubstr(path + ": nodes[2]: its path is 102408 bytes")) << format;
  }
  // A path at the limit is still rewritten.
  const std::string at_limit(kMaxRulePathBytes, 'y');
  WriteText(path, ProfileJson({{0, at_limit, at_limit}}));
  Ran ok = Report({path, "--map", "(.*)=x", "--format", "csv"}, tmp.path());
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_THAT(ok.out, Not(HasSubstr("yyyy")));  // rewritten
}

// Error messages quote names from the input (a domain, a node path). Before,
// they went to the terminal raw: `report --domain x` on a profile whose domain
// is named "\x1b[2J" cleared the screen, and a path holding an escape did the
// same in the message of a profile refused for its values.
TEST(HostileNamesTest, NamesInErrorMessagesAreEscaped) {
  TempDir tmp;
  const std::string path = tmp.path() + "/esc.json";
  WriteText(path, ProfileJson({{0, "a", "a"}}, "\x1b[2Jgpu"));
  Ran r = Report({path, "--domain", "nope"}, tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("\\x1b[2Jgpu"));
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  // A node refused for its values, named by its path.
  std::string bad = ProfileJson({{0, "a\x1b]0;owned\x07", "a\x1b]0;owned\x07"}});
  const std::string self = R"("self":{"gpu:0":1})";
  bad.replace(bad.rfind(self), self.size(), R"("self":{"gpu:0":-1})");
  WriteText(path, bad);
  r = Report({path}, tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("(node 'a\\x1b]0;owned\\x07')"));
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
}

// Before: std::regex backtracked on `(.*)(.*)b` (21 s on a 1000-byte path, far
// longer at the 4096-byte limit; the timeout of 120 s failed the test). RE2
// runs it in time linear in the path; the result is what ECMAScript gave.
TEST(HostileNamesTest, BacktrackingRuleOnALongPathFinishes) {
  TempDir tmp;
  const std::string path = tmp.path() + "/long.json";
  const std::string a(4000, 'a');
  WriteText(path, ProfileJson({{0, "top", "top"}, {1, a, "top/" + a}}));
  Ran r = Report({path, "--map", "(.*)(.*)b=x", "--format", "csv"}, tmp.path());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("top/" + a));  // no 'b': unchanged
  WriteText(path, ProfileJson({{0, "top", "top"}, {1, a + "b", "top/" + a + "b"}}));
  r = Report({path, "--map", "(.*)(.*)b=<$2|$1>", "--format", "csv"}, tmp.path());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("<|top/" + a + ">"));
  // A rule RE2 cannot run linearly is refused as a usage error that says why.
  r = Report({path, "--map", "a(?=b)=c"}, tmp.path());
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("lookaround is not supported"));
}

}  // namespace
}  // namespace smaragdine
