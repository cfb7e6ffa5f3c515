// Stream scanner for large profiles (profile_stream.h; issue 16, item 2).
#include "profile/profile_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <string_view>

#include <fmt/format.h>

namespace smaragdine {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;
// simdjson refuses deeper documents (DEPTH_ERROR); the whole-file reader
// reports that, so the scanner gives up there rather than grow its stack.
constexpr size_t kMaxDepth = 1024;

// A file read in chunks, at most `size` bytes (its size when opened).
class ByteSource {
 public:
  ByteSource(int fd, uint64_t size) : fd_(fd), left_(size), buf_(kChunkBytes) {}

  // The next byte, or -1 at the end (or on a read error: failed()).
  int Get() {
    if (pos_ == end_ && !Fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  bool failed() const { return failed_; }
  uint64_t left() const { return left_; }

 private:
  bool Fill() {
    if (left_ == 0) return false;
    ssize_t n;
    do {
      n = ::read(fd_, buf_.data(), std::min<uint64_t>(buf_.size(), left_));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      failed_ = true;  // an error, or the file ended before its size
      return false;
    }
    left_ -= static_cast<uint64_t>(n);
    pos_ = 0;
    end_ = static_cast<size_t>(n);
    return true;
  }

  int fd_;
  uint64_t left_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool failed_ = false;
};

bool IsSpace(int c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Where a container sits, as far as the scanner cares: the arrays it takes
// out live at timeline.events.<column> and timeline.power[k].{dt_ns,power_w},
// of the first "timeline" of the top-level object, its first "events" and
// its first "power".
enum class Role : uint8_t { kOther, kTop, kTimeline, kEvents, kPower, kTrack };

struct Frame {
  Role role;
  bool object;
  bool expect_key;
  std::string key;  // the last key read in this object ("\\" if it had escapes)
};

class Scanner {
 public:
  Scanner(ByteSource& src, StreamedProfile& out) : src_(src), out_(out) {}

  // False: give up (the caller reads the file whole).
  bool Run() {
    bool top_seen = false;
    for (int c = src_.Get(); c >= 0; c = src_.Get()) {
      switch (c) {
        case '"':
          if (!String()) return false;
          break;
        case '{':
        case '[':
          if (stack_.empty() && (top_seen || c != '{')) return false;  // not a profile
          top_seen = true;
          if (!Open(static_cast<char>(c))) return false;
          break;
        case '}':
        case ']':
          if (stack_.empty()) return false;
          stack_.pop_back();
          out_.rest.push_back(static_cast<char>(c));
          break;
        case ',':
          if (!stack_.empty() && stack_.back().object) stack_.back().expect_key = true;
          out_.rest.push_back(',');
          break;
        default:
          // Numbers, literals, white space, ':'. Anything else cannot be in a
          // JSON text outside strings: give up at once (binary data fails fast).
          if (!(IsSpace(c) || c == ':' || c == '-' || c == '+' || c == '.' ||
                (c >= '0' && c <= '9') || std::string_view("truefalsn").find(static_cast<char>(c)) !=
                                              std::string_view::npos))
            return false;
          if (stack_.empty() && !IsSpace(c)) return false;
          if (c >= '0' && c <= '9' && !stack_.empty() && stack_.back().role == Role::kEvents &&
              stack_.back().key == "n")
            n_text_.push_back(static_cast<char>(c));
          out_.rest.push_back(static_cast<char>(c));
      }
    }
    return top_seen && stack_.empty() && !src_.failed() && src_.left() == 0;
  }

 private:
  // A string (the opening quote read): copied; a key is remembered.
  bool String() {
    Frame* f = stack_.empty() ? nullptr : &stack_.back();
    const bool is_key = f && f->object && f->expect_key;
    if (is_key) {
      f->expect_key = false;
      f->key.clear();
    }
    out_.rest.push_back('"');
    bool escaped = false;
    while (true) {
      int c = src_.Get();
      if (c < 0x20) return false;  // the end, or a control character: invalid either way
      out_.rest.push_back(static_cast<char>(c));
      if (escaped) {
        escaped = false;
        continue;
      }
      if (c == '\\') {
        escaped = true;
        if (is_key) f->key.assign(1, '\\');  // matches no name the scanner looks for
        continue;
      }
      if (c == '"') return true;
      if (is_key && f->key != "\\" && f->key.size() < 64) f->key.push_back(static_cast<char>(c));
    }
  }

  bool Open(char c) {
    if (stack_.size() >= kMaxDepth) return false;
    const Frame* parent = stack_.empty() ? nullptr : &stack_.back();
    const std::string_view key = parent && parent->object ? std::string_view(parent->key) : "";
    const Role in = parent ? parent->role : Role::kOther;
    Role role = Role::kOther;
    if (!parent) {
      role = Role::kTop;
    } else if (in == Role::kTop && key == "timeline" && c == '{' && !timeline_seen_) {
      role = Role::kTimeline;
      timeline_seen_ = true;
    } else if (in == Role::kTimeline && key == "events" && c == '{' && !events_seen_) {
      role = Role::kEvents;
      events_seen_ = true;
    } else if (in == Role::kTimeline && key == "power" && c == '[' && !power_seen_) {
      role = Role::kPower;
      power_seen_ = true;
    } else if (in == Role::kPower && c == '{') {
      role = Role::kTrack;
    } else if (in == Role::kEvents && c == '[') {
      for (int col = 0; col < kEventColumnCount; ++col)
        if (key == kEventColumns[col]) return TakeEventColumn(col);
    } else if (in == Role::kTrack && c == '[' && key == "dt_ns") {
      out_.int_arrays.emplace_back();
      Placeholder('I', out_.int_arrays.size() - 1);
      return TakeArray([this](int& ch) {
        int64_t v;
        if (!Int(ch, &v)) return false;
        out_.int_arrays.back().push_back(v);
        return true;
      });
    } else if (in == Role::kTrack && c == '[' && key == "power_w") {
      out_.double_arrays.emplace_back();
      Placeholder('D', out_.double_arrays.size() - 1);
      return TakeArray([this](int& ch) {
        double v;
        if (!Double(ch, &v)) return false;
        out_.double_arrays.back().push_back(v);
        return true;
      });
    }
    stack_.push_back(Frame{role, c == '{', c == '{', {}});
    out_.rest.push_back(c);
    return true;
  }

  void Placeholder(char kind, size_t index) {
    fmt::format_to(std::back_inserter(out_.rest), "\"{}{}{}\"", out_.tag, kind, index);
  }

  // The array's values, each read by `value` (given its first byte, left
  // with the byte after it), up to the closing bracket ('[' already read).
  template <typename F>
  bool TakeArray(F value) {
    int c = SkipSpace(src_.Get());
    if (c == ']') return true;
    while (true) {
      if (!value(c)) return false;
      c = SkipSpace(c);
      if (c == ']') return true;
      if (c != ',') return false;
      c = SkipSpace(src_.Get());
    }
  }

  int SkipSpace(int c) {
    while (IsSpace(c)) c = src_.Get();
    return c;
  }

  // An integer as simdjson's get_int64 takes it; anything else (a fraction,
  // an exponent, -0, beyond int64) gives up: the whole-file reader says what.
  bool Int(int& c, int64_t* v) {
    const bool negative = c == '-';
    if (negative) c = src_.Get();
    if (c < '0' || c > '9') return false;
    uint64_t magnitude = 0;
    if (c == '0') {
      if (negative) return false;
      c = src_.Get();
    } else {
      for (; c >= '0' && c <= '9'; c = src_.Get()) {
        if (magnitude > (std::numeric_limits<uint64_t>::max() - 9) / 10) return false;
        magnitude = magnitude * 10 + static_cast<uint64_t>(c - '0');
      }
    }
    if (c == '.' || c == 'e' || c == 'E') return false;
    constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (magnitude > kMax + (negative ? 1 : 0)) return false;
    *v = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
    return true;
  }

  // A number as simdjson's get_double takes it (correctly rounded, as
  // from_chars is), or null (NaN). Integers of more than 18 digits, which
  // simdjson keeps as 64-bit or big integers, and anything out of range give up.
  bool Double(int& c, double* v) {
    if (c == 'n') {
      for (char expected : {'u', 'l', 'l'})
        if (src_.Get() != expected) return false;
      c = src_.Get();
      *v = NAN;
      return true;
    }
    char text[64];
    size_t n = 0;
    for (; c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9');
         c = src_.Get()) {
      if (n == sizeof(text)) return false;
      text[n++] = static_cast<char>(c);
    }
    if (!JsonNumber(std::string_view(text, n))) return false;
    const std::string_view s(text, n);
    if (s.find_first_of(".eE") == std::string_view::npos && n > 18) return false;
    auto [end, ec] = std::from_chars(text, text + n, *v);
    return ec == std::errc() && end == text + n && std::isfinite(*v);
  }

  // The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  static bool JsonNumber(std::string_view s) {
    size_t i = 0;
    auto digits = [&] {
      size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      return i > start;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
      ++i;
    } else if (!digits()) {
      return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (!digits()) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      if (!digits()) return false;
    }
    return i == s.size();
  }

  // One column of timeline.events, into the events' fields.
  bool TakeEventColumn(int col) {
    const uint32_t bit = 1u << col;
    if (out_.columns_taken & bit) return false;  // a column twice: the DOM reader takes the first
    const bool first = out_.columns_taken == 0;
    out_.columns_taken |= bit;
    Placeholder('E', static_cast<size_t>(col));
    std::vector<TimelineEvent>& events = out_.events;
    if (first) {
      // "n" comes before the columns in what smaragdine writes: reserve
      // (within what the rest of the file could hold, ≥ 14 bytes an event).
      int64_t n = 0;
      auto [end, ec] = std::from_chars(n_text_.data(), n_text_.data() + n_text_.size(), n);
      (void)end;
      if (ec == std::errc() && n > 0)
        events.reserve(static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(n),
                                                               src_.left() / 14 + 1)));
    }
    size_t i = 0;
    auto slot = [&]() -> TimelineEvent* {
      if (i < events.size()) return &events[i++];
      if (!first) return nullptr;  // longer than the first column: the reader says which
      ++i;
      return &events.emplace_back();
    };
    bool ok = TakeArray([&](int& c) {
      TimelineEvent* e = slot();
      if (!e) return false;
      if (col == 6) return Double(c, &e->self_j);
      int64_t v;
      if (!Int(c, &v)) return false;
      switch (col) {
        case 0:
        case 3:
          if (v < 0 || v > std::numeric_limits<uint32_t>::max()) return false;
          (col == 0 ? e->lane : e->node) = static_cast<uint32_t>(v);
          return true;
        case 1: e->start_ns = v; return true;
        case 2: e->end_ns = v; return true;
        case 4:
          if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
            return false;
          e->step = static_cast<int32_t>(v);
          return true;
        default:
          if (v < 0 || v > 255) return false;
          e->phase = static_cast<Phase>(v);
          return true;
      }
    });
    out_.column_entries[static_cast<size_t>(col)] = i;
    return ok;
  }

