// The plain request/response helpers declared in http_server.h: headers, target and query parsing.
#include <cctype>
#include <string>
#include <string_view>

#include "server/http_server.h"

namespace kiln {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void HttpHeaders::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::Set(const std::string& name, std::string value) {
  Remove(name);
  fields_.emplace_back(name, std::move(value));
}

void HttpHeaders::Remove(const std::string& name) {
  std::erase_if(fields_, [&](const auto& field) { return EqualsIgnoreCase(field.first, name); });
}

std::optional<std::string> HttpHeaders::Get(const std::string& name) const {
  for (const auto& [key, value] : fields_) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

std::string HttpHeaders::GetOr(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

std::vector<std::string> HttpHeaders::GetAll(const std::string& name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : fields_) {
    if (EqualsIgnoreCase(key, name)) values.push_back(value);
  }
  return values;
}

bool HttpHeaders::Has(const std::string& name) const { return Get(name).has_value(); }

std::optional<std::string> HttpRequest::QueryParam(const std::string& key) const {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Status SplitTarget(std::string_view target, std::string* raw_path, std::string* raw_query) {
  if (target == "*") {
    *raw_path = "*";
    raw_query->clear();
    return Status::Ok();
  }
  std::string_view rest = target;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (rest.size() >= scheme.size() && EqualsIgnoreCase(rest.substr(0, scheme.size()), scheme)) {
      rest.remove_prefix(scheme.size());
      size_t slash = rest.find_first_of("/?");
      rest = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
      if (!rest.empty() && rest.front() == '?') {
        *raw_path = "/";
        *raw_query = std::string(rest.substr(1));
        return Status::Ok();
      }
      break;
    }
  }
  if (rest.empty() || rest.front() != '/') {
    return Status::InvalidArgument("request target must start with '/'");
  }
  size_t question = rest.find('?');
  if (question == std::string_view::npos) {
    *raw_path = std::string(rest);
    raw_query->clear();
  } else {
    *raw_path = std::string(rest.substr(0, question));
    *raw_query = std::string(rest.substr(question + 1));
  }
  // A fragment is never sent by conforming clients; drop it if one is.
  size_t hash = raw_query->find('#');
  if (hash != std::string::npos) raw_query->resize(hash);
  return Status::Ok();
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      int lo = hi >= 0 ? HexValue(in[i + 2]) : -1;
      if (lo < 0) return Status::InvalidArgument("malformed percent-encoding");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::multimap<std::string, std::string>> ParseQuery(std::string_view raw_query) {
  std::multimap<std::string, std::string> params;
  size_t start = 0;
  while (start <= raw_query.size()) {
    size_t amp = raw_query.find('&', start);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view pair = raw_query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    ASSIGN_OR_RETURN(std::string decoded_key, PercentDecode(key, /*plus_as_space=*/true));
    ASSIGN_OR_RETURN(std::string decoded_value, PercentDecode(value, /*plus_as_space=*/true));
    params.emplace(std::move(decoded_key), std::move(decoded_value));
  }
  return params;
}

Status ParseRequestTarget(HttpRequest& request) {
  std::string raw_path, raw_query;
  RETURN_IF_ERROR(SplitTarget(request.target, &raw_path, &raw_query));
  ASSIGN_OR_RETURN(request.path, PercentDecode(raw_path, /*plus_as_space=*/false));
  if (request.path.find('\0') != std::string::npos) {
    return Status::InvalidArgument("request path contains a NUL byte");
  }
  ASSIGN_OR_RETURN(request.query, ParseQuery(raw_query));
  return Status::Ok();
}

}  // namespace kiln
