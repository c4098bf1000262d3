// Typed reads of CloudWatch Logs request members with the service's own validation: a wrong type
// or a value out of the modeled range is InvalidArgument (InvalidParameterException on the wire)
// with a Coral-style message naming the member, as the real service words it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace kiln::logs {

// The member `key` as a string of `min_len`..`max_len` bytes; nullopt if absent or null.
Result<std::optional<std::string>> OptionalString(const nlohmann::json& request, const char* key,
                                                  size_t min_len, size_t max_len);
// The member `key` as an integer in [min, max]; nullopt if absent or null. Accepts integral
// doubles (some SDKs send them).
Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& request, const char* key,
                                           int64_t min, int64_t max);
// The member `key` as a boolean; `fallback` if absent or null.
Result<bool> BoolOr(const nlohmann::json& request, const char* key, bool fallback);
// The member `key` as a list of `min_items`..`max_items` strings of 1..`max_len` bytes; nullopt if
// absent or null.
Result<std::optional<std::vector<std::string>>> OptionalStringList(const nlohmann::json& request,
                                                                   const char* key,
                                                                   size_t min_items,
                                                                   size_t max_items,
                                                                   size_t max_len);

// InvalidArgument "1 validation error detected: Value '<value>' at '<key>' failed to satisfy
// constraint: <constraint>".
Status ValidationError(const std::string& key, const std::string& value,
                       const std::string& constraint);

}  // namespace kiln::logs