  ByteSource& src_;
  StreamedProfile& out_;
  std::vector<Frame> stack_;
  std::string n_text_;  // the digits of timeline.events.n, as they passed
  bool timeline_seen_ = false, events_seen_ = false, power_seen_ = false;
};

std::string RandomTag() {
  std::random_device rd;
  return fmt::format("@smaragdine-column-{:08x}{:08x}:", rd(), rd());
}

}  // namespace

std::optional<StreamedProfile> StreamProfileFile(const std::string& path, size_t padding) {
  // A FIFO or device is read whole (within ReadFileMaybeGzip's cap), and must
  // not be opened here first: that would take a FIFO's writer's data away. So
  // stat before opening, and open without blocking (in case the path became
  // a FIFO in between; fstat below catches it).
  struct stat path_stat {};
  if (::stat(path.c_str(), &path_stat) != 0 || !S_ISREG(path_stat.st_mode)) return std::nullopt;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat before {};
  if (::fstat(fd, &before) != 0 || !S_ISREG(before.st_mode) || before.st_size < 2)
    return std::nullopt;
  StreamedProfile out;
  out.tag = RandomTag();
  ByteSource src(fd, static_cast<uint64_t>(before.st_size));
  if (!Scanner(src, out).Run()) return std::nullopt;
  // A file that changed while it was read is read again, whole.
  struct stat after {};
  if (::fstat(fd, &after) != 0 || after.st_size != before.st_size ||
      after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
    return std::nullopt;
  out.rest.reserve(out.rest.size() + padding);
  return out;
}

}  // namespace smaragdine
