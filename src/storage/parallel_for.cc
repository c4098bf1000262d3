#include "storage/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

Status ParallelFor(size_t count, size_t max_threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  size_t first_failed_index = count;  // guarded by mu
  Status first_failure;               // guarded by mu

  auto work = [&] {
    for (;;) {
      if (failed.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      Status st = fn(i);
      if (!st.ok()) {
        failed.store(true);
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_failed_index) {
          first_failed_index = i;
          first_failure = std::move(st);
        }
      }
    }
  };

  size_t threads = std::min(count, std::max<size_t>(max_threads, 1));
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  return first_failure;
}

}  // namespace kiln
