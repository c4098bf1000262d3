// Shared helpers for the api tests: the recorded SageMaker SDK request.
#pragma once

#include <nlohmann/json.hpp>

namespace kiln::testing {

// The CreateProcessingJob body the SageMaker Python SDK's SKLearnProcessor sends (two inputs with
// nested LocalPaths, two outputs), read from tests/api/testdata.
nlohmann::json SdkCreateRequest();

}  // namespace kiln::testing
