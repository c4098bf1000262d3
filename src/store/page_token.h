// ListProcessingJobs NextToken: an opaque, URL-safe string that records where the previous page
// ended (its last row's sort key and unique sequence number), never an offset, so pages stay
// consistent while jobs are inserted. It also fingerprints the query's filters and sort, so a token
// replayed against a different query is refused instead of silently skipping rows.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "api/processing_job.h"
#include "base/status.h"

namespace kiln {

struct PageCursor {
  // The last row's sort value: creation time for kCreationTime, the lower-cased name for kName,
  // the status name for kStatus.
  std::variant<int64_t, std::string> sort_key;
  int64_t seq = 0;  // the last row's unique, never-reused sequence number
};

// A stable 64-bit fingerprint of everything in `query` except next_token and max_results.
uint64_t QueryFingerprint(const ListQuery& query);

// The NextToken that resumes `query` after `cursor`.
std::string EncodePageToken(const ListQuery& query, const PageCursor& cursor);

// The cursor inside `token`. InvalidArgument if the token is malformed, or was issued for a query
// with other filters or another sort.
Result<PageCursor> DecodePageToken(const ListQuery& query, const std::string& token);

}  // namespace kiln
