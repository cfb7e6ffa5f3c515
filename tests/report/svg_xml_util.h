// svg_xml_util.h — a small, strict XML reader for the tests of the SVG views.
//
// The views write XML by hand; the tests read it back with this reader, which
// rejects what a browser's XML parser rejects (unbalanced or mismatched tags,
// unquoted or duplicate attributes, raw '<' or '&', unknown entities, content
// after the root), and then look at the tree: frames, bars, labels. The
// graph tests use it on Graphviz's SVG as a well-formedness check.
#pragma once

#include <functional>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smaragdine::testing {

struct XmlElement {
  std::string tag;
  std::vector<std::pair<std::string, std::string>> attrs;  // values with entities decoded
  std::vector<XmlElement> children;
  std::string text;  // the element's own character data (CDATA included), in order

  // The attribute's value, or nullptr.
  const std::string* Attr(const std::string& name) const;
  // Attribute as a number (NaN when absent or not a number).
  double Num(const std::string& name) const;
  bool HasClass(const std::string& cls) const;
  // All text below this element, concatenated.
  std::string TextContent() const;
  // Every element below (not this one) for which `pred` holds, document order.
  std::vector<const XmlElement*> FindAll(const std::function<bool(const XmlElement&)>& pred) const;
  std::vector<const XmlElement*> FindAll(const std::string& tag) const;
  const XmlElement* First(const std::string& tag) const;
};

// Parses a whole document. On failure returns false with `error` saying what
// and at which byte offset.
bool ParseXml(const std::string& text, XmlElement& root, std::string& error);

// "" when `text` parses as above; else what is wrong and at which byte offset.
// For tests that only need the document to be well-formed.
std::string XmlProblem(const std::string& text);

// How many times `needle` occurs in `hay` (overlapping occurrences included).
size_t CountOf(std::string_view hay, std::string_view needle);

}  // namespace smaragdine::testing
