// HttpServer on Boost.Beast. One Connection per socket, all of its I/O on its own strand; handler
// calls are posted to a worker thread pool and their responses posted back to the strand.
#include "server/http_server.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace kiln {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::chrono::seconds kLingerTimeout{2};

void DefaultErrorFormatter(const HttpRequest*, int status, const std::string& message,
                           HttpResponse& response) {
  response.status = status;
  response.headers.Set("Content-Type", "text/plain; charset=utf-8");
  response.body = message + "\n";
}

bool IsParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

constexpr size_t kFileChunkBytes = 256 * 1024;
// Room for one socket read of a streamed request body (Beast reads at most 64 KiB at once).
constexpr size_t kStreamReadBytes = 64 * 1024;

// One blocking body read handed from a worker thread to the connection's strand.
struct BodyReadOp {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;          // guarded by mu
  Result<size_t> result = 0;  // guarded by mu
  char* data = nullptr;
  size_t size = 0;

  void Complete(Result<size_t> r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    done = true;
    cv.notify_all();
  }
};

}  // namespace

HttpFileBody::~HttpFileBody() {
  if (fd >= 0) ::close(fd);
}

class Connection;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, Handler handler, HttpErrorFormatter error_formatter)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        error_formatter_(error_formatter ? std::move(error_formatter) : DefaultErrorFormatter),
        ioc_(options_.io_threads),
        main_listener_(std::make_shared<Listener>(asio::make_strand(ioc_))),
        workers_(static_cast<size_t>(options_.worker_threads)) {}

  ~Impl() { Stop(); }

  Status Listen();
  void Run();
  void Stop();
  Result<uint64_t> AddListener(int fd);
  void RemoveListener(uint64_t id);

  const HttpServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  const HttpErrorFormatter& error_formatter() const { return error_formatter_; }
  asio::thread_pool& workers() { return workers_; }
  tcp::endpoint endpoint() const { return endpoint_; }

  void Unregister(Connection* connection) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(connection);
    cv_.notify_all();
  }

 private:
  // One listening socket; its acceptor and retry timer are used only on its strand.
  struct Listener {
    explicit Listener(asio::strand<asio::io_context::executor_type> strand)
        : acceptor(strand), retry_timer(strand) {}
    tcp::acceptor acceptor;
    asio::steady_timer retry_timer;
  };
  void Accept(std::shared_ptr<Listener> listener);
  static void Close(const std::shared_ptr<Listener>& listener);

  const HttpServerOptions options_;
  const Handler handler_;
  const HttpErrorFormatter error_formatter_;

  // Declared before ioc_ so that connections destroyed with ioc_'s pending handlers can still
  // unregister.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;  // guarded by mu_
  bool stopped_ = false;                                                    // guarded by mu_

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_;
  // The main listener, and the extra ones AddListener adopted (guarded by mu_), by id.
  std::shared_ptr<Listener> main_listener_;
  std::map<uint64_t, std::shared_ptr<Listener>> extra_listeners_;
  uint64_t next_listener_id_ = 1;
  tcp::endpoint endpoint_;
  std::vector<std::thread> io_threads_;
  asio::thread_pool workers_;
};

