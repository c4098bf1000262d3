// Reading an open object of the embedded store (OpenObject::blobs) by byte range: a multipart
// object is its parts' blobs in order, so a range may lie in one blob or span several.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/bucket_store.h"

namespace kiln {

// Where a byte range of an object lies when it lies within one blob.
struct BlobSlice {
  size_t index = 0;     // the blob
  uint64_t offset = 0;  // the range's start within that blob
};

// The blob holding all of [offset, offset + length), or nullopt when the range spans blobs or
// runs past the end. An empty range at offset 0 (e.g. an empty object) is in blob 0.
std::optional<BlobSlice> FindBlobSlice(const ObjectBlobs& blobs, uint64_t offset, uint64_t length);

// Calls `sink` with the bytes of [offset, offset + length), in order, in pieces of at most
// 1 MiB. InvalidArgument if the range runs past the end; Internal if a blob is shorter than
// recorded.
Status ReadObjectRange(const ObjectBlobs& blobs, uint64_t offset, uint64_t length,
                       const std::function<Status(std::string_view chunk)>& sink);

// Reads [offset, offset + length) into `out` (room for `length` bytes) with pread, no staging copy.
Status ReadObjectRangeInto(const ObjectBlobs& blobs, uint64_t offset, uint64_t length, char* out);

// Writes [offset, offset + length) at `out_fd`'s current position, in the kernel where it can
// (copy_file_range), else with read/write. `what` names the copy in errors.
Status CopyObjectRange(const ObjectBlobs& blobs, uint64_t offset, uint64_t length, int out_fd,
                       const std::string& what);

// The total length of the blobs.
uint64_t ObjectBlobsSize(const ObjectBlobs& blobs);

}  // namespace kiln
