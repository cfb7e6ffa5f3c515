// The trace's string table: one id per distinct string, ids in order of
// first use, stable across growth, and Truncate forgetting exactly the later
// strings (the sliced reader relies on that to undo a slice).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trace/string_table.h"

namespace smaragdine {
namespace {

using trace_internal::kEmptyStr;
using trace_internal::StringTable;
using trace_internal::StrId;

TEST(StringTableTest, EmptyStringIsIdZeroAndIdsFollowFirstUse) {
  StringTable t;
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Intern(""), kEmptyStr);
  EXPECT_EQ(t.Intern("aten::mm"), 1u);
  EXPECT_EQ(t.Intern("aten::add"), 2u);
  EXPECT_EQ(t.Intern("aten::mm"), 1u);
  EXPECT_EQ(t.Get(2), "aten::add");
  EXPECT_EQ(t.size(), 3u);
}

TEST(StringTableTest, FindDoesNotIntern) {
  StringTable t;
  t.Intern("x");
  EXPECT_EQ(t.Find("x"), 1u);
  EXPECT_EQ(t.Find("y"), StringTable::kNoStr);
  EXPECT_EQ(t.size(), 2u);
}

TEST(StringTableTest, IdsAndReferencesSurviveGrowth) {
  // Many more strings than the initial 64 slots; prefixes of each other and
  // lengths around the hash's 8-byte steps, so near-equal keys must differ.
  StringTable t;
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) keys.push_back(std::string(static_cast<size_t>(i % 19), 'a') + std::to_string(i));
  const std::string& first = t.Get(t.Intern(keys[0]));
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(t.Intern(keys[i]), static_cast<StrId>(i + 1));
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(t.Find(keys[i]), static_cast<StrId>(i + 1));
  EXPECT_EQ(&first, &t.Get(1));  // a deque: elements never move
  EXPECT_EQ(first, keys[0]);
}

TEST(StringTableTest, TruncateForgetsLaterStringsAndReusesTheirIds) {
  StringTable t;
  t.Intern("kept");
  const size_t mark = t.size();
  for (int i = 0; i < 200; ++i) t.Intern("gone" + std::to_string(i));
  t.Truncate(mark);
  EXPECT_EQ(t.size(), mark);
  EXPECT_EQ(t.Find("kept"), 1u);
  EXPECT_EQ(t.Find("gone0"), StringTable::kNoStr);
  EXPECT_EQ(t.Find("gone199"), StringTable::kNoStr);
  // As in a parse that never saw them: the next new string takes the next id.
  EXPECT_EQ(t.Intern("gone7"), static_cast<StrId>(mark));
  t.Truncate(1000);  // beyond the end: no change
  EXPECT_EQ(t.size(), mark + 1);
}

TEST(StringTableTest, TruncateKeepsEveryEarlierLookupThroughGrowthAndCollisions) {
  // Truncate frees only the removed ids' slots: every string before the mark
  // must still be found, whatever probe chains the removed ones sat in, and
  // the recent-strings shortcut must not hand out a removed id.
  for (size_t mark : {size_t{1}, size_t{2}, size_t{33}, size_t{500}, size_t{2999}}) {
    StringTable t;
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) keys.push_back("n" + std::to_string(i % 7) + "/" + std::to_string(i));
    for (size_t i = 0; i + 1 < mark; ++i) t.Intern(keys[i]);
    ASSERT_EQ(t.size(), mark);
    for (size_t i = mark - 1; i < keys.size(); ++i) t.Intern(keys[i]);  // grows past the mark
    t.Truncate(mark);
    ASSERT_EQ(t.size(), mark);
    for (size_t i = 0; i + 1 < mark; ++i) ASSERT_EQ(t.Find(keys[i]), static_cast<StrId>(i + 1)) << i;
    for (size_t i = mark - 1; i < keys.size(); ++i) ASSERT_EQ(t.Find(keys[i]), StringTable::kNoStr) << i;
    // Interned again they take the ids a table that never saw them gives.
    StringTable fresh;
    for (size_t i = 0; i + 1 < mark; ++i) fresh.Intern(keys[i]);
    for (size_t i = keys.size(); i-- > mark - 1;) ASSERT_EQ(t.Intern(keys[i]), fresh.Intern(keys[i]));
  }
}

TEST(StringTableTest, ACopyViewsItsOwnStrings) {
  StringTable a;
  a.Intern("x");
  StringTable b = a;
  a.Truncate(1);
  a.Intern("y");
  EXPECT_EQ(b.Intern("x"), 1u);
  EXPECT_EQ(b.Find("y"), StringTable::kNoStr);
  EXPECT_EQ(b.Get(1), "x");
}

TEST(StringTableTest, InternExpectedGivesInternsIdsWhateverTheGuess) {
  // The reader guesses a TF1 node's name and op before hashing; right,
  // wrong, unknown, out of range or forgotten, the guess must not change
  // any id: a table fed through InternExpected equals one fed through Intern.
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i)
    keys.push_back("bert/encoder/layer_" + std::to_string(i % 5) + "/attention/op_" +
                   std::to_string(i % 37));
  keys.push_back("");
  StringTable plain, guessed;
  uint64_t state = 16;
  for (int step = 0; step < 5000; ++step) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const std::string& s = keys[(state >> 33) % keys.size()];
    const StrId want = plain.Intern(s);
    StrId guess;
    switch ((state >> 20) % 5) {
      case 0: guess = want; break;                                              // right
      case 1: guess = static_cast<StrId>((state >> 40) % plain.size()); break;  // any id
      case 2: guess = StringTable::kNoStr; break;
      case 3: guess = static_cast<StrId>(plain.size() + 7); break;  // not yet an id
      default: guess = kEmptyStr; break;
    }
    ASSERT_EQ(guessed.InternExpected(s, guess), want) << step;
    if (step % 997 == 996) {
      // Forget the later strings in both: a guess may now name a forgotten id.
      plain.Truncate(plain.size() / 2);
      guessed.Truncate(guessed.size() / 2);
      ASSERT_EQ(guessed.InternExpected(keys[3], static_cast<StrId>(guessed.size() + 3)),
                plain.Intern(keys[3]));
    }
  }
  ASSERT_EQ(guessed.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i)
    ASSERT_EQ(guessed.Get(static_cast<StrId>(i)), plain.Get(static_cast<StrId>(i)));
}

}  // namespace
}  // namespace smaragdine
