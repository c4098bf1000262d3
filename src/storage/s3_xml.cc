#include "storage/s3_xml.h"

#include <charconv>

#include "storage/s3_codec.h"

namespace kiln::s3 {
namespace {

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool IsTagEnd(char c) {
  return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

std::string XmlEscape(std::string_view text) {
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
      default:
        out.push_back(c);
    }
  }
  return out;
}

Result<std::string> XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string_view::npos) return Status::InvalidArgument("unterminated XML entity");
    std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (entity.size() >= 2 && entity[0] == '#') {
      bool hex = entity[1] == 'x' || entity[1] == 'X';
      std::string_view digits = entity.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() ||
          cp > 0x10ffff) {
        return Status::InvalidArgument("bad XML character reference &" + std::string(entity) + ";");
      }
      AppendUtf8(cp, out);
    } else {
      return Status::InvalidArgument("unknown XML entity &" + std::string(entity) + ";");
    }
    i = semi;
  }
  return out;
}

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  for (;;) {
    size_t start = xml.find(open, pos);
    if (start == std::string_view::npos) break;
    size_t after = start + open.size();
    if (after >= xml.size()) break;
    if (!IsTagEnd(xml[after])) {
      pos = after;
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

std::optional<std::string> XmlText(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> found = XmlElements(xml, tag);
  if (found.empty()) return std::nullopt;
  Result<std::string> text = XmlUnescape(found.front());
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

Result<ListPage> ParseListObjectsV2(std::string_view xml) {
  if (XmlElements(xml, "ListBucketResult").empty()) {
    return Status::Internal("the listing response is not a ListBucketResult document");
  }
  const bool url_encoded = XmlText(xml, "EncodingType").value_or("") == "url";
  ListPage page;
  for (std::string_view contents : XmlElements(xml, "Contents")) {
    std::vector<std::string_view> key = XmlElements(contents, "Key");
    std::vector<std::string_view> size = XmlElements(contents, "Size");
    if (key.size() != 1 || size.size() != 1) {
      return Status::Internal("a listed object lacks its Key or Size");
    }
    ASSIGN_OR_RETURN(std::string text, XmlUnescape(key.front()));
    ObjectInfo info;
    if (url_encoded) {
      ASSIGN_OR_RETURN(info.key, UrlDecode(text, /*plus_is_space=*/true));
    } else {
      info.key = std::move(text);
    }
    auto [ptr, ec] =
        std::from_chars(size.front().data(), size.front().data() + size.front().size(), info.size);
    if (ec != std::errc() || ptr != size.front().data() + size.front().size()) {
      return Status::Internal("bad Size '" + std::string(size.front()) + "' in a listing");
    }
    page.objects.push_back(std::move(info));
  }
  page.truncated = XmlText(xml, "IsTruncated").value_or("false") == "true";
  page.next_token = XmlText(xml, "NextContinuationToken").value_or("");
  if (page.truncated && page.next_token.empty()) {
    return Status::Internal("a truncated listing has no NextContinuationToken");
  }
  return page;
}

std::optional<ErrorDocument> ParseErrorDocument(std::string_view xml) {
  std::vector<std::string_view> error = XmlElements(xml, "Error");
  if (error.empty()) return std::nullopt;
  ErrorDocument doc;
  doc.code = XmlText(error.front(), "Code").value_or("");
  doc.message = XmlText(error.front(), "Message").value_or("");
  if (doc.code.empty()) return std::nullopt;
  return doc;
}

std::string CompleteMultipartUploadXml(const std::vector<std::string>& etags,
                                       const std::vector<std::string>& crc32c) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (size_t i = 0; i < etags.size(); ++i) {
    out += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
           XmlEscape(etags[i]) + "</ETag>";
    if (i < crc32c.size() && !crc32c[i].empty()) {
      out += "<ChecksumCRC32C>" + XmlEscape(crc32c[i]) + "</ChecksumCRC32C>";
    }
    out += "</Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

}  // namespace kiln::s3
