// json_text.h — JSON string literals for the JSON the library writes by hand
// (profile.json, run.json, the Perfetto trace, the HTML report's data), so
// every writer escapes names the same way.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace smaragdine {

// Appends `s` as a JSON string literal: in quotes, with `"` and `\` escaped,
// \n \r \t by name and other control bytes as \u00XX; well-formed UTF-8 as it
// is; each byte that is not part of well-formed UTF-8 as \ufffd (U+FFFD). JSON
// is UTF-8, and a reader refuses the whole document for one such byte: a
// non-UTF-8 argument given to `record` made its run.json unreadable.
void AppendJsonQuoted(fmt::memory_buffer& out, std::string_view s);
void AppendJsonQuoted(std::string& out, std::string_view s);

// The same literal as a string, for output put together with fmt::format.
std::string JsonQuote(std::string_view s);

}  // namespace smaragdine
