// The TCP endpoint of one engine, tcp_endpoint (tcp::endpoint is an address and port in
// types.hpp) (DESIGN.md "The engine loop", steps 3-4): it owns the
// engine's live connections (a flow_table by 4-tuple), its listeners, one wheel timer per
// connection, and the sink that turns what a connection emits into IPv4 packets. It is the
// engine's protocol_handler; like the engine it is single-threaded and takes no locks.
//
// Lifetime of a stream: created by connect(), by a SYN to a listening port or by the ACK of
// a SYN cookie (RFC 4987 §3.6: when the listener's SYN backlog is full); freed after
// it reaches CLOSED (TIME_WAIT ran out, reset, refused, timed out, aborted), or a passive
// one went back to LISTEN before the application ever saw it. The free is deferred to the
// end of the engine's call into the endpoint (or to after_burst), never while one of the
// stream's own callbacks is on the stack. The application must not touch a stream after its
// on_closed returns.
//
// This is the first slice: payload is copied into a fresh mbuf per segment, and the
// application API is the small `stream` / `app_events` pair below; the public API in
// include/tern comes later.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/engine.hpp"
#include "core/flow_table.hpp"
#include "core/timer_wheel.hpp"
#include "tcp/connection.hpp"
#include "tcp/syn_cookie.hpp"
#include "tcp/types.hpp"
#include "tern/result.hpp"

namespace tern::tcp {

class tcp_endpoint;
class stream;

// What a listener counts of the connections it made (RFC 4987 §3: the backlog is what a
// SYN flood fills). Shared with its streams, which may outlive the listener.
struct listener_backlog {
    std::uint32_t half_open = 0;         // its connections in SYN-RECEIVED
    std::uint32_t live = 0;              // its connections past the handshake, not yet in TIME-WAIT or CLOSED
    std::optional<instant> cookie_sent;  // when it last answered a SYN with a cookie
};

// What the application hears about one stream. One object may serve many streams (every
// stream of a listener shares its app_events); each call names its stream.
struct app_events {
    virtual void on_connected(stream& /*s*/) {}
    virtual void on_data(stream& /*s*/, std::span<const std::uint8_t> /*bytes*/) {} // valid during the call
    virtual void on_writable(stream& /*s*/) {}
    virtual void on_peer_closed(stream& /*s*/) {}
    virtual void on_closed(stream& /*s*/, close_reason /*why*/) {} // the last call; the stream is freed after

protected:
    ~app_events() = default;
};

// One connection as the endpoint holds it: the sans-IO connection, its wheel timer, and
// the application's callbacks. The application calls send/close/abort on it.
class stream final : private connection_events {
public:
    result<std::size_t, send_error> send(std::span<const std::uint8_t> bytes);
    status<close_error> close();
    void abort();

    tcp_state state() const { return conn_.state(); }
    const flow& flow_id() const { return conn_.flow_id(); }
    std::uint32_t send_space() const { return conn_.send_space(); }
    const connection& conn() const { return conn_; }
    void* user = nullptr; // the application's own per-stream state

    stream(tcp_endpoint& ep, const connection_options& options, app_events& app);
    ~stream();
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

private:
    friend class tcp_endpoint;

    void on_connected() override;
    void on_data(std::span<const std::uint8_t> bytes) override;
    void on_writable() override;
    void on_peer_closed() override;
    void on_closed(close_reason why) override;

