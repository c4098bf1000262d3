// HttpServer: Kiln's HTTP/1.1 front end on Boost.Beast. It owns sockets, parsing, keep-alive and
// limits; everything else (routing, auth, the APIs) lives in a handler callback that sees plain
// HttpRequest/HttpResponse structs and may block.
//
// Threading: a few I/O threads run the Asio io_context (accept, read, write); handlers run on a
// separate worker thread pool so that a handler blocked on SQLite or a transfer never stalls I/O of
// other connections. Each connection handles its requests strictly one after another (pipelined
// requests wait in the read buffer), so responses are always sent in request order.
//
// Bodies are buffered in memory up to HttpServerOptions::max_body_bytes, unless
// HttpServerOptions::stream_body claims the request after its header: then the handler reads the
// body itself, in pieces, through HttpRequest::body_reader (multi-GiB S3 PUTs), and no size limit
// applies. A response body may likewise be streamed from a file (HttpResponse::file_body).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln {

// An ordered list of header fields with case-insensitive name lookup. Repeated fields are kept.
class HttpHeaders {
 public:
  // Appends a field (keeps existing fields of the same name).
  void Add(std::string name, std::string value);
  // Replaces every field named `name` with one field.
  void Set(const std::string& name, std::string value);
  // Removes every field named `name`.
  void Remove(const std::string& name);
  // The first value of `name`, or nullopt.
  std::optional<std::string> Get(const std::string& name) const;
  // The first value of `name`, or `fallback`.
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  // Every value of `name`, in order.
  std::vector<std::string> GetAll(const std::string& name) const;
  bool Has(const std::string& name) const;

  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// True when `a` and `b` are equal ignoring ASCII case.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The body of a streamed request, read by the handler on its worker thread. Chunked
// transfer-encoding is already decoded.
class HttpBodyReader {
 public:
  virtual ~HttpBodyReader() = default;
  // Reads up to `size` bytes into `data`, blocking until some arrive; 0 means the body has ended.
  // The first call answers "Expect: 100-continue". DeadlineExceeded when the peer stalls longer
  // than the idle timeout, Unavailable when the connection is gone, InvalidArgument for malformed
  // framing.
  virtual Result<size_t> Read(char* data, size_t size) = 0;
  // The Content-Length of the body, if the request has one.
  virtual std::optional<uint64_t> content_length() const = 0;
};

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // the raw request-target: path and query, still percent-encoded
  std::string path;    // the target's path, percent-decoded ("+" stays "+")
  // The target's query parameters, percent-decoded ("+" becomes a space). A key without "=" maps
  // to an empty value.
  std::multimap<std::string, std::string> query;
  HttpHeaders headers;
  std::string body;  // empty for streamed requests: read body_reader instead
  // Set only for requests HttpServerOptions::stream_body claimed; valid during the handler call.
  // A handler that does not read the body to its end makes the connection close afterwards.
  HttpBodyReader* body_reader = nullptr;
  int version = 11;            // 10 or 11
  std::string remote_address;  // "ip:port" of the peer

  // The first value of query parameter `key`, or nullopt.
  std::optional<std::string> QueryParam(const std::string& key) const;
};

// A response body sent from an open file: `length` bytes from `offset`. Owns `fd` (closes it).
struct HttpFileBody {
  HttpFileBody(int fd, uint64_t offset, uint64_t length) : fd(fd), offset(offset), length(length) {}
  ~HttpFileBody();
  HttpFileBody(const HttpFileBody&) = delete;
  HttpFileBody& operator=(const HttpFileBody&) = delete;

  const int fd;
  const uint64_t offset;
  const uint64_t length;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  // When set, the body is streamed from this file instead of `body` (Content-Length is its
  // length; nothing is sent for HEAD).
  std::shared_ptr<HttpFileBody> file_body;
  // When true the server closes the connection after sending this response.
  bool close_connection = false;
};

// Splits a request-target into its still-encoded path and query. Accepts origin-form
// ("/a/b?x=1"), absolute-form ("http://host/a?x") and "*". InvalidArgument otherwise.
Status SplitTarget(std::string_view target, std::string* raw_path, std::string* raw_query);

// Percent-decodes `in`. With `plus_as_space`, "+" decodes to " " (form/query convention).
// InvalidArgument on a malformed escape.
Result<std::string> PercentDecode(std::string_view in, bool plus_as_space);

// Parses a raw query string ("a=1&b=%20") into decoded key/value pairs.
Result<std::multimap<std::string, std::string>> ParseQuery(std::string_view raw_query);

// Fills `request.path` and `request.query` from `request.target`.
Status ParseRequestTarget(HttpRequest& request);

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an IP address or a resolvable name
  uint16_t port = 0;               // 0 picks an ephemeral port; see HttpServer::port()
  int io_threads = 2;
  int worker_threads = 8;                           // concurrent handler calls
  std::size_t max_body_bytes = 16 * 1024 * 1024;    // larger bodies get 413
  std::size_t max_header_bytes = 64 * 1024;         // larger headers get 431
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive idle / header read deadline
  std::chrono::milliseconds body_timeout{300'000};  // deadline for reading one buffered body
  std::chrono::milliseconds write_timeout{300'000};
  // How long Stop() lets in-flight requests finish before closing their connections.
  std::chrono::milliseconds stop_grace{5'000};
  std::string server_header = "Kiln";
  // Decides from the request header alone (body and body_reader not yet set) whether the handler
  // reads the body itself through HttpRequest::body_reader. Runs on an I/O thread: must be quick
  // and must not block. Unset: every body is buffered.
  std::function<bool(const HttpRequest& header)> stream_body;
};

// Fills `response` for an error the server detects itself (400 malformed, 413 too large, 431,
// 503 stopping). `request` is null when the request header could not be parsed. The default writes
// a text/plain body; the API layer may install one that writes a SageMaker JSON or S3 XML error.
using HttpErrorFormatter = std::function<void(const HttpRequest* request, int status,
                                              const std::string& message, HttpResponse& response)>;

class HttpServer {
 public:
  // Runs on a worker thread; may block. Exceptions it throws become a 500 response.
  using Handler = std::function<void(HttpRequest& request, HttpResponse& response)>;

  // Binds, listens and starts the I/O and worker threads. Unavailable if the address cannot be
  // bound, InvalidArgument for a bad host or options.
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, Handler handler,
                                                   HttpErrorFormatter error_formatter = nullptr);

  // Stops (see Stop) if still running.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port (the ephemeral one when options.port was 0).
  uint16_t port() const;
  // The bound address as "ip:port".
  std::string address() const;

  // Also accepts connections on `fd`, an IPv4 TCP socket already listening (e.g. one made in a
  // job's network namespace). Takes ownership of `fd`; returns an id for RemoveListener.
  Result<uint64_t> AddListener(int fd);
  // Stops accepting on a listener AddListener adopted and closes it; its connections stay.
  void RemoveListener(uint64_t id);

  // Stops accepting, closes idle connections, lets in-flight requests finish and send their
  // responses for up to options.stop_grace, then closes everything and joins all threads. Waits
  // for running handlers to return. Idempotent; must not be called from a handler.
  void Stop();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
