// Walks a JSON request against a model Shape and records every model-rule failure (required,
// JSON type, length, count, range, pattern, enum) in Coral style. Unknown members are ignored, as
// AWS JSON services tolerate them; a JSON null counts as an absent member.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/coral_errors.h"
#include "api/model_shape.h"

namespace kiln::api_internal {

// The member `name` of `object`, or nullptr when `object` is not an object, lacks it, or has null.
const nlohmann::json* FindMember(const nlohmann::json& object, std::string_view name);

// The integer a JSON number holds: integral doubles are accepted, values beyond int64 saturate.
// nullopt for non-numbers and for numbers with a fractional part.
std::optional<int64_t> AsInteger(const nlohmann::json& value);

// Length of UTF-8 `text` in UTF-16 code units, the unit the (Java) service's length rules use.
int64_t Utf16Length(std::string_view text);

// True for an absolute path with no empty, "." or ".." segments (one trailing slash allowed) and
// no NUL or newline.
bool IsNormalisedAbsolutePath(std::string_view path);
// True for "file://" followed by an IsNormalisedAbsolutePath (§8.18).
bool IsNormalisedFileUri(std::string_view uri);

class ModelValidator {
 public:
  // `allow_file_uris` accepts file:// URIs where the model has an S3Uri (spec §8.18).
  ModelValidator(bool allow_file_uris, ValidationErrors* errors)
      : allow_file_uris_(allow_file_uris), errors_(errors) {}

  // Validates a present, non-null `value` found at `path` against `shape`.
  void Validate(const nlohmann::json& value, const Shape& shape, const std::string& path);

 private:
  void ValidateStructure(const nlohmann::json& value, const Shape& shape, const std::string& path);
  void ValidateList(const nlohmann::json& value, const Shape& shape, const std::string& path);
  void ValidateMap(const nlohmann::json& value, const Shape& shape, const std::string& path);
  void ValidateString(const nlohmann::json& value, const Shape& shape, const std::string& path);
  void ValidateInteger(const nlohmann::json& value, const Shape& shape, const std::string& path);
  // The rules a string breaks, in message order (empty when it satisfies `shape`).
  std::vector<std::string> StringViolations(std::string_view text, const Shape& shape) const;

  bool allow_file_uris_;
  ValidationErrors* errors_;
};

}  // namespace kiln::api_internal
