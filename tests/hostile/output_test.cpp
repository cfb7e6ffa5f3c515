// Hostile outputs (issue 17, item 1): every file smaragdine writes goes through
// AtomicFile, so a planted link, a device, a FIFO or an input given as -o never
// makes it write somewhere else or destroy what is there, and a failed write is a
// failed command. docs/security.md says what each case does.
//
// Devices are made with mknod in the test's own directory (root), never /dev's:
// the code before this fix replaced `-o /dev/null` with a regular file.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/output_file.h"
#include "hostile/hostile_util.h"
#include "record/record_test_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::Ran;
using testing::ReadText;
using testing::TempDir;

const std::string kProfile = std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json";
const std::string kExample = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool IsCharDevice(const std::string& path, unsigned major_id, unsigned minor_id) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) &&
         major(st.st_rdev) == major_id && minor(st.st_rdev) == minor_id;
}

class HostileOutputTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return tmp_.path() + "/" + name; }
  Ran Smaragdine(std::vector<std::string> args) const {
    args.insert(args.begin(), SMARAGDINE_BINARY);
    return testing::Run(args, tmp_.path());
  }
  TempDir tmp_;
};

// Before: WriteFileAtomic wrote to "<file>.tmp.<pid>" with O_TRUNC and no
// O_NOFOLLOW, so a link planted at that name had the link's target overwritten.
TEST_F(HostileOutputTest, LinkPlantedAtTheOldTemporaryNameIsNotFollowed) {
  const std::string victim = Path("victim");
  WriteText(victim, "precious\n");
  const std::string out = Path("out.json");
  ASSERT_EQ(::symlink(victim.c_str(), (out + ".tmp." + std::to_string(::getpid())).c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(out, "{}\n").ok());
  EXPECT_EQ(ReadText(victim), "precious\n");
  EXPECT_EQ(ReadText(out), "{}\n");
}

TEST_F(HostileOutputTest, TemporaryNamesAreNotPredictable) {
  // Two temporaries for one file in one process get different names: random
  // letters, not the pid. An AtomicFile not yet committed shows its temporary.
  std::vector<std::string> names;
  for (int i = 0; i < 2; ++i) {
    auto f = AtomicFile::Create(Path("same.json"));
    ASSERT_TRUE(f.ok()) << f.error().ToString();
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path()))
      if (e.path().filename().string().rfind(".same.json.tmp-", 0) == 0)
        names.push_back(e.path().filename().string());
  }
  ASSERT_EQ(names.size(), 2u);
  EXPECT_NE(names[0], names[1]);
  EXPECT_EQ(names[0].find(std::to_string(::getpid())), std::string::npos);
}

// Before: `-o /dev/null` renamed a regular file over the device (as root).
TEST_F(HostileOutputTest, OutputOnANullDeviceStaysTheDevice) {
  const std::string null = CharDevice(tmp_.path(), "null", 3);
  Ran r = Smaragdine({"report", kProfile, "-o", null});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(IsCharDevice(null, 1, 3)) << null << " is no longer the null device";
  Ran csv = Smaragdine({"report", kProfile, "--format", "csv", "-o", null});
  EXPECT_EQ(csv.status, 0) << csv.err;
  EXPECT_TRUE(IsCharDevice(null, 1, 3));
}

// A device that fails every write (/dev/full): the command fails and says why.
TEST_F(HostileOutputTest, OutputOnAFullDeviceExitsNonZero) {
  const std::string full = CharDevice(tmp_.path(), "full", 7);
  Ran r = Smaragdine({"report", kProfile, "-o", full});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("No space left on device"));
  EXPECT_TRUE(IsCharDevice(full, 1, 7));
}

// Before: `report … > /dev/full` exited 0 with nothing written.
TEST_F(HostileOutputTest, ReportToAFullStandardOutputExitsNonZero) {
  const std::string full = CharDevice(tmp_.path(), "full", 7);
  for (const char* format : {"table", "csv", "json", "folded", "perfetto"}) {
    std::vector<std::string> args = {SMARAGDINE_BINARY, "report", kProfile, "--format", format};
    if (std::string(format) == "perfetto") {
      // Needs a profile with a timeline: account the example with one.
      const std::string p = Path("timeline.json");
      Ran acc = Smaragdine({"account", "--energy", kExample + "/run", "--trace",
                            kExample + "/pt2_bert-small_h100_inference.pt.trace.json.gz",
                            "--timeline", "always", "-q", "-o", p});
      ASSERT_EQ(acc.status, 0) << acc.err;
      args[2] = p;
    }
    Ran r = RunRedirected(args, full, Path("stderr.txt"));
    EXPECT_EQ(r.status, 2) << format << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("standard output: cannot write: No space left on device"))
        << format;
  }
  // diff and account's summary too.
  Ran diff =
      RunRedirected({SMARAGDINE_BINARY, "diff", kProfile, kProfile}, full, Path("stderr.txt"));
  EXPECT_EQ(diff.status, 2) << diff.err;
  Ran acc = RunRedirected({SMARAGDINE_BINARY, "account", "--energy", kExample + "/run", "--trace",
                           kExample + "/pt2_bert-small_h100_inference.pt.trace.json.gz", "-o",
                           Path("p.json")},
                          full, Path("stderr.txt"));
  EXPECT_EQ(acc.status, 2) << acc.err;
  EXPECT_THAT(acc.err, HasSubstr("standard output"));
}

