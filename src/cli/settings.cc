#include "cli/settings.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/fs.h"

namespace kiln::cli {
namespace {

constexpr char kDefaultRegion[] = "us-east-1";

std::optional<std::string> FirstSet(const EnvLookup& env,
                                    std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto value = env(name); value && !value->empty()) return value;
  }
  return std::nullopt;
}

// Reads a JSON object file; nullopt when it does not exist.
Result<std::optional<nlohmann::json>> ReadJsonFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<nlohmann::json>();
    return text.status();
  }
  nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::InvalidArgument(path + " is not a JSON object");
  return std::optional<nlohmann::json>(std::move(json));
}

std::string StringMember(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

std::string DefaultDataDir(const EnvLookup& env) {
  if (auto dir = FirstSet(env, {"KILN_DATA_DIR"})) return *dir;
  if (auto xdg = FirstSet(env, {"XDG_DATA_HOME"})) return *xdg + "/kiln";
  std::string home = FirstSet(env, {"HOME"}).value_or(".");
  return home + "/.local/share/kiln";
}

Result<ConnectionSettings> ResolveSettings(const ConnectionFlags& flags, const EnvLookup& env) {
  const std::string data_dir = flags.data_dir.empty() ? DefaultDataDir(env) : flags.data_dir;
  ConnectionSettings settings;

  if (!flags.endpoint_url.empty()) {
    settings.endpoint = flags.endpoint_url;
  } else if (auto url = FirstSet(env, {"AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL"})) {
    settings.endpoint = *url;
  } else {
    const std::string path = data_dir + "/server.json";
    ASSIGN_OR_RETURN(std::optional<nlohmann::json> server, ReadJsonFile(path));
    if (!server) {
      return Status::FailedPrecondition(
          "no Kiln server found: " + path +
          " does not exist (start one with `kiln server`, or set --endpoint-url or "
          "AWS_ENDPOINT_URL)");
    }
    settings.endpoint = StringMember(*server, "endpoint");
    if (settings.endpoint.empty()) {
      return Status::InvalidArgument(path + " has no \"endpoint\" string");
    }
  }
  if (!flags.endpoint_url.empty()) {
    settings.logs_endpoint = flags.endpoint_url;
  } else {
    settings.logs_endpoint =
        FirstSet(env, {"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"}).value_or(settings.endpoint);
  }

  // credentials.json is read lazily: it is only needed when the environment lacks something.
  std::optional<nlohmann::json> credentials;
  bool credentials_read = false;
  auto load_credentials = [&]() -> Status {
    if (credentials_read) return Status::Ok();
    credentials_read = true;
    ASSIGN_OR_RETURN(credentials, ReadJsonFile(data_dir + "/credentials.json"));
    return Status::Ok();
  };

  auto key = FirstSet(env, {"AWS_ACCESS_KEY_ID"});
  auto secret = FirstSet(env, {"AWS_SECRET_ACCESS_KEY"});
  if (key && secret) {
    settings.access_key_id = *key;
    settings.secret_access_key = *secret;
  } else {
    RETURN_IF_ERROR(load_credentials());
    if (credentials) {
      settings.access_key_id = StringMember(*credentials, "access_key_id");
      settings.secret_access_key = StringMember(*credentials, "secret_access_key");
    }
    if (settings.access_key_id.empty() || settings.secret_access_key.empty()) {
      return Status::FailedPrecondition(
          "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or start `kiln "
          "server` so that " +
          data_dir + "/credentials.json exists");
    }
  }

  if (auto region = FirstSet(env, {"AWS_DEFAULT_REGION", "AWS_REGION"})) {
    settings.region = *region;
  } else {
    RETURN_IF_ERROR(load_credentials());
    if (credentials) settings.region = StringMember(*credentials, "region");
    if (settings.region.empty()) settings.region = kDefaultRegion;
  }
  return settings;
}

}  // namespace kiln::cli
