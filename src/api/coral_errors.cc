#include "api/coral_errors.h"

#include <cctype>
#include <utility>

namespace kiln::api_internal {
namespace {

// Objects and lists are echoed only as far as this; the path already says where the problem is.
constexpr size_t kMaxRenderedJson = 256;

}  // namespace

std::string RenderValue(const nlohmann::json* value) {
  if (value == nullptr || value->is_null()) return "null";
  if (value->is_string()) return "'" + value->get<std::string>() + "'";
  std::string text = value->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxRenderedJson) {
    text.resize(kMaxRenderedJson);
    text += "...";
  }
  return "'" + text + "'";
}

std::string MemberPath(std::string_view parent, std::string_view member_name) {
  std::string camel(member_name);
  if (!camel.empty()) {
    camel[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(camel[0])));
  }
  if (parent.empty()) return camel;
  return std::string(parent) + "." + camel;
}

std::string ElementPath(std::string_view list_path, size_t index) {
  return std::string(list_path) + "." + std::to_string(index + 1) + ".member";
}

void ValidationErrors::Add(std::string_view path, const nlohmann::json* value,
                           std::string_view rule) {
  AddRendered(path, RenderValue(value), rule);
}

void ValidationErrors::AddString(std::string_view path, std::string_view value,
                                 std::string_view rule) {
  AddRendered(path, "'" + std::string(value) + "'", rule);
}

void ValidationErrors::AddRendered(std::string_view path, std::string rendered,
                                   std::string_view rule) {
  std::string item = "Value " + std::move(rendered) + " at '" + std::string(path) +
                     "' failed to satisfy constraint: " + std::string(rule);
  items_.push_back(std::move(item));
}

Status ValidationErrors::ToStatus() const {
  if (items_.empty()) return Status::Ok();
  std::string message =
      std::to_string(items_.size()) +
      (items_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (size_t i = 0; i < items_.size(); ++i) {
    if (i > 0) message += "; ";
    message += items_[i];
  }
  return Status::InvalidArgument(std::move(message));
}

}  // namespace kiln::api_internal
