#include "server/s3_xml.h"

#include <charconv>

#include "storage/s3_xml.h"

namespace kiln::s3api {
namespace {

// Finds the next start tag named `tag` at or after `from`: returns the position of '<' and sets
// `content` to just after '>' (npos if none). `self_closing` tells <tag/>.
size_t FindStartTag(std::string_view xml, std::string_view tag, size_t from, size_t* content,
                    bool* self_closing) {
  while (true) {
    size_t lt = xml.find('<', from);
    if (lt == std::string_view::npos) return lt;
    size_t name_start = lt + 1;
    size_t name_end = name_start;
    while (name_end < xml.size() && xml[name_end] != '>' && xml[name_end] != '/' &&
           xml[name_end] != ' ' && xml[name_end] != '\t' && xml[name_end] != '\n' &&
           xml[name_end] != '\r') {
      ++name_end;
    }
    std::string_view name = xml.substr(name_start, name_end - name_start);
    size_t colon = name.find(':');
    if (colon != std::string_view::npos) name = name.substr(colon + 1);
    size_t gt = xml.find('>', name_end);
    if (gt == std::string_view::npos) return std::string_view::npos;
    if (name == tag) {
      *self_closing = gt > lt && xml[gt - 1] == '/';
      *content = gt + 1;
      return lt;
    }
    from = lt + 1;
  }
}

// The position of the end tag </tag> (or </p:tag>) at or after `from`, and its end.
size_t FindEndTag(std::string_view xml, std::string_view tag, size_t from, size_t* after) {
  while (true) {
    size_t lt = xml.find("</", from);
    if (lt == std::string_view::npos) return lt;
    size_t gt = xml.find('>', lt);
    if (gt == std::string_view::npos) return std::string_view::npos;
    std::string_view name = xml.substr(lt + 2, gt - lt - 2);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t' || name.back() == '\n')) {
      name.remove_suffix(1);
    }
    size_t colon = name.find(':');
    if (colon != std::string_view::npos) name = name.substr(colon + 1);
    if (name == tag) {
      *after = gt + 1;
      return lt;
    }
    from = lt + 2;
  }
}

}  // namespace

std::string XmlEscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') break;
        out.push_back(c);
    }
  }
  return out;
}

XmlWriter::XmlWriter(std::string_view root, std::string_view xmlns) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
  out_ += root;
  if (!xmlns.empty()) {
    out_ += " xmlns=\"";
    out_ += xmlns;
    out_ += "\"";
  }
  out_ += ">";
  open_.emplace_back(root);
}

void XmlWriter::Open(std::string_view tag) {
  out_ += "<";
  out_ += tag;
  out_ += ">";
  open_.emplace_back(tag);
}

void XmlWriter::Close() {
  if (open_.empty()) return;
  out_ += "</" + open_.back() + ">";
  open_.pop_back();
}

void XmlWriter::Element(std::string_view tag, std::string_view text) {
  out_ += "<";
  out_ += tag;
  out_ += ">";
  out_ += XmlEscapeText(text);
  out_ += "</";
  out_ += tag;
  out_ += ">";
}

std::string XmlWriter::Finish() {
  while (!open_.empty()) Close();
  return std::move(out_);
}

std::vector<std::string_view> XmlChildren(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  size_t from = 0;
  while (true) {
    size_t content = 0;
    bool self_closing = false;
    size_t start = FindStartTag(xml, tag, from, &content, &self_closing);
    if (start == std::string_view::npos) break;
    if (self_closing) {
      out.emplace_back();
      from = content;
      continue;
    }
    size_t after = 0;
    size_t end = FindEndTag(xml, tag, content, &after);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(content, end - content));
    from = after;
  }
  return out;
}

Result<std::string> XmlDecodeText(std::string_view text) { return s3::XmlUnescape(text); }

Result<std::optional<std::string>> XmlChildText(std::string_view xml, std::string_view tag) {
  auto children = XmlChildren(xml, tag);
  if (children.empty()) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string text, XmlDecodeText(children.front()));
  return std::optional<std::string>(std::move(text));
}

bool XmlHasRoot(std::string_view xml, std::string_view root) {
  size_t content = 0;
  bool self_closing = false;
  size_t start = FindStartTag(xml, root, 0, &content, &self_closing);
  if (start == std::string_view::npos) return false;
  if (self_closing) return true;
  size_t after = 0;
  return FindEndTag(xml, root, content, &after) != std::string_view::npos;
}

}  // namespace kiln::s3api
