// ListProcessingJobs parsing and the name-only requests (Describe, Stop, Delete).
#include <gtest/gtest.h>

#include "api/validation.h"

namespace kiln {
namespace {

using nlohmann::json;

TEST(ParseListProcessingJobsTest, EmptyBodyGivesDocumentedDefaults) {
  for (const json& body : {json(), json::object()}) {
    Result<ListQuery> query = ParseListProcessingJobs(body);
    ASSERT_TRUE(query.ok()) << query.status().ToString();
    EXPECT_EQ(query->max_results, 10);
    EXPECT_EQ(query->sort_by, ListSortBy::kCreationTime);
    EXPECT_EQ(query->sort_order, SortOrder::kAscending);
    EXPECT_EQ(query->next_token, "");
    EXPECT_FALSE(query->name_contains);
    EXPECT_FALSE(query->status_equals);
    EXPECT_FALSE(query->creation_time_after_ms);
    EXPECT_FALSE(query->last_modified_time_before_ms);
  }
}

TEST(ParseListProcessingJobsTest, ParsesEveryMember) {
  json body = {{"CreationTimeAfter", 1723456789},
               {"CreationTimeBefore", 1723456789.123},
               {"LastModifiedTimeAfter", 0.0005},
               {"LastModifiedTimeBefore", 1723456790.9996},
               {"NameContains", "sklearn"},
               {"StatusEquals", "Stopping"},
               {"SortBy", "Name"},
               {"SortOrder", "Descending"},
               {"NextToken", "opaque-token"},
               {"MaxResults", 100}};
  Result<ListQuery> query = ParseListProcessingJobs(body);
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(*query->creation_time_after_ms, 1723456789000);
  EXPECT_EQ(*query->creation_time_before_ms, 1723456789123);
  EXPECT_EQ(*query->last_modified_time_after_ms, 1);
  EXPECT_EQ(*query->last_modified_time_before_ms, 1723456791000);
  EXPECT_EQ(*query->name_contains, "sklearn");
  EXPECT_EQ(*query->status_equals, JobStatus::kStopping);
  EXPECT_EQ(query->sort_by, ListSortBy::kName);
  EXPECT_EQ(query->sort_order, SortOrder::kDescending);
  EXPECT_EQ(query->next_token, "opaque-token");
  EXPECT_EQ(query->max_results, 100);

  body["SortBy"] = "Status";
  EXPECT_EQ(ParseListProcessingJobs(body)->sort_by, ListSortBy::kStatus);
}

struct ListCase {
  const char* name;
  json body;
  std::string message;
};

class ListRuleTest : public ::testing::TestWithParam<ListCase> {};

TEST_P(ListRuleTest, RejectsWithExactCoralMessage) {
  Result<ListQuery> query = ParseListProcessingJobs(GetParam().body);
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(query.status().message(), "1 validation error detected: " + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, ListRuleTest,
    ::testing::Values(
        ListCase{"MaxResultsZero",
                 {{"MaxResults", 0}},
                 "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value "
                 "greater than or equal to 1"},
        ListCase{"MaxResultsTooHigh",
                 {{"MaxResults", 101}},
                 "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value "
                 "less than or equal to 100"},
        ListCase{
            "MaxResultsNotInteger",
            {{"MaxResults", "5"}},
            "Value '5' at 'maxResults' failed to satisfy constraint: Member must be an integer"},
        ListCase{"SortBy",
                 {{"SortBy", "Size"}},
                 "Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum "
                 "value set: [Name, CreationTime, Status]"},
        ListCase{"SortOrder",
                 {{"SortOrder", "Up"}},
                 "Value 'Up' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum "
                 "value set: [Ascending, Descending]"},
        ListCase{"StatusEquals",
                 {{"StatusEquals", "Running"}},
                 "Value 'Running' at 'statusEquals' failed to satisfy constraint: Member must "
                 "satisfy enum value set: [InProgress, Completed, Failed, Stopping, Stopped]"},
        ListCase{"NextTokenTooLong",
                 {{"NextToken", std::string(8193, 't')}},
                 "Value '" + std::string(8193, 't') +
                     "' at 'nextToken' failed to satisfy constraint: Member must have length less "
                     "than or equal to 8192"},
        ListCase{"TimestampString",
                 {{"CreationTimeAfter", "2024-01-01T00:00:00Z"}},
                 "Value '2024-01-01T00:00:00Z' at 'creationTimeAfter' failed to satisfy "
                 "constraint: Member must be a timestamp in epoch seconds (a JSON number)"},
        ListCase{"TimestampOutOfRange",
                 {{"LastModifiedTimeBefore", 1e300}},
                 "Value '1e+300' at 'lastModifiedTimeBefore' failed to satisfy constraint: Member "
                 "must be a timestamp within the representable range"},
        ListCase{"NameContainsNotString",
                 {{"NameContains", 7}},
                 "Value '7' at 'nameContains' failed to satisfy constraint: Member must be a "
                 "string"}),
    [](const ::testing::TestParamInfo<ListCase>& info) { return info.param.name; });

TEST(ValidateJobNameRequestTest, ReturnsTheName) {
  Result<std::string> name = ValidateJobNameRequest({{"ProcessingJobName", "My-Job-1"}});
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "My-Job-1");
}

TEST(ValidateJobNameRequestTest, RejectsMissingTooLongAndMalformedNames) {
  EXPECT_EQ(ValidateJobNameRequest(json::object()).status().message(),
            "1 validation error detected: Value null at 'processingJobName' failed to satisfy "
            "constraint: Member must not be null");
  EXPECT_EQ(ValidateJobNameRequest(json()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateJobNameRequest({{"ProcessingJobName", "a--b-"}}).status().message(),
            "1 validation error detected: Value 'a--b-' at 'processingJobName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$");
  std::string long_name(64, 'x');
  EXPECT_EQ(ValidateJobNameRequest({{"ProcessingJobName", long_name}}).status().message(),
            "2 validation errors detected: Value '" + long_name +
                "' at 'processingJobName' failed to satisfy constraint: Member must have length "
                "less than or equal to 63; Value '" +
                long_name +
                "' at 'processingJobName' failed to satisfy constraint: Member must satisfy "
                "regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$");
  EXPECT_FALSE(ValidateJobNameRequest(json::array()).ok());
}

}  // namespace
}  // namespace kiln
