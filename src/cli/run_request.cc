#include "cli/run_request.h"

#include <fmt/format.h>

#include <cctype>
#include <ctime>
#include <filesystem>
#include <set>

#include "base/fs.h"

namespace kiln::cli {
namespace {

using nlohmann::json;

bool HasScheme(const std::string& location) {
  auto pos = location.find("://");
  if (pos == std::string::npos || pos == 0) return false;
  for (size_t i = 0; i < pos; ++i) {
    char c = location[i];
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The next "<prefix>-N" not in `used`, counting from `*next`.
std::string NextName(const std::string& prefix, int* next, std::set<std::string>* used) {
  std::string name;
  do {
    name = prefix + "-" + std::to_string((*next)++);
  } while (used->count(name) > 0);
  used->insert(name);
  return name;
}

std::set<std::string> NamesIn(const json& list, const char* key) {
  std::set<std::string> names;
  if (!list.is_array()) return names;
  for (const json& item : list) {
    if (item.is_object() && item.contains(key) && item[key].is_string()) {
      names.insert(item[key].get<std::string>());
    }
  }
  return names;
}

Result<json> LoadRequestFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status().WithPrefix("--request-file");
  json request = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object()) {
    return Status::InvalidArgument("--request-file " + path + " is not a JSON object");
  }
  return request;
}

}  // namespace

std::string DefaultJobName(int64_t now_ms) {
  std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("kiln-job-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{:03}", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     static_cast<int>(now_ms % 1000));
}

std::string ToDataUri(const std::string& location, const std::string& cwd) {
  if (HasScheme(location)) return location;
  std::filesystem::path path(location);
  if (path.is_relative()) path = std::filesystem::path(cwd) / path;
  std::string normal = path.lexically_normal().string();
  // lexically_normal turns "dir/." into "dir/": only keep a trailing '/' the user wrote.
  bool wants_slash = !location.empty() && location.back() == '/';
  if (!wants_slash && normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return "file://" + normal;
}

std::string ToContainerPath(const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  std::string relative = path;
  while (relative.rfind("./", 0) == 0) relative.erase(0, 2);
  return kProcessingRoot + relative;
}

Result<InputSpec> ParseInputSpec(const std::string& spec, const std::string& cwd) {
  auto colon = spec.rfind(':');
  const std::string usage = "--input '" + spec + "': expected SRC:LOCALPATH";
  if (colon == std::string::npos) return Status::InvalidArgument(usage);
  std::string source = spec.substr(0, colon);
  std::string local = spec.substr(colon + 1);
  if (local.rfind("//", 0) == 0) {
    return Status::InvalidArgument(usage + " (the LOCALPATH after the last ':' is missing)");
  }
  if (source.empty() || local.empty()) return Status::InvalidArgument(usage);
  return InputSpec{ToDataUri(source, cwd), ToContainerPath(local)};
}

Result<OutputSpec> ParseOutputSpec(const std::string& spec, const std::string& default_name,
                                   const std::string& cwd) {
  const std::string usage = "--output '" + spec + "': expected [NAME=]LOCALPATH:DEST";
  OutputSpec out;
  std::string rest = spec;
  auto equals = spec.find('=');
  auto first_colon = spec.find(':');
  if (equals != std::string::npos && (first_colon == std::string::npos || equals < first_colon)) {
    out.name = spec.substr(0, equals);
    rest = spec.substr(equals + 1);
    if (out.name.empty()) return Status::InvalidArgument(usage + " (NAME is empty)");
  } else {
    out.name = default_name;
  }
  auto colon = rest.find(':');
  if (colon == std::string::npos) return Status::InvalidArgument(usage);
  std::string local = rest.substr(0, colon);
  std::string dest = rest.substr(colon + 1);
  if (local.empty() || dest.empty()) return Status::InvalidArgument(usage);
  out.local_path = ToContainerPath(local);
  out.uri = ToDataUri(dest, cwd);
  return out;
}

Result<std::pair<std::string, std::string>> ParseEnvAssignment(const std::string& assignment) {
  auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    return Status::InvalidArgument("--env '" + assignment + "': expected KEY=VALUE");
  }
  return std::make_pair(assignment.substr(0, equals), assignment.substr(equals + 1));
}

Result<std::vector<std::string>> ShellSplit(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  enum class Quote { kNone, kSingle, kDouble } quote = Quote::kNone;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    switch (quote) {
      case Quote::kSingle:
        if (c == '\'') {
          quote = Quote::kNone;
        } else {
          word += c;
        }
        break;
      case Quote::kDouble:
        if (c == '"') {
          quote = Quote::kNone;
        } else if (c == '\\' && i + 1 < command.size() &&
                   std::string_view("\"\\$`").find(command[i + 1]) != std::string_view::npos) {
          word += command[++i];
        } else {
          word += c;
        }
        break;
      case Quote::kNone:
        if (c == ' ' || c == '\t' || c == '\n') {
          if (in_word) words.push_back(std::move(word));
          word.clear();
          in_word = false;
        } else if (c == '\'') {
          quote = Quote::kSingle;
          in_word = true;
        } else if (c == '"') {
          quote = Quote::kDouble;
          in_word = true;
        } else if (c == '\\') {
          if (i + 1 < command.size()) word += command[++i];
          in_word = true;
        } else {
          word += c;
          in_word = true;
        }
        break;
    }
  }
  if (quote != Quote::kNone) {
    return Status::InvalidArgument("--command: unterminated quote in '" + command + "'");
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return Status::InvalidArgument("--command is empty");
  return words;
}

Result<json> BuildCreateRequest(const RunFlags& flags, const std::string& cwd, int64_t now_ms) {
  if (!flags.entrypoint.empty() && flags.command) {
    return Status::InvalidArgument("--entrypoint and --command cannot be combined");
  }
  json request = json::object();
  const bool from_file = flags.request_file.has_value();
  if (from_file) {
    ASSIGN_OR_RETURN(request, LoadRequestFile(*flags.request_file));
  } else if (!flags.image) {
    return Status::InvalidArgument("--image is required (or give a --request-file)");
  }

  if (flags.name) {
    request["ProcessingJobName"] = *flags.name;
  } else if (!request.contains("ProcessingJobName")) {
    request["ProcessingJobName"] = DefaultJobName(now_ms);
  }
  if (flags.role_arn || !from_file) request["RoleArn"] = flags.role_arn.value_or(kDefaultRoleArn);

  json& app = request["AppSpecification"];
  if (!app.is_object()) app = json::object();
  if (flags.image) app["ImageUri"] = *flags.image;
  if (flags.command) {
    ASSIGN_OR_RETURN(std::vector<std::string> words, ShellSplit(*flags.command));
    app["ContainerEntrypoint"] = words;
  } else if (!flags.entrypoint.empty()) {
    app["ContainerEntrypoint"] = flags.entrypoint;
  }
  if (!flags.args.empty()) app["ContainerArguments"] = flags.args;

  json& resources = request["ProcessingResources"];
  if (!resources.is_object()) resources = json::object();
  json& cluster = resources["ClusterConfig"];
  if (!cluster.is_object()) cluster = json::object();
  if (flags.instance_type || !from_file) {
    cluster["InstanceType"] = flags.instance_type.value_or(kDefaultInstanceType);
  }
  if (flags.instance_count || !from_file)
    cluster["InstanceCount"] = flags.instance_count.value_or(1);
  if (flags.volume_size_gb || !from_file)
    cluster["VolumeSizeInGB"] = flags.volume_size_gb.value_or(30);

  if (flags.max_runtime_seconds) {
    request["StoppingCondition"] = {{"MaxRuntimeInSeconds", *flags.max_runtime_seconds}};
  }

  if (!flags.env.empty()) {
    json& environment = request["Environment"];
    if (!environment.is_object()) environment = json::object();
    for (const std::string& assignment : flags.env) {
      ASSIGN_OR_RETURN(auto pair, ParseEnvAssignment(assignment));
      environment[pair.first] = pair.second;
    }
  }

  if (!flags.inputs.empty()) {
    json& inputs = request["ProcessingInputs"];
    if (!inputs.is_array()) inputs = json::array();
    std::set<std::string> used = NamesIn(inputs, "InputName");
    int next = static_cast<int>(inputs.size()) + 1;
    for (const std::string& spec : flags.inputs) {
      ASSIGN_OR_RETURN(InputSpec input, ParseInputSpec(spec, cwd));
      inputs.push_back({{"InputName", NextName("input", &next, &used)},
                        {"S3Input",
                         {{"S3Uri", input.uri},
                          {"LocalPath", input.local_path},
                          {"S3DataType", "S3Prefix"},
                          {"S3InputMode", "File"}}}});
    }
  }

  if (!flags.outputs.empty()) {
    json& config = request["ProcessingOutputConfig"];
    if (!config.is_object()) config = json::object();
    json& outputs = config["Outputs"];
    if (!outputs.is_array()) outputs = json::array();
    // Parse every spec first so that generated names skip the explicit names given later.
    std::vector<OutputSpec> specs;
    std::set<std::string> used = NamesIn(outputs, "OutputName");
    for (const std::string& spec : flags.outputs) {
      ASSIGN_OR_RETURN(OutputSpec output, ParseOutputSpec(spec, "", cwd));
      if (!output.name.empty()) used.insert(output.name);
      specs.push_back(std::move(output));
    }
    int next = static_cast<int>(outputs.size()) + 1;
    for (OutputSpec& output : specs) {
      if (output.name.empty()) output.name = NextName("output", &next, &used);
      outputs.push_back({{"OutputName", output.name},
                         {"S3Output",
                          {{"S3Uri", output.uri},
                           {"LocalPath", output.local_path},
                           {"S3UploadMode", "EndOfJob"}}}});
    }
  }
  return request;
}

}  // namespace kiln::cli
