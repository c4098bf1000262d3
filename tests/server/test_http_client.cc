#include "test_http_client.h"

#include <sys/wait.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>

namespace kiln::testing {
namespace {

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  static_cast<std::vector<std::string>*>(user)->emplace_back(data, size * count);
  return size * count;
}

}  // namespace

CurlClient::CurlClient() : curl_(curl_easy_init()) {}
CurlClient::~CurlClient() { curl_easy_cleanup(curl_); }

CurlResult CurlClient::Perform(const CurlRequest& request) {
  CurlResult result;
  curl_easy_reset(curl_);
  curl_easy_setopt(curl_, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &result.header_lines);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" || request.has_body) {
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.has_body) {
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  struct curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(curl_, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(curl_, CURLOPT_USERPWD, request.userpwd.c_str());
  }
  if (request.expect_100_timeout_ms > 0) {
    curl_easy_setopt(curl_, CURLOPT_EXPECT_100_TIMEOUT_MS, request.expect_100_timeout_ms);
  }
  CURLcode code = curl_easy_perform(curl_);
  result.code = code;
  if (code != CURLE_OK) result.error = curl_easy_strerror(code);
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &result.status);
  curl_easy_getinfo(curl_, CURLINFO_LOCAL_PORT, &result.local_port);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return result;
}

std::vector<RawResponse> RawExchange(uint16_t port, const std::string& bytes, int max_responses) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::vector<RawResponse> responses;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return responses;
  asio::write(socket, asio::buffer(bytes), ec);
  // Half-close, so that a request cut short ends in EOF rather than in a wait for more bytes.
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  beast::flat_buffer buffer;
  while (static_cast<int>(responses.size()) < max_responses) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(socket, buffer, parser, ec);
    if (ec) break;
    RawResponse response;
    response.status = parser.get().result_int();
    response.body = parser.get().body();
    response.keep_alive = parser.get().keep_alive();
    responses.push_back(std::move(response));
  }
  return responses;
}

std::string RawReadAll(uint16_t port, const std::string& bytes) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "";
  asio::write(socket, asio::buffer(bytes), ec);
  std::string out;
  char buffer[4096];
  while (true) {
    size_t n = socket.read_some(asio::buffer(buffer), ec);
    out.append(buffer, n);
    if (ec) break;
  }
  return out;
}

std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace kiln::testing
