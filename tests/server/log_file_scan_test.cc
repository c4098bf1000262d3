#include "server/log_file_scan.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/log_stream.h"

namespace kiln {
namespace {

class LogFileScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-logscan-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/stream.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Append(int64_t ts, const std::string& message) {
    auto writer = LogStreamWriter::Open(path_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Append(ts, message).ok());
  }
  void AppendRaw(const std::string& bytes) {
    std::ofstream(path_, std::ios::app | std::ios::binary) << bytes;
  }

  struct Seen {
    int64_t ts;
    std::string message;
    uint64_t offset, end_offset;
  };
  static ScanVisitor Collect(std::vector<Seen>* out, size_t stop_after = SIZE_MAX) {
    return [out, stop_after](const ScannedEvent& e) {
      out->push_back({e.timestamp_ms, DecodeLogMessage(e.encoded_message), e.offset, e.end_offset});
      return out->size() >= stop_after ? ScanStep::kStopAfter : ScanStep::kContinue;
    };
  }

  std::string dir_;
  std::string path_;
};

TEST_F(LogFileScanTest, ForwardScanGivesEveryEventWithItsByteRange) {
  Append(1, "one");
  Append(2, "two\nlines \\ slash");
  Append(3, "");
  std::vector<Seen> seen;
  auto end = ScanLogForward(path_, 0, Collect(&seen));
  ASSERT_TRUE(end.ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].offset, 0u);
  EXPECT_EQ(seen[0].end_offset, seen[1].offset);
  EXPECT_EQ(seen[1].message, "two\nlines \\ slash");
  EXPECT_EQ(seen[2].message, "");
  EXPECT_EQ(*end, std::filesystem::file_size(path_));
  EXPECT_EQ(*end, seen[2].end_offset);
}

TEST_F(LogFileScanTest, StopBeforeLeavesTheEventUnconsumed) {
  for (int i = 0; i < 5; ++i) Append(i, "m" + std::to_string(i));
  std::vector<Seen> seen;
  auto end = ScanLogForward(path_, 0, [&](const ScannedEvent& e) {
    if (e.timestamp_ms == 3) return ScanStep::kStopBefore;
    seen.push_back({e.timestamp_ms, "", e.offset, e.end_offset});
    return ScanStep::kContinue;
  });
  ASSERT_TRUE(end.ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(*end, seen[2].end_offset);
  std::vector<Seen> rest;
  ASSERT_TRUE(ScanLogForward(path_, *end, Collect(&rest)).ok());
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].message, "m3");
}

TEST_F(LogFileScanTest, BackwardScanVisitsLastFirstAcrossChunkBoundaries) {
  // Enough lines, and one longer than a read chunk, to cross several 64 KiB chunks.
  std::vector<std::string> messages;
  for (int i = 0; i < 20000; ++i) messages.push_back("line " + std::to_string(i));
  messages[12345] = std::string(200000, 'x');
  for (size_t i = 0; i < messages.size(); ++i) Append(static_cast<int64_t>(i), messages[i]);
  std::vector<Seen> backward;
  auto head = ScanLogBackward(path_, UINT64_MAX, Collect(&backward));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, 0u);
  ASSERT_EQ(backward.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const Seen& s = backward[messages.size() - 1 - i];
    ASSERT_EQ(s.message, messages[i]) << i;
    ASSERT_EQ(s.ts, static_cast<int64_t>(i));
  }
  std::vector<Seen> forward;
  ASSERT_TRUE(ScanLogForward(path_, 0, Collect(&forward)).ok());
  ASSERT_EQ(forward.size(), backward.size());
  for (size_t i = 0; i < forward.size(); ++i) {
    ASSERT_EQ(forward[i].offset, backward[forward.size() - 1 - i].offset);
  }
}

TEST_F(LogFileScanTest, BackwardScanFromAnOffsetSeesOnlyEarlierEvents) {
  for (int i = 0; i < 4; ++i) Append(i, "m" + std::to_string(i));
  std::vector<Seen> all;
  ASSERT_TRUE(ScanLogForward(path_, 0, Collect(&all)).ok());
  std::vector<Seen> before;
  auto start = ScanLogBackward(path_, all[2].offset, Collect(&before, 1));
  ASSERT_TRUE(start.ok());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].message, "m1");
  EXPECT_EQ(*start, all[1].offset);
}

TEST_F(LogFileScanTest, ATornLastLineIsInvisibleFromBothEnds) {
  Append(1, "whole");
  AppendRaw("2\tpart");
  std::vector<Seen> forward, backward;
  auto end = ScanLogForward(path_, 0, Collect(&forward));
  ASSERT_TRUE(ScanLogBackward(path_, UINT64_MAX, Collect(&backward)).ok());
  ASSERT_EQ(forward.size(), 1u);
  ASSERT_EQ(backward.size(), 1u);
  EXPECT_EQ(backward[0].message, "whole");
  EXPECT_EQ(*end, forward[0].end_offset);
  AppendRaw("ial\n");
  forward.clear();
  ASSERT_TRUE(ScanLogForward(path_, *end, Collect(&forward)).ok());
  ASSERT_EQ(forward.size(), 1u);
  EXPECT_EQ(forward[0].message, "partial");
}

TEST_F(LogFileScanTest, AMissingFileReadsAsAnEmptyStream) {
  std::vector<Seen> seen;
  auto forward = ScanLogForward(path_, 0, Collect(&seen));
  auto backward = ScanLogBackward(path_, UINT64_MAX, Collect(&seen));
  ASSERT_TRUE(forward.ok());
  ASSERT_TRUE(backward.ok());
  EXPECT_EQ(*forward, 0u);
  EXPECT_EQ(*backward, 0u);
  EXPECT_TRUE(seen.empty());
}

TEST_F(LogFileScanTest, BoundariesAreLineStartsAndTheEnd) {
  Append(1, "abc");
  Append(2, "def");
  EXPECT_TRUE(*IsLogEventBoundary(path_, 0));
  EXPECT_FALSE(*IsLogEventBoundary(path_, 3));
  EXPECT_TRUE(*IsLogEventBoundary(path_, 6));
  EXPECT_TRUE(*IsLogEventBoundary(path_, 12));
  EXPECT_FALSE(*IsLogEventBoundary(path_, 13));
  EXPECT_FALSE(*IsLogEventBoundary(path_, 1000));
}

TEST_F(LogFileScanTest, ReadsOneMessageByItsRange) {
  Append(1, "first");
  Append(2, "sec\\ond\nline");
  auto message = ReadLogMessageAt(path_, 8, std::filesystem::file_size(path_));
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  EXPECT_EQ(*message, "sec\\ond\nline");
}

}  // namespace
}  // namespace kiln
