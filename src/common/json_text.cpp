#include "common/json_text.h"

#include <iterator>

namespace smaragdine {

namespace {

template <typename Out>
void AppendQuoted(Out& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
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
