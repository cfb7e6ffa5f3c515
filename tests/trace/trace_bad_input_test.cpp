// Bad input: every malformed trace is kBadInput naming the file and, where it
// can, the byte offset; never a crash.
#include <gtest/gtest.h>

#include "common/io.h"
#include "smaragdine/trace.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

Error MustFail(const std::string& bytes) {
  Result<Trace> t = ParseTrace("bad.json", bytes, {});
  EXPECT_FALSE(t.ok());
  if (t.ok()) return Error{};
  EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(t.error().file, "bad.json");
  EXPECT_EQ(t.error().ExitCode(), 2);
  return t.error();
}

TEST(TraceBadInputTest, TruncatedJsonNamesTheByteOffset) {
  std::string good = testing::ReadText(
      testing::DataPath("fixtures/tf1_timeline_gpu_matmul_2017.json"));
  std::string cut = good.substr(0, good.size() / 2);
  Error e = MustFail(cut);
  EXPECT_GE(e.byte_offset, 0);
  EXPECT_LE(e.byte_offset, static_cast<int64_t>(cut.size()));
  EXPECT_NE(e.ToString().find("bad.json: at byte"), std::string::npos) << e.ToString();
}

TEST(TraceBadInputTest, InvalidJsonNamesTheByteOffset) {
  Error e = MustFail(R"({"traceEvents":[{"ph":"X","ts":1,"dur":1,}, oops]})");
  EXPECT_GE(e.byte_offset, 0);
  EXPECT_NE(e.message.find("invalid JSON"), std::string::npos) << e.message;
}

TEST(TraceBadInputTest, TruncatedGzipIsBadInput) {
  std::string dir = ::testing::TempDir();
  std::string gz = testing::ReadText(
      testing::DataPath("fixtures/pt2_bert-small_h100_inference.pt.trace.json.gz"));
  ASSERT_TRUE(WriteFileAtomic(dir + "/cut.json.gz", gz.substr(0, gz.size() / 3)).ok());
  Result<Trace> t = ReadTrace(dir + "/cut.json.gz", {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(t.error().file, dir + "/cut.json.gz");
  EXPECT_NE(t.error().message.find("gzip"), std::string::npos) << t.error().message;
  MustFail(gz.substr(0, gz.size() / 3));  // the same through ParseTrace
}

TEST(TraceBadInputTest, EmptyFileAndNotATrace) {
  EXPECT_EQ(MustFail("").byte_offset, 0);
  EXPECT_EQ(MustFail("  \n").byte_offset, 0);
  EXPECT_NE(MustFail("hello").message.find("not a Chrome trace"), std::string::npos);
  EXPECT_NE(MustFail(R"({"foo": 1})").message.find("traceEvents"), std::string::npos);
  EXPECT_NE(MustFail(R"({"traceEvents": 3})").message.find("not an array"), std::string::npos);
}

TEST(TraceBadInputTest, NoEventsIsBadInput) {
  for (const char* json : {"{}", "[]", R"({"traceEvents":[]})",
                           R"({"traceEvents":[{"ph":"M","pid":1,"name":"process_name"}]})"}) {
    Error e = MustFail(json);
    EXPECT_TRUE(e.message.find("no events") != std::string::npos ||
                e.message.find("traceEvents") != std::string::npos)
        << json << ": " << e.message;
  }
}

TEST(TraceBadInputTest, UnknownDialectSuggestsFormat) {
  Error e = MustFail(R"([{"ph":"X","name":"work","ts":1,"dur":1,"pid":1,"tid":1}])");
  EXPECT_NE(e.message.find("unknown trace dialect; use --format"), std::string::npos);
}

TEST(TraceBadInputTest, MissingFileIsBadInput) {
  Result<Trace> t = ReadTrace("/nonexistent/trace.json", {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(t.error().file, "/nonexistent/trace.json");
}

}  // namespace
}  // namespace smaragdine
