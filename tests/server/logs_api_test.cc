// LogsService over real stream files and a real (in-memory) SQLite job store: paging, tokens,
// ordering, and the SageMaker SDK's log-reading loop replayed against it.
#include "server/logs_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/log_stream.h"
#include "scheduler/job_layout.h"
#include "server/logs_filter.h"
#include "store/sqlite_job_store.h"

namespace kiln {
namespace {

using nlohmann::json;

class LogsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-logs-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto store = SqliteJobStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    source_ = std::make_unique<JobStoreLogSource>(store_.get());
    LogsServiceOptions options;
    options.group_creation_time_ms = 42;
    logs_ = std::make_unique<LogsService>(options, source_.get());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  JobRecord Record(const std::string& name, int64_t created_ms) {
    JobRecord record;
    record.name = name;
    record.arn = "arn:aws:sagemaker:us-east-1:000000000000:processing-job/" + name;
    record.request = {{"ProcessingJobName", name}};
    record.creation_time_ms = created_ms;
    record.last_modified_time_ms = created_ms;
    return record;
  }

  // A job whose runner has laid out `instances` streams (files not yet written).
  JobLayout AddJob(const std::string& name, int instances, int64_t epoch_seconds = 1723456789,
                   int64_t created_ms = 1000) {
    JobRecord record = Record(name, created_ms);
    JobLayout layout = JobLayout::Plan(dir_ + "/jobs", record, instances, epoch_seconds);
    EXPECT_TRUE(MakeDirs(layout.job_dir + "/logs").ok());
    record.backend_state["layout"] = layout.ToJson();
    EXPECT_TRUE(store_->Create(record).ok());
    return layout;
  }

  void Write(const InstanceLayout& instance,
             const std::vector<std::pair<int64_t, std::string>>& events) {
    auto writer = LogStreamWriter::Open(instance.log_path);
    ASSERT_TRUE(writer.ok());
    for (const auto& [ts, message] : events) ASSERT_TRUE(writer->Append(ts, message).ok());
  }

  Result<json> Call(const std::string& op, json request) {
    request.emplace("logGroupName", kProcessingJobsLogGroup);
    if (op == "DescribeLogGroups") return logs_->DescribeLogGroups(request);
    if (op == "DescribeLogStreams") return logs_->DescribeLogStreams(request);
    if (op == "GetLogEvents") return logs_->GetLogEvents(request);
    return logs_->FilterLogEvents(request);
  }

  json Ok(const std::string& op, json request) {
    Result<json> r = Call(op, std::move(request));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json::object();
  }

  std::string dir_;
  std::unique_ptr<SqliteJobStore> store_;
  std::unique_ptr<JobStoreLogSource> source_;
  std::unique_ptr<LogsService> logs_;
};

std::vector<std::pair<int64_t, std::string>> Lines(int count, int64_t first_ts = 1000,
                                                   int per_ms = 7) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (int i = 0; i < count; ++i)
    out.push_back({first_ts + i / per_ms, "line " + std::to_string(i)});
  return out;
}

// ----- GetLogEvents -----

TEST_F(LogsApiTest, ReadingFromHeadPagesEveryEventOnceThenRepeatsTheForwardToken) {
  JobLayout job = AddJob("paging", 1);
  Write(job.instances[0], Lines(25000));
  std::vector<std::string> got;
  json request = {{"logStreamName", job.instances[0].log_stream}, {"startFromHead", true}};
  int pages = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 100) << "never reached an empty page";
    json page = Ok("GetLogEvents", request);
    ASSERT_TRUE(page["nextForwardToken"].is_string());
    ASSERT_TRUE(page["nextBackwardToken"].is_string());
    if (page["events"].empty()) {
      EXPECT_EQ(page["nextForwardToken"], request["nextToken"]);
      break;
    }
    for (const json& e : page["events"]) {
      EXPECT_EQ(e["ingestionTime"], e["timestamp"]);
      got.push_back(e["message"]);
    }
    request["nextToken"] = page["nextForwardToken"];
  }
  EXPECT_EQ(pages, 3);  // 10000 + 10000 + 5000, then the empty page
  ASSERT_EQ(got.size(), 25000u);
  for (int i = 0; i < 25000; ++i) ASSERT_EQ(got[i], "line " + std::to_string(i));

  // Events appended later arrive with the token the empty page gave.
  Write(job.instances[0], {{9999, "late"}});
  json late = Ok("GetLogEvents", request);
  ASSERT_EQ(late["events"].size(), 1u);
  EXPECT_EQ(late["events"][0]["message"], "late");
}

