#include "test_fixture.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace kiln::testing {

nlohmann::json SdkCreateRequest() {
  std::string dir = KILN_API_TESTDATA_DIR;
  if (const char* source = std::getenv("KILN_SOURCE_DIR")) {
    dir = std::string(source) + "/tests/api/testdata";
  }
  const std::string path = dir + "/sklearn-processor-create-processing-job.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  return nlohmann::json::parse(in);
}

}  // namespace kiln::testing
