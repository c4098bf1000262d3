#include "storage/parallel_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace kiln {
namespace {

TEST(ParallelForTest, RunsEveryItemExactlyOnce) {
  std::vector<std::atomic<int>> runs(100);
  Status st = ParallelFor(runs.size(), 8, [&](size_t i) {
    ++runs[i];
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok());
  for (auto& r : runs) EXPECT_EQ(r.load(), 1);
}

TEST(ParallelForTest, ReturnsTheFailureOfTheLowestFailedItem) {
  Status st = ParallelFor(50, 1, [&](size_t i) {
    return i == 7 || i == 9 ? Status::NotFound("item " + std::to_string(i)) : Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "item 7");
}

TEST(ParallelForTest, StopsStartingItemsAfterAFailure) {
  std::atomic<int> started{0};
  Status st = ParallelFor(1000, 1, [&](size_t i) {
    ++started;
    return i == 3 ? Status::Internal("boom") : Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(started.load(), 4);
}

TEST(ParallelForTest, NoItemsIsOk) {
  EXPECT_TRUE(ParallelFor(0, 8, [](size_t) { return Status::Internal("never"); }).ok());
}

}  // namespace
}  // namespace kiln
