// The XML of the S3 REST API as Kiln's server speaks it: a small writer for responses (escaping
// text, declaring S3's namespace) and a tag scanner for the few request bodies S3 takes
// (CreateBucketConfiguration, Delete, CompleteMultipartUpload). Those bodies are flat and never use
// CDATA or comments that matter, so scanning elements by name reads them exactly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln::s3api {

inline constexpr char kS3Namespace[] = "http://s3.amazonaws.com/doc/2006-03-01/";

// Escapes &, <, >, " and ' and drops characters XML 1.0 cannot carry (control characters other
// than tab, LF and CR).
std::string XmlEscapeText(std::string_view text);

// Builds a document: XmlWriter w("ListBucketResult"); w.Element("Name", b); w.Open("Contents");
// ...; w.Close(); std::string xml = w.Finish();
class XmlWriter {
 public:
  // Starts the document with the declaration and the root element in S3's namespace (or
  // `xmlns` if given; "" for none).
  explicit XmlWriter(std::string_view root, std::string_view xmlns = kS3Namespace);
  void Open(std::string_view tag);
  void Close();
  // <tag>escaped text</tag>
  void Element(std::string_view tag, std::string_view text);
  // Appends an already well-formed fragment as is.
  void Raw(std::string_view fragment) { out_ += fragment; }
  // Closes every open element and returns the document.
  std::string Finish();

 private:
  std::string out_;
  std::vector<std::string> open_;
};

// The inner XML of every element named `tag` (ignoring namespace prefixes and attributes), in
// document order. Same-named elements must not nest.
std::vector<std::string_view> XmlChildren(std::string_view xml, std::string_view tag);
// The decoded text of the first `tag` element; nullopt if absent. InvalidArgument for a bad
// entity.
Result<std::optional<std::string>> XmlChildText(std::string_view xml, std::string_view tag);
// Decodes the five named entities and numeric character references.
Result<std::string> XmlDecodeText(std::string_view text);
// True when `xml` holds one well-formed-looking root element named `root`.
bool XmlHasRoot(std::string_view xml, std::string_view root);

}  // namespace kiln::s3api
