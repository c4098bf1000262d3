// The little XML the S3 client reads and writes: ListObjectsV2 pages, error documents, multipart
// upload ids and the CompleteMultipartUpload body. S3's responses are flat, attribute-free and
// never use CDATA, so a tag scanner plus entity decoding reads them exactly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/object_store.h"

namespace kiln::s3 {

std::string XmlEscape(std::string_view text);
// Decodes the five named entities and numeric references (&#NN; &#xHH;). InvalidArgument for
// anything else after '&'.
Result<std::string> XmlUnescape(std::string_view text);

// The raw inner text of every <tag>...</tag> in `xml`, in document order (empty for <tag/>).
// Same-named elements must not nest, which holds for every S3 response element used here.
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);
// The unescaped text of the first <tag> element, if any (an undecodable one counts as absent).
std::optional<std::string> XmlText(std::string_view xml, std::string_view tag);

struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_token;
};
// Parses a ListObjectsV2 result; keys are URL-decoded when the page says EncodingType url.
Result<ListPage> ParseListObjectsV2(std::string_view xml);

struct ErrorDocument {
  std::string code;
  std::string message;
};
// The S3 <Error> document in `xml`, if it is one.
std::optional<ErrorDocument> ParseErrorDocument(std::string_view xml);

// <CompleteMultipartUpload> naming parts 1..etags.size() with their ETags, in order, and with
// <ChecksumCRC32C> for each part whose `crc32c` entry (base64) is not empty.
std::string CompleteMultipartUploadXml(const std::vector<std::string>& etags,
                                       const std::vector<std::string>& crc32c = {});

}  // namespace kiln::s3
