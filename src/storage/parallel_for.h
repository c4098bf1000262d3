// ParallelFor: runs a batch of independent, latency-bound transfers on a few threads and reports
// the first failure. Transfers to an object store spend most of their time waiting, so a handful
// in flight hides the latency without any event loop.
#pragma once

#include <cstddef>
#include <functional>

#include "base/status.h"

namespace kiln {

// Calls fn(i) for every i in [0, count) on up to `max_threads` threads (the calling thread
// included). After the first failure no new items start; items already running finish. Returns
// OK, or the failure of the lowest-numbered failed item.
Status ParallelFor(size_t count, size_t max_threads, const std::function<Status(size_t)>& fn);

}  // namespace kiln
