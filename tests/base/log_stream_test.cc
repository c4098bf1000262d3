#include "base/log_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kiln {
namespace {

TEST(LogStreamTest, EventsRoundTripWithEscapesAndOffsetsResumeReading) {
  char tmpl[] = "/tmp/kiln-log-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/stream";
  auto writer = LogStreamWriter::Open(path);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Append(1000, "plain line").ok());
  ASSERT_TRUE(writer->Append(1001, "back\\slash and\nnewline\tand tab").ok());
  ASSERT_TRUE(writer->Append(1001, "third").ok());
  ASSERT_TRUE(writer->Sync().ok());

  auto first = ReadLogEvents(path, 0, 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->events.size(), 2u);
  EXPECT_EQ(first->events[0].timestamp_ms, 1000);
  EXPECT_EQ(first->events[0].message, "plain line");
  EXPECT_EQ(first->events[1].message, "back\\slash and\nnewline\tand tab");

  auto rest = ReadLogEvents(path, first->next_offset, 100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->events.size(), 1u);
  EXPECT_EQ(rest->events[0].message, "third");
  auto end = ReadLogEvents(path, rest->next_offset, 100);
  EXPECT_TRUE(end->events.empty());
  EXPECT_EQ(end->next_offset, rest->next_offset);
  std::filesystem::remove_all(dir);
}

TEST(LogStreamTest, ATornLastLineIsNotReturnedUntilComplete) {
  char tmpl[] = "/tmp/kiln-log-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/stream";
  {
    std::ofstream out(path);
    out << EncodeLogLine(5, "whole") << "6\tpart";
  }
  auto r = ReadLogEvents(path, 0, 100);
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].message, "whole");
  EXPECT_TRUE(ReadLogEvents(dir + "/missing", 0, 10)->events.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln
