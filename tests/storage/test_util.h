// Shared helpers for the storage tests: a scratch directory and small file utilities.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace kiln::testing_util {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kiln-storage-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& contents) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every entry below `dir` (not following symlinks): relative path -> contents for regular files,
// "<dir>" for directories, "<symlink>" for symlinks, "<other>" otherwise.
inline std::map<std::string, std::string> TreeOf(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!std::filesystem::exists(std::filesystem::symlink_status(dir))) return out;
  for (auto it = std::filesystem::recursive_directory_iterator(dir);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    std::string rel = std::filesystem::relative(it->path(), dir).string();
    auto st = it->symlink_status();
    if (std::filesystem::is_symlink(st)) {
      out[rel] = "<symlink>";
    } else if (std::filesystem::is_directory(st)) {
      out[rel] = "<dir>";
    } else if (std::filesystem::is_regular_file(st)) {
      out[rel] = ReadFileOrEmpty(it->path().string());
    } else {
      out[rel] = "<other>";
    }
  }
  return out;
}

// Only the regular files of TreeOf.
inline std::map<std::string, std::string> FilesOf(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : TreeOf(dir)) {
    if (v != "<dir>" && v != "<symlink>" && v != "<other>") out[k] = v;
  }
  return out;
}

}  // namespace kiln::testing_util
