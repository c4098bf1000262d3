// List: every filter, sort and order walked page by page must equal a plain in-memory
// filter-and-sort of the same records, and tokens must stay correct while jobs are inserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "store/sqlite_job_store.h"
#include "store_test_util.h"

namespace kiln {
namespace {

using testing_store::MakeRecord;
using testing_store::TempDir;

constexpr JobStatus kAllStatuses[] = {JobStatus::kInProgress, JobStatus::kCompleted,
                                      JobStatus::kFailed, JobStatus::kStopping,
                                      JobStatus::kStopped};

std::string WireName(JobStatus status) {
  static const std::map<JobStatus, std::string> kNames = {{JobStatus::kInProgress, "InProgress"},
                                                          {JobStatus::kCompleted, "Completed"},
                                                          {JobStatus::kFailed, "Failed"},
                                                          {JobStatus::kStopping, "Stopping"},
                                                          {JobStatus::kStopped, "Stopped"}};
  return kNames.at(status);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The reference model: records in insertion order (their index is the tie-breaker).
struct Model {
  std::vector<JobRecord> records;

  bool Matches(const JobRecord& r, const ListQuery& q) const {
    if (q.creation_time_after_ms && !(r.creation_time_ms > *q.creation_time_after_ms)) return false;
    if (q.creation_time_before_ms && !(r.creation_time_ms < *q.creation_time_before_ms)) {
      return false;
    }
    if (q.last_modified_time_after_ms &&
        !(r.last_modified_time_ms > *q.last_modified_time_after_ms))
      return false;
    if (q.last_modified_time_before_ms &&
        !(r.last_modified_time_ms < *q.last_modified_time_before_ms)) {
      return false;
    }
    if (q.name_contains && Lower(r.name).find(Lower(*q.name_contains)) == std::string::npos) {
      return false;
    }
    if (q.status_equals && r.status != *q.status_equals) return false;
    return true;
  }

  // Documented order: Name compares lower-cased names, Status compares wire names
  // alphabetically, ties go to insertion order (reversed when descending).
  std::vector<std::string> Expected(const ListQuery& q) const {
    std::vector<size_t> indexes;
    for (size_t i = 0; i < records.size(); ++i) {
      if (Matches(records[i], q)) indexes.push_back(i);
    }
    auto key = [&](size_t i) {
      const JobRecord& r = records[i];
      switch (q.sort_by) {
        case ListSortBy::kName:
          return std::make_tuple(int64_t{0}, Lower(r.name), i);
        case ListSortBy::kStatus:
          return std::make_tuple(int64_t{0}, WireName(r.status), i);
        case ListSortBy::kCreationTime:
          break;
      }
      return std::make_tuple(r.creation_time_ms, std::string(), i);
    };
    std::sort(indexes.begin(), indexes.end(), [&](size_t a, size_t b) {
      return q.sort_order == SortOrder::kAscending ? key(a) < key(b) : key(b) < key(a);
    });
    std::vector<std::string> names;
    for (size_t i : indexes) names.push_back(records[i].name);
    return names;
  }
};

class ListPaginationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteJobStore::Open(dir_.path() + "/jobs.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  void Add(JobRecord record) {
    ASSERT_TRUE(store_->Create(record).ok()) << record.name;
    model_.records.push_back(std::move(record));
  }

  // 250 jobs whose name order, creation order and insertion order all differ, with many ties on
  // creation time and status, and names whose case differs.
  void AddStandardJobs() {
    const char* kPrefixes[] = {"alpha", "Beta", "gamma", "DELTA"};
    for (int i = 0; i < 250; ++i) {
      JobRecord record =
          MakeRecord(std::string(kPrefixes[i % 4]) + "-" + std::to_string((i * 97) % 250),
                     1000 + (i * 37 % 60) * 10);
      record.last_modified_time_ms = record.creation_time_ms + (i * 13 % 100);
      record.status = kAllStatuses[(i * 7) % 5];
      Add(record);
    }
  }

  // Walks every page of `query`; fails the test on an error or a runaway loop.
  std::vector<std::string> ListAll(ListQuery query) {
    std::vector<std::string> names;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = store_->List(query);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->jobs.size()), query.max_results);
      for (const JobRecord& r : page->jobs) names.push_back(r.name);
      if (page->next_token.empty()) break;
      EXPECT_FALSE(page->jobs.empty()) << "a page with a token must not be empty";
      query.next_token = page->next_token;
    }
    return names;
  }

  TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
  Model model_;
};