// Before: the FIFO was replaced by a regular file and its reader got nothing.
TEST_F(HostileOutputTest, OutputOnAFifoIsWrittenToItsReader) {
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A reader that is there before the writer (the table fits in the pipe's buffer).
  const int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(rd, 0);
  Ran r = Smaragdine({"report", kProfile, "--depth", "2", "-o", fifo});
  EXPECT_EQ(r.status, 0) << r.err;
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(rd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(rd);
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  Ran same = Smaragdine({"report", kProfile, "--depth", "2"});
  EXPECT_EQ(got, same.out);
  EXPECT_FALSE(got.empty());
}

// Before: the link was replaced by a regular file. Now refused (the choice is
// documented in docs/security.md): exit 2, the link and its target as they were.
TEST_F(HostileOutputTest, OutputThatIsASymbolicLinkIsRefused) {
  const std::string target = Path("target.txt");
  WriteText(target, "kept\n");
  const std::string link = Path("link.txt");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"report", kProfile, "-o", link},
        std::vector<std::string>{"diff", kProfile, kProfile, "-o", link},
        std::vector<std::string>{"account", "--energy", kExample + "/run", "--trace",
                                 kExample + "/pt2_bert-small_h100_inference.pt.trace.json.gz",
                                 "-q", "-o", link}}) {
    Ran r = Smaragdine(cmd);
    EXPECT_EQ(r.status, 2) << cmd[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(link + ": is a symbolic link to " + target)) << cmd[0];
    EXPECT_EQ(ReadText(target), "kept\n");
    struct stat st {};
    ASSERT_EQ(::lstat(link.c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
  }
}

// Before: `-o` equal to an input silently replaced it.
TEST_F(HostileOutputTest, OutputThatIsAnInputIsRefusedAndTheInputKept) {
  const std::string profile = Path("profile.json");
  std::filesystem::copy_file(kProfile, profile);
  const std::string before = ReadText(profile);
  Ran report = Smaragdine({"report", profile, "--format", "folded", "-o", profile});
  EXPECT_EQ(report.status, 2) << report.err;
  EXPECT_THAT(report.err, HasSubstr("the output is the same file as the input profile " + profile));
  EXPECT_EQ(ReadText(profile), before);

  // Another spelling and a hard link are the same file.
  ASSERT_EQ(::link(profile.c_str(), Path("hard.json").c_str()), 0);
  Ran hard = Smaragdine({"diff", kProfile, profile, "-o", Path("hard.json")});
  EXPECT_EQ(hard.status, 2) << hard.err;
  EXPECT_THAT(hard.err, HasSubstr("input B " + profile));
  Ran dotted = Smaragdine({"report", profile, "--format", "json", "-o",
                           tmp_.path() + "/./profile.json"});
  EXPECT_EQ(dotted.status, 2) << dotted.err;
  EXPECT_EQ(ReadText(profile), before);

  // account: the trace, and a file of the run directory read as --energy.
  const std::string run = Path("run");
  std::filesystem::copy(kExample + "/run", run);
  const std::string trace = Path("trace.json.gz");
  std::filesystem::copy_file(kExample + "/pt2_bert-small_h100_inference.pt.trace.json.gz", trace);
  const std::string trace_before = ReadText(trace), energy_before = ReadText(run + "/energy.csv");
  Ran over_trace = Smaragdine({"account", "--energy", run, "--trace", trace, "-q", "-o", trace});
  EXPECT_EQ(over_trace.status, 2) << over_trace.err;
  EXPECT_THAT(over_trace.err, HasSubstr("input --trace " + trace));
  Ran over_energy =
      Smaragdine({"account", "--energy", run, "--trace", trace, "-q", "-o", run + "/energy.csv"});
  EXPECT_EQ(over_energy.status, 2) << over_energy.err;
  EXPECT_THAT(over_energy.err, HasSubstr("input --energy " + run + "/energy.csv"));
  EXPECT_EQ(ReadText(trace), trace_before);
  EXPECT_EQ(ReadText(run + "/energy.csv"), energy_before);
}

TEST_F(HostileOutputTest, FailedReportLeavesTheOldFileAndNoTemporary) {
  const std::string out = Path("out.txt");
  WriteText(out, "old\n");
  ASSERT_EQ(::chmod(out.c_str(), 0640), 0);
  Ran bad = Smaragdine({"report", kProfile, "--root", "no/such", "-o", out});
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_EQ(ReadText(out), "old\n");
  Ran good = Smaragdine({"report", kProfile, "-o", out});
  EXPECT_EQ(good.status, 0) << good.err;
  EXPECT_NE(ReadText(out), "old\n");
  // A replaced file keeps its permissions.
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  for (const auto& e : std::filesystem::directory_iterator(tmp_.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

// The names in `dir` (none when it is missing).
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    names.push_back(e.path().filename().string());
  return names;
}

// `report --all-scopes -o DIR` and `simulate -o DIR` write a folder of files.
// Before: DIR was made with create_directories (which follows a link at DIR) and
// each file written by path, so a link at DIR, or at simulate's DIR/run, sent
// every file into the link's target. Now DIR (and DIR/run) are opened once
// with O_NOFOLLOW, as record opens its run directory, and each file is made
// relative to that descriptor: a link there is refused, exit 2, nothing written.
TEST_F(HostileOutputTest, OutputFolderThatIsALinkIsRefused) {
  const std::string victim = Path("victim");
  ASSERT_TRUE(std::filesystem::create_directory(victim));
  const std::string link = Path("graphs");
  ASSERT_EQ(::symlink(victim.c_str(), link.c_str()), 0);
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"report", kProfile, "--all-scopes", "--depth", "1", "--format",
                                 "dot", "-o", link},
        std::vector<std::string>{"simulate", "-o", link}}) {
    Ran r = Smaragdine(cmd);
    EXPECT_EQ(r.status, 2) << cmd[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(link + ": is a symbolic link to " + victim)) << cmd[0];
    EXPECT_THAT(Names(victim), ::testing::IsEmpty()) << cmd[0];
  }
  // A trailing slash does not make the link followed.
  Ran slash = Smaragdine({"simulate", "-o", link + "/"});
  EXPECT_EQ(slash.status, 2) << slash.err;
  EXPECT_THAT(Names(victim), ::testing::IsEmpty());

  // simulate's run directory inside DIR: a link planted at DIR/run.
  const std::string out = Path("sim");
  ASSERT_TRUE(std::filesystem::create_directory(out));
  ASSERT_EQ(::symlink(victim.c_str(), (out + "/run").c_str()), 0);
  Ran run = Smaragdine({"simulate", "-o", out});
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_THAT(run.err, HasSubstr(out + "/run: is a symbolic link to " + victim));
  EXPECT_THAT(Names(victim), ::testing::IsEmpty());

  // A regular file as DIR: exit 2 naming it, the file kept.
  const std::string file = Path("file");
  WriteText(file, "kept\n");
  Ran not_dir = Smaragdine({"report", kProfile, "--all-scopes", "--format", "dot", "-o", file});
  EXPECT_EQ(not_dir.status, 2) << not_dir.err;
  EXPECT_THAT(not_dir.err,
              HasSubstr(file + ": cannot write files into it: it is a regular file, not a folder"));
  EXPECT_EQ(ReadText(file), "kept\n");

  // Folders that do not exist yet, parents included, and existing ones work.
  for (const std::string& dir : {Path("a/b/graphs"), Path("a/b/graphs/")}) {
    Ran ok = Smaragdine({"report", kProfile, "--all-scopes", "--depth", "1", "--format", "dot",
                         "-o", dir});
    EXPECT_EQ(ok.status, 0) << ok.err;
  }
  EXPECT_THAT(Names(Path("a/b/graphs")), ::testing::Contains("bert.dot"));
  for (const std::string& dir : {Path("s/t"), Path("s/t")}) {
    Ran ok = Smaragdine({"simulate", "-o", dir});
    EXPECT_EQ(ok.status, 0) << ok.err;
  }
  EXPECT_THAT(Names(Path("s/t/run")), ::testing::UnorderedElementsAre("energy.csv", "run.json"));
}

