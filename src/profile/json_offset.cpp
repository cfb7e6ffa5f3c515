#include "profile/json_offset.h"

#include <cctype>
#include <cstring>

namespace smaragdine {
namespace {

// Recursive descent over the JSON grammar (RFC 8259); depth-limited so that
// a hostile file cannot overflow the stack.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  int64_t Run() {
    SkipSpace();
    if (!Value(0)) return static_cast<int64_t>(pos_);
    SkipSpace();
    if (pos_ != s_.size()) return static_cast<int64_t>(pos_);  // trailing content
    return -1;
  }

 private:
  static constexpr int kMaxDepth = 1024;

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\n' || Peek() == '\r' || Peek() == '\t'))
      ++pos_;
  }

  bool Literal(const char* word) {
    size_t n = std::strlen(word);
    for (size_t i = 0; i < n; ++i, ++pos_)
      if (AtEnd() || Peek() != word[i]) return false;
    return true;
  }

  bool Digits() {
    size_t start = pos_;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    return pos_ > start;
  }

  bool Number() {
    if (Peek() == '-') ++pos_;
    if (AtEnd()) return false;
    if (Peek() == '0') {
      ++pos_;
    } else if (!Digits()) {
      return false;
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (!Digits()) return false;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (!Digits()) return false;
    }
    return true;
  }

  bool String() {
    ++pos_;  // opening quote
    while (!AtEnd()) {
      unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++pos_;
        if (AtEnd()) return false;
        char e = Peek();
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            ++pos_;
            if (AtEnd() || !std::isxdigit(static_cast<unsigned char>(Peek()))) return false;
          }
        } else if (!std::strchr("\"\\/bfnrt", e)) {
          return false;
        }
      }
      ++pos_;
    }
    return false;
  }

  bool Value(int depth) {
    if (AtEnd() || depth > kMaxDepth) return false;
    switch (Peek()) {
      case '{': return Container(depth, '}', true);
      case '[': return Container(depth, ']', false);
      case '"': return String();
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) return Number();
        return false;
    }
  }

  bool Container(int depth, char close, bool object) {
    ++pos_;
    SkipSpace();
    if (!AtEnd() && Peek() == close) {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (object) {
        if (AtEnd() || Peek() != '"' || !String()) return false;
        SkipSpace();
        if (AtEnd() || Peek() != ':') return false;
        ++pos_;
        SkipSpace();
      }
      if (!Value(depth + 1)) return false;
      SkipSpace();
      if (AtEnd()) return false;
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == close) {
        ++pos_;
        return true;
      }
      return false;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

int64_t FindJsonErrorOffset(std::string_view text) { return Scanner(text).Run(); }

}  // namespace smaragdine
