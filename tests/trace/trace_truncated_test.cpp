// A JSON trace that stops early (a copy cut short, a disk that filled up) must
// be reported at the place where it stops, not at byte 0.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "smaragdine/trace.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

std::string Tf1Fixture() {
  return testing::ReadText(testing::DataPath("fixtures/tf1_timeline_gpu_matmul_2017.json"));
}

TEST(TraceTruncatedTest, TruncatedJsonReportsTheEndOfTheFile) {
  const std::string good = Tf1Fixture();
  ASSERT_GT(good.size(), 3000u);
  // 3000 is the cut from the bug report; the others end inside a key, a
  // string value, a number and between events.
  for (size_t cut : {size_t{3000}, size_t{17}, size_t{101}, good.size() / 2, good.size() - 3}) {
    Result<Trace> t = ParseTrace("cut.json", good.substr(0, cut), {});
    ASSERT_FALSE(t.ok()) << cut;
    EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
    EXPECT_EQ(t.error().byte_offset, static_cast<int64_t>(cut)) << t.error().ToString();
    EXPECT_NE(t.error().message.find("invalid JSON"), std::string::npos) << t.error().message;
  }
}

TEST(TraceTruncatedTest, TruncatedFileOnDiskReportsItsSize) {
  // ReadTrace maps plain files instead of copying them: the same answer.
  const std::string path = ::testing::TempDir() + "/smaragdine_truncated.json";
  {
    std::ofstream f(path, std::ios::binary);
    f << Tf1Fixture().substr(0, 3000);
  }
  Result<Trace> t = ReadTrace(path, {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().ToString().find(path + ": at byte 3000: invalid JSON"), 0u)
      << t.error().ToString();
  EXPECT_NE(t.error().message.find("truncated file?"), std::string::npos) << t.error().message;
  std::remove(path.c_str());
}

TEST(TraceTruncatedTest, ErrorInsideTheDocumentKeepsItsOwnOffset) {
  // Not truncated: the offset points at the bad token, before the end.
  const std::string bad = R"({"traceEvents":[{"ph":"X","ts":1,"dur":1}, oops, {"ph":"X"}]})";
  Result<Trace> t = ParseTrace("bad.json", bad, {});
  ASSERT_FALSE(t.ok());
  EXPECT_LT(t.error().byte_offset, static_cast<int64_t>(bad.size()));
}

}  // namespace
}  // namespace smaragdine
