// Timestamps on the SageMaker wire: epoch seconds as a JSON number (spec §1.1, §1.2). Kiln keeps
// time in epoch milliseconds and emits seconds with millisecond precision, e.g. 1723456789.123.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kiln {

// A JSON number of seconds: an integer when `ms` is a whole second, else a double that prints
// with at most three decimals (1723456789.123).
nlohmann::json WireTimeFromMs(int64_t ms);

// The same value as decimal text ("1723456789.123", "1723456789"), for hand-built bodies.
std::string FormatWireTime(int64_t ms);

// Epoch milliseconds from a wire timestamp (integer or fractional seconds), rounded to the
// nearest millisecond. nullopt for non-numbers and values outside the int64 millisecond range.
std::optional<int64_t> MsFromWireTime(const nlohmann::json& seconds);

}  // namespace kiln