// One accepted socket. Reads a request header, then its body, hands the request to a worker,
// writes the response, and loops while keep-alive holds. Lives as long as an operation holds it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_address_ = remote.address().to_string() + ":" + std::to_string(remote.port());
  }
  ~Connection() { server_->Unregister(this); }

  // Called on a worker thread by the handler of a streamed request; blocks for one read.
  Result<size_t> ReadBodyPiece(char* data, size_t size) {
    if (size == 0) return size_t{0};
    auto op = std::make_shared<BodyReadOp>();
    op->data = data;
    op->size = size;
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), op] { self->StartBodyRead(op); });
    std::unique_lock<std::mutex> lock(op->mu);
    op->cv.wait(lock, [&] { return op->done; });
    return std::move(op->result);
  }

  std::optional<uint64_t> StreamContentLength() const { return stream_content_length_; }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // The server is stopping: close now if idle, else after the current response.
  void RequestStop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stop_requested_ = true;
      if (self->state_ == State::kReadingHeader && self->buffer_.size() == 0) self->Close();
    });
  }

  void ForceClose() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

 private:
  enum class State { kReadingHeader, kReadingBody, kHandling, kWriting, kClosed };

  // The HttpBodyReader a streamed request carries: forwards to the connection.
  class StreamReader : public HttpBodyReader {
   public:
    explicit StreamReader(Connection* connection) : connection_(connection) {}
    Result<size_t> Read(char* data, size_t size) override {
      return connection_->ReadBodyPiece(data, size);
    }
    std::optional<uint64_t> content_length() const override {
      return connection_->StreamContentLength();
    }

   private:
    Connection* connection_;
  };

  const HttpServerOptions& options() const { return server_->options(); }

  void ReadHeader() {
    if (stop_requested_ && buffer_.size() == 0) return Close();
    state_ = State::kReadingHeader;
    request_ = HttpRequest();
    request_.remote_address = remote_address_;
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(options().max_header_bytes, std::numeric_limits<uint32_t>::max())));
    // Checked in OnHeader against our own limit. Not boost::none: Boost 1.74 compares
    // Content-Length against an empty optional as "too large".
    header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(options().idle_timeout);
    http::async_read_header(stream_, buffer_, *header_parser_,
                            beast::bind_front_handler(&Connection::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec == http::error::header_limit) {
      return SendError(nullptr, 431,
                       "Request header exceeds the limit of " +
                           std::to_string(options().max_header_bytes) + " bytes");
    }
    if (ec && IsParseError(ec) && ec != http::error::end_of_stream) {
      return SendError(nullptr, 400, "Malformed HTTP request: " + ec.message());
    }
    if (ec) return Close();  // peer closed, timeout, reset

    const auto& header = header_parser_->get();
    request_.method = std::string(header.method_string());
    request_.target = std::string(header.target());
    request_.version = header.version();
    for (const auto& field : header) {
      request_.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    keep_alive_ = header_parser_->keep_alive();
    if (Status status = ParseRequestTarget(request_); !status.ok()) {
      return SendError(&request_, 400, "Malformed request target: " + status.message());
    }
    if (stop_requested_) return SendError(&request_, 503, "The server is shutting down");
    bool stream = false;
    if (options().stream_body) {
      try {
        stream = options().stream_body(request_);
      } catch (const std::exception&) {
        stream = false;
      }
    }
    if (stream) return StreamBody();
    auto content_length = header_parser_->content_length();
    if (content_length && *content_length > options().max_body_bytes) {
      return SendError(&request_, 413, TooLargeMessage());
    }
    ReadBody();
  }

  // Hands the request to the handler before its body is read; the handler pulls the body through
  // StreamReader, each piece read here on the strand (StartBodyRead).
  void StreamBody() {
    stream_content_length_.reset();
    if (auto length = header_parser_->content_length()) stream_content_length_ = *length;
    stream_parser_.emplace(std::move(*header_parser_));
    header_parser_.reset();
    stream_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // Beast reads only into the buffer's spare capacity, which after a header is a few hundred
    // bytes: without room, a streamed body arrives in ~600-byte pieces, each one a round trip
    // between a worker and the strand.
    buffer_.reserve(kStreamReadBytes);
    auto expect = request_.headers.Get("Expect");
    continue_pending_ =
        expect && EqualsIgnoreCase(*expect, "100-continue") && request_.version >= 11;
    request_.body_reader = &stream_reader_;
    state_ = State::kHandling;
    stream_.expires_never();
    RunHandler();
  }

  void StartBodyRead(std::shared_ptr<BodyReadOp> op) {
    if (state_ == State::kClosed || !stream_parser_) {
      return op->Complete(Status::Unavailable("the connection is closed"));
    }
    if (stream_parser_->is_done()) return op->Complete(size_t{0});
    if (continue_pending_) {
      continue_pending_ = false;
      auto continue_response =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(options().write_timeout);
      http::async_write(
          stream_, *continue_response,
          [self = shared_from_this(), continue_response, op](beast::error_code ec, size_t) {
            if (ec) {
              self->Close();
              return op->Complete(Status::Unavailable("cannot send 100 Continue"));
            }
            self->StartBodyRead(op);
          });
      return;
    }
    auto& body = stream_parser_->get().body();
    body.data = op->data;
    body.size = op->size;
    body.more = true;
    stream_.expires_after(options().idle_timeout);
    http::async_read_some(
        stream_, buffer_, *stream_parser_,
        [self = shared_from_this(), op](beast::error_code ec, size_t) {
          self->stream_.expires_never();
          size_t got = op->size - self->stream_parser_->get().body().size;
          if (ec == http::error::need_buffer) ec = {};
          if (ec == beast::error::timeout) {
            self->Close();
            return op->Complete(Status::DeadlineExceeded("timed out reading the request body"));
          }
          if (ec && IsParseError(ec) && ec != http::error::partial_message) {
            self->Close();
            return op->Complete(
                Status::InvalidArgument("malformed HTTP request body: " + ec.message()));
          }
          if (ec) {
            self->Close();
            return op->Complete(
                Status::Unavailable("connection lost while reading the body: " + ec.message()));
          }
          if (got == 0 && !self->stream_parser_->is_done()) return self->StartBodyRead(op);
          op->Complete(got);
        });
  }

  std::string TooLargeMessage() const {
    return "Request body exceeds the limit of " + std::to_string(options().max_body_bytes) +
           " bytes";
  }

  // The seam for streaming bodies: a later handler type would take over here, reading the body
  // from header_parser_ in pieces instead of buffering it.
  void ReadBody() {
    body_parser_.emplace(std::move(*header_parser_));
    header_parser_.reset();
    body_parser_->body_limit(options().max_body_bytes);
    if (body_parser_->is_done()) return Dispatch();
    state_ = State::kReadingBody;
    auto expect = request_.headers.Get("Expect");
    if (expect && EqualsIgnoreCase(*expect, "100-continue") && request_.version >= 11) {
      auto continue_response =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(options().write_timeout);
      http::async_write(
          stream_, *continue_response,
          [self = shared_from_this(), continue_response](beast::error_code ec, size_t) {
            if (ec) return self->Close();
            self->ReadBufferedBody();
          });
      return;
    }
    ReadBufferedBody();
  }

  void ReadBufferedBody() {
    stream_.expires_after(options().body_timeout);
    http::async_read(stream_, buffer_, *body_parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec == http::error::body_limit) {
                         return self->SendError(&self->request_, 413, self->TooLargeMessage());
                       }
                       if (ec && IsParseError(ec) && ec != http::error::end_of_stream &&
                           ec != http::error::partial_message) {
                         return self->SendError(&self->request_, 400,
                                                "Malformed HTTP request body: " + ec.message());
                       }
                       if (ec) return self->Close();
                       self->Dispatch();
                     });
  }

  void Dispatch() {
    request_.body = std::move(body_parser_->get().body());
    body_parser_.reset();
    state_ = State::kHandling;
    stream_.expires_never();
    RunHandler();
  }

  void RunHandler() {
    asio::post(server_->workers(), [self = shared_from_this()] {
      HttpResponse response;
      try {
        self->server_->handler()(self->request_, response);
      } catch (const std::exception& e) {
        response = HttpResponse();
        self->server_->error_formatter()(&self->request_, 500,
                                         std::string("Internal error: ") + e.what(), response);
      } catch (...) {
        response = HttpResponse();
        self->server_->error_formatter()(&self->request_, 500, "Internal error", response);
      }
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response), /*drain_before_close=*/false);
      });
    });
  }

  // Sends an error the server detected itself; the connection closes afterwards because the
  // rest of the request was not read.
  void SendError(const HttpRequest* request, int status, const std::string& message) {
    HttpResponse response;
    server_->error_formatter()(request, status, message, response);
    response.close_connection = true;
    Write(std::move(response), /*drain_before_close=*/true);
  }

  void Write(HttpResponse response, bool drain_before_close) {
    if (state_ == State::kClosed) return;
    state_ = State::kWriting;
    bool close = response.close_connection || !keep_alive_ || stop_requested_;
    request_.body_reader = nullptr;
    if (stream_parser_) {
      // A streamed body the handler left unread: the rest cannot be skipped reliably.
      if (!stream_parser_->is_done()) {
        close = true;
        drain_before_close = true;
      }
      stream_parser_.reset();
      continue_pending_ = false;
    }
    bool head = request_.method == "HEAD";
    int file_status = response.status;
    if (response.file_body && !head && file_status >= 200 && file_status != 204 &&
        file_status != 304) {
      return WriteFile(std::move(response), close, drain_before_close);
    }
    auto out = std::make_shared<http::response<http::string_body>>();
    int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
    out->result(static_cast<unsigned>(status));
    out->version(request_.version == 10 ? 10 : 11);
    bool has_content_length = false;
    for (auto& [name, value] : response.headers.fields()) {
      if (name.empty() || HasCrLf(name) || HasCrLf(value)) continue;
      if (EqualsIgnoreCase(name, "Connection") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
        continue;
      }
      if (EqualsIgnoreCase(name, "Content-Length")) has_content_length = true;
      out->insert(name, value);
    }
    if (out->find(http::field::server) == out->end() && !options().server_header.empty()) {
      out->set(http::field::server, options().server_header);
    }
    bool no_body = status < 200 || status == 204 || status == 304;
    if (response.file_body && head && !has_content_length) {
      out->set(http::field::content_length, std::to_string(response.file_body->length));
      has_content_length = true;
    }
    if (no_body) {
      out->erase(http::field::content_length);
    } else if (head && has_content_length) {
      // A HEAD handler states the length of the body it would have sent.
    } else {
      out->body() = std::move(response.body);
      out->prepare_payload();
      if (head) out->body().clear();
    }
    out->keep_alive(!close);
    stream_.expires_after(options().write_timeout);
    http::async_write(
        stream_, *out,
        [self = shared_from_this(), out, close, drain_before_close](beast::error_code ec, size_t) {
          if (ec) return self->Close();
          if (!close) return self->ReadHeader();
          if (drain_before_close) return self->LingeringClose();
          self->Close();
        });
  }

  // Sends a response whose body comes from response.file_body, one buffer at a time.
  struct FileWrite {
    http::response<http::buffer_body> message;
    std::optional<http::response_serializer<http::buffer_body>> serializer;
    std::shared_ptr<HttpFileBody> file;
    std::vector<char> buffer;
    uint64_t sent = 0;
  };

  void WriteFile(HttpResponse response, bool close, bool drain_before_close) {
    auto write = std::make_shared<FileWrite>();
    write->file = std::move(response.file_body);
    auto& out = write->message;
    out.result(static_cast<unsigned>(response.status));
    out.version(request_.version == 10 ? 10 : 11);
    for (auto& [name, value] : response.headers.fields()) {
      if (name.empty() || HasCrLf(name) || HasCrLf(value)) continue;
      if (EqualsIgnoreCase(name, "Connection") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
          EqualsIgnoreCase(name, "Content-Length")) {
        continue;
      }
      out.insert(name, value);
    }
    if (out.find(http::field::server) == out.end() && !options().server_header.empty()) {
      out.set(http::field::server, options().server_header);
    }
    out.content_length(write->file->length);
    out.keep_alive(!close);
    out.body().data = nullptr;
    out.body().size = 0;
    out.body().more = true;
    write->buffer.resize(static_cast<size_t>(
        std::min<uint64_t>(kFileChunkBytes, std::max<uint64_t>(write->file->length, 1))));
    write->serializer.emplace(out);
    stream_.expires_after(options().write_timeout);
    http::async_write_header(stream_, *write->serializer,
                             [self = shared_from_this(), write, close, drain_before_close](
                                 beast::error_code ec, size_t) {
                               if (ec) return self->Close();
                               self->WriteFileChunk(write, close, drain_before_close);
                             });
  }

  void WriteFileChunk(std::shared_ptr<FileWrite> write, bool close, bool drain_before_close) {
    uint64_t remaining = write->file->length - write->sent;
    auto& body = write->message.body();
    if (remaining == 0) {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    } else {
      size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, write->buffer.size()));
      ssize_t got;
      do {
        got = ::pread(write->file->fd, write->buffer.data(), want,
                      static_cast<off_t>(write->file->offset + write->sent));
      } while (got < 0 && errno == EINTR);
      // The header promised the length: a short file leaves nothing to do but cut the connection.
      if (got <= 0) return Close();
      write->sent += static_cast<uint64_t>(got);
      body.data = write->buffer.data();
      body.size = static_cast<size_t>(got);
      body.more = write->sent < write->file->length;
    }
    stream_.expires_after(options().write_timeout);
    http::async_write(stream_, *write->serializer,
                      [self = shared_from_this(), write, close, drain_before_close](
                          beast::error_code ec, size_t) {
                        if (ec == http::error::need_buffer) ec = {};
                        if (ec) return self->Close();
                        if (!write->serializer->is_done()) {
                          return self->WriteFileChunk(write, close, drain_before_close);
                        }
                        if (!close) return self->ReadHeader();
                        if (drain_before_close) return self->LingeringClose();
                        self->Close();
                      });
  }

  // After an error response sent before the request body was read, the client may still be
  // sending it; closing at once could reset the connection before the client reads our response.
  // Shut down our side and discard input for a short while instead.
  void LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    state_ = State::kWriting;
    drain_buffer_.resize(16 * 1024);
    stream_.expires_after(kLingerTimeout);
    DrainSome();
  }

  void DrainSome() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->DrainSome();
                            });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* const server_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> body_parser_;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::optional<uint64_t> stream_content_length_;
  bool continue_pending_ = false;
  StreamReader stream_reader_{this};
  std::vector<char> drain_buffer_;
  HttpRequest request_;
  State state_ = State::kReadingHeader;
  bool keep_alive_ = true;
  bool stop_requested_ = false;
};

