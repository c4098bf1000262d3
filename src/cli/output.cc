#include "cli/output.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace kiln::cli {
namespace {

using nlohmann::json;

std::string StringAt(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_null()) return "";
  return it->dump();
}

// object[key], or null when `object` is not an object or lacks the key. Never throws.
const json& Member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string JoinWords(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const json& word : list) {
    if (!out.empty()) out += ' ';
    std::string text = word.is_string() ? word.get<std::string>() : word.dump();
    // Quote words that a shell would split so the line can be read back unambiguously.
    bool plain = !text.empty() && text.find_first_of(" \t\n'\"\\$`()|&;<>*?") == std::string::npos;
    out += plain ? text : json(text).dump();
  }
  return out;
}

// Appends "Key:<pad> value" lines with keys padded to one width.
class KeyValueWriter {
 public:
  void Add(std::string key, std::string value) {
    if (!value.empty()) lines_.emplace_back(std::move(key), std::move(value));
  }
  void AddBlock(std::string key, std::vector<std::string> items) {
    if (items.empty()) return;
    lines_.emplace_back(std::move(key), "");
    for (std::string& item : items) lines_.emplace_back("", "  " + std::move(item));
  }
  std::string Render() const {
    size_t width = 0;
    for (const auto& [key, value] : lines_) width = std::max(width, key.size() + 1);
    std::string out;
    for (const auto& [key, value] : lines_) {
      if (key.empty()) {
        out += value + "\n";
      } else if (value.empty()) {
        out += key + ":\n";
      } else {
        out += fmt::format("{:<{}} {}\n", key + ":", width, value);
      }
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

std::vector<std::string> DescribeInputs(const json& inputs) {
  std::vector<std::string> items;
  if (!inputs.is_array()) return items;
  for (const json& input : inputs) {
    const json& s3 = Member(input, "S3Input");
    if (s3.is_object()) {
      std::string mode = StringAt(s3, "S3InputMode");
      std::string detail = StringAt(s3, "S3DataType");
      if (!mode.empty()) detail += ", " + mode;
      std::string distribution = StringAt(s3, "S3DataDistributionType");
      if (!distribution.empty()) detail += ", " + distribution;
      items.push_back(fmt::format("{}: {} -> {} ({})", StringAt(input, "InputName"),
                                  StringAt(s3, "S3Uri"), StringAt(s3, "LocalPath"), detail));
    } else {
      items.push_back(StringAt(input, "InputName") + ": (not an S3 input)");
    }
  }
  return items;
}

std::vector<std::string> DescribeOutputs(const json& config) {
  std::vector<std::string> items;
  const json& outputs = Member(config, "Outputs");
  if (!outputs.is_array()) return items;
  for (const json& output : outputs) {
    const json& s3 = Member(output, "S3Output");
    if (s3.is_object()) {
      items.push_back(fmt::format("{}: {} -> {} ({})", StringAt(output, "OutputName"),
                                  StringAt(s3, "LocalPath"), StringAt(s3, "S3Uri"),
                                  StringAt(s3, "S3UploadMode")));
    } else {
      items.push_back(StringAt(output, "OutputName") + ": (not an S3 output)");
    }
  }
  return items;
}

}  // namespace

std::string Table::Render() const {
  size_t columns = headers_.size();
  for (const auto& row : rows_) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  std::string out;
  auto render = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      if (i > 0) line += "  ";
      line += cell;
      if (i + 1 < columns) line.append(widths[i] - cell.size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  render(headers_);
  for (const auto& row : rows_) render(row);
  return out;
}

std::string FormatTimestamp(const json& seconds) {
  if (!seconds.is_number()) return "-";
  std::time_t whole = static_cast<std::time_t>(std::floor(seconds.get<double>()));
  std::tm utc{};
  if (gmtime_r(&whole, &utc) == nullptr) return "-";
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string FormatDuration(double seconds) {
  long total = std::lround(std::max(0.0, seconds));
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

std::string RenderJobTable(const json& summaries) {
  Table table({"NAME", "STATUS", "CREATED", "ENDED", "FAILURE"});
  if (summaries.is_array()) {
    for (const json& job : summaries) {
      table.AddRow({StringAt(job, "ProcessingJobName"), StringAt(job, "ProcessingJobStatus"),
                    FormatTimestamp(Member(job, "CreationTime")),
                    FormatTimestamp(Member(job, "ProcessingEndTime")),
                    FirstLine(StringAt(job, "FailureReason"))});
    }
  }
  return table.Render();
}

std::string RenderJobDescription(const json& job) {
  KeyValueWriter out;
  auto time_at = [&](const char* key) {
    const json& value = Member(job, key);
    return value.is_null() ? std::string() : FormatTimestamp(value);
  };
  out.Add("Name", StringAt(job, "ProcessingJobName"));
  out.Add("ARN", StringAt(job, "ProcessingJobArn"));
  out.Add("Status", StringAt(job, "ProcessingJobStatus"));
  out.Add("Failure reason", StringAt(job, "FailureReason"));
  out.Add("Exit message", StringAt(job, "ExitMessage"));
  out.Add("Created", time_at("CreationTime"));
  out.Add("Started", time_at("ProcessingStartTime"));
  std::string ended = time_at("ProcessingEndTime");
  const json& start = Member(job, "ProcessingStartTime");
  const json& end = Member(job, "ProcessingEndTime");
  if (start.is_number() && end.is_number()) {
    ended += " (ran " + FormatDuration(end.get<double>() - start.get<double>()) + ")";
  }
  out.Add("Ended", ended);
  out.Add("Modified", time_at("LastModifiedTime"));

  const json& app = Member(job, "AppSpecification");
  out.Add("Image", StringAt(app, "ImageUri"));
  out.Add("Entrypoint", JoinWords(Member(app, "ContainerEntrypoint")));
  out.Add("Arguments", JoinWords(Member(app, "ContainerArguments")));

  const json& cluster = Member(Member(job, "ProcessingResources"), "ClusterConfig");
  if (cluster.is_object()) {
    out.Add("Instances",
            fmt::format("{} x {}, {} GB volume", StringAt(cluster, "InstanceCount"),
                        StringAt(cluster, "InstanceType"), StringAt(cluster, "VolumeSizeInGB")));
  }
  const json& max_runtime = Member(Member(job, "StoppingCondition"), "MaxRuntimeInSeconds");
  if (max_runtime.is_number()) out.Add("Max runtime", FormatDuration(max_runtime.get<double>()));
  out.Add("Role", StringAt(job, "RoleArn"));

  out.AddBlock("Inputs", DescribeInputs(Member(job, "ProcessingInputs")));
  out.AddBlock("Outputs", DescribeOutputs(Member(job, "ProcessingOutputConfig")));
  std::vector<std::string> environment;
  const json& env = Member(job, "Environment");
  if (env.is_object()) {
    for (const auto& [key, value] : env.items()) {
      environment.push_back(key + "=" +
                            (value.is_string() ? value.get<std::string>() : value.dump()));
    }
  }
  out.AddBlock("Environment", std::move(environment));
  return out.Render();
}

std::string FormatError(const Status& status) {
  if (status.message().empty()) return std::string("kiln: ") + StatusCodeName(status.code()) + "\n";
  return "kiln: " + status.message() + "\n";
}

}  // namespace kiln::cli
