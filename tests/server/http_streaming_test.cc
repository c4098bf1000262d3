// HttpServer's streaming seams: request bodies the handler pulls through HttpBodyReader (beyond
// the buffered-body limit, with Expect: 100-continue and chunked transfer-encoding) and response
// bodies sent from a file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "server/http_server.h"
#include "test_http_client.h"

namespace kiln {
namespace {

using testing::CurlClient;
using testing::CurlRequest;
using testing::RawExchange;

// Reads the whole streamed body and answers "<bytes>:<sum of bytes mod 65521>".
void CountingHandler(HttpRequest& request, HttpResponse& response) {
  if (request.body_reader == nullptr) {
    response.body = "buffered:" + std::to_string(request.body.size());
    return;
  }
  uint64_t total = 0, sum = 0;
  char buffer[7919];
  while (true) {
    auto got = request.body_reader->Read(buffer, sizeof buffer);
    if (!got.ok()) {
      response.status = 400;
      response.body = got.status().ToString();
      return;
    }
    if (*got == 0) break;
    total += *got;
    for (size_t i = 0; i < *got; ++i) sum = (sum + static_cast<unsigned char>(buffer[i])) % 65521;
  }
  response.body = std::to_string(total) + ":" + std::to_string(sum);
}

std::string Expected(const std::string& body) {
  uint64_t sum = 0;
  for (unsigned char c : body) sum = (sum + c) % 65521;
  return std::to_string(body.size()) + ":" + std::to_string(sum);
}

class HttpStreamingTest : public ::testing::Test {
 protected:
  void StartServer(HttpServer::Handler handler) {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.max_body_bytes = 4096;
    options.stream_body = [](const HttpRequest& header) { return header.method == "PUT"; };
    auto server = HttpServer::Start(options, std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::string Url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + target;
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpStreamingTest, StreamsBodiesBeyondTheBufferedLimitWithExpectContinue) {
  StartServer(CountingHandler);
  std::string body(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 + 7);
  CurlClient client;
  CurlRequest request;
  request.method = "PUT";
  request.url = Url("/big");
  request.body = body;
  request.has_body = true;
  request.headers = {"Expect: 100-continue"};
  auto result = client.Perform(request);
  ASSERT_EQ(result.code, 0) << result.error;
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, Expected(body));
  bool saw_continue = false;
  for (const auto& line : result.header_lines)
    saw_continue |= line.find(" 100") != std::string::npos;
  EXPECT_TRUE(saw_continue);
  // Buffered requests keep their limit.
  request.method = "POST";
  request.headers = {};
  result = client.Perform(request);
  EXPECT_EQ(result.status, 413);
}

TEST_F(HttpStreamingTest, DecodesChunkedTransferEncodingAndKeepsTheConnection) {
  StartServer(CountingHandler);
  std::string raw =
      "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  auto responses = RawExchange(server_->port(), raw, 2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].body, Expected("hello world"));
  EXPECT_EQ(responses[1].body, "buffered:0");
}

TEST_F(HttpStreamingTest, ClosesTheConnectionWhenTheHandlerLeavesTheBodyUnread) {
  StartServer([](HttpRequest&, HttpResponse& response) { response.status = 404; });
  std::string raw =
      "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
      "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  auto responses = RawExchange(server_->port(), raw, 2);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 404);
  EXPECT_FALSE(responses[0].keep_alive);
}

TEST_F(HttpStreamingTest, SendsFileBodiesWithOffsetAndLength) {
  char path[] = "/tmp/kiln-file-body-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content(600 * 1024, 'x');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  StartServer([&](HttpRequest& request, HttpResponse& response) {
    int file = ::open(path, O_RDONLY);
    uint64_t offset = request.path == "/part" ? 3 : 0;
    uint64_t length = request.path == "/part" ? 5 : content.size();
    response.headers.Set("Content-Type", "application/octet-stream");
    response.file_body = std::make_shared<HttpFileBody>(file, offset, length);
  });
  CurlClient client;
  CurlRequest request;
  request.url = Url("/part");
  auto result = client.Perform(request);
  EXPECT_EQ(result.body, content.substr(3, 5));
  request.url = Url("/all");
  result = client.Perform(request);
  EXPECT_EQ(result.body, content);
  request.method = "HEAD";
  result = client.Perform(request);
  EXPECT_EQ(result.status, 200);
  bool length_header = false;
  for (const auto& line : result.header_lines) {
    length_header |= line.find("Content-Length: " + std::to_string(content.size())) == 0;
  }
  EXPECT_TRUE(length_header);
  ::unlink(path);
}

}  // namespace
}  // namespace kiln
