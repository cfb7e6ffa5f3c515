// Reading profile.json from a file streams the timeline's arrays into the
// profile instead of parsing the whole text into a DOM (issue 16, item 2).
// What it reads, and every error it gives, must be what the whole-text reader
// (ParseProfileJson) gives for the same bytes: each case below is read both
// ways and compared.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "profile/profile_stream.h"
#include "record/record_test_util.h"
#include "report/perfetto_sample.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

using testing::TempDir;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// `text` with the first `from` (which must be there) replaced by `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return text;
  return text.replace(at, from.size(), to);
}

// The array value of `"key":[...]` (its first occurrence), without brackets.
std::string ColumnOf(const std::string& text, const std::string& key) {
  const std::string open = "\"" + key + "\":[";
  const size_t at = text.find(open);
  EXPECT_NE(at, std::string::npos) << key;
  if (at == std::string::npos) return "";
  const size_t start = at + open.size();
  return text.substr(start, text.find(']', start) - start);
}

std::string WithColumn(const std::string& text, const std::string& key, const std::string& values) {
  return Replace(text, "\"" + key + "\":[" + ColumnOf(text, key) + "]",
                 "\"" + key + "\":[" + values + "]");
}

// The column's entries with entry `i` replaced by `value`.
std::string SetEntry(const std::string& text, const std::string& key, size_t i,
                     const std::string& value) {
  std::vector<std::string> entries;
  const std::string column = ColumnOf(text, key);
  for (size_t start = 0;;) {
    const size_t comma = column.find(',', start);
    entries.push_back(column.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  EXPECT_LT(i, entries.size());
  std::string values;
  for (size_t k = 0; k < entries.size(); ++k)
    values += (k ? "," : "") + (k == i ? value : entries[k]);
  return WithColumn(text, key, values);
}

// Reads `text` from a file (streamed) and from memory (whole); both must agree.
void ExpectSameAsWhole(const std::string& dir, const std::string& name, const std::string& text) {
  SCOPED_TRACE(name);
  const std::string path = dir + "/" + name + ".json";
  WriteText(path, text);
  Result<Profile> streamed = ReadProfileJson(path);
  Result<Profile> whole = ParseProfileJson(path, text);
  ASSERT_EQ(streamed.ok(), whole.ok())
      << (streamed.ok() ? whole.error().ToString() : streamed.error().ToString());
  if (whole.ok()) {
    EXPECT_EQ(ProfileToJson(*streamed), ProfileToJson(*whole));
    EXPECT_EQ(streamed->timeline.domain_lanes, whole->timeline.domain_lanes);
  } else {
    EXPECT_EQ(streamed.error().ToString(), whole.error().ToString());
    EXPECT_EQ(streamed.error().code, whole.error().code);
  }
}

TEST(ProfileStreamTest, TimelineArraysAreTakenOutOfTheTextKept) {
  const std::string text = ProfileToJson(testing::SmallTimelineProfile());
  TempDir tmp;
  const std::string path = tmp.path() + "/p.json";
  WriteText(path, text);
  std::optional<StreamedProfile> s = StreamProfileFile(path, 64);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->columns_taken, (1u << kEventColumnCount) - 1);
  EXPECT_EQ(s->events.size(), 12u);
  for (size_t entries : s->column_entries) EXPECT_EQ(entries, 12u);
  EXPECT_EQ(s->int_arrays.size(), 2u);  // one dt_ns per power track
  EXPECT_EQ(s->double_arrays.size(), 2u);
  EXPECT_EQ(s->rest.find(ColumnOf(text, "self_j")), std::string::npos);
  EXPECT_LT(s->rest.size(), text.size());
  EXPECT_GE(s->rest.capacity(), s->rest.size() + 64);
  // What is left is the profile's own text around the placeholders.
  EXPECT_EQ(s->rest.substr(0, 200), text.substr(0, 200));

  // Not streamed: gzip, something that is not an object, binary data.
  WriteText(path, std::string("\x1f\x8b\x08\x00", 4) + "rest");
  EXPECT_FALSE(StreamProfileFile(path, 64).has_value());
  WriteText(path, "[1,2]");
  EXPECT_FALSE(StreamProfileFile(path, 64).has_value());
  WriteText(path, std::string("{\"a\":\0}", 7));
  EXPECT_FALSE(StreamProfileFile(path, 64).has_value());
}

TEST(ProfileStreamTest, ReadsWhatTheWholeTextReaderReads) {
  TempDir tmp;
  const std::string text = ProfileToJson(testing::SmallTimelineProfile());
  ExpectSameAsWhole(tmp.path(), "as_written", text);
  // White space anywhere, number spellings that parse alike, null energies,
  // "n" after the columns, unknown keys beside them.
  ExpectSameAsWhole(tmp.path(), "spaced",
                    Replace(Replace(text, "\"lane\":[", "\"lane\" : [ \n"), "],\n\"start_delta_ns\"",
                            " ]\n,\n\"start_delta_ns\""));
  ExpectSameAsWhole(tmp.path(), "spellings",
                    SetEntry(SetEntry(text, "self_j", 0, "1.5E-3"), "self_j", 1, "25e-1"));
  ExpectSameAsWhole(tmp.path(), "null_energy", SetEntry(text, "self_j", 2, "null"));
  ExpectSameAsWhole(tmp.path(), "integer_energy", SetEntry(text, "self_j", 3, "123456789012345678"));
  const std::string n = "\"n\":" + std::to_string(12) + ",\n";
  ExpectSameAsWhole(tmp.path(), "n_last",
                    Replace(Replace(text, n, ""), "\"self_j\":[", "\"extra\":{\"a\":[1]},\"n\":12,\"self_j\":["));
  // An escaped key is the same key to the reader: that column is not taken out.
  ExpectSameAsWhole(tmp.path(), "escaped_key", Replace(text, "\"lane\":[", "\"l\\u0061ne\":["));
  // A second timeline: the reader takes the first.
  ExpectSameAsWhole(tmp.path(), "two_timelines",
                    Replace(text, "\"diagnostics\":", "\"timeline\":{\"lanes\":[]},\"diagnostics\":"));
  // The profiles in tests/data, without a timeline.
  for (const char* name : {"bert_small", "albert_small"}) {
    const std::string path = std::string(SMARAGDINE_TEST_DATA) + "/profiles/" + name + ".json";
    std::ifstream in(path, std::ios::binary);
    ExpectSameAsWhole(tmp.path(), name, std::string(std::istreambuf_iterator<char>(in), {}));
  }
}

TEST(ProfileStreamTest, ErrorsAreTheWholeTextReadersErrors) {
  TempDir tmp;
  const std::string text = ProfileToJson(testing::SmallTimelineProfile());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"lane_out_of_range", SetEntry(text, "lane", 1, "7")},
      {"node_out_of_range", SetEntry(text, "node", 2, "9999")},
      {"step_below_minus_one", SetEntry(text, "step", 3, "-2")},
      {"phase_4", SetEntry(text, "phase", 4, "4")},
      {"phase_300", SetEntry(text, "phase", 4, "300")},
      {"negative_dur", SetEntry(text, "dur_ns", 5, "-5")},
      {"negative_lane", SetEntry(text, "lane", 0, "-1")},
      {"lane_fraction", SetEntry(text, "lane", 0, "1.0")},
      {"lane_beyond_uint64", SetEntry(text, "lane", 0, "99999999999999999999")},
      {"node_beyond_uint32", SetEntry(text, "node", 0, "4294967296")},
      {"step_beyond_int32", SetEntry(text, "step", 0, "2147483648")},
      {"minus_zero", SetEntry(text, "start_delta_ns", 1, "-0")},
      {"leading_zero", SetEntry(text, "dur_ns", 1, "01")},
      {"energy_overflow", SetEntry(text, "self_j", 0, "1e400")},
      {"energy_string", SetEntry(text, "self_j", 0, "\"1\"")},
      {"energy_true", SetEntry(text, "self_j", 0, "true")},
      {"lane_null", SetEntry(text, "lane", 0, "null")},
      {"column_short", WithColumn(text, "lane", "0,0,0")},
      {"column_long", WithColumn(text, "self_j", ColumnOf(text, "self_j") + ",1")},
      {"n_too_large", Replace(text, "\"n\":12", "\"n\":13")},
      {"n_negative", Replace(text, "\"n\":12", "\"n\":-1")},
      {"column_missing", Replace(text, "\"node\":[", "\"nodx\":[")},
      {"column_twice", Replace(text, "\"lane\":[", "\"lane\":[" + ColumnOf(text, "lane") + "],\"lane\":[")},
      {"column_object", Replace(text, "\"phase\":[" + ColumnOf(text, "phase") + "]", "\"phase\":{}")},
      {"power_short", Replace(text, "\"power_w\":[", "\"power_w\":[1,")},
      {"power_string", Replace(text, "\"power_w\":[", "\"power_w\":[\"x\",")},
      {"power_inf", Replace(text, "\"power_w\":[", "\"power_w\":[1e999,")},
      {"dt_negative", Replace(text, "\"dt_ns\":[", "\"dt_ns\":[-1,")},
      {"power_missing", Replace(text, "\"power_w\":", "\"power_x\":")},
      {"truncated_in_column", text.substr(0, text.find("\"self_j\":[") + 14)},
      {"truncated_at_end", text.substr(0, text.size() - 3)},
      {"trailing_garbage", text + "x"},
      {"second_document", text + "{}"},
      {"bad_utf8_name", Replace(text, "thread 12", "thread \xff\xfe")},
      {"control_in_name", Replace(text, "thread 12", "thread\x01")},
      {"unclosed_array", Replace(text, "\"lane\":[" + ColumnOf(text, "lane") + "]",
                                 "\"lane\":[" + ColumnOf(text, "lane") + ",")},
      {"bad_node_before_timeline", Replace(text, "\"id\":1,", "\"id\":7,")},
      {"not_an_object", "[" + text + "]"},
  };
  for (const auto& [name, bad] : cases) ExpectSameAsWhole(tmp.path(), name, bad);

  // A NUL byte: a file read whole is refused as binary data before parsing
  // (as before; ParseProfileJson, given text, calls it invalid JSON).
  const std::string nul = tmp.path() + "/nul.json";
  WriteText(nul, Replace(text, "\"lane\":[", std::string("\"lane\":[\0", 9)));
  Result<Profile> binary = ReadProfileJson(nul);
  ASSERT_FALSE(binary.ok());
  EXPECT_NE(binary.error().ToString().find(nul + ": at byte "), std::string::npos);
  EXPECT_NE(binary.error().message.find("binary data: a NUL byte"), std::string::npos);

  // And the message names the file and the entry, as before.
  const std::string path = tmp.path() + "/lane.json";
  WriteText(path, SetEntry(text, "lane", 1, "7"));
  Result<Profile> r = ReadProfileJson(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(r.error().ToString(),
            path + ": timeline.events.lane[1]: 7 is not a lane (there are 3)");
}

}  // namespace
}  // namespace smaragdine
