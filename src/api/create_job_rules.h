// The semantic rules of CreateProcessingJob that the model cannot express (spec §3.1 items 2-4,
// §8.14): one-of members, LocalPath placement and uniqueness, unique input and output names,
// Gzip only with Pipe, instance-store limits, and the inputs and outputs Kiln does not support.
#pragma once

#include <nlohmann/json.hpp>

#include "api/coral_errors.h"

namespace kiln::api_internal {

// The processing root every LocalPath must be under.
inline constexpr std::string_view kProcessingRoot = "/opt/ml/processing/";

// True when `path` is a normalised absolute path strictly below /opt/ml/processing/.
bool IsValidLocalPath(std::string_view path);

// Appends a Coral-style error per broken rule. Members with the wrong JSON type are skipped: the
// model walk has already reported them.
void CheckCreateProcessingJobSemantics(const nlohmann::json& request, ValidationErrors* errors);

}  // namespace kiln::api_internal
