// Where the CLI finds the Kiln server and how it signs its requests: the endpoint, credentials and
// region, resolved from flags, the AWS_* environment and the files a running server leaves in its
// data directory (server.json, credentials.json).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/status.h"

namespace kiln::cli {

// Looks up an environment variable; nullopt when unset. Tests pass a map-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (getenv). Empty values count as unset.
EnvLookup ProcessEnv();

// The per-user data directory: $KILN_DATA_DIR, else $XDG_DATA_HOME/kiln, else
// $HOME/.local/share/kiln. Same rule as kiln::DefaultDataDir in server/server_main.h.
std::string DefaultDataDir(const EnvLookup& env);

struct ConnectionFlags {
  std::string endpoint_url;  // --endpoint-url; empty: not given
  std::string data_dir;      // --data-dir; empty: DefaultDataDir()
};

struct ConnectionSettings {
  std::string endpoint;       // SageMaker API, e.g. http://127.0.0.1:7070
  std::string logs_endpoint;  // CloudWatch Logs API; the same port unless overridden
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;
};

// Resolves the settings with this precedence:
//   endpoint: --endpoint-url, AWS_ENDPOINT_URL_SAGEMAKER, AWS_ENDPOINT_URL, <data>/server.json.
//   logs endpoint: --endpoint-url, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, then the endpoint above.
//   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (both), <data>/credentials.json.
//   region: AWS_DEFAULT_REGION, AWS_REGION, credentials.json, "us-east-1".
// FailedPrecondition when no endpoint or no credentials can be found (no server started);
// InvalidArgument when a file exists but is malformed.
Result<ConnectionSettings> ResolveSettings(const ConnectionFlags& flags, const EnvLookup& env);

}  // namespace kiln::cli
