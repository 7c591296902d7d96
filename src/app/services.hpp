// Small services over the public TCP API (tern/tcp.hpp), for tern-server and the tests: echo, and an
// HTTP/1.1 responder (keep-alive, pipelining, a fixed body, 400 and 431 for bad requests).
// Each stream keeps what the send buffer could not take yet and sends it when writable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tern/tcp.hpp"

namespace tern::app {

// Output a stream could not take yet, sent on on_writable, then an optional close.
struct session {
    std::string pending;
    std::string input;           // HTTP: bytes of requests not yet complete
    bool close_when_sent = false;
};

class buffered_service : public tcp::app_events {
public:
    std::uint64_t connections() const { return connections_; }

protected:
    void on_accepted(tcp::stream& s) override { start(s); }
    void on_connected(tcp::stream& s) override { start(s); }
    void on_writable(tcp::stream& s) override { flush(s); }
    void on_closed(tcp::stream& s, tcp::close_reason) override;
    // Queues bytes behind anything still pending and sends what the stream takes.
    void write(tcp::stream& s, std::string_view bytes);
    void close_after_sending(tcp::stream& s);
    static session& state(tcp::stream& s) { return *static_cast<session*>(s.user); }

private:
    void start(tcp::stream& s);
    void flush(tcp::stream& s);
    std::uint64_t connections_ = 0;
};

class echo_service final : public buffered_service {
    void on_data(tcp::stream& s, const tcp::rx_data& data) override;
    void on_peer_closed(tcp::stream& s) override { close_after_sending(s); }
};

struct http_options {
    std::size_t body_size = 13;          // bytes of response body
    std::size_t max_request = 16 * 1024; // request line + headers; beyond: 431 and close
};

class http_service final : public buffered_service {
public:
    explicit http_service(const http_options& options);
    std::uint64_t requests() const { return requests_; }
    std::uint64_t bad_requests() const { return bad_requests_; }

private:
    void on_data(tcp::stream& s, const tcp::rx_data& data) override;
    void on_peer_closed(tcp::stream& s) override { close_after_sending(s); }
    // Answers one complete request at the front of the input; false when none is complete.
    bool answer_one(tcp::stream& s);
    void fail(tcp::stream& s, const char* status);

    http_options options_;
    std::string body_;
    std::uint64_t requests_ = 0;
    std::uint64_t bad_requests_ = 0;
};

} // namespace tern::app
