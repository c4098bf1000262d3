#include "runtime/instance_state.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fs.h"

namespace kiln {
namespace {

using nlohmann::json;

json SpecToJson(const InstanceSpec& spec) {
  json mounts = json::array();
  for (const Mount& m : spec.mounts) {
    mounts.push_back({{"source", m.source}, {"target", m.target}, {"read_only", m.read_only}});
  }
  json env = json::array();
  for (const auto& [name, value] : spec.env) env.push_back({name, value});
  return {{"id", spec.id},
          {"hostname", spec.hostname},
          {"state_dir", spec.state_dir},
          {"log_path", spec.log_path},
          {"argv", spec.argv},
          {"env", env},
          {"mounts", mounts},
          {"working_dir", spec.working_dir},
          {"limits",
           {{"cpus", spec.limits.cpus},
            {"memory_bytes", spec.limits.memory_bytes},
            {"pids", spec.limits.pids}}},
          {"network_isolated", spec.network_isolated},
          {"rootfs", spec.rootfs},
          {"user", spec.user},
          {"network_namespace", spec.network_namespace},
          {"hosts_file", spec.hosts_file}};
}

InstanceSpec SpecFromJson(const json& j) {
  InstanceSpec spec;
  spec.id = j.at("id").get<std::string>();
  spec.hostname = j.at("hostname").get<std::string>();
  spec.state_dir = j.at("state_dir").get<std::string>();
  spec.log_path = j.at("log_path").get<std::string>();
  spec.argv = j.at("argv").get<std::vector<std::string>>();
  for (const json& pair : j.at("env")) {
    spec.env.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  }
  for (const json& m : j.at("mounts")) {
    spec.mounts.push_back({m.at("source").get<std::string>(), m.at("target").get<std::string>(),
                           m.at("read_only").get<bool>()});
  }
  spec.working_dir = j.at("working_dir").get<std::string>();
  const json& limits = j.at("limits");
  spec.limits.cpus = limits.at("cpus").get<double>();
  spec.limits.memory_bytes = limits.at("memory_bytes").get<int64_t>();
  spec.limits.pids = limits.at("pids").get<int64_t>();
  spec.network_isolated = j.at("network_isolated").get<bool>();
  spec.rootfs = j.value("rootfs", "");
  spec.user = j.value("user", "");
  spec.network_namespace = j.value("network_namespace", "");
  spec.hosts_file = j.value("hosts_file", "");
  return spec;
}

}  // namespace

std::string SpecPath(const std::string& state_dir) { return state_dir + "/spec.json"; }
std::string ShimPidPath(const std::string& state_dir) { return state_dir + "/shim.pid"; }
std::string ShimLogPath(const std::string& state_dir) { return state_dir + "/shim.log"; }
std::string PidsPath(const std::string& state_dir) { return state_dir + "/pids.json"; }
std::string ExitPath(const std::string& state_dir) { return state_dir + "/exit.json"; }

std::string ShimConfigToJson(const ShimConfig& config) {
  json j = {{"spec", SpecToJson(config.spec)},           {"bwrap_path", config.bwrap_path},
            {"setpriv_path", config.setpriv_path},       {"sandbox_uid", config.sandbox_uid},
            {"sandbox_gid", config.sandbox_gid},         {"cgroup_parent", config.cgroup_parent},
            {"end_with_caller", config.end_with_caller}, {"sandbox", config.sandbox}};
  if (config.sandbox == kOciSandbox) {
    j["oci"] = {{"runtime_argv", config.oci.runtime_argv},
                {"runtime_state_dir", config.oci.runtime_state_dir},
                {"bundle_dir", config.oci.bundle_dir},
                {"cgroup_leftovers", config.oci.cgroup_leftovers}};
  }
  return j.dump(2) + "\n";
}

Result<ShimConfig> ShimConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    ShimConfig config;
    config.spec = SpecFromJson(j.at("spec"));
    config.bwrap_path = j.at("bwrap_path").get<std::string>();
    config.setpriv_path = j.at("setpriv_path").get<std::string>();
    config.sandbox_uid = j.at("sandbox_uid").get<uint32_t>();
    config.sandbox_gid = j.at("sandbox_gid").get<uint32_t>();
    config.cgroup_parent = j.at("cgroup_parent").get<std::string>();
    config.end_with_caller = j.value("end_with_caller", false);
    config.sandbox = j.value("sandbox", std::string(kBwrapSandbox));
    if (config.sandbox == kOciSandbox) {
      const json& oci = j.at("oci");
      config.oci.runtime_argv = oci.at("runtime_argv").get<std::vector<std::string>>();
      config.oci.runtime_state_dir = oci.at("runtime_state_dir").get<std::string>();
      config.oci.bundle_dir = oci.at("bundle_dir").get<std::string>();
      config.oci.cgroup_leftovers = oci.at("cgroup_leftovers").get<std::vector<std::string>>();
    }
    return config;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed instance spec: ") + e.what());
  }
}

std::string ExitStatusToJson(const ExitStatus& status) {
  json j = {{"exit_code", status.exit_code},
            {"term_signal", status.term_signal},
            {"oom_killed", status.oom_killed},
            {"error", status.error}};
  return j.dump(2) + "\n";
}

Result<ExitStatus> ExitStatusFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    ExitStatus status;
    status.exit_code = j.at("exit_code").get<int>();
    status.term_signal = j.at("term_signal").get<int>();
    status.oom_killed = j.at("oom_killed").get<bool>();
    status.error = j.value("error", "");
    return status;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed exit status: ") + e.what());
  }
}

Result<std::optional<ExitStatus>> ReadExitStatus(const std::string& state_dir) {
  auto text = ReadFile(ExitPath(state_dir));
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<ExitStatus>();
    return text.status();
  }
  ASSIGN_OR_RETURN(ExitStatus status, ExitStatusFromJson(*text));
  return std::optional<ExitStatus>(status);
}

Status WriteExitStatus(const std::string& state_dir, const ExitStatus& status) {
  return ReplaceFile(ExitPath(state_dir), ExitStatusToJson(status));
}

std::string SandboxPidsToJson(const SandboxPids& pids) {
  json j = {{"bwrap_pid", pids.bwrap_pid},
            {"init_pid", pids.init_pid},
            {"init_start_time", pids.init_start_time}};
  return j.dump(2) + "\n";
}

Result<SandboxPids> ReadSandboxPids(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(PidsPath(state_dir)));
  try {
    json j = json::parse(text);
    SandboxPids pids;
    pids.bwrap_pid = j.at("bwrap_pid").get<pid_t>();
    pids.init_pid = j.at("init_pid").get<pid_t>();
    pids.init_start_time = j.at("init_start_time").get<uint64_t>();
    return pids;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed pids.json: ") + e.what());
  }
}

Status WriteShimIdentity(const std::string& state_dir, const ShimIdentity& identity) {
  return ReplaceFile(ShimPidPath(state_dir), std::to_string(identity.pid) + " " +
                                                 std::to_string(identity.start_time) + "\n");
}

Result<ShimIdentity> ReadShimIdentity(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(ShimPidPath(state_dir)));
  std::istringstream in(text);
  ShimIdentity identity;
  if (!(in >> identity.pid >> identity.start_time) || identity.pid <= 0) {
    return Status::InvalidArgument("malformed " + ShimPidPath(state_dir));
  }
  return identity;
}

}  // namespace kiln