// The folder is opened once: what is renamed or planted at its name afterwards
// does not redirect the files written into it.
TEST_F(HostileOutputTest, OutputFolderIsWrittenThroughItsDescriptor) {
  const std::string dir = Path("out"), moved = Path("moved"), victim = Path("victim");
  ASSERT_TRUE(std::filesystem::create_directory(victim));
  auto out = OutputDirectory::Open(dir);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  // Swapped for a link to the victim once opened.
  ASSERT_EQ(::rename(dir.c_str(), moved.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), dir.c_str()), 0);
  ASSERT_TRUE(out->WriteFile("a.txt", "a\n").ok());
  auto sub = out->Sub("run");
  ASSERT_TRUE(sub.ok()) << sub.error().ToString();
  ASSERT_TRUE(sub->WriteFile("b.txt", "b\n").ok());
  EXPECT_EQ(ReadText(moved + "/a.txt"), "a\n");
  EXPECT_EQ(ReadText(moved + "/run/b.txt"), "b\n");
  EXPECT_THAT(Names(victim), ::testing::IsEmpty());
  // Inside, the rules of -o hold: a link at a file's name is refused, a regular
  // file replaced whole, an input refused.
  ASSERT_EQ(::symlink(Path("x").c_str(), (moved + "/l.txt").c_str()), 0);
  Status link = out->WriteFile("l.txt", "x");
  ASSERT_FALSE(link.ok());
  EXPECT_THAT(link.error().message, HasSubstr("is a symbolic link"));
  ASSERT_TRUE(out->WriteFile("a.txt", "again\n").ok());
  EXPECT_EQ(ReadText(moved + "/a.txt"), "again\n");
  Status input = out->Check("a.txt", {{"profile", moved + "/a.txt"}});
  ASSERT_FALSE(input.ok());
  EXPECT_THAT(input.error().message, HasSubstr("the output is the same file as the input"));
  for (const std::string& name : Names(moved))
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