TEST_F(LogsApiTest, WithoutStartFromHeadTheLastEventsComeAndBackwardTokensPageToTheHead) {
  JobLayout job = AddJob("tail", 1);
  Write(job.instances[0], Lines(12, 1000, 1));
  json request = {{"logStreamName", job.instances[0].log_stream}, {"limit", 5}};
  json page = Ok("GetLogEvents", request);
  ASSERT_EQ(page["events"].size(), 5u);
  EXPECT_EQ(page["events"][0]["message"], "line 7");
  EXPECT_EQ(page["events"][4]["message"], "line 11");

  request["nextToken"] = page["nextBackwardToken"];
  json earlier = Ok("GetLogEvents", request);
  ASSERT_EQ(earlier["events"].size(), 5u);
  EXPECT_EQ(earlier["events"][0]["message"], "line 2");
  request["nextToken"] = earlier["nextBackwardToken"];
  json head = Ok("GetLogEvents", request);
  ASSERT_EQ(head["events"].size(), 2u);
  EXPECT_EQ(head["events"][0]["message"], "line 0");
  request["nextToken"] = head["nextBackwardToken"];
  json none = Ok("GetLogEvents", request);
  EXPECT_TRUE(none["events"].empty());
  EXPECT_EQ(none["nextBackwardToken"], request["nextToken"]);

  // The forward token of a backward page resumes right after it.
  request["nextToken"] = earlier["nextForwardToken"];
  json next = Ok("GetLogEvents", request);
  ASSERT_FALSE(next["events"].empty());
  EXPECT_EQ(next["events"][0]["message"], "line 7");
}

TEST_F(LogsApiTest, StartTimeIsInclusiveAndEndTimeExclusive) {
  JobLayout job = AddJob("times", 1);
  Write(job.instances[0], {{100, "a"}, {200, "b"}, {200, "c"}, {300, "d"}, {400, "e"}});
  json page = Ok("GetLogEvents", {{"logStreamName", job.instances[0].log_stream},
                                  {"startFromHead", true},
                                  {"startTime", 200},
                                  {"endTime", 400}});
  std::vector<std::string> got;
  for (const json& e : page["events"]) got.push_back(e["message"]);
  EXPECT_EQ(got, (std::vector<std::string>{"b", "c", "d"}));
}

TEST_F(LogsApiTest, BlankLinesBecomeASpaceAndInvalidUtf8IsReplaced) {
  JobLayout job = AddJob("odd-lines", 1);
  Write(job.instances[0], {{1, ""}, {2, "bad \xff byte"}, {3, "ok \xc3\xa9"}});
  json page =
      Ok("GetLogEvents", {{"logStreamName", job.instances[0].log_stream}, {"startFromHead", true}});
  ASSERT_EQ(page["events"].size(), 3u);
  EXPECT_EQ(page["events"][0]["message"], " ");
  EXPECT_EQ(page["events"][1]["message"], "bad \xef\xbf\xbd byte");
  EXPECT_EQ(page["events"][2]["message"], "ok \xc3\xa9");
  EXPECT_NO_THROW(page.dump());
}

TEST_F(LogsApiTest, APageHoldsAtMostAboutOneMegabyte) {
  JobLayout job = AddJob("big-lines", 1);
  std::vector<std::pair<int64_t, std::string>> events;
  for (int i = 0; i < 30; ++i) events.push_back({i, std::string(100000, 'a' + i % 26)});
  Write(job.instances[0], events);
  json request = {{"logStreamName", job.instances[0].log_stream}, {"startFromHead", true}};
  size_t total = 0;
  for (int pages = 0; pages < 10; ++pages) {
    json page = Ok("GetLogEvents", request);
    if (page["events"].empty()) break;
    EXPECT_LE(page["events"].size(), 10u);
    total += page["events"].size();
    request["nextToken"] = page["nextForwardToken"];
  }
  EXPECT_EQ(total, 30u);
}

