#include "cli/log_follower.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_kiln.h"

namespace kiln::cli {
namespace {

using ::testing::ElementsAre;
using testing::FakeKiln;

ApiClient LogsClient(const FakeKiln& kiln) {
  return ApiClient(ServiceSpec::Logs(), {kiln.endpoint(), "K", "S", "us-east-1"});
}

std::vector<std::string> PollLines(LogFollower& follower, Status* status = nullptr) {
  std::vector<std::string> lines;
  Status polled = follower.Poll([&](const LogEvent& event) {
    lines.push_back(event.host + " " + std::to_string(event.timestamp_ms) + " " + event.message);
  });
  if (status != nullptr) *status = polled;
  EXPECT_TRUE(status != nullptr || polled.ok()) << polled.ToString();
  return lines;
}

TEST(HostOfStreamTest, StripsJobPrefixAndEpochSuffix) {
  EXPECT_EQ(HostOfStream("job", "job/algo-1-1723456789"), "algo-1");
  EXPECT_EQ(HostOfStream("job", "job/algo-12-1"), "algo-12");
  EXPECT_EQ(HostOfStream("job", "job/algo-3"), "algo-3");
  EXPECT_EQ(HostOfStream("job", "job/custom-name"), "custom-name");
}

TEST(LogFollowerTest, TreatsMissingLogGroupAsNoStreamsYet) {
  FakeKiln kiln;
  ApiClient logs = LogsClient(kiln);
  LogFollower follower(&logs, "job");
  EXPECT_THAT(PollLines(follower), ElementsAre());
  EXPECT_EQ(follower.stream_count(), 0u);
}

TEST(LogFollowerTest, ReadsAllPagesOfAllStreamsMergedByTimestamp) {
  FakeKiln kiln;
  kiln.AddLogEvent("job/algo-1-100", 10, "a1");
  kiln.AddLogEvent("job/algo-1-100", 30, "a2");
  kiln.AddLogEvent("job/algo-1-100", 50, "a3");
  kiln.AddLogEvent("job/algo-2-100", 20, "b1");
  kiln.AddLogEvent("job/algo-2-100", 30, "b2");
  kiln.AddLogEvent("other-job/algo-1-100", 1, "not mine");
  ApiClient logs = LogsClient(kiln);
  LogFollower follower(&logs, "job");

  EXPECT_THAT(PollLines(follower), ElementsAre("algo-1 10 a1", "algo-2 20 b1", "algo-1 30 a2",
                                               "algo-2 30 b2", "algo-1 50 a3"));
  EXPECT_EQ(follower.stream_count(), 2u);
}

TEST(LogFollowerTest, LaterPollsReturnOnlyNewEventsAndNewStreams) {
  FakeKiln kiln;
  kiln.AddLogEvent("job/algo-1-100", 1, "first");
  ApiClient logs = LogsClient(kiln);
  LogFollower follower(&logs, "job");
  EXPECT_THAT(PollLines(follower), ElementsAre("algo-1 1 first"));

  EXPECT_THAT(PollLines(follower), ElementsAre());

  kiln.AddLogEvent("job/algo-1-100", 2, "second");
  kiln.AddLogEvent("job/algo-2-100", 3, "other host");
  EXPECT_THAT(PollLines(follower), ElementsAre("algo-1 2 second", "algo-2 3 other host"));
}

TEST(LogFollowerTest, ReturnsApiErrorsAndResumesWithoutRepeating) {
  FakeKiln kiln;
  kiln.AddLogEvent("job/algo-1-100", 1, "one");
  ApiClient logs = LogsClient(kiln);
  LogFollower follower(&logs, "job");
  EXPECT_THAT(PollLines(follower), ElementsAre("algo-1 1 one"));

  kiln.FailTarget("Logs_20140328.GetLogEvents", testing::AwsError("ThrottlingException", "slow"));
  Status status;
  EXPECT_THAT(PollLines(follower, &status), ElementsAre());
  EXPECT_EQ(status.message(), "ThrottlingException: slow");

  kiln.ClearFailures();
  kiln.AddLogEvent("job/algo-1-100", 2, "two");
  EXPECT_THAT(PollLines(follower), ElementsAre("algo-1 2 two"));
}

}  // namespace
}  // namespace kiln::cli
