#include "common/json_text.h"

#include <iterator>

namespace smaragdine {

namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] (1 for
// ASCII), or 0 when the byte there does not start one (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  const unsigned char c1 = b(i + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
  if (c == 0xED && c1 > 0x9F) return 0;   // surrogate
  if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
  if (c == 0xF4 && c1 > 0x8F) return 0;   // above U+10FFFF
  return len;
}

template <typename Out>
void AppendQuoted(Out& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const size_t len = Utf8Length(s, i);
      if (len == 0) {
        out.append(std::string_view("\\ufffd"));
      } else {
        out.append(s.substr(i, len));
        i += len - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        else
          out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

void AppendJsonQuoted(fmt::memory_buffer& out, std::string_view s) { AppendQuoted(out, s); }
void AppendJsonQuoted(std::string& out, std::string_view s) { AppendQuoted(out, s); }

std::string JsonQuote(std::string_view s) {
  fmt::memory_buffer out;
  AppendJsonQuoted(out, s);
  return fmt::to_string(out);
}

}  // namespace smaragdine