TEST_F(LogsApiTest, GetLogEventsErrorsUseTheLogsCodes) {
  JobLayout job = AddJob("errs", 1);
  Write(job.instances[0], Lines(3));
  auto missing = Call("GetLogEvents", {{"logStreamName", "errs/algo-9-1"}});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "The specified log stream does not exist.");
  EXPECT_STREQ(LogsErrorCode(missing.status()), "ResourceNotFoundException");

  auto group = logs_->GetLogEvents(
      {{"logGroupName", "/aws/other"}, {"logStreamName", job.instances[0].log_stream}});
  EXPECT_EQ(group.status().message(), "The specified log group does not exist.");

  auto limit = Call("GetLogEvents", {{"logStreamName", job.instances[0].log_stream}, {"limit", 0}});
  EXPECT_STREQ(LogsErrorCode(limit.status()), "InvalidParameterException");
  auto no_stream = Call("GetLogEvents", json::object());
  EXPECT_EQ(no_stream.status().code(), StatusCode::kInvalidArgument);
  for (const char* bad : {"f/3", "x/0", "f/", "f/-1", "f/99999"}) {
    auto token =
        Call("GetLogEvents", {{"logStreamName", job.instances[0].log_stream}, {"nextToken", bad}});
    EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_STREQ(LogsErrorCode(Status::Unavailable("x")), "ServiceUnavailableException");
  EXPECT_STREQ(LogsErrorCode(Status::Internal("x")), "ServiceUnavailableException");
}

TEST_F(LogsApiTest, ErrorsReachTheWireAsLogsExceptionsThroughTheJsonService) {
  JsonService service(kLogsTargetPrefix, LogsErrorCode);
  logs_->Register(&service);
  JsonResponse missing = service.Handle(
      "Logs_20140328.GetLogEvents",
      R"({"logGroupName":"/aws/sagemaker/ProcessingJobs","logStreamName":"nope/algo-1-1"})");
  EXPECT_EQ(missing.http_status, 400);
  json body = json::parse(missing.body);
  EXPECT_EQ(body["__type"], "ResourceNotFoundException");
  EXPECT_EQ(body["message"], "The specified log stream does not exist.");
  JsonResponse groups = service.Handle("Logs_20140328.DescribeLogGroups", "");
  EXPECT_EQ(groups.http_status, 200);
}

// The SageMaker SDK's loop (session.py logs_for_processing_job / logs.py log_stream): every poll
// lists streams with the job prefix, then reads each stream from startTime = the last timestamp
// seen, skipping as many events at that timestamp as it already printed, until an empty page.
TEST_F(LogsApiTest, SdkPollingLoopSeesEveryLineOnceWhileTheJobWrites) {
  JobLayout job = AddJob("sdk-job", 2);
  struct Position {
    int64_t timestamp = 0;
    int skip = 0;
  };
  std::map<std::string, Position> positions;
  std::map<std::string, std::vector<std::string>> printed;
  auto poll = [&]() {
    json listed =
        Ok("DescribeLogStreams",
           {{"logStreamNamePrefix", "sdk-job/"}, {"orderBy", "LogStreamName"}, {"limit", 2}});
    ASSERT_FALSE(listed.contains("nextToken"));
    for (const json& s : listed["logStreams"]) {
      std::string name = s["logStreamName"];
      Position& pos = positions[name];
      json request = {
          {"logStreamName", name}, {"startTime", pos.timestamp}, {"startFromHead", true}};
      int skip = pos.skip;
      for (int pages = 0;; ++pages) {
        ASSERT_LT(pages, 100);
        json page = Ok("GetLogEvents", request);
        request["nextToken"] = page["nextForwardToken"];
        const json& events = page["events"];
        if (events.empty()) break;
        size_t first = 0;
        if (static_cast<int>(events.size()) > skip) {
          first = static_cast<size_t>(skip);
          skip = 0;
        } else {
          skip -= static_cast<int>(events.size());
          continue;
        }
        for (size_t i = first; i < events.size(); ++i) {
          int64_t ts = events[i]["timestamp"];
          printed[name].push_back(events[i]["message"]);
          if (ts == pos.timestamp) {
            ++pos.skip;
          } else {
            pos.timestamp = ts;
            pos.skip = 1;
          }
        }
      }
    }
  };
  poll();  // no files yet
  std::vector<std::vector<std::pair<int64_t, std::string>>> expected(2);
  for (int round = 0; round < 4; ++round) {
    for (int host = 0; host < 2; ++host) {
      std::vector<std::pair<int64_t, std::string>> batch;
      for (int i = 0; i < 3000; ++i) {
        // Several events per millisecond, and batches that end mid-millisecond.
        batch.push_back({5000 + (round * 3000 + i) / 7, "host" + std::to_string(host) + " r" +
                                                            std::to_string(round) + " " +
                                                            std::to_string(i)});
      }
      Write(job.instances[host], batch);
      expected[host].insert(expected[host].end(), batch.begin(), batch.end());
    }
    poll();
  }
  poll();
  for (int host = 0; host < 2; ++host) {
    const std::vector<std::string>& got = printed[job.instances[host].log_stream];
    ASSERT_EQ(got.size(), expected[host].size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[host][i].second) << i;
  }
}

