#include "storage/pipe_feeder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <future>

#include "staging_fixture.h"

namespace kiln {
namespace {

constexpr char kTrain[] = "/opt/ml/processing/input/train";

std::string Gzip(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Reads a FIFO to end-of-file on another thread, as the job would.
std::future<std::string> ReadToEnd(const std::string& path) {
  return std::async(std::launch::async, [path] {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::string out;
    if (fd < 0) return std::string("<open failed>");
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  });
}

class PipeFeederTest : public StagingTest {
 protected:
  InputSpec PipeInput(const std::string& uri) {
    InputSpec in = Input("train", uri, kTrain);
    in.input_mode = "Pipe";
    return in;
  }
  Result<std::unique_ptr<PipeFeeder>> Start(const JobSpec& spec, int instance = 0) {
    return PipeFeeder::Start(spec, instance, spec.inputs[0], sandbox_, *resolver_,
                             [this](const std::string& line) {
                               std::lock_guard<std::mutex> lock(mu_);
                               lines_.push_back(line);
                             });
  }
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(PipeFeederTest, StreamsEveryObjectInKeyOrderIntoAFifoBesideLocalPath) {
  Data("in/b", "second,");
  Data("in/a", "first,");
  Data("in/sub/c", "third");
  JobSpec spec = Spec({PipeInput(Uri("in/"))});
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok()) << feeder.status().ToString();
  std::string fifo = sandbox_ + "/input/train_0";
  EXPECT_EQ((*feeder)->fifo_path(), fifo);
  struct stat st;
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  auto reader = ReadToEnd(fifo);
  EXPECT_EQ(reader.get(), "first,second,third");
  EXPECT_TRUE((*feeder)->Join().ok());
  EXPECT_FALSE(std::filesystem::exists(sandbox_ + "/input/train"));
}

TEST_F(PipeFeederTest, GzipInputsAreDecompressedIncludingConcatenatedMembers) {
  std::string big(300000, 'z');
  Data("gz/1.gz", Gzip("hello ") + Gzip("world "));
  Data("gz/2.gz", Gzip(big));
  JobSpec spec = Spec({PipeInput(Uri("gz/"))});
  spec.inputs[0].compression = "Gzip";
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok()) << feeder.status().ToString();
  auto reader = ReadToEnd((*feeder)->fifo_path());
  EXPECT_TRUE(reader.get() == "hello world " + big);
  EXPECT_TRUE((*feeder)->Join().ok());
}

TEST_F(PipeFeederTest, CorruptGzipFailsNamingTheInputAndObject) {
  Data("gz/bad.gz", "not gzip at all");
  JobSpec spec = Spec({PipeInput(Uri("gz/"))});
  spec.inputs[0].compression = "Gzip";
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok());
  auto reader = ReadToEnd((*feeder)->fifo_path());
  Status st = (*feeder)->Join();
  reader.get();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(st.message().starts_with("input 'train': object " + Uri("gz/bad.gz")))
      << st.message();
}

TEST_F(PipeFeederTest, ShardedPipeInputsStreamOnlyTheInstancesShare) {
  for (const char* k : {"a", "b", "c", "d"}) Data(std::string("in/") + k, k);
  JobSpec spec = Spec({PipeInput(Uri("in/"))}, {}, 2);
  spec.inputs[0].distribution = "ShardedByS3Key";
  auto feeder = Start(spec, 1);
  ASSERT_TRUE(feeder.ok());
  EXPECT_EQ(ReadToEnd((*feeder)->fifo_path()).get(), "bd");
  EXPECT_TRUE((*feeder)->Join().ok());
}

TEST_F(PipeFeederTest, CancelUnblocksAFeederWaitingForAReader) {
  Data("in/a", "a");
  JobSpec spec = Spec({PipeInput(Uri("in/"))});
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok());
  (*feeder)->Cancel();
  EXPECT_EQ((*feeder)->Join().code(), StatusCode::kCancelled);
}

TEST_F(PipeFeederTest, CancelUnblocksAFeederWaitingForRoomInThePipe) {
  Data("in/big", std::string(4 << 20, 'x'));
  JobSpec spec = Spec({PipeInput(Uri("in/"))});
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok());
  // A reader that opens the FIFO and never reads: the writer fills the pipe and waits.
  int fd = ::open((*feeder)->fifo_path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  (*feeder)->Cancel();
  EXPECT_EQ((*feeder)->Join().code(), StatusCode::kCancelled);
  ::close(fd);
}

TEST_F(PipeFeederTest, AReaderThatStopsEarlyEndsTheFeederQuietly) {
  Data("in/big", std::string(4 << 20, 'x'));
  JobSpec spec = Spec({PipeInput(Uri("in/"))});
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok());
  int fd = ::open((*feeder)->fifo_path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char c;
  ASSERT_EQ(::read(fd, &c, 1), 1);
  ::close(fd);
  EXPECT_TRUE((*feeder)->Join().ok());
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_NE(lines_.back().find("before reading all of it"), std::string::npos) << lines_.back();
}

TEST_F(PipeFeederTest, PlanningErrorsCreateNoFifo) {
  JobSpec spec = Spec({PipeInput(Uri("nothing/"))});
  auto feeder = Start(spec);
  EXPECT_EQ(feeder.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(PipeFeederTest, DestroyingARunningFeederCancelsIt) {
  Data("in/a", "a");
  JobSpec spec = Spec({PipeInput(Uri("in/"))});
  auto feeder = Start(spec);
  ASSERT_TRUE(feeder.ok());
  feeder.value().reset();  // must not hang
}

}  // namespace
}  // namespace kiln
