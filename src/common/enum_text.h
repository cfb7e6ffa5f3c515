// enum_text.h — the one way an enum is read from its text.
//
// Each enum with a textual form has `const char* ToString(E)` (its words in
// files, options and messages) and a `ParseX(text)` that is exactly its
// inverse over every value, written as
//
//   std::optional<Phase> ParsePhase(std::string_view t) { return ParseEnum(t, kAllPhases); }
//
// so that a value added to the enum and to ToString reads back without a
// second list of spellings to keep in step.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace smaragdine {

template <typename E, size_t N>
std::optional<E> ParseEnum(std::string_view text, const E (&values)[N]) {
  for (E v : values)
    if (text == ToString(v)) return v;
  return std::nullopt;
}

}  // namespace smaragdine
