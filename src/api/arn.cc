#include "api/arn.h"

#include <cctype>

namespace kiln {

std::string ProcessingJobArn(const std::string& region, const std::string& account,
                             const std::string& name) {
  std::string lowered = name;
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "arn:aws:sagemaker:" + region + ":" + account + ":processing-job/" + lowered;
}

}  // namespace kiln