// ----- DescribeLogStreams -----

TEST_F(LogsApiTest, JobPrefixListsItsStreamsByNameWithoutATokenWhenAllFit) {
  JobLayout job = AddJob("two-hosts", 2, 1723456789);
  AddJob("two-hosts-other", 1);
  Write(job.instances[0], {{10, "a"}, {20, "b"}});
  json listed =
      Ok("DescribeLogStreams",
         {{"logStreamNamePrefix", "two-hosts/"}, {"orderBy", "LogStreamName"}, {"limit", 2}});
  ASSERT_EQ(listed["logStreams"].size(), 2u);
  EXPECT_FALSE(listed.contains("nextToken"));
  const json& first = listed["logStreams"][0];
  EXPECT_EQ(first["logStreamName"], "two-hosts/algo-1-1723456789");
  EXPECT_EQ(first["creationTime"], int64_t{1723456789000});
  EXPECT_EQ(first["firstEventTimestamp"], 10);
  EXPECT_EQ(first["lastEventTimestamp"], 20);
  EXPECT_EQ(first["lastIngestionTime"], 20);
  EXPECT_EQ(first["storedBytes"], 0);
  EXPECT_EQ(first["arn"],
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/ProcessingJobs:"
            "log-stream:two-hosts/algo-1-1723456789");
  EXPECT_TRUE(first["uploadSequenceToken"].is_string());
  const json& empty = listed["logStreams"][1];
  EXPECT_EQ(empty["logStreamName"], "two-hosts/algo-2-1723456789");
  EXPECT_FALSE(empty.contains("lastEventTimestamp"));
}

TEST_F(LogsApiTest, ATokenIsGivenOnlyWhileMoreStreamsMatch) {
  AddJob("pair", 2);
  json page1 = Ok("DescribeLogStreams", {{"logStreamNamePrefix", "pair/"}, {"limit", 1}});
  ASSERT_EQ(page1["logStreams"].size(), 1u);
  ASSERT_TRUE(page1.contains("nextToken"));
  json page2 =
      Ok("DescribeLogStreams",
         {{"logStreamNamePrefix", "pair/"}, {"limit", 1}, {"nextToken", page1["nextToken"]}});
  ASSERT_EQ(page2["logStreams"].size(), 1u);
  EXPECT_FALSE(page2.contains("nextToken"));
  EXPECT_LT(page1["logStreams"][0]["logStreamName"].get<std::string>(),
            page2["logStreams"][0]["logStreamName"].get<std::string>());
}

