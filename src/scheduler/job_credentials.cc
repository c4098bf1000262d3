#include "scheduler/job_credentials.h"

#include <openssl/rand.h>

#include <cstdint>
#include <random>
#include <vector>

namespace kiln {
namespace {

// Random bytes from OpenSSL's CSPRNG, falling back to std::random_device if it fails.
std::vector<uint8_t> RandomBytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    std::random_device rd;
    for (uint8_t& b : out) b = static_cast<uint8_t>(rd());
  }
  return out;
}

std::string RandomFrom(const std::string& alphabet, size_t length) {
  std::string out;
  // Rejection sampling keeps every character equally likely.
  const size_t limit = 256 - 256 % alphabet.size();
  while (out.size() < length) {
    for (uint8_t b : RandomBytes(length)) {
      if (b >= limit) continue;
      out.push_back(alphabet[b % alphabet.size()]);
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace

JobCredential JobCredential::Generate() {
  JobCredential c;
  c.access_key_id = "ASIA" + RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
  c.secret_access_key =
      RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40);
  return c;
}

nlohmann::json JobCredential::ToJson() const {
  return {{"access_key_id", access_key_id}, {"secret_access_key", secret_access_key}};
}

Result<JobCredential> JobCredential::FromJson(const nlohmann::json& j) {
  JobCredential c;
  if (j.is_object()) {
    c.access_key_id = j.value("access_key_id", "");
    c.secret_access_key = j.value("secret_access_key", "");
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument("stored job credentials are incomplete");
  }
  return c;
}

void JobCredentials::Register(const std::string& job_name, const JobCredential& credential) {
  std::lock_guard<std::mutex> lock(mu_);
  auto old = key_by_job_.find(job_name);
  if (old != key_by_job_.end()) by_key_.erase(old->second);
  key_by_job_[job_name] = credential.access_key_id;
  by_key_[credential.access_key_id] = Entry{job_name, credential.secret_access_key};
}

void JobCredentials::Revoke(const std::string& job_name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = key_by_job_.find(job_name);
  if (it == key_by_job_.end()) return;
  by_key_.erase(it->second);
  key_by_job_.erase(it);
}

std::optional<std::string> JobCredentials::SecretFor(const std::string& access_key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(access_key_id);
  if (it == by_key_.end()) return std::nullopt;
  return it->second.secret;
}

std::optional<std::string> JobCredentials::JobFor(const std::string& access_key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(access_key_id);
  if (it == by_key_.end()) return std::nullopt;
  return it->second.job_name;
}

}  // namespace kiln
