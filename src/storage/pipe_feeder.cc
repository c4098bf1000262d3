#include "storage/pipe_feeder.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <utility>

#include "storage/safe_fs.h"
#include "storage/staging_internal.h"

namespace kiln {
namespace {

using staging_internal::ElapsedSince;
using staging_internal::FormatBytes;
using staging_internal::ObjectUri;

std::string Label(const InputSpec& in) { return "input '" + in.name + "'"; }

// Writes to the non-blocking FIFO, waiting for room with poll, until Cancel signals `event_fd`.
class FifoWriter {
 public:
  FifoWriter(int fifo_fd, int event_fd, const std::atomic<bool>* cancelled)
      : fifo_fd_(fifo_fd), event_fd_(event_fd), cancelled_(cancelled) {}

  Status Write(std::string_view data) {
    if (cancelled_->load()) return Status::Cancelled("cancelled");
    while (!data.empty()) {
      ssize_t n = ::write(fifo_fd_, data.data(), data.size());
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EPIPE) return ReaderGone();
      if (n < 0 && errno != EAGAIN) return Status::FromErrno("write to the FIFO", errno);
      struct pollfd fds[2] = {{fifo_fd_, POLLOUT, 0}, {event_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
      if (fds[1].revents & POLLIN) return Status::Cancelled("cancelled");
      if (fds[0].revents & POLLERR) return ReaderGone();
    }
    return Status::Ok();
  }
  bool reader_gone() const { return reader_gone_; }

 private:
  Status ReaderGone() {
    reader_gone_ = true;
    return Status::FailedPrecondition("the reader closed the FIFO");
  }

  int fifo_fd_;
  int event_fd_;
  const std::atomic<bool>* cancelled_;
  bool reader_gone_ = false;
};

// Inflates one object's gzip data (possibly several concatenated members) into a sink.
class Gunzip {
 public:
  Gunzip() { ::inflateInit2(&zs_, 16 + MAX_WBITS); }
  ~Gunzip() { ::inflateEnd(&zs_); }
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  Status Feed(std::string_view in, const std::function<Status(std::string_view)>& sink) {
    fed_any_ = fed_any_ || !in.empty();
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      if (stream_end_ && zs_.avail_in > 0) {
        ::inflateReset(&zs_);
        stream_end_ = false;
      }
      zs_.next_out = reinterpret_cast<Bytef*>(out_);
      zs_.avail_out = sizeof out_;
      int rc = ::inflate(&zs_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        return Status::InvalidArgument(std::string("not valid gzip data (") +
                                       (zs_.msg ? zs_.msg : "inflate failed") + ")");
      }
      if (rc == Z_STREAM_END) stream_end_ = true;
      size_t produced = sizeof out_ - zs_.avail_out;
      if (produced > 0) RETURN_IF_ERROR(sink(std::string_view(out_, produced)));
      bool output_pending = zs_.avail_out == 0;
      if (rc == Z_BUF_ERROR && !output_pending) return Status::Ok();
      if (zs_.avail_in == 0 && !output_pending) return Status::Ok();
    }
  }
  Status Finish() const {
    if (fed_any_ && !stream_end_) return Status::InvalidArgument("gzip data is truncated");
    return Status::Ok();
  }

 private:
  z_stream zs_{};
  bool stream_end_ = false;
  bool fed_any_ = false;
  char out_[1 << 16];
};

}  // namespace

struct PipeFeeder::State {
  InputSpec input;
  staging_internal::InputPlan plan;
  std::string container_fifo;
  ProgressFn progress;
  UniqueFd fifo_ref;      // O_PATH handle: reopening it survives renames and never follows links
  UniqueFd cancel_event;  // eventfd, readable once Cancel was called
  std::atomic<bool> cancelled{false};
  std::mutex mu;
  UniqueFd kick_reader;  // guarded by mu; a read end Cancel opens so a blocked open() returns

  std::string RefPath() const { return "/proc/self/fd/" + std::to_string(fifo_ref.get()); }
  void Report(const std::string& line) const {
    if (progress) progress(line);
  }
  Status Run();
};

Status PipeFeeder::State::Run() {
  auto start = std::chrono::steady_clock::now();
  Report("Streaming " + Label(input) + " from " + input.uri + " into the FIFO " + container_fifo +
         ": " + std::to_string(plan.objects.size()) + " objects, " + FormatBytes(plan.bytes) +
         (input.compression == "Gzip" ? " (gzip, decompressed)" : ""));
  UniqueFd fifo;
  for (;;) {
    fifo.Reset(::open(RefPath().c_str(), O_WRONLY | O_CLOEXEC));  // waits for a reader
    if (fifo.valid() || errno != EINTR) break;
  }
  if (!fifo.valid()) return Status::FromErrno(Label(input) + ": open " + container_fifo, errno);
  if (cancelled.load()) return Status::Cancelled(Label(input) + ": cancelled");
  ::fcntl(fifo.get(), F_SETFL, ::fcntl(fifo.get(), F_GETFL) | O_NONBLOCK);
  // A reader that goes away must show up as EPIPE here, not kill the server.
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);

