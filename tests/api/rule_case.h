// Table rows for the CreateProcessingJob rule tests: a mutation that breaks one rule of the valid
// SDK request, and the exact Coral message items the rule must produce.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "api/coral_errors.h"
#include "api/instance_types.h"
#include "api/validation.h"
#include "test_fixture.h"

namespace kiln::rules_testing {

using nlohmann::json;

using nlohmann::json;

struct RuleCase {
  std::string name;
  std::function<void(json&)> mutate;
  std::vector<std::string> expected;  // message items in order; "<V>" = value at value_pointer
  std::string value_pointer;
};

inline std::ostream& operator<<(std::ostream& os, const RuleCase& c) { return os << c.name; }

// --- Mutations -------------------------------------------------------------------------------

inline std::function<void(json&)> Set(std::string pointer, json value) {
  return [pointer, value](json& body) { body[json::json_pointer(pointer)] = value; };
}

inline std::function<void(json&)> Remove(std::string pointer) {
  return [pointer](json& body) {
    json::json_pointer ptr(pointer);
    body[ptr.parent_pointer()].erase(ptr.back());
  };
}

inline json Repeat(const json& element, int n) {
  json list = json::array();
  for (int i = 0; i < n; ++i) list.push_back(element);
  return list;
}

// --- Expected message pieces, spelled out as the service words them -------------------------

inline std::string Item(const std::string& value, const std::string& path,
                        const std::string& rule) {
  return "Value " + value + " at '" + path + "' failed to satisfy constraint: " + rule;
}
inline std::string Q(const std::string& s) { return "'" + s + "'"; }
inline const std::string kNull = "null";
inline const std::string kNotNull = "Member must not be null";
inline std::string MaxLen(int n) {
  return "Member must have length less than or equal to " + std::to_string(n);
}
inline std::string MinLen(int n) {
  return "Member must have length greater than or equal to " + std::to_string(n);
}
inline std::string MaxVal(int n) {
  return "Member must have value less than or equal to " + std::to_string(n);
}
inline std::string MinVal(int n) {
  return "Member must have value greater than or equal to " + std::to_string(n);
}
inline std::string Pattern(const std::string& p) {
  return "Member must satisfy regular expression pattern: " + p;
}
inline std::string Enum(const std::string& values) {
  return "Member must satisfy enum value set: [" + values + "]";
}

inline const std::string kJobNamePattern = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$";
inline const std::string kS3UriRule =
    Pattern("^(https|s3)://([^/]+)/?(.*)$") + " or be a file:///absolute/path URI";
inline const std::string kRolePattern =
    R"(^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$)";
inline const std::string kTagPattern = R"(^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$)";
inline const std::string kExperimentPattern = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$";
inline const std::string kVpcPattern = "^[-0-9a-zA-Z]+$";
inline const std::string kKmsPattern = "^[a-zA-Z0-9:/_-]*$";
inline const std::string kLocalPathRule =
    "Member must be a normalised absolute path under /opt/ml/processing/";

inline const std::string kIn1 = "processingInputs.1.member";
inline const std::string kIn2 = "processingInputs.2.member";
inline const std::string kOut1 = "processingOutputConfig.outputs.1.member";
inline const std::string kOut2 = "processingOutputConfig.outputs.2.member";
inline const std::string kCluster = "processingResources.clusterConfig";

inline std::string AllInstanceTypeNames() {
  std::string out;
  for (const InstanceTypeInfo& info : AllInstanceTypes()) {
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

inline std::string ExpectedMessage(const RuleCase& c, const json& body) {
  std::string rendered;
  if (!c.value_pointer.empty()) {
    rendered = api_internal::RenderValue(&body.at(json::json_pointer(c.value_pointer)));
  }
  std::string message =
      std::to_string(c.expected.size()) +
      (c.expected.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (size_t i = 0; i < c.expected.size(); ++i) {
    std::string item = c.expected[i];
    if (auto pos = item.find("<V>"); pos != std::string::npos) item.replace(pos, 3, rendered);
    message += (i > 0 ? "; " : "") + item;
  }
  return message;
}

// Applies the row to the SDK request and expects exactly the row's message.
inline void ExpectRejected(const RuleCase& c) {
  json body = testing::SdkCreateRequest();
  c.mutate(body);
  Status status = ValidateCreateProcessingJob(body);
  ASSERT_FALSE(status.ok()) << "accepted: " << body.dump();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), ExpectedMessage(c, body));
}

inline std::string CaseName(const ::testing::TestParamInfo<RuleCase>& info) {
  return info.param.name;
}

}  // namespace kiln::rules_testing
