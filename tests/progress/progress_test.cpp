// The progress line: its text, and that it writes nothing where the output
// is not a terminal.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/progress.h"

namespace smaragdine {
namespace {

TEST(ProgressTest, FormatsBytesInDecimalUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(999), "999 B");
  EXPECT_EQ(FormatBytes(1000), "1.0 kB");
  EXPECT_EQ(FormatBytes(812'345'678), "812.3 MB");
  EXPECT_EQ(FormatBytes(999'960'000), "1.0 GB");
  EXPECT_EQ(FormatBytes(3'200'000'000'000), "3.2 TB");
}

TEST(ProgressTest, FormatsTheLineForEachKindOfStage) {
  EXPECT_EQ(FormatProgressLine("account", "reading trace t.json.gz", -1, 812'345'678,
                               ProgressUnit::kBytes, 3.21),
            "account: reading trace t.json.gz (812.3 MB) … 3.2 s");
  EXPECT_EQ(FormatProgressLine("account", "reading trace t.json.gz", 406'000'000, 812'000'000,
                               ProgressUnit::kBytes, 1),
            "account: reading trace t.json.gz 406.0 MB of 812.0 MB (50 %) … 1.0 s");
  EXPECT_EQ(FormatProgressLine("account", "attributing 5200000 events, part", 2, 4,
                               ProgressUnit::kSteps, 41.04),
            "account: attributing 5200000 events, part 2 of 4 … 41.0 s");
  EXPECT_EQ(FormatProgressLine("report", "writing", 1'234'567, 0, ProgressUnit::kEvents, 0.5),
            "report: writing 1.2 M events … 0.5 s");
  EXPECT_EQ(FormatProgressLine("report", "rendering", -1, 0, ProgressUnit::kNone, 12),
            "report: rendering … 12.0 s");
}

TEST(ProgressTest, StaysQuietWhenTheOutputIsNotATerminal) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    ProgressLine progress("account", fds[1]);
    EXPECT_FALSE(progress.enabled());
    progress.Stage("reading trace t.json", 1000, ProgressUnit::kBytes);
    progress.Update(500);
    progress.Finish();
  }
  ::close(fds[1]);
  char buffer[64];
  EXPECT_EQ(::read(fds[0], buffer, sizeof buffer), 0) << "something was written to a pipe";
  ::close(fds[0]);
}

TEST(ProgressTest, InputBytesOfAFileAndOfADirectory) {
  const std::string dir = ::testing::TempDir() + "/progress_bytes";
  ::mkdir(dir.c_str(), 0755);
  for (const char* name : {"/a", "/b"}) {
    int fd = ::open((dir + name).c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "12345", 5), 5);
    ::close(fd);
  }
  EXPECT_EQ(InputBytes(dir + "/a"), 5);
  EXPECT_EQ(InputBytes(dir), 10);
  EXPECT_EQ(InputBytes(dir + "/missing"), 0);
}

}  // namespace
}  // namespace smaragdine
