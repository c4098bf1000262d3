// The server's own access key: what clients sign requests with. Kept in <data_dir>/credentials.json
// (mode 0600) and generated on first start, unless the operator supplies one explicitly.
#pragma once

#include <string>

#include "base/status.h"

namespace kiln {

struct ServerCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  // True when an operator chose these credentials (flags, or a credentials.json they wrote);
  // false when Kiln generated them. The server only listens beyond loopback with explicit ones.
  bool explicitly_set = false;
};

// The path of the credentials file in `data_dir`.
std::string CredentialsPath(const std::string& data_dir);

// Reads <data_dir>/credentials.json ({access_key_id, secret_access_key, region, account_id});
// missing region/account_id take the defaults. If the file does not exist, generates a random key
// ("AKIA" + 16 characters of [A-Z2-7]) and a 40-character secret, writes them atomically with mode
// 0600 (creating data_dir, mode 0700, if needed) and returns them. A file Kiln generated carries
// "generated": true and loads with explicitly_set false; any other file loads as explicit.
// InvalidArgument if the file is not valid JSON or lacks a key or secret.
Result<ServerCredentials> LoadOrCreateCredentials(const std::string& data_dir);

// Credentials given by the operator (e.g. --access-key-id/--secret-access-key); explicitly_set is
// true. InvalidArgument if the key id is not 3-128 characters of [A-Za-z0-9], the secret is shorter
// than 8 printable characters, the region is not like "us-east-1" or the account not 12 digits.
Result<ServerCredentials> MakeExplicitCredentials(std::string access_key_id,
                                                  std::string secret_access_key,
                                                  std::string region = "us-east-1",
                                                  std::string account_id = "000000000000");

// A random access key id and secret, in the formats above.
std::string GenerateAccessKeyId();
std::string GenerateSecretAccessKey();

}  // namespace kiln