std::vector<ListQuery> FilterVariants() {
  std::vector<ListQuery> queries;
  queries.emplace_back();
  ListQuery q;
  q.creation_time_after_ms = 1200;
  queries.push_back(q);
  q = {};
  q.creation_time_before_ms = 1300;
  queries.push_back(q);
  q = {};
  q.creation_time_after_ms = 1100;
  q.creation_time_before_ms = 1400;
  queries.push_back(q);
  q = {};
  q.last_modified_time_after_ms = 1250;
  queries.push_back(q);
  q = {};
  q.last_modified_time_before_ms = 1250;
  queries.push_back(q);
  q = {};
  q.name_contains = "ETA";  // Beta and DELTA, whatever their case
  queries.push_back(q);
  q = {};
  q.name_contains = "a-1";
  queries.push_back(q);
  q = {};
  q.name_contains = "no-such-name";
  queries.push_back(q);
  for (JobStatus status : kAllStatuses) {
    q = {};
    q.status_equals = status;
    queries.push_back(q);
  }
  q = {};
  q.creation_time_after_ms = 1050;
  q.last_modified_time_before_ms = 1500;
  q.name_contains = "l";
  q.status_equals = JobStatus::kFailed;
  queries.push_back(q);
  return queries;
}

TEST_F(ListPaginationTest, EveryFilterSortAndOrderMatchesInMemoryReference) {
  AddStandardJobs();
  int walks = 0;
  for (ListQuery query : FilterVariants()) {
    for (ListSortBy sort_by : {ListSortBy::kCreationTime, ListSortBy::kName, ListSortBy::kStatus}) {
      for (SortOrder order : {SortOrder::kAscending, SortOrder::kDescending}) {
        for (int max_results : {7, 100}) {
          query.sort_by = sort_by;
          query.sort_order = order;
          query.max_results = max_results;
          SCOPED_TRACE(::testing::Message()
                       << "sort " << static_cast<int>(sort_by) << " order "
                       << static_cast<int>(order) << " max " << max_results << " walk " << walks);
          EXPECT_EQ(ListAll(query), model_.Expected(query));
          ++walks;
        }
      }
    }
  }
  EXPECT_GT(walks, 100);
}

TEST_F(ListPaginationTest, DefaultQueryIsCreationTimeAscendingTenPerPage) {
  AddStandardJobs();
  ListQuery query;
  auto page = store_->List(query);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->jobs.size(), 10u);
  EXPECT_FALSE(page->next_token.empty());
  std::vector<std::string> expected = model_.Expected(query);
  expected.resize(10);
  std::vector<std::string> names;
  for (const JobRecord& r : page->jobs) names.push_back(r.name);
  EXPECT_EQ(names, expected);
}

TEST_F(ListPaginationTest, LastFullPageCarriesNoToken) {
  for (int i = 0; i < 10; ++i) Add(MakeRecord("job-" + std::to_string(i), i));
  ListQuery query;
  query.max_results = 5;
  auto first = store_->List(query);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_token.empty());
  query.next_token = first->next_token;
  auto second = store_->List(query);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->jobs.size(), 5u);
  EXPECT_TRUE(second->next_token.empty());

  ListQuery empty_filter;
  empty_filter.name_contains = "zzz";
  auto none = store_->List(empty_filter);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->jobs.empty());
  EXPECT_TRUE(none->next_token.empty());
}