TEST_F(LogsApiTest, JobNamePartOfThePrefixIgnoresCaseButNamesKeepTheJobsCasing) {
  AddJob("MixedCase-Job", 1, 1700000000);
  json listed = Ok("DescribeLogStreams", {{"logStreamNamePrefix", "mixedcase-job/"}});
  ASSERT_EQ(listed["logStreams"].size(), 1u);
  EXPECT_EQ(listed["logStreams"][0]["logStreamName"], "MixedCase-Job/algo-1-1700000000");
  json events = Ok("GetLogEvents", {{"logStreamName", "MIXEDCASE-JOB/algo-1-1700000000"}});
  EXPECT_TRUE(events["events"].empty());
  EXPECT_TRUE(
      Ok("DescribeLogStreams", {{"logStreamNamePrefix", "mixedcase-job/algo-2"}})["logStreams"]
          .empty());
}

TEST_F(LogsApiTest, AQueuedJobHasNoStreamsAndAnUnknownJobNone) {
  ASSERT_TRUE(store_->Create(Record("queued", 5)).ok());
  EXPECT_TRUE(Ok("DescribeLogStreams", {{"logStreamNamePrefix", "queued/"}})["logStreams"].empty());
  EXPECT_TRUE(Ok("DescribeLogStreams", {{"logStreamNamePrefix", "ghost/"}})["logStreams"].empty());
  auto stream = Call("GetLogEvents", {{"logStreamName", "queued/algo-1-1"}});
  EXPECT_EQ(stream.status().code(), StatusCode::kNotFound);
}

TEST_F(LogsApiTest, ListingAcrossJobsPagesInNameOrderWithoutRepeats) {
  // More jobs than one store page; "a" and "a-b" sort differently as jobs and as streams.
  std::set<std::string> expected;
  for (int i = 0; i < 130; ++i) {
    std::string name = "job-" + std::to_string(i);
    JobLayout layout = AddJob(name, 1 + i % 2, 1700000000, 1000 + i);
    for (const auto& inst : layout.instances) expected.insert(inst.log_stream);
  }
  for (const char* name : {"a", "a-b"}) {
    for (const auto& inst : AddJob(name, 1).instances) expected.insert(inst.log_stream);
  }
  for (bool descending : {false, true}) {
    std::vector<std::string> got;
    json request = {{"limit", 7}, {"descending", descending}};
    for (int pages = 0;; ++pages) {
      ASSERT_LT(pages, 100);
      json page = Ok("DescribeLogStreams", request);
      for (const json& s : page["logStreams"]) got.push_back(s["logStreamName"]);
      if (!page.contains("nextToken")) break;
      request["nextToken"] = page["nextToken"];
    }
    std::vector<std::string> want(expected.begin(), expected.end());
    if (descending) std::reverse(want.begin(), want.end());
    EXPECT_EQ(got, want);
  }
  json job_prefix = Ok("DescribeLogStreams", {{"logStreamNamePrefix", "job-12"}});
  EXPECT_EQ(job_prefix["logStreams"].size(), 16u);  // job-12 (1), job-120..129 (5 x 1 + 5 x 2)
}

