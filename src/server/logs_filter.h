// FilterLogEvents' filterPattern, in the subset Kiln supports for unstructured log lines:
//   ERROR            the term must occur (case-sensitive substring); several terms: all must occur
//   "two words"      a quoted phrase, matched exactly; \" and \\ escape inside quotes
//   ?ERROR ?WARN     at least one of the ?-terms must occur
//   -DEBUG           the term must not occur
// JSON patterns ({ $.x = 1 }), space-delimited patterns ([a, b]) and regular expressions (%re%)
// are not supported and parse as InvalidArgument.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln {

class FilterPattern {
 public:
  // InvalidArgument for an unsupported or malformed pattern. An empty pattern matches everything.
  static Result<FilterPattern> Parse(std::string_view pattern);

  bool Matches(std::string_view message) const;
  bool MatchesEverything() const { return required_.empty() && any_.empty() && excluded_.empty(); }

 private:
  std::vector<std::string> required_;
  std::vector<std::string> any_;
  std::vector<std::string> excluded_;
};

}  // namespace kiln
