#include "server/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "test_http_client.h"

namespace kiln {
namespace {

using testing::CurlClient;
using testing::CurlRequest;
using testing::RawExchange;

// Echoes what the server parsed, so tests can check it.
void EchoHandler(HttpRequest& request, HttpResponse& response) {
  std::string out =
      "method=" + request.method + "\npath=" + request.path + "\ntarget=" + request.target + "\n";
  for (const auto& [key, value] : request.query) out += "query:" + key + "=" + value + "\n";
  out += "x-test=" + request.headers.GetOr("X-TEST", "<none>") + "\n";
  out += "body-size=" + std::to_string(request.body.size()) + "\n";
  response.headers.Set("Content-Type", "text/plain");
  response.body = out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServer::Handler handler, HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    auto server = HttpServer::Start(options, std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::string Url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + target;
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesRequestOnEphemeralPortWithDecodedPathAndQuery) {
  StartServer(EchoHandler);
  EXPECT_NE(server_->port(), 0);
  CurlClient client;
  CurlRequest request;
  request.url = Url("/a%20b/c+d?x=1&y=hello%20world&z=a+b&flag");
  request.headers = {"x-Test: Value"};
  auto result = client.Perform(request);
  ASSERT_EQ(result.code, 0) << result.error;
  EXPECT_EQ(result.status, 200);
  EXPECT_NE(result.body.find("method=GET\n"), std::string::npos);
  EXPECT_NE(result.body.find("path=/a b/c+d\n"), std::string::npos) << result.body;
  EXPECT_NE(result.body.find("target=/a%20b/c+d?x=1&y=hello%20world&z=a+b&flag\n"),
            std::string::npos);
  EXPECT_NE(result.body.find("query:y=hello world\n"), std::string::npos);
  EXPECT_NE(result.body.find("query:z=a b\n"), std::string::npos);
  EXPECT_NE(result.body.find("query:flag=\n"), std::string::npos);
  EXPECT_NE(result.body.find("x-test=Value\n"), std::string::npos);
}

TEST_F(HttpServerTest, ReusesKeepAliveConnectionAcrossRequests) {
  StartServer(EchoHandler);
  CurlClient client;
  CurlRequest request;
  request.url = Url("/one");
  auto first = client.Perform(request);
  request.url = Url("/two");
  auto second = client.Perform(request);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(first.local_port, second.local_port);
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  StartServer([](HttpRequest& request, HttpResponse& response) { response.body = request.path; });
  auto responses = RawExchange(server_->port(),
                               "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                               "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                               "GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                               3);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "/first");
  EXPECT_EQ(responses[1].body, "/second");
  EXPECT_EQ(responses[2].body, "/third");
  EXPECT_FALSE(responses[2].keep_alive);
}

TEST_F(HttpServerTest, RejectsOversizedBodyWith413WithoutCallingHandler) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  StartServer([&](HttpRequest&, HttpResponse&) { ++calls; }, options);
  CurlClient client;
  CurlRequest request;
  request.method = "POST";
  request.url = Url("/");
  request.body = std::string(4096, 'x');
  request.has_body = true;
  auto result = client.Perform(request);
  ASSERT_EQ(result.code, 0) << result.error;
  EXPECT_EQ(result.status, 413);
  EXPECT_NE(result.body.find("exceeds the limit of 1024 bytes"), std::string::npos);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, RejectsOversizedChunkedBodyWith413) {
  HttpServerOptions options;
  options.max_body_bytes = 10;
  StartServer(EchoHandler, options);
  auto responses = RawExchange(server_->port(),
                               "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                               1);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 413);
}

TEST_F(HttpServerTest, ReadsChunkedBodyWithinLimit) {
  StartServer(EchoHandler);
  auto responses = RawExchange(server_->port(),
                               "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
                               1);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_NE(responses[0].body.find("body-size=7\n"), std::string::npos);
}

TEST_F(HttpServerTest, RejectsMalformedRequestLineWith400AndKeepsServing) {
  StartServer(EchoHandler);
  auto responses = RawExchange(server_->port(), "THIS IS NOT HTTP\r\n\r\n", 1);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 400);
  CurlClient client;
  CurlRequest request;
  request.url = Url("/still-alive");
  EXPECT_EQ(client.Perform(request).status, 200);
}

TEST_F(HttpServerTest, SurvivesHostileInputs) {
  HttpServerOptions options;
  options.max_header_bytes = 4096;
  StartServer(EchoHandler, options);
  const std::vector<std::pair<std::string, int>> cases = {
      {std::string("\0\x01\x02\xff\xfe garbage\r\n\r\n", 16), 400},
      {"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", 400},
      {"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400},
      {"GET relative HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nBig: " + std::string(8192, 'a') + "\r\n\r\n", 431},
  };
  for (const auto& [bytes, expected_status] : cases) {
    auto responses = RawExchange(server_->port(), bytes, 1);
    ASSERT_EQ(responses.size(), 1u) << bytes.substr(0, 40);
    EXPECT_EQ(responses[0].status, expected_status) << bytes.substr(0, 40);
  }
  // A client that sends half a request and disconnects gets nothing and harms nothing.
  RawExchange(server_->port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab", 0);
  CurlClient client;
  CurlRequest request;
  request.url = Url("/");
  EXPECT_EQ(client.Perform(request).status, 200);
}

TEST_F(HttpServerTest, SurvivesRandomBytesAfterAValidPrefix) {
  StartServer(EchoHandler);
  std::mt19937 random(12345);  // fixed seed: reproducible
  const std::string prefixes[] = {"", "GET ", "GET / HTTP/1.1\r\n",
                                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"};
  for (int i = 0; i < 200; ++i) {
    std::string bytes = prefixes[i % 4];
    int length = static_cast<int>(random() % 300);
    for (int j = 0; j < length; ++j) bytes.push_back(static_cast<char>(random() % 256));
    if (i % 2 == 0) bytes += "\r\n\r\n";
    RawExchange(server_->port(), bytes, 1);
  }
  CurlClient client;
  CurlRequest request;
  request.url = Url("/");
  EXPECT_EQ(client.Perform(request).status, 200);
}

TEST_F(HttpServerTest, HandlesExpect100ContinueWith2MiBBody) {
  StartServer(EchoHandler);
  CurlClient client;
  CurlRequest request;
  request.method = "PUT";
  request.url = Url("/big");
  request.body = std::string(2 * 1024 * 1024, 'z');
  request.has_body = true;
  request.headers = {"Expect: 100-continue"};
  request.expect_100_timeout_ms = 60'000;  // would stall the test if no 100 Continue came
  auto start = std::chrono::steady_clock::now();
  auto result = client.Perform(request);
  ASSERT_EQ(result.code, 0) << result.error;
  EXPECT_EQ(result.status, 200);
  EXPECT_NE(result.body.find("body-size=2097152\n"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  bool saw_continue = false;
  for (const auto& line : result.header_lines) {
    if (line.rfind("HTTP/1.1 100", 0) == 0) saw_continue = true;
  }
  EXPECT_TRUE(saw_continue);
}

TEST_F(HttpServerTest, SendsContinueBeforeTheBodyArrives) {
  StartServer(EchoHandler);
  // Raw: the server must answer 100 Continue to the header alone.
  auto responses = RawExchange(
      server_->port(),
      "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 1);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 100);
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500) {
  StartServer([](HttpRequest&, HttpResponse&) { throw std::runtime_error("boom"); });
  CurlClient client;
  CurlRequest request;
  request.url = Url("/");
  auto result = client.Perform(request);
  EXPECT_EQ(result.status, 500);
  EXPECT_NE(result.body.find("boom"), std::string::npos);
}

TEST_F(HttpServerTest, HeadResponseKeepsContentLengthWithoutBody) {
  StartServer([](HttpRequest&, HttpResponse& response) { response.body = "twelve bytes"; });
  std::string bytes = testing::RawReadAll(server_->port(),
                                          "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                                          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t first_end = bytes.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos) << bytes;
  EXPECT_NE(bytes.substr(0, first_end).find("Content-Length: 12"), std::string::npos) << bytes;
  // The second response starts right after the HEAD response's header: no body bytes between.
  EXPECT_EQ(bytes.substr(first_end + 4, 12), "HTTP/1.1 200");
  EXPECT_EQ(bytes.substr(bytes.size() - 12), "twelve bytes");
}

TEST_F(HttpServerTest, ReportsBindFailureAsUnavailable) {
  StartServer(EchoHandler);
  HttpServerOptions options;
  options.port = server_->port();
  auto second = HttpServer::Start(options, EchoHandler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST_F(HttpServerTest, StopReturnsPromptlyWithIdleKeepAliveConnection) {
  StartServer(EchoHandler);
  CurlClient client;  // keeps its connection open after the request
  CurlRequest request;
  request.url = Url("/");
  ASSERT_EQ(client.Perform(request).status, 200);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, StopLetsInFlightRequestFinish) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  StartServer([&](HttpRequest&, HttpResponse& response) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    response.body = "finished";
  });
  auto pending = std::async(std::launch::async, [&] {
    CurlClient client;
    CurlRequest request;
    request.url = Url("/slow");
    return client.Perform(request);
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return entered; }));
  }
  auto stopper = std::async(std::launch::async, [&] { server_->Stop(); });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  auto result = pending.get();
  stopper.get();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "finished");
}

}  // namespace
}  // namespace kiln
