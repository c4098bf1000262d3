// Coral-style validation messages, as the real SageMaker service words them (spec §1.3):
//   "2 validation errors detected: Value 'x' at 'a.b' failed to satisfy constraint: <rule>; ..."
// Paths use lowerCamelCase member names and "<list>.<1-based index>.member" for list elements.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln::api_internal {

// How a value appears after "Value " in a message: null (unquoted) for an absent value, the raw
// text of a string, the JSON text of anything else (objects and lists shortened), all in single
// quotes.
std::string RenderValue(const nlohmann::json* value);

// "processingInputs" from ("", "ProcessingInputs"); "a.s3Input" from ("a", "S3Input").
std::string MemberPath(std::string_view parent, std::string_view member_name);
// "processingInputs.2.member" from ("processingInputs", 1): the index is 0-based in, 1-based out.
std::string ElementPath(std::string_view list_path, size_t index);

// An ordered collection of failures that becomes one InvalidArgument status.
class ValidationErrors {
 public:
  // `value` is null for a missing member.
  void Add(std::string_view path, const nlohmann::json* value, std::string_view rule);
  // A string value.
  void AddString(std::string_view path, std::string_view value, std::string_view rule);

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<std::string>& items() const { return items_; }

  // OK when empty; otherwise InvalidArgument with "N validation error(s) detected: " + items.
  Status ToStatus() const;

 private:
  void AddRendered(std::string_view path, std::string rendered, std::string_view rule);

  std::vector<std::string> items_;
};

}  // namespace kiln::api_internal