    tcp_endpoint& ep_;
    app_events& app_;
    connection conn_;
    timer_hook timer_;
    flow_key key_{};
    bool in_table_ = false; // in the flow table; false once it is queued to be freed
    std::shared_ptr<listener_backlog> backlog_; // the listener's counts, for a passive stream
    bool half_open_ = false;                    // counted in backlog_->half_open
    bool live_ = false;                         // counted in backlog_->live
};

struct listen_options {
    connection_options connection;
    // RFC 4987 §3.6: with this many connections in SYN-RECEIVED, further SYNs get a SYN
    // cookie and no state.
    std::uint32_t syn_backlog = 1024;
    // With this many live connections from the listener, further SYNs (and cookie ACKs)
    // are dropped, as Linux drops them on a full accept queue; the client tries again.
    std::uint32_t accept_backlog = 4096;
};

enum class listen_error : std::uint8_t { port_in_use };
enum class connect_error : std::uint8_t { no_free_port, port_in_use, table_full };

// Counters of the endpoint (one per engine), beside the engine's own drop counters.
struct endpoint_stats {
    std::uint64_t segments_in = 0;
    std::uint64_t segments_out = 0;
    std::uint64_t no_connection = 0; // segment for no connection and no listener (RST sent unless it was one)
    std::uint64_t rst_sent = 0;      // RSTs for segments with no connection (RFC 9293 §3.10.7.1)
    std::uint64_t accepted = 0;      // connections created by a SYN to a listener
    std::uint64_t table_full = 0;    // SYN dropped: the flow table is full
    std::uint64_t no_mbuf = 0;       // segment not sent: the pool is empty (the RTO sends it again)
    std::uint64_t freed = 0;         // streams freed after CLOSED
    std::uint64_t syn_backlog_full = 0;      // SYNs to a listener with a full SYN backlog (each got a cookie)
    std::uint64_t syn_cookies_sent = 0;      // SYN,ACKs with a cookie (RFC 4987 §3.6)
    std::uint64_t syn_cookies_validated = 0; // ACKs with a valid cookie: connection created in ESTABLISHED
    std::uint64_t syn_cookies_rejected = 0;  // ACKs to a listener that had sent cookies, with none valid (RST sent)
    std::uint64_t accept_backlog_full = 0;   // SYNs or cookie ACKs dropped: the listener's accept backlog is full
    std::uint64_t time_wait_reused = 0;      // TIME-WAIT connections ended by a newer SYN (RFC 6191)
};

class tcp_endpoint final : public protocol_handler, private segment_sink {
public:
    // `eng` must outlive the endpoint; the endpoint registers itself as its handler.
    tcp_endpoint(engine& eng, const tcp_config& config, std::size_t max_connections = 4096);
    ~tcp_endpoint() override;
    tcp_endpoint(const tcp_endpoint&) = delete;
    tcp_endpoint& operator=(const tcp_endpoint&) = delete;

    status<listen_error> listen(std::uint16_t port, const listen_options& options, app_events& app);
    void unlisten(std::uint16_t port);
    // RFC 9293 §3.10.1 active OPEN. With no local port an ephemeral one is picked that no
    // connection to (remote_ip, remote_port) uses.
    result<stream*, connect_error> connect(ipv4_addr remote_ip, std::uint16_t remote_port,
                                           std::optional<std::uint16_t> local_port,
                                           const connection_options& options, app_events& app);

    std::size_t connections() const { return table_.size(); }
    const endpoint_stats& stats() const { return stats_; }
    const tcp_config& config() const { return config_; }

    // protocol_handler
    void on_tcp(rte_mbuf* m, const wire::ipv4_view& ip, const wire::tcp_view& tcp) override;
    void on_timer(timer_hook& hook) override;
    void after_burst() override;

private:
    friend class stream;
    struct listener {
        listen_options options;
        app_events* app;
        std::shared_ptr<listener_backlog> backlog = std::make_shared<listener_backlog>();
    };

    void emit(const flow& f, const wire::tcp_repr& header, tx_payload payload) override;
    // After every call into a connection: re-arm its timer, or retire it once it is done.
    void settle(stream& s);
    void free_retired();
    void count_backlog(stream& s);
    void on_listener(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt);
    void reply_no_connection(const segment& seg);
    stream* accept(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt);
    void send_cookie(const segment& syn, const listener& l);
    bool accept_cookie(const segment& ack, const listener& l);
    seq32 initial_sequence(const flow_key& key) const;
    std::optional<std::uint16_t> ephemeral_port(ipv4_addr remote_ip, std::uint16_t remote_port);

    engine& engine_;
    tcp_config config_;
    flow_table<stream> table_;
    std::map<std::uint16_t, listener> listeners_;
    std::vector<stream*> retired_; // out of the table, freed when no call into them is on the stack
    unsigned depth_ = 0;           // engine entry points on the stack (on_tcp, on_timer)
    siphash_key isn_key_;          // RFC 6528's secret key
    syn_cookies cookies_;          // with a key of their own
    std::uint16_t next_port_;      // where the ephemeral search starts
    std::uint16_t ip_id_ = 0;
    endpoint_stats stats_;
};

} // namespace tern::tcp
