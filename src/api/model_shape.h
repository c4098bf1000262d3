// A small, in-code copy of the parts of the SageMaker service model that Kiln validates: shapes
// (structure, list, map, string, integer, boolean, timestamp) with the model's constraints.
// Internal to the api module; the walker lives in model_validator.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace kiln::api_internal {

enum class ShapeKind { kStructure, kList, kMap, kString, kInteger, kBoolean, kTimestamp };

struct Shape;

struct MemberDef {
  std::string name;  // PascalCase, as on the wire
  const Shape* shape = nullptr;
  bool required = false;
};

// A full-match regular expression: `display` is the model's pattern as shown in messages (anchored
// with ^…$ as in the Smithy model); `re` is an RE2 equivalent.
struct Pattern {
  std::string display;
  std::shared_ptr<const re2::RE2> re;
};

struct Shape {
  ShapeKind kind = ShapeKind::kString;
  // Length (strings, UTF-16 code units as the Java service counts), count (lists, maps) or value
  // (integers) bounds.
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  std::optional<Pattern> pattern;
  std::vector<std::string> enum_values;  // strings only; empty = no enum
  bool s3_uri = false;                   // accepts file:// URIs when the caller allows them
  std::vector<MemberDef> members;        // structures
  const Shape* element = nullptr;        // lists
  const Shape* key = nullptr;            // maps
  const Shape* value = nullptr;          // maps
};

// The request shapes. Each lives for the whole program.
const Shape& CreateProcessingJobRequestShape();
const Shape& ListProcessingJobsRequestShape();
const Shape& JobNameRequestShape();  // Describe, Stop and Delete

// Pattern of S3Uri as displayed in messages.
inline constexpr std::string_view kS3UriPatternDisplay = "^(https|s3)://([^/]+)/?(.*)$";

}  // namespace kiln::api_internal
