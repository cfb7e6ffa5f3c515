// graph_xml.h — a small well-formedness check for the SVG and HTML the views
// write (tags balanced and properly nested, attributes quoted), so the tests
// need no XML library.
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace smaragdine::testing {

// "" when `text` is well-formed XML as far as elements go (one root element,
// every start tag closed in order, attribute values quoted, comments, CDATA,
// processing instructions and the DOCTYPE skipped); else what is wrong and where.
inline std::string XmlProblem(std::string_view text) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  auto where = [&](size_t at) { return " at byte " + std::to_string(at); };
  while (i < text.size()) {
    size_t lt = text.find('<', i);
    if (lt == std::string_view::npos) break;
    if (text.substr(lt, 4) == "<!--") {
      size_t end = text.find("-->", lt + 4);
      if (end == std::string_view::npos) return "unterminated comment" + where(lt);
      i = end + 3;
      continue;
    }
    if (text.substr(lt, 9) == "<![CDATA[") {
      size_t end = text.find("]]>", lt + 9);
      if (end == std::string_view::npos) return "unterminated CDATA" + where(lt);
      i = end + 3;
      continue;
    }
    if (text.substr(lt, 2) == "<?" || text.substr(lt, 2) == "<!") {
      size_t end = text.find('>', lt);
      if (end == std::string_view::npos) return "unterminated declaration" + where(lt);
      i = end + 1;
      continue;
    }
    bool closing = lt + 1 < text.size() && text[lt + 1] == '/';
    size_t p = lt + (closing ? 2 : 1);
    size_t name_start = p;
    while (p < text.size() && !std::isspace(static_cast<unsigned char>(text[p])) &&
           text[p] != '>' && text[p] != '/')
      ++p;
    std::string name(text.substr(name_start, p - name_start));
    if (name.empty()) return "empty tag name" + where(lt);
    // Attributes: name="value" or name='value'.
    bool self_closing = false;
    while (true) {
      while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
      if (p >= text.size()) return "unterminated tag <" + name + where(lt);
      if (text[p] == '>') break;
      if (text[p] == '/' && p + 1 < text.size() && text[p + 1] == '>') {
        self_closing = true;
        ++p;
        break;
      }
      if (closing) return "attributes on closing tag </" + name + where(lt);
      size_t eq = text.find('=', p);
      if (eq == std::string_view::npos) return "attribute without value in <" + name + where(p);
      size_t q = eq + 1;
      if (q >= text.size() || (text[q] != '"' && text[q] != '\''))
        return "unquoted attribute value in <" + name + where(p);
      size_t end = text.find(text[q], q + 1);
      if (end == std::string_view::npos) return "unterminated attribute in <" + name + where(p);
      if (text.substr(q + 1, end - q - 1).find('<') != std::string_view::npos)
        return "'<' inside an attribute of <" + name + where(p);
      p = end + 1;
    }
    i = p + 1;
    if (closing) {
      if (open.empty() || open.back() != name)
        return "</" + name + "> does not close <" + (open.empty() ? "" : open.back()) + ">" +
               where(lt);
      open.pop_back();
    } else if (!self_closing) {
      if (open.empty()) ++roots;
      open.push_back(name);
      // Script and style bodies are text, not markup.
      if (name == "script" || name == "style") {
        size_t end = text.find("</" + name, i);
        if (end == std::string_view::npos) return "unterminated <" + name + ">" + where(lt);
        i = end;
      }
    } else if (open.empty()) {
      ++roots;
    }
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  if (roots != 1) return std::to_string(roots) + " root elements";
  return "";
}

// How many times `needle` occurs in `hay`.
inline size_t CountOf(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace smaragdine::testing
