#include "cli/job_commands.h"

#include <algorithm>
#include <string_view>

#include "cli/log_follower.h"
#include "cli/output.h"

namespace kiln::cli {
namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kFirstPoll{200};
constexpr std::chrono::milliseconds kMaxPoll{1000};
constexpr int kMaxUnavailablePolls = 30;

int Fail(const CommandContext& ctx, const Status& status) {
  *ctx.err << FormatError(status) << std::flush;
  return kExitFailure;
}

std::string StringAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool IsTerminal(const std::string& status) {
  return status == "Completed" || status == "Failed" || status == "Stopped";
}

int InstanceCount(const json& job) {
  auto resources = job.find("ProcessingResources");
  if (resources == job.end() || !resources->is_object()) return 1;
  auto cluster = resources->find("ClusterConfig");
  if (cluster == resources->end() || !cluster->is_object()) return 1;
  auto count = cluster->find("InstanceCount");
  return count != cluster->end() && count->is_number_integer() ? count->get<int>() : 1;
}

// Kiln's own lines in a job's log streams (staging and upload progress) start with this.
constexpr std::string_view kPlatformLinePrefix = "[kiln] ";

// Writes log events to `out`, prefixed with the host when the job has several instances; with
// `platform_only`, only Kiln's own progress lines.
class LogPrinter {
 public:
  LogPrinter(std::ostream* out, bool prefix_hosts, bool platform_only)
      : out_(out), prefix_hosts_(prefix_hosts), platform_only_(platform_only) {}
  void operator()(const LogEvent& event) const {
    if (platform_only_ && !event.message.starts_with(kPlatformLinePrefix)) return;
    if (prefix_hosts_) *out_ << "[" << event.host << "] ";
    *out_ << event.message;
    if (event.message.empty() || event.message.back() != '\n') *out_ << '\n';
    out_->flush();
  }

 private:
  std::ostream* out_;
  bool prefix_hosts_;
  bool platform_only_;
};

// Polls the job until it is terminal, reporting status changes on stderr and, when `follower`
// is given, printing logs (with `platform_only`, just Kiln's progress lines, on stderr). A logs
// failure is reported once, then the wait continues without logs when `logs_optional`, or ends
// with the error otherwise.
Result<json> WatchJob(const CommandContext& ctx, const std::string& name, LogFollower* follower,
                      bool logs_optional, bool report_status, bool platform_only = false) {
  std::string last_status;
  std::chrono::milliseconds interval = kFirstPoll;
  std::optional<LogPrinter> printer;
  int unavailable = 0;
  for (;;) {
    Result<json> described =
        ctx.sagemaker->Call("DescribeProcessingJob", {{"ProcessingJobName", name}});
    if (!described.ok()) {
      // Ride out throttling and a server restart; anything else (or a long outage) ends the wait.
      if (described.status().code() != StatusCode::kUnavailable ||
          ++unavailable > kMaxUnavailablePolls) {
        return described.status();
      }
      ctx.sleep(kMaxPoll);
      continue;
    }
    unavailable = 0;
    json job = std::move(described).value();
    std::string status = StringAt(job, "ProcessingJobStatus");
    if (status != last_status) {
      if (report_status) *ctx.err << name << ": " << status << "\n" << std::flush;
      last_status = status;
      interval = kFirstPoll;
    }
    if (follower != nullptr) {
      if (!printer) {
        printer.emplace(platform_only ? ctx.err : ctx.out, InstanceCount(job) > 1, platform_only);
      }
      Status polled = follower->Poll(*printer);
      if (!polled.ok()) {
        if (!logs_optional) return polled;
        // Progress lines are a bonus: only a requested log stream is worth an error line.
        if (!platform_only) {
          *ctx.err << FormatError(polled.WithPrefix("cannot read logs")) << std::flush;
        }
        follower = nullptr;
      }
    }
    // The poll above ran after the terminal status was seen, so it drained the streams.
    if (IsTerminal(status)) return job;
    ctx.sleep(interval);
    interval = std::min(kMaxPoll, interval * 3 / 2);
  }
}

}  // namespace

