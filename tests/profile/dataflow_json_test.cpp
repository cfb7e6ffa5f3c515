// profile.json's optional "dataflow" section: written only when the profile
// has data flow, read back exactly, absent from older profiles, and bad
// entries named in the error.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "report/sample_profile.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

using Edges = std::vector<std::pair<uint32_t, uint32_t>>;

Profile WithDataflow() {
  Profile p = testing::SmallBert();
  auto id = [&](const std::string& path) { return static_cast<uint32_t>(p.Find(path)); };
  const std::string l = "bert/encoder/layer_0/";
  p.dataflow = {{id(l + "attention/self/query/MatMul"), id(l + "attention/self/Softmax")},
                {id(l + "attention/self/Softmax"), id(l + "intermediate/dense/MatMul")}};
  std::sort(p.dataflow.begin(), p.dataflow.end());
  return p;
}

TEST(DataflowJsonTest, RoundTripsTheEdges) {
  const Profile p = WithDataflow();
  const std::string json = ProfileToJson(p);
  EXPECT_NE(json.find("\"dataflow\":[["), std::string::npos);
  auto back = ParseProfileJson("p.json", json);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->dataflow, p.dataflow);
  // Written again, the same text.
  EXPECT_EQ(ProfileToJson(*back), json);
}

TEST(DataflowJsonTest, ProfilesWithoutDataflowHaveNoSectionAndOldFilesRead) {
  const Profile p = testing::SmallBert();
  EXPECT_EQ(ProfileToJson(p).find("dataflow"), std::string::npos);
  // A profile written before the section existed.
  auto old = ReadProfileJson(std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json");
  ASSERT_TRUE(old.ok()) << old.error().ToString();
  EXPECT_TRUE(old->dataflow.empty());
  EXPECT_GT(old->nodes.size(), 1u);
}

TEST(DataflowJsonTest, BadEntriesAreNamed) {
  const Profile p = WithDataflow();
  const std::string json = ProfileToJson(p);
  const size_t at = json.find("\"dataflow\":");
  const size_t end = json.find("],\n", at);
  ASSERT_NE(at, std::string::npos);
  auto with = [&](const std::string& section) {
    std::string bad = json;
    bad.replace(at, end + 1 - at, "\"dataflow\":" + section);
    return ParseProfileJson("p.json", bad);
  };
  const size_t n = p.nodes.size();
  auto out_of_range = with(fmt::format("[[1,2],[3,{}]]", n));
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_EQ(out_of_range.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(out_of_range.error().file, "p.json");
  EXPECT_NE(out_of_range.error().message.find(
                fmt::format("dataflow[1]: {} is not a node (there are {})", n, n)),
            std::string::npos)
      << out_of_range.error().message;
  for (const char* shape : {"[[1]]", "[[1,2,3]]", "[[1,\"x\"]]", "{\"a\":1}", "[7]"}) {
    auto r = with(shape);
    ASSERT_FALSE(r.ok()) << shape;
    EXPECT_NE(r.error().message.find("[producer, consumer]"), std::string::npos)
        << shape << ": " << r.error().message;
  }
  // Repeated edges read as one, in order.
  auto repeated = with("[[3,1],[1,2],[3,1]]");
  ASSERT_TRUE(repeated.ok()) << repeated.error().ToString();
  EXPECT_EQ(repeated->dataflow, (Edges{{1, 2}, {3, 1}}));
}

}  // namespace
}  // namespace smaragdine