Status HttpServer::Impl::Listen() {
  if (options_.io_threads < 1 || options_.worker_threads < 1) {
    return Status::InvalidArgument("io_threads and worker_threads must be at least 1");
  }
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("cannot resolve listen host '" + options_.host +
                                   "': " + ec.message());
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  tcp::acceptor& acceptor = main_listener_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) endpoint_ = acceptor.local_endpoint(ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port) + ": " + ec.message());
  }
  return Status::Ok();
}

void HttpServer::Impl::Run() {
  work_guard_.emplace(ioc_.get_executor());
  asio::dispatch(main_listener_->acceptor.get_executor(),
                 [this, listener = main_listener_] { Accept(listener); });
  for (int i = 0; i < options_.io_threads; ++i) {
    io_threads_.emplace_back([this] { ioc_.run(); });
  }
}

void HttpServer::Impl::Accept(std::shared_ptr<Listener> listener) {
  tcp::acceptor& acceptor = listener->acceptor;
  acceptor.async_accept(
      asio::make_strand(ioc_), [this, listener](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !listener->acceptor.is_open()) return;
        if (ec) {
          // Typically EMFILE: back off briefly instead of spinning.
          listener->retry_timer.expires_after(std::chrono::milliseconds(50));
          listener->retry_timer.async_wait([this, listener](beast::error_code wait_ec) {
            if (!wait_ec) Accept(listener);
          });
          return;
        }
        // A response can leave in several writes (header, file chunks). With Nagle on, a short last
        // write waits for the ACK of the previous one, which the peer delays by up to 40 ms: every
        // small GET on a kept-alive connection took 44 ms instead of 0.3 ms.
        beast::error_code nodelay_ec;
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        auto connection = std::make_shared<Connection>(std::move(socket), this);
        bool stopping;
        {
          std::lock_guard<std::mutex> lock(mu_);
          stopping = stopped_;
          if (!stopping) connections_.emplace(connection.get(), connection);
        }
        if (!stopping) connection->Start();
        Accept(listener);
      });
}