int RunJob(const CommandContext& ctx, const json& request, bool wait, bool logs) {
  Result<json> created = ctx.sagemaker->Call("CreateProcessingJob", request);
  if (!created.ok()) return Fail(ctx, created.status());
  *ctx.out << StringAt(*created, "ProcessingJobArn") << "\n" << std::flush;
  if (!wait && !logs) return kExitOk;

  const std::string name = StringAt(request, "ProcessingJobName");
  // --wait alone still shows Kiln's staging and upload progress (on stderr, beside the status).
  std::optional<LogFollower> follower;
  if (ctx.logs != nullptr) follower.emplace(ctx.logs, name);
  Result<json> job = WatchJob(ctx, name, follower ? &*follower : nullptr,
                              /*logs_optional=*/true, /*report_status=*/true,
                              /*platform_only=*/!logs);
  if (!job.ok()) return Fail(ctx, job.status());
  const std::string status = StringAt(*job, "ProcessingJobStatus");
  if (status == "Completed") return kExitOk;
  std::string reason = StringAt(*job, "FailureReason");
  *ctx.err << "kiln: job " << name << " " << status << (reason.empty() ? "" : ": " + reason) << "\n"
           << std::flush;
  return kExitFailure;
}

int ListJobs(const CommandContext& ctx, const ListFlags& flags) {
  json summaries = json::array();
  std::string token;
  for (;;) {
    json request = json::object();
    if (flags.status) request["StatusEquals"] = *flags.status;
    if (flags.name_contains) request["NameContains"] = *flags.name_contains;
    if (flags.sort_by) request["SortBy"] = *flags.sort_by;
    if (flags.sort_order) request["SortOrder"] = *flags.sort_order;
    int page_size = 100;
    if (flags.max > 0) {
      page_size = std::min<int>(100, flags.max - static_cast<int>(summaries.size()));
    }
    request["MaxResults"] = page_size;
    if (!token.empty()) request["NextToken"] = token;
    Result<json> page = ctx.sagemaker->Call("ListProcessingJobs", request);
    if (!page.ok()) return Fail(ctx, page.status());
    const json& items = (*page)["ProcessingJobSummaries"];
    if (items.is_array()) {
      for (const json& item : items) summaries.push_back(item);
    }
    if (flags.max > 0 && static_cast<int>(summaries.size()) >= flags.max) {
      summaries.erase(summaries.begin() + flags.max, summaries.end());
      break;
    }
    std::string next = StringAt(*page, "NextToken");
    if (next.empty() || next == token) break;
    token = std::move(next);
  }
  if (flags.json) {
    *ctx.out << summaries.dump(2) << "\n";
  } else {
    *ctx.out << RenderJobTable(summaries);
  }
  ctx.out->flush();
  return kExitOk;
}

int DescribeJob(const CommandContext& ctx, const std::string& name, bool json_output) {
  Result<json> job = ctx.sagemaker->Call("DescribeProcessingJob", {{"ProcessingJobName", name}});
  if (!job.ok()) return Fail(ctx, job.status());
  *ctx.out << (json_output ? job->dump(2) + "\n" : RenderJobDescription(*job)) << std::flush;
  return kExitOk;
}

int StopJob(const CommandContext& ctx, const std::string& name) {
  Result<json> done = ctx.sagemaker->Call("StopProcessingJob", {{"ProcessingJobName", name}});
  if (!done.ok()) return Fail(ctx, done.status());
  *ctx.err << "Stopping " << name << "\n" << std::flush;
  return kExitOk;
}

int DeleteJob(const CommandContext& ctx, const std::string& name) {
  Result<json> done = ctx.sagemaker->Call("DeleteProcessingJob", {{"ProcessingJobName", name}});
  if (!done.ok()) return Fail(ctx, done.status());
  *ctx.err << "Deleted " << name << "\n" << std::flush;
  return kExitOk;
}

int ShowLogs(const CommandContext& ctx, const std::string& name, bool follow) {
  LogFollower follower(ctx.logs, name);
  if (follow) {
    Result<json> job = WatchJob(ctx, name, &follower, /*logs_optional=*/false,
                                /*report_status=*/false);
    return job.ok() ? kExitOk : Fail(ctx, job.status());
  }
  // Describe first: it rejects unknown names and says how many instances (streams) to expect.
  Result<json> job = ctx.sagemaker->Call("DescribeProcessingJob", {{"ProcessingJobName", name}});
  if (!job.ok()) return Fail(ctx, job.status());
  Status polled = follower.Poll(LogPrinter(ctx.out, InstanceCount(*job) > 1, false));
  return polled.ok() ? kExitOk : Fail(ctx, polled);
}

}  // namespace kiln::cli