// What record's run directory needs of a folder (src/energy/recording.cpp runs
// on OutputDirectory): whether Open made it, its names, files made new and
// never through a planted name, files removed, a file replaced whole even where
// a link was planted, and messages that name it as the run directory.
TEST_F(HostileOutputTest, RunDirectoryFilesAreMadeRelativeToTheFolder) {
  const OutputDirectoryOptions run_options{"run directory", 0755};
  auto made = OutputDirectory::Open(Path("runs/a"), run_options);
  ASSERT_TRUE(made.ok()) << made.error().ToString();
  EXPECT_TRUE(made->created());
  auto again = OutputDirectory::Open(Path("runs/a"), run_options);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_FALSE(again->created());

  auto fd = made->CreateNew("energy.csv");
  ASSERT_TRUE(fd.ok()) << fd.error().ToString();
  ASSERT_EQ(::write(*fd, "x\n", 2), 2);
  ::close(*fd);
  // Never an existing name, never a link.
  auto twice = made->CreateNew("energy.csv");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.error().ToString(), HasSubstr("energy.csv: cannot create: File exists"));
  const std::string victim = Path("victim");
  WriteText(victim, "precious\n");
  ASSERT_EQ(::symlink(victim.c_str(), Path("runs/a/cputime.csv").c_str()), 0);
  EXPECT_FALSE(made->CreateNew("cputime.csv").ok());
  // A link planted at run.json is replaced by the rename, its target untouched.
  ASSERT_EQ(::symlink(victim.c_str(), Path("runs/a/run.json").c_str()), 0);
  auto run_json = made->CreateReplacing("run.json");
  ASSERT_TRUE(run_json.ok()) << run_json.error().ToString();
  ASSERT_TRUE(run_json->Write("{}\n").ok());
  ASSERT_TRUE(run_json->Commit().ok());
  EXPECT_EQ(ReadText(victim), "precious\n");
  EXPECT_EQ(ReadText(Path("runs/a/run.json")), "{}\n");
  EXPECT_THAT(again->Entries(), ::testing::ElementsAre("cputime.csv", "energy.csv", "run.json"));
  EXPECT_THAT(again->Entries(), ::testing::ElementsAre("cputime.csv", "energy.csv", "run.json"));
  ASSERT_TRUE(again->Remove("cputime.csv").ok());
  ASSERT_TRUE(again->Remove("cputime.csv").ok());  // absent is not an error
  EXPECT_THAT(made->Entries(), ::testing::ElementsAre("energy.csv", "run.json"));
  EXPECT_EQ(ReadText(victim), "precious\n");

  ASSERT_EQ(::symlink(Path("runs/a").c_str(), Path("runs/l").c_str()), 0);
  auto link = OutputDirectory::Open(Path("runs/l"), run_options);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.error().ToString(),
            Path("runs/l") + ": the run directory is a symbolic link to " + Path("runs/a") +
                ": smaragdine does not write through links (docs/security.md); give the run "
                "directory it points to instead");
}

}  // namespace
}  // namespace smaragdine
