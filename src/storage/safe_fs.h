// Descriptor-relative file helpers for the storage module. Every path below a trusted base
// directory is walked one segment at a time with O_NOFOLLOW, so a symlink planted inside a data
// tree or a sandbox can never redirect a read or a write outside it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "storage/object_store.h"

namespace kiln {

// Splits "a/b/c" into {"a","b","c"}. InvalidArgument (naming `what`) if the path is empty,
// absolute, contains a NUL, or has an empty, "." or ".." segment.
Result<std::vector<std::string>> SplitSafeRelativePath(std::string_view path,
                                                       const std::string& what);

// Opens `base` (trusted; symlinks in it are followed) and then each of `dirs` below it without
// following symlinks. With `create`, missing directories are made (mode 0755). NotFound if a
// segment is missing, is not a directory or is a symlink.
Result<UniqueFd> OpenDirBeneath(const std::string& base, const std::vector<std::string>& dirs,
                                bool create);

// Opens the regular file `rel` (a safe relative path) below `base` for reading, never following
// symlinks. NotFound if it is missing, a symlink or not a regular file.
Result<UniqueFd> OpenFileBeneath(const std::string& base, std::string_view rel);

// Copies all of `in_fd` (from its start) into `out_fd` with copy_file_range, falling back to
// sendfile and then read/write when the kernel cannot do it across these files.
Status CopyFileContents(int in_fd, int out_fd, const std::string& what);

// Writes the contents of `src_fd` to `name` inside `dir_fd` so that readers see either the old
// file or the complete new one: a hidden temporary in the same directory, fsync, rename, fsync of
// the directory. `what` names the destination in error messages.
Status ReplaceFileFromFd(int dir_fd, const std::string& name, int src_fd, const std::string& what);
// The same with the contents written by `write` (to the temporary's fd, from its start).
Status ReplaceFileWith(int dir_fd, const std::string& name,
                       const std::function<Status(int out_fd)>& write, const std::string& what);

// True for the names ReplaceFileFromFd gives its temporaries; listings hide them.
bool IsTransferTempName(std::string_view name);

// Appends every regular file below the directory `dir_fd` to `out`, with keys `key_dir` +
// relative path (`key_dir` is empty or ends in '/'). At the top level only names starting with
// `name_filter` are taken. Symlinks are not followed; FIFOs, sockets, devices and transfer
// temporaries are skipped. Unsorted. Takes ownership of `dir_fd`.
Status ListRegularFiles(UniqueFd dir_fd, const std::string& key_dir, std::string_view name_filter,
                        std::vector<ObjectInfo>* out);

// Size of an open file.
Result<uint64_t> FileSize(int fd, const std::string& what);

}  // namespace kiln