TEST_F(LogsApiTest, OrderByLastEventTimeSortsByTheNewestEventAndRefusesAPrefix) {
  JobLayout a = AddJob("ja", 1), b = AddJob("jb", 1), c = AddJob("jc", 1);
  Write(a.instances[0], {{300, "x"}});
  Write(b.instances[0], {{100, "x"}});
  Write(c.instances[0], {{200, "x"}});
  json listed =
      Ok("DescribeLogStreams", {{"orderBy", "LastEventTime"}, {"descending", true}, {"limit", 2}});
  ASSERT_EQ(listed["logStreams"].size(), 2u);
  EXPECT_EQ(listed["logStreams"][0]["logStreamName"], a.instances[0].log_stream);
  EXPECT_EQ(listed["logStreams"][1]["logStreamName"], c.instances[0].log_stream);
  json rest =
      Ok("DescribeLogStreams",
         {{"orderBy", "LastEventTime"}, {"descending", true}, {"nextToken", listed["nextToken"]}});
  ASSERT_EQ(rest["logStreams"].size(), 1u);
  EXPECT_EQ(rest["logStreams"][0]["logStreamName"], b.instances[0].log_stream);
  EXPECT_FALSE(rest.contains("nextToken"));

  auto both =
      Call("DescribeLogStreams", {{"orderBy", "LastEventTime"}, {"logStreamNamePrefix", "ja/"}});
  EXPECT_STREQ(LogsErrorCode(both.status()), "InvalidParameterException");
  auto mixed = Call("DescribeLogStreams",
                    {{"orderBy", "LogStreamName"}, {"nextToken", listed["nextToken"]}});
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  auto order = Call("DescribeLogStreams", {{"orderBy", "Size"}});
  EXPECT_EQ(order.status().code(), StatusCode::kInvalidArgument);
  auto limit = Call("DescribeLogStreams", {{"limit", 51}});
  EXPECT_EQ(limit.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LogsApiTest, GroupIsNamedByNameOrIdentifierButNotBoth) {
  AddJob("g", 1);
  json by_arn =
      logs_
          ->DescribeLogStreams({{"logGroupIdentifier",
                                 "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/"
                                 "ProcessingJobs"}})
          .value();
  EXPECT_EQ(by_arn["logStreams"].size(), 1u);
  auto unknown = logs_->DescribeLogStreams({{"logGroupName", "/aws/sagemaker/TrainingJobs"}});
  EXPECT_EQ(unknown.status().message(), "The specified log group does not exist.");
  EXPECT_STREQ(LogsErrorCode(unknown.status()), "ResourceNotFoundException");
  auto both = logs_->DescribeLogStreams(
      {{"logGroupName", kProcessingJobsLogGroup}, {"logGroupIdentifier", kProcessingJobsLogGroup}});
  EXPECT_EQ(both.status().code(), StatusCode::kInvalidArgument);
  auto neither = logs_->DescribeLogStreams(json::object());
  EXPECT_EQ(neither.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LogsApiTest, DescribeLogGroupsHasTheOneGroupAndFiltersIt) {
  json all = logs_->DescribeLogGroups(json::object()).value();
  ASSERT_EQ(all["logGroups"].size(), 1u);
  EXPECT_EQ(all["logGroups"][0]["logGroupName"], kProcessingJobsLogGroup);
  EXPECT_EQ(all["logGroups"][0]["creationTime"], 42);
  EXPECT_EQ(all["logGroups"][0]["arn"],
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/ProcessingJobs:*");
  EXPECT_FALSE(all.contains("nextToken"));
  EXPECT_EQ(logs_->DescribeLogGroups({{"logGroupNamePrefix", "/aws/sagemaker/"}})
                .value()["logGroups"]
                .size(),
            1u);
  EXPECT_TRUE(logs_->DescribeLogGroups({{"logGroupNamePrefix", "/aws/lambda"}})
                  .value()["logGroups"]
                  .empty());
  EXPECT_EQ(logs_->DescribeLogGroups({{"logGroupNamePattern", "processingjobs"}})
                .value()["logGroups"]
                .size(),
            1u);
  EXPECT_FALSE(
      logs_->DescribeLogGroups({{"logGroupNamePrefix", "/"}, {"logGroupNamePattern", "x"}}).ok());
}

// ----- FilterLogEvents -----

TEST_F(LogsApiTest, FilterInterleavesStreamsByTimeThenStreamNameAndPagesExactly) {
  JobLayout job = AddJob("merge", 2);
  // Ties at the same millisecond across and within streams; one stream's clock steps back.
  Write(job.instances[0], {{10, "a1"}, {20, "a2"}, {20, "a3"}, {15, "a4-late-clock"}, {40, "a5"}});
  Write(job.instances[1], {{10, "b1"}, {20, "b2"}, {30, "b3"}});
  std::vector<std::string> want = {"a1", "b1", "a4-late-clock", "a2", "a3", "b2", "b3", "a5"};

  json all = Ok("FilterLogEvents", {{"logStreamNamePrefix", "merge/"}});
  std::vector<std::string> got;
  std::set<std::string> ids;
  for (const json& e : all["events"]) {
    got.push_back(e["message"]);
    ids.insert(e["eventId"].get<std::string>());
    EXPECT_EQ(e["ingestionTime"], e["timestamp"]);
    EXPECT_EQ(e["eventId"].get<std::string>().size(), 56u);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(ids.size(), want.size());
  EXPECT_FALSE(all.contains("nextToken"));

  for (int limit : {1, 3}) {
    std::vector<std::string> paged;
    json request = {{"logStreamNamePrefix", "merge/"}, {"limit", limit}};
    for (int pages = 0;; ++pages) {
      ASSERT_LT(pages, 20);
      json page = Ok("FilterLogEvents", request);
      for (const json& e : page["events"]) {
        paged.push_back(e["message"]);
        EXPECT_TRUE(ids.count(e["eventId"].get<std::string>())) << "event ids must be stable";
      }
      if (!page.contains("nextToken")) break;
      request["nextToken"] = page["nextToken"];
    }
    EXPECT_EQ(paged, want) << "limit " << limit;
  }
}

TEST_F(LogsApiTest, FilterAppliesTimeRangeStreamNamesAndPattern) {
  JobLayout job = AddJob("flt", 2);
  Write(job.instances[0], {{10, "ERROR disk full"}, {20, "INFO ok"}, {30, "WARN slow disk"}});
  Write(job.instances[1], {{15, "ERROR \"quoted\" thing"}, {25, "DEBUG noise ERROR"}});
  auto messages = [&](json request) {
    std::vector<std::string> out;
    json page = Ok("FilterLogEvents", std::move(request));
    for (const json& e : page["events"]) {
      out.push_back(e["message"]);
    }
    return out;
  };
  EXPECT_EQ(
      messages({{"filterPattern", "ERROR"}}),
      (std::vector<std::string>{"ERROR disk full", "ERROR \"quoted\" thing", "DEBUG noise ERROR"}));
  EXPECT_EQ(messages({{"filterPattern", "ERROR -DEBUG"}}),
            (std::vector<std::string>{"ERROR disk full", "ERROR \"quoted\" thing"}));
  EXPECT_EQ(messages({{"filterPattern", "?WARN ?INFO"}}),
            (std::vector<std::string>{"INFO ok", "WARN slow disk"}));
  EXPECT_EQ(messages({{"filterPattern", "\"disk full\""}}),
            (std::vector<std::string>{"ERROR disk full"}));
  EXPECT_EQ(messages({{"startTime", 15}, {"endTime", 30}}),
            (std::vector<std::string>{"ERROR \"quoted\" thing", "INFO ok", "DEBUG noise ERROR"}));
  EXPECT_EQ(messages({{"logStreamNames", {job.instances[1].log_stream, "flt/algo-7-1"}}}),
            (std::vector<std::string>{"ERROR \"quoted\" thing", "DEBUG noise ERROR"}));
  auto both = Call("FilterLogEvents", {{"logStreamNames", {job.instances[1].log_stream}},
                                       {"logStreamNamePrefix", "f"}});
  EXPECT_EQ(both.status().code(), StatusCode::kInvalidArgument);
  auto json_pattern = Call("FilterLogEvents", {{"filterPattern", "{ $.level = \"ERROR\" }"}});
  EXPECT_STREQ(LogsErrorCode(json_pattern.status()), "InvalidParameterException");
  auto token = Call("FilterLogEvents", {{"nextToken", "f/0"}});
  EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
}

TEST(FilterPatternTest, ParsesTermsPhrasesOptionalAndExcludedTerms) {
  auto p = FilterPattern::Parse(R"(  ERROR "two words" ?x ?y -skip "esc \" q" )");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->Matches("ERROR two words x esc \" q"));
  EXPECT_TRUE(p->Matches("y ERROR two words esc \" q"));
  EXPECT_FALSE(p->Matches("ERROR two words esc \" q"));  // neither ?x nor ?y
  EXPECT_FALSE(p->Matches("ERROR two words x esc \" q skip"));
  EXPECT_FALSE(p->Matches("ERROR two  words x esc \" q"));
  EXPECT_TRUE(FilterPattern::Parse("")->MatchesEverything());
  EXPECT_FALSE(FilterPattern::Parse("\"open").ok());
  EXPECT_FALSE(FilterPattern::Parse("[ip, user]").ok());
  EXPECT_FALSE(FilterPattern::Parse("%ERR.*%").ok());
}

}  // namespace
}  // namespace kiln
