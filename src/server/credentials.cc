#include "server/credentials.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "base/fs.h"

namespace kiln {
namespace {

// Random characters from an alphabet whose size divides 256, so every character is equally likely.
std::string RandomString(std::string_view alphabet, size_t length) {
  std::vector<unsigned char> bytes(length);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // The OpenSSL DRBG seeds from the kernel; failing here means the host cannot give randomness.
    throw std::runtime_error("RAND_bytes failed");
  }
  std::string out;
  out.reserve(length);
  for (unsigned char b : bytes) out.push_back(alphabet[b % alphabet.size()]);
  return out;
}

bool AllOf(const std::string& s, int (*predicate)(int)) {
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return predicate(static_cast<unsigned char>(c)) != 0; });
}

Status Validate(const ServerCredentials& credentials) {
  const std::string& key = credentials.access_key_id;
  if (key.size() < 3 || key.size() > 128 || !AllOf(key, isalnum)) {
    return Status::InvalidArgument("access key id must be 3-128 characters of [A-Za-z0-9]");
  }
  if (credentials.secret_access_key.size() < 8) {
    return Status::InvalidArgument("secret access key must be at least 8 characters");
  }
  for (char c : credentials.secret_access_key) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) {
      return Status::InvalidArgument("secret access key must be printable without spaces");
    }
  }
  const std::string& region = credentials.region;
  if (region.empty() || !std::all_of(region.begin(), region.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '-';
      })) {
    return Status::InvalidArgument("region must be lower-case letters, digits and '-'");
  }
  if (credentials.account_id.size() != 12 || !AllOf(credentials.account_id, isdigit)) {
    return Status::InvalidArgument("account id must be 12 digits");
  }
  return Status::Ok();
}

Result<ServerCredentials> Parse(const std::string& path, const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::InvalidArgument(path + " is not a JSON object");
  ServerCredentials credentials;
  auto read_string = [&](const char* name, std::string& out, bool required) -> Status {
    auto it = json.find(name);
    if (it == json.end() || it->is_null()) {
      return required ? Status::InvalidArgument(path + " lacks \"" + name + "\"") : Status::Ok();
    }
    if (!it->is_string())
      return Status::InvalidArgument(path + ": \"" + name + "\" must be a string");
    out = it->get<std::string>();
    return Status::Ok();
  };
  RETURN_IF_ERROR(read_string("access_key_id", credentials.access_key_id, true));
  RETURN_IF_ERROR(read_string("secret_access_key", credentials.secret_access_key, true));
  RETURN_IF_ERROR(read_string("region", credentials.region, false));
  RETURN_IF_ERROR(read_string("account_id", credentials.account_id, false));
  auto generated = json.find("generated");
  credentials.explicitly_set =
      !(generated != json.end() && generated->is_boolean() && generated->get<bool>());
  RETURN_IF_ERROR(Validate(credentials).WithPrefix(path));
  return credentials;
}

}  // namespace

std::string CredentialsPath(const std::string& data_dir) { return data_dir + "/credentials.json"; }

std::string GenerateAccessKeyId() {
  return "AKIA" + RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
}

std::string GenerateSecretAccessKey() {
  return RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40);
}

Result<ServerCredentials> LoadOrCreateCredentials(const std::string& data_dir) {
  std::string path = CredentialsPath(data_dir);
  Result<std::string> text = ReadFile(path);
  if (text.ok()) return Parse(path, *text);
  if (text.status().code() != StatusCode::kNotFound) return text.status();

  ServerCredentials credentials;
  credentials.access_key_id = GenerateAccessKeyId();
  credentials.secret_access_key = GenerateSecretAccessKey();
  credentials.explicitly_set = false;
  nlohmann::json json = {{"access_key_id", credentials.access_key_id},
                         {"secret_access_key", credentials.secret_access_key},
                         {"region", credentials.region},
                         {"account_id", credentials.account_id},
                         {"generated", true}};
  RETURN_IF_ERROR(MakeDirs(data_dir, 0700));
  RETURN_IF_ERROR(WriteFileAtomically(path, json.dump(2) + "\n", 0600));
  return credentials;
}

Result<ServerCredentials> MakeExplicitCredentials(std::string access_key_id,
                                                  std::string secret_access_key, std::string region,
                                                  std::string account_id) {
  ServerCredentials credentials;
  credentials.access_key_id = std::move(access_key_id);
  credentials.secret_access_key = std::move(secret_access_key);
  credentials.region = std::move(region);
  credentials.account_id = std::move(account_id);
  credentials.explicitly_set = true;
  RETURN_IF_ERROR(Validate(credentials));
  return credentials;
}

}  // namespace kiln
