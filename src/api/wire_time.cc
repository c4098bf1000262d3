#include "api/wire_time.h"

#include <cmath>
#include <cstdlib>

namespace kiln {

nlohmann::json WireTimeFromMs(int64_t ms) {
  if (ms % 1000 == 0) return ms / 1000;
  // The shortest text that round-trips this double is the 3-decimal form, so nlohmann prints it.
  return static_cast<double>(ms) / 1000.0;
}

std::string FormatWireTime(int64_t ms) {
  int64_t seconds = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis == 0) return std::to_string(seconds);
  std::string sign;
  if (ms < 0) {
    sign = "-";
    seconds = -seconds;
    millis = -millis;
  }
  std::string frac = std::to_string(millis);
  frac.insert(0, 3 - frac.size(), '0');
  while (frac.back() == '0') frac.pop_back();
  return sign + std::to_string(seconds) + "." + frac;
}

std::optional<int64_t> MsFromWireTime(const nlohmann::json& seconds) {
  if (seconds.is_number_integer() || seconds.is_number_unsigned()) {
    // Whole seconds: exact; reject values whose milliseconds overflow int64.
    if (seconds.is_number_unsigned() && seconds.get<uint64_t>() > 9'223'372'036'854'775ULL) {
      return std::nullopt;
    }
    int64_t s = seconds.get<int64_t>();
    if (s > 9'223'372'036'854'775LL || s < -9'223'372'036'854'775LL) return std::nullopt;
    return s * 1000;
  }
  if (seconds.is_number_float()) {
    double ms = std::round(seconds.get<double>() * 1000.0);
    if (!std::isfinite(ms) || std::fabs(ms) >= 9.2e18) return std::nullopt;
    return static_cast<int64_t>(ms);
  }
  return std::nullopt;
}

}  // namespace kiln
