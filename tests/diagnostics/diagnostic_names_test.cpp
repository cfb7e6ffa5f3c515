// The diagnostic-name table against the sources and the docs: a name counted
// anywhere in src/ has a row; a row is still counted somewhere; the doc a row
// names explains it in a table row. A new diagnostic without a row (or a
// renamed one) fails here with the name and the file.
#include "smaragdine/diagnostic_names.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace smaragdine {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = fs::path(SMARAGDINE_TEST_DATA) / ".." / "..";

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every source file's text, by path relative to the repository.
std::map<std::string, std::string> Sources() {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "src")) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".cpp" || ext == ".h"))
      out[fs::relative(e.path(), kRoot).string()] = ReadText(e.path());
  }
  return out;
}

std::set<std::string> Stages() {
  std::set<std::string> stages;
  for (const DiagnosticName& d : KnownDiagnostics())
    stages.insert(std::string(d.name.substr(0, d.name.find('.'))));
  return stages;
}

TEST(DiagnosticNamesTest, NamesAreWellFormedSortedAndUnique) {
  const std::regex shape("[a-z][a-z0-9]*\\.[a-z][a-z0-9_]*");
  std::string_view previous;
  for (const DiagnosticName& d : KnownDiagnostics()) {
    EXPECT_TRUE(std::regex_match(std::string(d.name), shape)) << d.name;
    EXPECT_LT(previous, d.name) << "not sorted or repeated: " << d.name;
    EXPECT_FALSE(d.meaning.empty()) << d.name;
    previous = d.name;
  }
  EXPECT_NE(FindDiagnostic("trace.unmatched_end_event"), nullptr);
  EXPECT_EQ(FindDiagnostic("trace.no_such_thing"), nullptr);
}

TEST(DiagnosticNamesTest, EveryNameTheSourcesCountHasARow) {
  // Literals passed to Add(), and any "stage.name" literal of a known stage
  // (names kept in constants or chosen by a condition), less file names.
  const std::regex added("Add\\(\\s*\"([^\"]+)\"");
  const std::regex literal("\"([a-z][a-z0-9]*)\\.([a-z][a-z0-9_]*)\"");
  const std::set<std::string> file_suffixes = {"csv", "json", "md", "gz", "h", "cpp", "py",
                                               "txt", "svg", "html", "dot", "js", "css"};
  const std::set<std::string> stages = Stages();
  for (const auto& [file, text] : Sources()) {
    if (file.find("diagnostic_names") != std::string::npos) continue;
    for (std::sregex_iterator it(text.begin(), text.end(), added), end; it != end; ++it) {
      const std::string name = (*it)[1];
      if (name.find('.') == std::string::npos) continue;  // not a diagnostic (html meta rows)
      EXPECT_NE(FindDiagnostic(name), nullptr)
          << file << " counts \"" << name << "\", which src/common/diagnostic_names.cpp "
          << "does not have: add a row (and one in the doc it names)";
    }
    for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it) {
      const std::string stage = (*it)[1], what = (*it)[2];
      if (!stages.count(stage) || file_suffixes.count(what)) continue;
      EXPECT_NE(FindDiagnostic(stage + "." + what), nullptr)
          << file << " has \"" << stage << "." << what
          << "\", which looks like a diagnostic name the table does not have";
    }
  }
}

TEST(DiagnosticNamesTest, EveryRowIsStillCountedSomewhere) {
  const std::map<std::string, std::string> sources = Sources();
  for (const DiagnosticName& d : KnownDiagnostics()) {
    const std::string quoted = "\"" + std::string(d.name) + "\"";
    bool used = false;
    for (const auto& [file, text] : sources)
      used |= file.find("diagnostic_names") == std::string::npos &&
              text.find(quoted) != std::string::npos;
    EXPECT_TRUE(used) << d.name << " is in the table but nothing in src/ counts it";
  }
}

TEST(DiagnosticNamesTest, TheDocOfEachRowExplainsIt) {
  std::map<std::string, std::string> docs;
  for (const DiagnosticName& d : KnownDiagnostics()) {
    const std::string doc(d.doc);
    if (!docs.count(doc)) docs[doc] = ReadText(kRoot / doc);
    ASSERT_FALSE(docs[doc].empty()) << doc << " (named by " << d.name << ") is missing";
    EXPECT_NE(docs[doc].find("| `" + std::string(d.name) + "` |"), std::string::npos)
        << doc << " has no table row for " << d.name;
  }
}

}  // namespace
}  // namespace smaragdine