TEST_F(ListPaginationTest, PagesStayConsistentWhenJobsAreInsertedBetweenThem) {
  AddStandardJobs();
  int extra = 0;
  for (ListSortBy sort_by : {ListSortBy::kCreationTime, ListSortBy::kName, ListSortBy::kStatus}) {
    for (SortOrder order : {SortOrder::kAscending, SortOrder::kDescending}) {
      SCOPED_TRACE(::testing::Message()
                   << "sort " << static_cast<int>(sort_by) << " order " << static_cast<int>(order));
      ListQuery query;
      query.sort_by = sort_by;
      query.sort_order = order;
      query.max_results = 9;
      const std::vector<std::string> before = model_.Expected(query);
      std::vector<std::string> seen;
      std::set<std::string> new_names;
      for (int pages = 0; pages < 200; ++pages) {
        auto page = store_->List(query);
        ASSERT_TRUE(page.ok()) << page.status().ToString();
        for (const JobRecord& r : page->jobs) seen.push_back(r.name);
        if (page->next_token.empty()) break;
        query.next_token = page->next_token;
        // New jobs land before, at and after the cursor in every sort order, including exact
        // ties with existing creation times and statuses.
        for (int k = 0; k < 3; ++k, ++extra) {
          JobRecord record = MakeRecord((extra % 2 ? "New-" : "new-") + std::to_string(extra),
                                        1000 + (extra * 53 % 61) * 10);
          record.status = kAllStatuses[extra % 5];
          new_names.insert(record.name);
          Add(record);
        }
      }
      std::set<std::string> unique(seen.begin(), seen.end());
      EXPECT_EQ(unique.size(), seen.size()) << "a job was listed twice";
      std::vector<std::string> old_seen;
      for (const std::string& name : seen) {
        if (!new_names.count(name)) old_seen.push_back(name);
      }
      EXPECT_EQ(old_seen, before) << "existing jobs were skipped or reordered";
      // Whatever was listed, new jobs included, is in the query's order.
      query.next_token.clear();
      std::vector<std::string> order_now = model_.Expected(query);
      std::vector<std::string> seen_in_final_order;
      for (const std::string& name : order_now) {
        if (unique.count(name)) seen_in_final_order.push_back(name);
      }
      EXPECT_EQ(seen, seen_in_final_order);
    }
  }
}

TEST_F(ListPaginationTest, TokensNotIssuedForTheQueryAreInvalidArgument) {
  for (int i = 0; i < 5; ++i) Add(MakeRecord("job-" + std::to_string(i), i));
  ListQuery query;
  query.max_results = 2;
  query.name_contains = "job";
  auto first = store_->List(query);
  ASSERT_TRUE(first.ok());
  const std::string token = first->next_token;
  ASSERT_FALSE(token.empty());

  auto expect_invalid = [this](ListQuery q, const std::string& why) {
    auto page = store_->List(q);
    EXPECT_EQ(page.status().code(), StatusCode::kInvalidArgument) << why;
    EXPECT_NE(page.status().message().find("Invalid pagination token"), std::string::npos)
        << page.status().message();
  };
  ListQuery bad = query;
  for (const char* garbage : {"not a token!", "x", "eyJ2IjoxfQ", "AAAA", "e30"}) {
    bad.next_token = garbage;
    expect_invalid(bad, garbage);
  }
  bad = query;
  bad.next_token = token;
  bad.sort_by = ListSortBy::kName;
  expect_invalid(bad, "other sort");
  bad = query;
  bad.next_token = token;
  bad.sort_order = SortOrder::kDescending;
  expect_invalid(bad, "other order");
  bad = query;
  bad.next_token = token;
  bad.name_contains = "jo";
  expect_invalid(bad, "other filter");
  bad = query;
  bad.next_token = token;
  bad.status_equals = JobStatus::kInProgress;
  expect_invalid(bad, "added filter");

  // A different page size is fine.
  ListQuery resized = query;
  resized.next_token = token;
  resized.max_results = 10;
  auto rest = store_->List(resized);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->jobs.size(), 3u);
  EXPECT_TRUE(rest->next_token.empty());
}

TEST_F(ListPaginationTest, NonPositiveMaxResultsIsInvalidArgument) {
  ListQuery query;
  query.max_results = 0;
  EXPECT_EQ(store_->List(query).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln
