// Small services over the public TCP API (tern/tcp.hpp), for tern-server and the tests: echo,
// sink (discard and count), source (send forever, zero-copy) and an HTTP/1.1 responder
// (keep-alive, Connection: close, pipelining, a fixed body, 400/413/431 for bad requests).
// Each stream keeps what the send buffer could not take yet and sends it when writable.
//
// One service object serves the streams of one engine: its callbacks run on that engine's
// core only. Its counters are relaxed atomics with that core as the single writer, so any
// thread (tern-server's per-second line) may read them while the engine runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/http_head.hpp"
#include "core/object_pool.hpp"
#include "core/stats.hpp"
#include "tern/tcp.hpp"

namespace tern::app {

// What a service did, per engine.
struct service_counters {
    counter opened;       // streams that reached ESTABLISHED (accepted or connected)
    counter closed;       // streams that reached CLOSED after being opened
    counter resets;       // closed by the peer's RST
    counter timeouts;     // closed because retransmissions or keep-alives ran out
    counter aborted;      // closed here by an abort (data after close, or abort())
    counter bytes_in;     // payload delivered to the service
    counter bytes_out;    // payload the send buffers took
    counter retransmits;  // of closed streams, and of open ones as last seen (on data, on_writable)
    counter requests;     // http: responses with 200
    counter bad_requests; // http: 400, 413 and 431

    std::uint64_t open() const { return opened.get() - closed.get(); }
};

// Per-stream state of a service, made when a stream first has something to keep (a
// request not yet whole, output the send buffer could not take, a close to make once it
// is sent, retransmissions seen) and freed once it holds nothing again: a keep-alive HTTP
// stream whose requests come whole and whose answers fit has none. An idle connection
// costs no session's memory, and a request does not read a cold one. A session hangs off
// stream::user and never points back at its stream, so that the endpoint may park an idle
// connection (listen_options::park_idle, tern-server's default) and make another stream
// object for it later.
struct session {
    static void* operator new(std::size_t size) { return object_pool<session>::allocate(size); }
    static void operator delete(void* p) { object_pool<session>::release(p); }

    // Output the stream could not take yet, in order: a copy (from pending_at on), or views
    // of bytes that outlive the session (the service's own responses), never both.
    std::string pending;
    std::size_t pending_at = 0;
    std::vector<std::string_view> lasting;
    std::string input;            // http: bytes of requests not yet complete
    tcp::tx_block block;          // source: a filled block the send buffer had no room for yet
    std::uint64_t offset = 0;     // source: bytes sent so far (where the pattern continues)
    std::uint64_t retransmits_seen = 0;
    bool close_when_sent = false;
    bool done = false;            // source: stop sending (the peer closed, or we are closing)
    session* prev = nullptr;      // the service's list of its sessions
    session* next = nullptr;
};

class buffered_service : public tcp::app_events {
public:
    buffered_service() = default;
    buffered_service(const buffered_service&) = delete;
    buffered_service& operator=(const buffered_service&) = delete;
    // Frees the sessions of streams still open: an endpoint that goes first frees its
    // streams without on_closed. Destroy it after the endpoint and before the mbuf pools.
    virtual ~buffered_service();

    const service_counters& counters() const { return counters_; }
    // Bytes copied and held for streams that could not take them yet.
    std::size_t copied_bytes() const;
    // Sessions that exist now (see session): for tests and the memory figures.
    std::size_t sessions() const { return session_count_; }

protected:
    void on_accepted(tcp::stream& s) override { start(s); }
    void on_connected(tcp::stream& s) override { start(s); }
    void on_data(tcp::stream& s, const tcp::rx_data& data) final;
    void on_writable(tcp::stream& s) override { flush(s); }
    void on_closed(tcp::stream& s, tcp::close_reason why) override;
    // What a service does with received bytes (already counted).
    virtual void received(tcp::stream& s, const tcp::rx_data& data) = 0;
    virtual void opened(tcp::stream& /*s*/) {}
    // Queues bytes behind anything still pending and sends what the stream takes. What the
    // stream cannot take is copied, unless the bytes are `lasting` (they outlive the
    // session: a service's own prepared responses) and nothing else waits: then it is
    // kept as a view. A 16 MiB response to a slow reader was copied whole per connection.
    void write(tcp::stream& s, std::string_view bytes, bool lasting = false);
    void close_after_sending(tcp::stream& s);
    // Adds the stream's retransmissions since the last look to the counters.
    void sample_retransmits(tcp::stream& s);
    // The stream's session, made if it has none.
    session& state(tcp::stream& s);
    // The stream's session, or null while it has none (or is not ours any more).
    static session* held(const tcp::stream& s) {
        return s.user == &no_session ? nullptr : static_cast<session*>(s.user);
    }
    // Frees the stream's session if it holds nothing any more.
    void settle(tcp::stream& s);