  FifoWriter writer(fifo.get(), cancel_event.get(), &cancelled);
  bool gzip = input.compression == "Gzip";
  for (const staging_internal::PlannedObject& obj : plan.objects) {
    Gunzip gunzip;
    auto write = [&](std::string_view chunk) { return writer.Write(chunk); };
    Status st = plan.store->ReadObject(plan.base.bucket, obj.key, [&](std::string_view chunk) {
      return gzip ? gunzip.Feed(chunk, write) : writer.Write(chunk);
    });
    if (st.ok() && gzip) st = gunzip.Finish();
    if (writer.reader_gone()) {
      Report("The job closed the FIFO of " + Label(input) + " before reading all of it");
      return Status::Ok();
    }
    if (st.code() == StatusCode::kCancelled) return Status::Cancelled(Label(input) + ": cancelled");
    if (!st.ok()) {
      return st.WithPrefix(Label(input) + ": object " +
                           ObjectUri(plan.base_uri, plan.base, obj.key));
    }
  }
  fifo.Reset();  // the reader sees end-of-file
  Report("Streamed " + Label(input) + " in " + ElapsedSince(start));
  return Status::Ok();
}

Result<std::unique_ptr<PipeFeeder>> PipeFeeder::Start(const JobSpec& spec, int instance_index,
                                                      const InputSpec& input,
                                                      const std::string& processing_root,
                                                      ObjectStoreResolver& resolver,
                                                      ProgressFn progress) {
  if (spec.instance_count < 1 || instance_index < 0 || instance_index >= spec.instance_count) {
    return Status::InvalidArgument("instance index " + std::to_string(instance_index) +
                                   " is outside InstanceCount " +
                                   std::to_string(spec.instance_count));
  }
  auto state = std::make_unique<State>();
  state->input = input;
  state->progress = std::move(progress);
  RETURN_IF_ERROR(
      staging_internal::PlanInput(spec, instance_index, state->input, resolver, &state->plan));
  std::vector<std::string> dirs = state->plan.local_dir;
  if (dirs.empty()) {
    return Status::InvalidArgument(Label(input) + ": a Pipe-mode LocalPath needs a name");
  }
  std::string name = dirs.back() + "_0";
  dirs.pop_back();
  state->container_fifo = input.local_path + "_0";

  auto dir = OpenDirBeneath(processing_root, dirs, /*create=*/true);
  if (!dir.ok())
    return dir.status().WithPrefix(Label(input) + ": cannot create the FIFO's directory");
  if (::mkfifoat(dir->get(), name.c_str(), 0644) != 0) {
    return Status::FromErrno(Label(input) + ": mkfifo " + state->container_fifo, errno);
  }
  ::fchmodat(dir->get(), name.c_str(), 0644, 0);  // whatever the umask, the job may read it
  state->fifo_ref.Reset(::openat(dir->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!state->fifo_ref.valid()) {
    return Status::FromErrno(Label(input) + ": open " + state->container_fifo, errno);
  }
  state->cancel_event.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state->cancel_event.valid()) return Status::FromErrno("eventfd", errno);

  std::string host_fifo = HostPathFor(processing_root, state->container_fifo);
  std::unique_ptr<PipeFeeder> feeder(new PipeFeeder(std::move(host_fifo), std::move(state)));
  PipeFeeder* raw = feeder.get();
  feeder->thread_ = std::thread([raw] { raw->result_ = raw->state_->Run(); });
  return feeder;
}

PipeFeeder::PipeFeeder(std::string fifo_path, std::unique_ptr<State> state)
    : fifo_path_(std::move(fifo_path)), state_(std::move(state)) {}

PipeFeeder::~PipeFeeder() {
  if (!joined_) {
    Cancel();
    (void)Join();
  }
}

void PipeFeeder::Cancel() {
  state_->cancelled.store(true);
  uint64_t one = 1;
  (void)!::write(state_->cancel_event.get(), &one, sizeof one);
  std::lock_guard<std::mutex> lock(state_->mu);
  if (!state_->kick_reader.valid()) {
    state_->kick_reader.Reset(::open(state_->RefPath().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  }
}

Status PipeFeeder::Join() {
  if (joined_) return result_;
  if (thread_.joinable()) thread_.join();
  joined_ = true;
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->kick_reader.Reset();
  return result_;
}

}  // namespace kiln
