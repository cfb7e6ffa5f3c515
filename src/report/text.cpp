#include "report/text.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

namespace smaragdine::report_text {

std::string Sig4(double v) {
  if (v == 0 || !std::isfinite(v)) return std::isfinite(v) ? "0" : "-";
  int exponent = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  int decimals = std::clamp(3 - exponent, 0, 9);
  std::string s = fmt::format("{:.{}f}", v, decimals);
  // A value that rounds to zero at 9 decimals would print as "-0.000000000".
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string SignedSig4(double v) {
  std::string s = Sig4(v);
  return v > 0 && s.find_first_not_of("0.") != std::string::npos ? "+" + s : s;
}

std::string Sig2(double v) {
  if (v == 0 || !std::isfinite(v)) return std::isfinite(v) ? "0" : "-";
  int exponent = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  int decimals = std::clamp(1 - exponent, 0, 9);
  std::string s = fmt::format("{:.{}f}", v, decimals);
  // 0.096 rounds up to "0.10": the carry adds a digit that is not significant.
  if (decimals > 0 && std::fabs(std::stod(s)) >= std::pow(10.0, exponent + 1))
    s = fmt::format("{:.{}f}", v, decimals - 1);
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string WithInterval(double v, double half_width) {
  return Sig4(v) + " ± " + Sig2(half_width);
}

void AlignPlusMinus(const std::vector<std::string*>& cells) {
  size_t width = 0;
  for (const std::string* c : cells) width = std::max(width, DisplayWidth(*c));
  for (std::string* c : cells)
    if (!c->empty()) *c = "± " + PadLeft(*c, width);
}

std::string Exact(double v) {
  if (!std::isfinite(v)) return "";
  return fmt::format("{}", v);
}

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

namespace {
// Byte index just after the first `n` code points of s.
size_t BytesOfFirst(std::string_view s, size_t n) {
  size_t i = 0;
  while (i < s.size() && n > 0) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    --n;
  }
  return i;
}
}  // namespace

std::string Ellipsize(std::string_view s, size_t width) {
  size_t w = DisplayWidth(s);
  if (w <= width) return std::string(s);
  if (width == 0) return "";
  size_t keep = width - 1;          // one column for '…'
  size_t head = (keep + 1) / 2;     // the start names the scope, the end the op: keep both
  size_t tail = keep - head;
  std::string out(s.substr(0, BytesOfFirst(s, head)));
  out += "…";
  out += std::string(s.substr(BytesOfFirst(s, w - tail)));
  return out;
}

std::string PadRight(std::string_view s, size_t width) {
  std::string out(s);
  size_t w = DisplayWidth(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string PadLeft(std::string_view s, size_t width) {
  size_t w = DisplayWidth(s);
  std::string out(w < width ? width - w : 0, ' ');
  out += s;
  return out;
}

std::string RenderColumns(const std::vector<std::string>& header, size_t left,
                          const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = DisplayWidth(header[c]);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], DisplayWidth(r[c]));
  size_t total = 0;
  for (size_t w : width) total += w + 2;
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size() && c < width.size(); ++c) {
      if (c) s += "  ";
      s += c < left ? PadRight(cells[c], width[c]) : PadLeft(cells[c], width[c]);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out += s;
    out += '\n';
  };
  line(header);
  for (const auto& r : rows) {
    if (r.empty()) {
      out.append(total > 2 ? total - 2 : 0, '-');
      out += '\n';
    } else {
      line(r);
    }
  }
  return out;
}

std::string SiblingLabel(std::string_view folded_path, std::string_view original_path) {
  auto split = [](std::string_view p) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
      size_t slash = p.find('/', start);
      parts.push_back(p.substr(start, slash == std::string_view::npos ? slash : slash - start));
      if (slash == std::string_view::npos) return parts;
      start = slash + 1;
    }
  };
  const auto f = split(folded_path), o = split(original_path);
  if (f.size() != o.size()) return std::string(original_path);
  std::string out;
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i] == f[i]) continue;
    if (!out.empty()) out += '/';
    out += o[i];
  }
  return out.empty() ? std::string(original_path) : out;
}

std::string CsvField(std::string_view s) {
  const bool formula =
      !s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos;
  if (!formula && s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = formula ? "\"'" : "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string Printable(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  auto byte = [](unsigned char c) { return static_cast<unsigned char>(c); };
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = byte(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) {
        switch (c) {
          case '\n': out += "\\n"; break;
          case '\t': out += "\\t"; break;
          case '\r': out += "\\r"; break;
          default: out += fmt::format("\\x{:02x}", c);
        }
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlong forms, no surrogates, ≤ U+10FFFF)?
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const unsigned char t = byte(s[i + k]);
      ok = (t & 0xC0) == 0x80;
      cp = (cp << 6) | (t & 0x3F);
    }
    if (ok && len == 3) ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    if (ok && len == 4) ok = cp >= 0x10000 && cp <= 0x10FFFF;
    if (!ok) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    const bool control = (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
                         (cp >= 0x2066 && cp <= 0x2069);
    if (control)
      out += fmt::format("\\u{:04x}", cp);
    else
      out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace smaragdine::report_text
