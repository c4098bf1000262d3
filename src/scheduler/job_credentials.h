// JobCredentials: the access keys Kiln hands to running jobs (spec §8.17). Each job gets its own
// random key pair while it runs; the API's SigV4 check accepts it beside the server's own key, and
// it stops working the moment the job ends. Thread-safe: runners register and revoke, API threads
// look up.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"

namespace kiln {

struct JobCredential {
  std::string access_key_id;      // "ASIA" + 16 characters of [A-Z2-7], like AWS temporary keys
  std::string secret_access_key;  // 40 characters of [A-Za-z0-9+/]

  // A fresh random pair from the OS's CSPRNG.
  static JobCredential Generate();
  nlohmann::json ToJson() const;
  // InvalidArgument if a member is missing or empty.
  static Result<JobCredential> FromJson(const nlohmann::json& j);
};

class JobCredentials {
 public:
  // Makes `credential` valid for job `job_name` (replacing that job's previous one, if any).
  void Register(const std::string& job_name, const JobCredential& credential);
  // Invalidates the job's credential; a no-op if it has none.
  void Revoke(const std::string& job_name);
  // The secret of a registered access key, for SigV4 verification; nullopt if unknown or revoked.
  std::optional<std::string> SecretFor(const std::string& access_key_id) const;
  // The job an access key belongs to; nullopt if unknown or revoked.
  std::optional<std::string> JobFor(const std::string& access_key_id) const;

 private:
  struct Entry {
    std::string job_name;
    std::string secret;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> by_key_;            // access key id → entry; guarded by mu_
  std::map<std::string, std::string> key_by_job_;  // job name → access key; guarded by mu_
};

}  // namespace kiln
