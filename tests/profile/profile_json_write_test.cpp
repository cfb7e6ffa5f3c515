// Writing profile.json in pieces (issue 16, item 2): `report --format json` and
// `account -o` hand the text on about 1 MiB at a time instead of building the
// whole (470 MB for a 10 M-event profile) and copying it. The pieces must be
// exactly the text ProfileToJson makes, and a refused piece must stop the
// writer with its error (docs/security.md: a failed write is never success).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "record/record_test_util.h"
#include "report/perfetto_sample.h"
#include "smaragdine/profile.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

constexpr size_t kPieceBytes = size_t{1} << 20;

// The small timeline profile with its events repeated `copies` times (each copy
// a step later) and a long power track: a few MB of text, several pieces.
Profile BigTimelineProfile(int copies) {
  Profile p = testing::SmallTimelineProfile();
  const std::vector<TimelineEvent> one = p.timeline.events;
  const int64_t shift_ns = 10'000'000;
  for (int c = 1; c < copies; ++c)
    for (TimelineEvent e : one) {
      e.start_ns += c * shift_ns;
      e.end_ns += c * shift_ns;
      e.self_j *= 1.0 + 1e-3 * c;  // varied digits, as measured energies have
      p.timeline.events.push_back(e);
    }
  if (!p.timeline.power.empty()) {
    PowerTrack& track = p.timeline.power[0];
    const int64_t last_ns = track.t_ns.empty() ? 0 : track.t_ns.back();
    for (int i = 1; i <= 20'000; ++i) {
      track.t_ns.push_back(last_ns + int64_t{i} * 1'000'000);
      track.power_w.push_back(30.0 + 0.001 * i);
    }
  }
  return p;
}

std::vector<std::string> Pieces(const Profile& p, Status* status) {
  std::vector<std::string> pieces;
  *status = WriteProfileJson(p, [&](std::string_view piece) {
    pieces.emplace_back(piece);
    return Status();
  });
  return pieces;
}

std::string Joined(const std::vector<std::string>& pieces) {
  std::string all;
  for (const std::string& s : pieces) all += s;
  return all;
}

TEST(ProfileJsonWriteTest, PiecesAreTheWholeTextInOrderAndBounded) {
  const Profile p = BigTimelineProfile(12'000);
  ASSERT_GT(p.timeline.events.size(), 100'000u);
  const std::string whole = ProfileToJson(p);
  ASSERT_GT(whole.size(), 4 * kPieceBytes);
  Status status;
  const std::vector<std::string> pieces = Pieces(p, &status);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(Joined(pieces), whole);
  EXPECT_GE(pieces.size(), 4u);
  // Handed on after the element that filled a piece: at most one element over.
  for (const std::string& piece : pieces) {
    EXPECT_FALSE(piece.empty());
    EXPECT_LE(piece.size(), kPieceBytes + 4096);
  }
}

TEST(ProfileJsonWriteTest, ASmallProfileIsOnePieceEqualToTheText) {
  const Profile p = testing::SmallTimelineProfile();
  Status status;
  const std::vector<std::string> pieces = Pieces(p, &status);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0], ProfileToJson(p));
}

TEST(ProfileJsonWriteTest, ARefusedPieceStopsTheWriterWithItsError) {
  const Profile p = BigTimelineProfile(12'000);
  int calls = 0;
  Status s = WriteProfileJson(p, [&](std::string_view) -> Status {
    ++calls;
    if (calls == 2) return Error{ErrorCode::kBadInput, "cannot write: No space left", "out.json"};
    return Status();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(s.error().file, "out.json");
  EXPECT_EQ(calls, 2);  // nothing handed on after the refusal
}

TEST(ProfileJsonWriteTest, TheFileHoldsTheTextAndAFailedWriteIsAnError) {
  const Profile p = BigTimelineProfile(12'000);
  testing::TempDir dir;
  const std::string path = dir.path() + "/profile.json";
  ASSERT_TRUE(WriteProfileJson(p, path).ok());
  EXPECT_EQ(testing::ReadText(path), ProfileToJson(p));
  // A full device (written in place): the first piece fails, and so does the call.
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  Status full = WriteProfileJson(p, "/dev/full");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().file, "/dev/full");
  EXPECT_NE(full.error().message.find("cannot write"), std::string::npos)
      << full.error().message;
}

// report --format json goes through WriteReport: the same bytes as RenderReport,
// for the whole profile and for a subtree.
TEST(ProfileJsonWriteTest, WriteReportJsonIsRenderReportInPieces) {
  const Profile p = BigTimelineProfile(12'000);
  for (const std::string root : {"", "model"}) {
    ReportOptions o;
    o.format = ReportFormat::kJson;
    o.root = root;
    o.file = "big.json";
    auto rendered = RenderReport(p, o);
    ASSERT_TRUE(rendered.ok()) << rendered.error().ToString();
    std::vector<std::string> pieces;
    Status s = WriteReport(p, o, [&](std::string_view piece) {
      pieces.emplace_back(piece);
      return Status();
    });
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_EQ(Joined(pieces), *rendered) << "root '" << root << "'";
    if (root.empty()) EXPECT_GT(pieces.size(), 1u);
  }
}

}  // namespace
}  // namespace smaragdine
