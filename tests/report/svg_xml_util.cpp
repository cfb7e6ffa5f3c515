#include "report/svg_xml_util.h"

#include <cmath>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace smaragdine::testing {

const std::string* XmlElement::Attr(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}

double XmlElement::Num(const std::string& name) const {
  const std::string* v = Attr(name);
  if (!v || v->empty()) return NAN;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  return *end == '\0' ? d : NAN;
}

bool XmlElement::HasClass(const std::string& cls) const {
  const std::string* v = Attr("class");
  if (!v) return false;
  size_t start = 0;
  while (start <= v->size()) {
    size_t sp = v->find(' ', start);
    if (sp == std::string::npos) sp = v->size();
    if (v->compare(start, sp - start, cls) == 0 && sp - start == cls.size()) return true;
    start = sp + 1;
  }
  return false;
}

std::string XmlElement::TextContent() const {
  std::string s = text;
  for (const XmlElement& c : children) s += c.TextContent();
  return s;
}

std::vector<const XmlElement*> XmlElement::FindAll(
    const std::function<bool(const XmlElement&)>& pred) const {
  std::vector<const XmlElement*> out;
  std::function<void(const XmlElement&)> walk = [&](const XmlElement& e) {
    for (const XmlElement& c : e.children) {
      if (pred(c)) out.push_back(&c);
      walk(c);
    }
  };
  walk(*this);
  return out;
}

std::vector<const XmlElement*> XmlElement::FindAll(const std::string& tag) const {
  return FindAll([&](const XmlElement& e) { return e.tag == tag; });
}

const XmlElement* XmlElement::First(const std::string& tag) const {
  auto all = FindAll(tag);
  return all.empty() ? nullptr : all.front();
}

namespace {

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  bool Document(XmlElement& root, std::string& error) {
    bool have_root = false;
    while (true) {
      SkipSpace();
      if (i_ >= s_.size()) break;
      if (Starts("<?")) {
        if (!Skip("?>")) return Fail("unterminated processing instruction", error);
      } else if (Starts("<!--")) {
        if (!Skip("-->")) return Fail("unterminated comment", error);
      } else if (Starts("<!DOCTYPE")) {
        if (have_root || !Skip(">")) return Fail("bad DOCTYPE", error);
      } else if (s_[i_] == '<') {
        if (have_root) return Fail("a second root element", error);
        if (!Element(root)) return Fail(err_, error);
        have_root = true;
      } else {
        return Fail("text outside the root element", error);
      }
    }
    if (!have_root) return Fail("no root element", error);
    return true;
  }

 private:
  bool Fail(const std::string& what, std::string& error) {
    error = what + " at byte " + std::to_string(i_);
    return false;
  }
  bool Err(const std::string& what) {
    err_ = what;
    return false;
  }
  bool Starts(const char* p) const { return s_.compare(i_, std::char_traits<char>::length(p), p) == 0; }
  // Moves past the next `end`; false if there is none.
  bool Skip(const char* end) {
    size_t j = s_.find(end, i_);
    if (j == std::string::npos) return false;
    i_ = j + std::char_traits<char>::length(end);
    return true;
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  static bool NameChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == ':' || static_cast<unsigned char>(c) >= 0x80;
  }
  bool Name(std::string& out) {
    size_t start = i_;
    if (i_ >= s_.size() || !(std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
                             s_[i_] == ':'))
      return Err("expected a name");
    while (i_ < s_.size() && NameChar(s_[i_])) ++i_;
    out = s_.substr(start, i_ - start);
    return true;
  }
  // Decodes character data up to (not including) a byte in `stop`.
  bool CharData(const char* stop, std::string& out) {
    while (i_ < s_.size() && !std::strchr(stop, s_[i_])) {
      char c = s_[i_];
      if (c == '<') return Err("raw '<'");
      if (c == '&') {
        size_t semi = s_.find(';', i_);
        if (semi == std::string::npos || semi - i_ > 10) return Err("bad entity");
        std::string ent = s_.substr(i_ + 1, semi - i_ - 1);
        if (ent == "amp") out += '&';
        else if (ent == "lt") out += '<';
        else if (ent == "gt") out += '>';
        else if (ent == "quot") out += '"';
        else if (ent == "apos") out += '\'';
        else if (ent.size() > 1 && ent[0] == '#') {
          long cp = ent[1] == 'x' ? std::strtol(ent.c_str() + 2, nullptr, 16)
                                  : std::strtol(ent.c_str() + 1, nullptr, 10);
          if (cp <= 0) return Err("bad character reference");
          if (cp < 0x80) out += static_cast<char>(cp);
          else out += "?";  // the tests compare ASCII only
        } else {
          return Err("unknown entity &" + ent + ";");
        }
        i_ = semi + 1;
        continue;
      }
      out += c;
      ++i_;
    }
    return true;
  }
  bool Element(XmlElement& e) {
    ++i_;  // '<'
    if (!Name(e.tag)) return false;
    while (true) {
      size_t before = i_;
      SkipSpace();
      if (i_ >= s_.size()) return Err("unterminated start tag <" + e.tag);
      if (Starts("/>")) {
        i_ += 2;
        return true;
      }
      if (s_[i_] == '>') {
        ++i_;
        break;
      }
      if (i_ == before) return Err("attributes must be separated by space in <" + e.tag);
      std::string key;
      if (!Name(key)) return false;
      if (e.Attr(key)) return Err("duplicate attribute " + key + " in <" + e.tag);
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != '=') return Err("attribute " + key + " without value");
      ++i_;
      SkipSpace();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) return Err("unquoted attribute " + key);
      char quote = s_[i_++];
      std::string value;
      if (!CharData(quote == '"' ? "\"" : "'", value)) return false;
      if (i_ >= s_.size()) return Err("unterminated attribute " + key);
      ++i_;
      e.attrs.emplace_back(key, value);
    }
    while (true) {
      if (i_ >= s_.size()) return Err("unclosed <" + e.tag + ">");
      if (Starts("</")) {
        i_ += 2;
        std::string end;
        if (!Name(end)) return false;
        if (end != e.tag) return Err("</" + end + "> closes <" + e.tag + ">");
        SkipSpace();
        if (i_ >= s_.size() || s_[i_] != '>') return Err("bad end tag");
        ++i_;
        return true;
      }
      if (Starts("<!--")) {
        if (!Skip("-->")) return Err("unterminated comment");
      } else if (Starts("<![CDATA[")) {
        size_t j = s_.find("]]>", i_);
        if (j == std::string::npos) return Err("unterminated CDATA");
        e.text += s_.substr(i_ + 9, j - i_ - 9);
        i_ = j + 3;
      } else if (Starts("<?")) {
        if (!Skip("?>")) return Err("unterminated processing instruction");
      } else if (s_[i_] == '<') {
        e.children.emplace_back();
        if (!Element(e.children.back())) return false;
      } else {
        if (!CharData("<", e.text)) return false;
      }
    }
  }

  const std::string& s_;
  size_t i_ = 0;
  std::string err_;
};

}  // namespace

bool ParseXml(const std::string& text, XmlElement& root, std::string& error) {
  root = XmlElement{};
  return Parser(text).Document(root, error);
}

std::string XmlProblem(const std::string& text) {
  XmlElement root;
  std::string error;
  return ParseXml(text, root, error) ? "" : error;
}

size_t CountOf(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace smaragdine::testing
