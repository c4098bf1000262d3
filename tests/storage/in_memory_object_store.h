// An ObjectStore held in memory, for staging tests that need keys no directory tree can hold
// ("a/../b", "a//b") or failures on demand. Keys are arbitrary strings, as in S3.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/fs.h"
#include "storage/object_store.h"

namespace kiln::testing_util {

class InMemoryObjectStore : public ObjectStore, public ObjectStoreResolver {
 public:
  void Add(const std::string& bucket, const std::string& key, const std::string& data) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[bucket][key] = data;
  }
  void FailGetsOf(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_gets_.insert(key);
  }
  void FailPuts() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_puts_ = true;
  }
  std::map<std::string, std::string> Objects(const std::string& bucket) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_[bucket];
  }

  Result<std::vector<ObjectInfo>> List(const std::string& bucket,
                                       const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto b = objects_.find(bucket);
    if (b == objects_.end()) return Status::NotFound("no bucket " + bucket);
    std::vector<ObjectInfo> out;
    for (const auto& [key, data] : b->second) {
      if (key.starts_with(prefix)) out.push_back({key, data.size()});
    }
    return out;
  }
  Status GetToFile(const std::string& bucket, const std::string& key,
                   const std::string& dest_path) override {
    auto data = GetBytes(bucket, key);
    if (!data.ok()) return data.status();
    return WriteFileAtomically(dest_path, *data);
  }
  Result<std::string> GetBytes(const std::string& bucket, const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_gets_.count(key)) return Status::Unavailable("injected failure");
    auto b = objects_.find(bucket);
    if (b == objects_.end() || !b->second.count(key)) return Status::NotFound("no such key");
    return b->second[key];
  }
  Status PutFromFile(const std::string& bucket, const std::string& key,
                     const std::string& src_path) override {
    auto data = ReadFile(src_path);
    if (!data.ok()) return data.status();
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_puts_) return Status::Unavailable("injected failure");
    objects_[bucket][key] = *data;
    return Status::Ok();
  }

  Result<ObjectStore*> Resolve(const DataLocation&) override {
    return static_cast<ObjectStore*>(this);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> objects_;  // guarded by mu_
  std::set<std::string> fail_gets_;                                    // guarded by mu_
  bool fail_puts_ = false;                                             // guarded by mu_
};

}  // namespace kiln::testing_util