void HttpServer::Impl::Close(const std::shared_ptr<Listener>& listener) {
  asio::post(listener->acceptor.get_executor(), [listener] {
    beast::error_code ec;
    listener->acceptor.close(ec);
    listener->retry_timer.cancel();
  });
}

Result<uint64_t> HttpServer::Impl::AddListener(int fd) {
  auto listener = std::make_shared<Listener>(asio::make_strand(ioc_));
  beast::error_code ec;
  listener->acceptor.assign(tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return Status::InvalidArgument("cannot adopt listening socket: " + ec.message());
  }
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable("the server is stopping");
    id = next_listener_id_++;
    extra_listeners_[id] = listener;
  }
  asio::dispatch(listener->acceptor.get_executor(), [this, listener] { Accept(listener); });
  return id;
}

void HttpServer::Impl::RemoveListener(uint64_t id) {
  std::shared_ptr<Listener> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = extra_listeners_.find(id);
    if (it == extra_listeners_.end()) return;
    listener = std::move(it->second);
    extra_listeners_.erase(it);
  }
  Close(listener);
}

void HttpServer::Impl::Stop() {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (io_threads_.empty()) return;  // never started
  Close(main_listener_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, listener] : extra_listeners_) Close(listener);
    extra_listeners_.clear();
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (auto& [ptr, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  for (auto& connection : live) connection->RequestStop();
  live.clear();  // let closed connections go away
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options_.stop_grace, [this] { return connections_.empty(); });
    for (auto& [ptr, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  for (auto& connection : live) connection->ForceClose();
  live.clear();
  // Handlers still running post their responses (and streamed-body reads) to closed connections;
  // let them finish first, with the I/O threads still running to answer them, so nothing is left
  // that refers to this server.
  workers_.join();
  work_guard_.reset();
  ioc_.stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, Handler handler,
                                                      HttpErrorFormatter error_formatter) {
  if (!handler) return Status::InvalidArgument("HttpServer needs a handler");
  auto impl =
      std::make_unique<Impl>(std::move(options), std::move(handler), std::move(error_formatter));
  RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->endpoint().port(); }

std::string HttpServer::address() const {
  auto endpoint = impl_->endpoint();
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

void HttpServer::Stop() { impl_->Stop(); }

Result<uint64_t> HttpServer::AddListener(int fd) { return impl_->AddListener(fd); }

void HttpServer::RemoveListener(uint64_t id) { impl_->RemoveListener(id); }

}  // namespace kiln
