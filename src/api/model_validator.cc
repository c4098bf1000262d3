#include "api/model_validator.h"

#include <re2/re2.h>

#include <cmath>
#include <limits>
#include <vector>

namespace kiln::api_internal {
namespace {

using nlohmann::json;

std::string LengthAtMost(int64_t max) {
  return "Member must have length less than or equal to " + std::to_string(max);
}
std::string LengthAtLeast(int64_t min) {
  return "Member must have length greater than or equal to " + std::to_string(min);
}

std::string EnumRule(const std::vector<std::string>& values) {
  std::string rule = "Member must satisfy enum value set: [";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) rule += ", ";
    rule += values[i];
  }
  return rule + "]";
}

std::string JoinRules(const std::vector<std::string>& rules) {
  std::string out = "[";
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) out += ", ";
    out += rules[i];
  }
  return out + "]";
}

}  // namespace

const json* FindMember(const json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(name));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<int64_t> AsInteger(const json& value) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    return u > static_cast<uint64_t>(kMax) ? kMax : static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d) return std::nullopt;
    if (d >= 9.2e18) return kMax;
    if (d <= -9.2e18) return kMin;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

int64_t Utf16Length(std::string_view text) {
  int64_t units = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    units += (c >= 0xF0) ? 2 : 1;      // 4-byte sequences are surrogate pairs in UTF-16
  }
  return units;
}

bool IsNormalisedAbsolutePath(std::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.find('\0') != std::string_view::npos || path.find('\n') != std::string_view::npos) {
    return false;
  }
  if (path == "/") return true;
  std::string_view rest = path.substr(1);
  if (rest.back() == '/') rest.remove_suffix(1);  // one trailing slash is harmless
  if (rest.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t end = rest.find('/', start);
    std::string_view segment =
        rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

bool IsNormalisedFileUri(std::string_view uri) {
  constexpr std::string_view kScheme = "file://";
  if (uri.substr(0, kScheme.size()) != kScheme) return false;
  return IsNormalisedAbsolutePath(uri.substr(kScheme.size()));
}

void ModelValidator::Validate(const json& value, const Shape& shape, const std::string& path) {
  switch (shape.kind) {
    case ShapeKind::kStructure:
      ValidateStructure(value, shape, path);
      return;
    case ShapeKind::kList:
      ValidateList(value, shape, path);
      return;
    case ShapeKind::kMap:
      ValidateMap(value, shape, path);
      return;
    case ShapeKind::kString:
      ValidateString(value, shape, path);
      return;
    case ShapeKind::kInteger:
      ValidateInteger(value, shape, path);
      return;
    case ShapeKind::kBoolean:
      if (!value.is_boolean()) errors_->Add(path, &value, "Member must be a boolean");
      return;
    case ShapeKind::kTimestamp:
      if (!value.is_number()) {
        errors_->Add(path, &value, "Member must be a timestamp in epoch seconds (a JSON number)");
      }
      return;
  }
}

void ModelValidator::ValidateStructure(const json& value, const Shape& shape,
                                       const std::string& path) {
  if (!value.is_object()) {
    errors_->Add(path, &value, "Member must be a structure (a JSON object)");
    return;
  }
  for (const MemberDef& member : shape.members) {
    std::string member_path = MemberPath(path, member.name);
    const json* member_value = FindMember(value, member.name);
    if (member_value == nullptr) {
      if (member.required) errors_->Add(member_path, nullptr, "Member must not be null");
      continue;
    }
    Validate(*member_value, *member.shape, member_path);
  }
}

void ModelValidator::ValidateList(const json& value, const Shape& shape, const std::string& path) {
  if (!value.is_array()) {
    errors_->Add(path, &value, "Member must be a list (a JSON array)");
    return;
  }
  auto count = static_cast<int64_t>(value.size());
  if (shape.max && count > *shape.max) errors_->Add(path, &value, LengthAtMost(*shape.max));
  if (shape.min && count < *shape.min) errors_->Add(path, &value, LengthAtLeast(*shape.min));
  for (size_t i = 0; i < value.size(); ++i) {
    std::string element_path = ElementPath(path, i);
    if (value[i].is_null()) {
      errors_->Add(element_path, nullptr, "Member must not be null");
      continue;
    }
    Validate(value[i], *shape.element, element_path);
  }
}

void ModelValidator::ValidateMap(const json& value, const Shape& shape, const std::string& path) {
  if (!value.is_object()) {
    errors_->Add(path, &value, "Member must be a map (a JSON object)");
    return;
  }
  auto count = static_cast<int64_t>(value.size());
  if (shape.max && count > *shape.max) errors_->Add(path, &value, LengthAtMost(*shape.max));
  if (shape.min && count < *shape.min) errors_->Add(path, &value, LengthAtLeast(*shape.min));
  for (const auto& [key, entry] : value.items()) {
    std::vector<std::string> key_rules = StringViolations(key, *shape.key);
    if (!key_rules.empty()) {
      errors_->AddString(path, key, "Map keys must satisfy constraint: " + JoinRules(key_rules));
    }
    if (!entry.is_string()) {
      errors_->Add(path, &entry, "Map value must satisfy constraint: [Member must be a string]");
      continue;
    }
    std::vector<std::string> value_rules = StringViolations(entry.get<std::string>(), *shape.value);
    if (!value_rules.empty()) {
      errors_->Add(path, &entry, "Map value must satisfy constraint: " + JoinRules(value_rules));
    }
  }
}

std::vector<std::string> ModelValidator::StringViolations(std::string_view text,
                                                          const Shape& shape) const {
  std::vector<std::string> rules;
  int64_t length = Utf16Length(text);
  if (shape.max && length > *shape.max) rules.push_back(LengthAtMost(*shape.max));
  if (shape.min && length < *shape.min) rules.push_back(LengthAtLeast(*shape.min));
  if (shape.pattern) {
    bool matches =
        re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *shape.pattern->re);
    if (!matches && shape.s3_uri && allow_file_uris_ && text.substr(0, 7) == "file://") {
      if (!IsNormalisedFileUri(text)) {
        rules.push_back(
            "Member must be a file:// URI naming a normalised absolute path (file:///dir/file)");
      }
    } else if (!matches) {
      std::string rule =
          "Member must satisfy regular expression pattern: " + shape.pattern->display;
      if (shape.s3_uri && allow_file_uris_) rule += " or be a file:///absolute/path URI";
      rules.push_back(std::move(rule));
    }
  }
  if (!shape.enum_values.empty()) {
    bool found = false;
    for (const std::string& allowed : shape.enum_values) found = found || allowed == text;
    if (!found) rules.push_back(EnumRule(shape.enum_values));
  }
  return rules;
}

void ModelValidator::ValidateString(const json& value, const Shape& shape,
                                    const std::string& path) {
  if (!value.is_string()) {
    errors_->Add(path, &value, "Member must be a string");
    return;
  }
  for (const std::string& rule : StringViolations(value.get_ref<const std::string&>(), shape)) {
    errors_->Add(path, &value, rule);
  }
}

void ModelValidator::ValidateInteger(const json& value, const Shape& shape,
                                     const std::string& path) {
  std::optional<int64_t> number = AsInteger(value);
  if (!number) {
    errors_->Add(path, &value, "Member must be an integer");
    return;
  }
  if (shape.max && *number > *shape.max) {
    errors_->Add(path, &value,
                 "Member must have value less than or equal to " + std::to_string(*shape.max));
  }
  if (shape.min && *number < *shape.min) {
    errors_->Add(path, &value,
                 "Member must have value greater than or equal to " + std::to_string(*shape.min));
  }
}

}  // namespace kiln::api_internal
