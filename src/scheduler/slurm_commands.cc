#include "scheduler/slurm_commands.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

extern char** environ;

namespace kiln {
namespace {

constexpr size_t kMaxCapture = 4u << 20;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

int64_t SlurmTimeLimitMinutes(int64_t max_runtime_seconds, int margin_minutes) {
  int64_t minutes = (std::max<int64_t>(max_runtime_seconds, 1) + 59) / 60;
  return minutes + std::max(margin_minutes, 0);
}

std::string ShellQuote(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string BuildBatchScript(const SlurmSubmission& s) {
  std::string agent = ShellQuote(s.kiln_path) + " agent --endpoint " + ShellQuote(s.agent_endpoint);
  if (!s.scratch_dir.empty()) agent += " --scratch-dir " + ShellQuote(s.scratch_dir);
  std::string n = std::to_string(s.nodes);
  // The agent's key comes in the job's environment (KILN_AGENT_*), which srun passes on.
  return "#!/bin/sh\n"
         "# Kiln processing job " +
         s.job_name +
         ": one kiln agent per node plays algo-(SLURM_NODEID+1).\n"
         "exec srun --nodes=" +
         n + " --ntasks=" + n + " --ntasks-per-node=1 --kill-on-bad-exit=0 " + agent + "\n";
}

std::vector<std::string> BuildSbatchArgs(const SlurmClientOptions& options,
                                         const SlurmSubmission& s) {
  std::vector<std::string> args = {
      "--parsable",
      "--job-name=kiln-" + s.job_name,
      "--nodes=" + std::to_string(s.nodes),
      "--ntasks-per-node=1",
      "--time=" +
          std::to_string(SlurmTimeLimitMinutes(s.max_runtime_seconds, s.time_margin_minutes)),
      "--output=" + s.output_path,
      // The server's working directory need not exist on the nodes.
      "--chdir=/",
      "--export=ALL",
  };
  if (!s.comment.empty()) args.push_back("--comment=" + s.comment);
  if (!options.partition.empty()) args.push_back("--partition=" + options.partition);
  for (const std::string& extra : options.extra_sbatch_args) args.push_back(extra);
  return args;
}

Result<std::string> ParseSbatchJobId(const std::string& output) {
  std::string id = output.substr(0, output.find_first_of(";\n"));
  while (!id.empty() && (id.back() == ' ' || id.back() == '\r')) id.pop_back();
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("sbatch printed no job id: '" + output + "'");
  }
  return id;
}

bool IsSlurmStateFinal(const std::string& state) {
  return !(state == "PENDING" || state == "CONFIGURING" || state == "RUNNING" ||
           state == "COMPLETING" || state == "SUSPENDED" || state == "REQUEUED" ||
           state == "RESIZING" || state == "SIGNALING" || state == "STAGE_OUT" ||
           state == "REQUEUE_HOLD" || state == "REQUEUE_FED" || state == "RESV_DEL_HOLD");
}

Result<std::map<std::string, SlurmJobInfo>> ParseSqueueJson(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("jobs") || !doc["jobs"].is_array()) {
    return Status::InvalidArgument("squeue --json printed no job list");
  }
  std::map<std::string, SlurmJobInfo> jobs;
  for (const auto& j : doc["jobs"]) {
    if (!j.is_object() || !j.contains("job_id") || !j["job_id"].is_number_integer()) continue;
    SlurmJobInfo info;
    // 22.05 gives a string; later releases a list of flags with the base state first.
    const auto& state = j.value("job_state", nlohmann::json());
    if (state.is_string()) {
      info.state = state.get<std::string>();
    } else if (state.is_array() && !state.empty() && state[0].is_string()) {
      info.state = state[0].get<std::string>();
    }
    if (j.contains("state_reason") && j["state_reason"].is_string()) {
      info.reason = j["state_reason"].get<std::string>();
    }
    if (j.contains("nodes") && j["nodes"].is_string()) info.nodes = j["nodes"].get<std::string>();
    if (j.contains("name") && j["name"].is_string()) info.name = j["name"].get<std::string>();
    if (j.contains("comment") && j["comment"].is_string()) {
      info.comment = j["comment"].get<std::string>();
    }
    if (j.contains("exit_code") && j["exit_code"].is_number_integer()) {
      info.exit_code = j["exit_code"].get<int>();
    }
    jobs[std::to_string(j["job_id"].get<int64_t>())] = std::move(info);
  }
  return jobs;
}

std::vector<std::pair<std::string, std::string>> SlurmClientEnv(
    const SlurmClientOptions& options,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::pair<std::string, std::string>> env;
  const char* path = std::getenv("PATH");
  env.emplace_back("PATH", path != nullptr && *path != '\0'
                               ? path
                               : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (!options.slurm_conf.empty()) {
    env.emplace_back("SLURM_CONF", options.slurm_conf);
  } else if (const char* conf = std::getenv("SLURM_CONF"); conf != nullptr && *conf != '\0') {
    env.emplace_back("SLURM_CONF", conf);
  }
  for (const auto& kv : extra) env.push_back(kv);
  return env;
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 const std::string& input) {
  if (argv.empty()) return Status::InvalidArgument("no command to run");
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return Status::FromErrno("pipe", errno);
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
    return Status::FromErrno("pipe", errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> c_argv;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> c_env;
  for (std::string& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  int in_fd = in_pipe[1], out_fd = out_pipe[0], err_fd = err_pipe[0];
  if (rc != 0) {
    CloseFd(in_fd);
    CloseFd(out_fd);
    CloseFd(err_fd);
    return Status::Internal("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  if (input.empty()) CloseFd(in_fd);

  CommandResult result;
  size_t written = 0;
  char buf[16384];
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
          CloseFd(in_fd);
        }
        continue;
      }
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      std::string& into = fds[i].fd == out_fd ? result.out : result.err;
      if (r <= 0) {
        CloseFd(fds[i].fd == out_fd ? out_fd : err_fd);
      } else if (into.size() < kMaxCapture) {
        into.append(buf, std::min(static_cast<size_t>(r), kMaxCapture - into.size()));
      }
    }
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  CloseFd(err_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace kiln
