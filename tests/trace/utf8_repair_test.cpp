// Invalid UTF-8 replaced by U+FFFD per maximal ill-formed subsequence (as
// browsers do), valid text untouched, and offsets in the repaired copy
// mapped back to the bytes as given.
#include <gtest/gtest.h>

#include <string>

#include "trace/utf8_repair.h"

namespace smaragdine {
namespace {

using trace_internal::FirstInvalidUtf8;
using trace_internal::RepairUtf8;

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8RepairTest, ValidTextIsUntouched) {
  const std::string valid = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // é € 😀
  auto r = RepairUtf8(valid, 0);
  EXPECT_EQ(r.text, valid);
  EXPECT_EQ(r.replaced, 0);
  EXPECT_EQ(FirstInvalidUtf8(valid), -1);
}

TEST(Utf8RepairTest, EachMaximalSubpartBecomesOneReplacement) {
  // Unicode §3.9's example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  const std::string in = "a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d";
  auto r = RepairUtf8(in, 0);
  EXPECT_EQ(r.text, "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
  EXPECT_EQ(r.replaced, 6);
  EXPECT_EQ(FirstInvalidUtf8(in), 1);
  // Overlong, surrogate, past U+10FFFF: each byte on its own.
  EXPECT_EQ(RepairUtf8("\xC0\xAF", 0).replaced, 2);
  EXPECT_EQ(RepairUtf8("\xED\xA0\x80", 0).replaced, 3);
  EXPECT_EQ(RepairUtf8("\xF4\x90\x80\x80", 0).replaced, 4);
  EXPECT_EQ(RepairUtf8("x\xE2\x82", 0).text, "x" + kFffd);  // cut off at the end
}

TEST(Utf8RepairTest, OffsetsMapBackToTheBytesAsGiven) {
  const std::string in = "ab\xFF" "cd\xE2\x82" "ef";
  auto r = RepairUtf8(in, 65);
  ASSERT_EQ(r.text, "ab" + kFffd + "cd" + kFffd + "ef");
  EXPECT_GE(r.text.capacity(), r.text.size() + 65);
  EXPECT_EQ(r.OriginalOffset(0), 0);
  EXPECT_EQ(r.OriginalOffset(1), 1);
  EXPECT_EQ(r.OriginalOffset(static_cast<int64_t>(r.text.find('c'))), 3);
  EXPECT_EQ(r.OriginalOffset(static_cast<int64_t>(r.text.find('e'))), 7);
  EXPECT_EQ(r.OriginalOffset(static_cast<int64_t>(r.text.size())), static_cast<int64_t>(in.size()));
  EXPECT_EQ(r.OriginalOffset(-1), -1);
}

}  // namespace
}  // namespace smaragdine
