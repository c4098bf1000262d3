// Amazon Resource Names for processing jobs (spec §8.12).
#pragma once

#include <string>

namespace kiln {

// "arn:aws:sagemaker:<region>:<account>:processing-job/<name lower-cased>".
std::string ProcessingJobArn(const std::string& region, const std::string& account,
                             const std::string& name);

}  // namespace kiln
