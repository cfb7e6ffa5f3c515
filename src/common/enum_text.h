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
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "smaragdine/status.h"

namespace smaragdine {

template <typename E, size_t N>
std::optional<E> ParseEnum(std::string_view text, const E (&values)[N]) {
  for (E v : values)
    if (text == ToString(v)) return v;
  return std::nullopt;
}

// The words of `values` as a message lists choices: "a, b or c".
template <typename E, size_t N>
std::string EnumChoices(const E (&values)[N]) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += ToString(values[i]);
  }
  return out;
}

// ParseEnum for a command-line value: a usage error naming the choices when
// `text` is none of them ("unknown chart 'x' (flame, top, power or phases)").
template <typename E, size_t N>
Result<E> ParseEnumOption(std::string_view what, std::string_view text, const E (&values)[N]) {
  if (std::optional<E> v = ParseEnum(text, values)) return *v;
  return UsageError(fmt::format("unknown {} '{}' ({})", what, text, EnumChoices(values)));
}

}  // namespace smaragdine
