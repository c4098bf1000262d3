// Time as Kiln sees it: milliseconds since the Unix epoch, from a Clock that tests can replace.
#pragma once

#include <atomic>
#include <cstdint>

namespace kiln {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the epoch.
  virtual int64_t NowMillis() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMillis() const override;
  static SystemClock* Default();
};

// A clock that moves only when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms) : now_ms_(start_ms) {}
  int64_t NowMillis() const override { return now_ms_.load(); }
  void Advance(int64_t ms) { now_ms_ += ms; }
  void Set(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace kiln
