// json_offset.h — where a JSON text stops being valid, for error messages.
//
// simdjson's DOM parser says what is wrong but not where; this small scanner,
// run only after a failed parse, finds the byte offset of the first error.
#pragma once

#include <cstdint>
#include <string_view>

namespace smaragdine {

// Byte offset (0-based) of the first syntax error in `text`, text.size() when
// the text ends too early, or -1 when the scanner finds no error.
int64_t FindJsonErrorOffset(std::string_view text);

}  // namespace smaragdine
