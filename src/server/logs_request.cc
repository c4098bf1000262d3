#include "server/logs_request.h"

#include <cmath>

namespace kiln::logs {

using nlohmann::json;

namespace {

// The member, or nullptr when absent or null.
const json* Member(const json& request, const char* key) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) return nullptr;
  return &*it;
}

Status WrongType(const char* key, const json& value, const char* type) {
  return Status::InvalidArgument(std::string("Invalid type for parameter ") + key +
                                 ", value: " + value.dump() + ", valid types: " + type);
}

}  // namespace

Status ValidationError(const std::string& key, const std::string& value,
                       const std::string& constraint) {
  return Status::InvalidArgument("1 validation error detected: Value '" + value + "' at '" + key +
                                 "' failed to satisfy constraint: " + constraint);
}

Result<std::optional<std::string>> OptionalString(const json& request, const char* key,
                                                  size_t min_len, size_t max_len) {
  const json* value = Member(request, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return WrongType(key, *value, "<class 'str'>");
  const std::string& s = value->get_ref<const std::string&>();
  if (s.size() < min_len) {
    return ValidationError(
        key, s, "Member must have length greater than or equal to " + std::to_string(min_len));
  }
  if (s.size() > max_len) {
    return ValidationError(
        key, s.substr(0, 64),
        "Member must have length less than or equal to " + std::to_string(max_len));
  }
  return std::optional<std::string>(s);
}

Result<std::optional<int64_t>> OptionalInt(const json& request, const char* key, int64_t min,
                                           int64_t max) {
  const json* value = Member(request, key);
  if (value == nullptr) return std::optional<int64_t>();
  int64_t n = 0;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return ValidationError(key, value->dump(),
                             "Member must have value less than or equal to " + std::to_string(max));
    }
    n = value->get<int64_t>();
  } else if (value->is_number_float()) {
    double d = value->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.2e18) {
      return WrongType(key, *value, "<class 'int'>");
    }
    n = static_cast<int64_t>(d);
  } else {
    return WrongType(key, *value, "<class 'int'>");
  }
  if (n < min) {
    return ValidationError(
        key, std::to_string(n),
        "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (n > max) {
    return ValidationError(key, std::to_string(n),
                           "Member must have value less than or equal to " + std::to_string(max));
  }
  return std::optional<int64_t>(n);
}

Result<bool> BoolOr(const json& request, const char* key, bool fallback) {
  const json* value = Member(request, key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) return WrongType(key, *value, "<class 'bool'>");
  return value->get<bool>();
}

Result<std::optional<std::vector<std::string>>> OptionalStringList(
    const json& request, const char* key, size_t min_items, size_t max_items, size_t max_len) {
  const json* value = Member(request, key);
  if (value == nullptr) return std::optional<std::vector<std::string>>();
  if (!value->is_array()) return WrongType(key, *value, "<class 'list'>");
  if (value->size() < min_items) {
    return ValidationError(
        key, value->dump(),
        "Member must have length greater than or equal to " + std::to_string(min_items));
  }
  if (value->size() > max_items) {
    return ValidationError(
        key, "[...]", "Member must have length less than or equal to " + std::to_string(max_items));
  }
  std::vector<std::string> out;
  for (const json& item : *value) {
    if (!item.is_string()) return WrongType(key, item, "<class 'str'>");
    const std::string& s = item.get_ref<const std::string&>();
    if (s.empty() || s.size() > max_len) {
      return ValidationError(key, s.substr(0, 64),
                             "Member must satisfy constraint: [Member must have length less than "
                             "or equal to " +
                                 std::to_string(max_len) +
                                 ", Member must have length greater than or equal to 1]");
    }
    out.push_back(s);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

}  // namespace kiln::logs
