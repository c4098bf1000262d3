// How the CLI shows things: aligned text tables, a readable key/value view of a job, timestamps,
// and the one-line error format ("kiln: <Code>: <message>").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace kiln::cli {

// A text table: a header row and data rows, each column left-aligned and as wide as its widest
// cell, columns separated by two spaces, no trailing spaces. Short rows are padded with empty
// cells.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // The rendered table, one '\n'-terminated line per row, header first.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// An API timestamp (epoch seconds, number) as "2024-08-12T10:20:30Z"; "-" when absent or not a
// number.
std::string FormatTimestamp(const nlohmann::json& seconds);

// A duration in seconds as "45s", "3m05s" or "2h03m".
std::string FormatDuration(double seconds);

// ListProcessingJobs summaries as a table: NAME, STATUS, CREATED, ENDED, FAILURE (first line).
std::string RenderJobTable(const nlohmann::json& summaries);

// DescribeProcessingJob output as aligned "Key: value" lines; lists (inputs, outputs,
// environment) as indented sub-lines. Unknown or absent fields are left out.
std::string RenderJobDescription(const nlohmann::json& job);

// "kiln: <message>\n", the message of an API error being "<Code>: <text>".
std::string FormatError(const Status& status);

}  // namespace kiln::cli