    service_counters counters_;

private:
    void start(tcp::stream& s);
    void flush(tcp::stream& s);
    std::size_t send_some(tcp::stream& s, std::string_view bytes);
    void free_session(tcp::stream& s, session* st);
    session* sessions_ = nullptr; // every live session, so none outlives the service
    std::size_t session_count_ = 0;
    // stream::user of a stream that is ours and has no session: its address, never read.
    static inline char no_session = 0;
};

class echo_service final : public buffered_service {
    void received(tcp::stream& s, const tcp::rx_data& data) override;
    void on_peer_closed(tcp::stream& s) override { close_after_sending(s); }
};

// Discards what arrives (counted in bytes_in); closes when the peer does.
class sink_service final : public buffered_service {
    void received(tcp::stream&, const tcp::rx_data&) override {}
    void on_peer_closed(tcp::stream& s) override { close_after_sending(s); }
};

// Sends forever: the byte at stream offset i is 'a' + i % 26, so a receiver can check what
// it got. Fills the send buffer with zero-copy blocks (stream::allocate) and refills it on
// on_writable; discards what arrives; closes when the peer does.
class source_service final : public buffered_service {
public:
    source_service();

private:
    void opened(tcp::stream& s) override { fill(s); }
    void on_writable(tcp::stream& s) override;
    void received(tcp::stream&, const tcp::rx_data&) override {}
    void on_peer_closed(tcp::stream& s) override;
    void fill(tcp::stream& s);

    std::vector<std::uint8_t> pattern_; // 26 bytes longer than any block, so any offset fits
};

// The request at the front of a stream of HTTP/1.1 requests (RFC 9112 §2.1, §3, §6), as
// http_service reads it: the head in one pass where it lies, then a body of Content-Length
// bytes. `max_request` bounds the head (request line and fields) and the body.
struct http_request {
    enum class kind : std::uint8_t {
        incomplete,        // the head or its body is still coming
        complete,          // size bytes: the head and its body
        bad_request,       // 400: malformed, or a body we do not take (chunked)
        content_too_large, // 413: a Content-Length over max_request
        head_too_large,    // 431: a head over max_request bytes, ended or not
    };
    kind what = kind::incomplete;
    std::size_t size = 0;
    bool keep_alive = true; // the connection persists after the response
    bool http10 = false;    // an HTTP/1.0 request (told "Connection: keep-alive" if it persists)
};
// What a request head says, as read_request reads it.
struct http_request_head {
    bool bad = false;        // 400: the first thing wrong, once the head is complete
    bool http10 = false;
    bool close = false;      // "Connection: close"
    bool keep = false;       // "Connection: keep-alive"
    bool have_length = false;
    std::size_t content_length = 0;
};
using http_request_memo = http::head_memo<http_request_head>;
// With a memo (one per service), a head that is the memo's is not read again.
http_request read_request(std::string_view in, std::size_t max_request, http_request_memo* heads = nullptr);

struct http_options {
    std::size_t body_size = 13;          // bytes of response body
    std::size_t max_request = 16 * 1024; // request line + headers (beyond: 431), and body (beyond: 413)
};

class http_service final : public buffered_service {
public:
    explicit http_service(const http_options& options);
    std::uint64_t requests() const { return counters_.requests.get(); }
    std::uint64_t bad_requests() const { return counters_.bad_requests.get(); }

private:
    void received(tcp::stream& s, const tcp::rx_data& data) override;
    void on_peer_closed(tcp::stream& s) override { close_after_sending(s); }
    // Answers the complete requests at the front of `in`; returns the bytes they took, or
    // stop_reading when the connection is to close (answered with "close", or refused).
    std::size_t answer(tcp::stream& s, std::string_view in);
    std::size_t fail(tcp::stream& s, const char* status); // stop_reading
    static constexpr std::size_t stop_reading = std::string_view::npos;

    http_options options_;
    std::string keep_alive_, close_, keep_alive_10_; // whole responses: head and body
    http_request_memo heads_;                        // the last request head read
};

} // namespace tern::app
