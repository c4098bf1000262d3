// Turns `kiln run` flags into a CreateProcessingJob request body. Pure functions: no I/O except
// reading --request-file, so every flag and path rule can be tested directly.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln::cli {

// The container root that relative LocalPaths are placed under.
inline constexpr char kProcessingRoot[] = "/opt/ml/processing/";
inline constexpr char kDefaultRoleArn[] = "arn:aws:iam::000000000000:role/KilnLocal";
inline constexpr char kDefaultInstanceType[] = "ml.m5.xlarge";

// Flags of `kiln run`. An unset optional means "not given", so that with --request-file only the
// flags the user typed override the file.
struct RunFlags {
  std::optional<std::string> name;
  std::optional<std::string> image;
  std::vector<std::string> entrypoint;  // --entrypoint, repeatable, one word each
  std::optional<std::string> command;   // --command "python3 /x.py": shell-split into entrypoint
  std::vector<std::string> args;        // --arg, repeatable
  std::vector<std::string> inputs;      // --input SRC:LOCALPATH
  std::vector<std::string> outputs;     // --output [NAME=]LOCALPATH:DEST
  std::optional<std::string> instance_type;
  std::optional<int> instance_count;
  std::optional<int> volume_size_gb;
  std::vector<std::string> env;  // --env K=V
  std::optional<int> max_runtime_seconds;
  std::optional<std::string> role_arn;
  std::optional<std::string> request_file;
};

// "kiln-job-2024-08-12-10-20-30-123" for that UTC time (milliseconds since the epoch).
std::string DefaultJobName(int64_t now_ms);

// A data location as the API wants it. "s3://…", "file://…" and any other "<scheme>://…" pass
// through unchanged; anything else is a local path, made absolute against `cwd` (lexically
// normalised, trailing '/' kept) and returned as "file://<abs path>".
std::string ToDataUri(const std::string& location, const std::string& cwd);

// A container path: absolute paths are kept, relative ones are placed under /opt/ml/processing/.
std::string ToContainerPath(const std::string& path);

struct InputSpec {
  std::string uri;         // S3Uri
  std::string local_path;  // LocalPath in the container
};

// Parses --input SRC:LOCALPATH. LOCALPATH is the text after the LAST ':' (so SRC may itself
// contain "s3://" or "file://"); it must be non-empty and is not allowed to start with "//" (that
// would mean the only ':' was the URI scheme's, i.e. LOCALPATH was left out).
Result<InputSpec> ParseInputSpec(const std::string& spec, const std::string& cwd);

struct OutputSpec {
  std::string name;        // OutputName
  std::string local_path;  // LocalPath in the container
  std::string uri;         // S3Uri
};

// Parses --output [NAME=]LOCALPATH:DEST. NAME is the text before the first '=' if that '=' comes
// before the first ':' (so DEST may contain '=', as in s3://b/year=2024/); otherwise the name is
// `default_name`. LOCALPATH is the text up to the first ':' after NAME (container paths have no
// ':'), DEST everything after it; both must be non-empty.
Result<OutputSpec> ParseOutputSpec(const std::string& spec, const std::string& default_name,
                                   const std::string& cwd);

// Parses --env K=V at the first '='. K must be non-empty; V may be empty or contain '='.
Result<std::pair<std::string, std::string>> ParseEnvAssignment(const std::string& assignment);

// Splits a command line the way a POSIX shell splits words: whitespace separates, single quotes
// are literal, double quotes allow \" \\ \$ \` escapes, a backslash outside quotes escapes the next
// character. No expansion. InvalidArgument on an unterminated quote or an empty result.
Result<std::vector<std::string>> ShellSplit(const std::string& command);

// Builds the CreateProcessingJob body. Without --request-file, --image is required and defaults
// apply (instance type ml.m5.xlarge, 1 instance, 30 GB, role kDefaultRoleArn, generated name).
// With --request-file, the file is the base and every given flag overrides its field: scalar
// fields are replaced, --env entries are merged by key, --input/--output are appended (named
// input-N/output-N after the ones already in the file). --entrypoint and --command are exclusive.
Result<nlohmann::json> BuildCreateRequest(const RunFlags& flags, const std::string& cwd,
                                          int64_t now_ms);

}  // namespace kiln::cli
