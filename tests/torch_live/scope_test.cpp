#include "smaragdine/torch/scope.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace smaragdine::live {
namespace {

TEST(ScopeTest, NestedScopesGiveTheirPathAndCloseInOrder) {
  EXPECT_EQ(CurrentScope(), kNoScope);
  {
    SMARAGDINE_SCOPE("bert");
    {
      SMARAGDINE_SCOPE(std::string("encoder"));
      SMARAGDINE_SCOPE("layer_3");
      EXPECT_EQ(ScopePath(CurrentScope()), "bert/encoder/layer_3");
    }
    EXPECT_EQ(ScopePath(CurrentScope()), "bert");
  }
  EXPECT_EQ(CurrentScope(), kNoScope);
  EXPECT_EQ(ScopePath(kNoScope), "");
}

TEST(ScopeTest, SamePathGetsSameIdOnEveryThread) {
  ScopeId here = kNoScope, there = kNoScope;
  {
    SMARAGDINE_SCOPE("albert");
    SMARAGDINE_SCOPE("embeddings");
    here = CurrentScope();
  }
  std::thread([&] {
    SMARAGDINE_SCOPE("albert");
    SMARAGDINE_SCOPE("embeddings");
    there = CurrentScope();
  }).join();
  EXPECT_NE(here, kNoScope);
  EXPECT_EQ(here, there);
  EXPECT_EQ(InternScope(InternScope(kNoScope, "albert"), "embeddings"), here);
}

}  // namespace
}  // namespace smaragdine::live
