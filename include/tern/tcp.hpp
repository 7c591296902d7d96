// The public TCP API: what an application links against to listen, connect, send and
// receive on an engine. Everything runs on the engine's own core: the application's
// callbacks (app_events) fire inside the engine's loop, and the calls (stream::send, close,
// ...) are made from there too, from inside a callback or between polls. No threads, no
// locks.
//
//   struct my_app : tern::tcp::app_events {
//       void on_accepted(tcp::stream& s) override { ... }
//       void on_data(tcp::stream& s, const tcp::rx_data& d) override { kept.push_back(d.keep()); }
//   };
//   tern::tcp::tcp_endpoint ep(engine, tern::tcp::tcp_config{});
//   ep.listen(80, {}, app);
//
// The types the sans-IO core shares with the application (states, close reasons, options,
// the engine-wide tcp_config) are defined here; src/tcp/types.hpp includes them.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/addr.hpp"
#include "tern/counter.hpp"
#include "tern/result.hpp"
#include "tern/time.hpp"

namespace tern {
class engine;
} // namespace tern

namespace tern::tcp {

// RFC 9293 §3.3.2: the eleven states.
enum class tcp_state : std::uint8_t {
    closed,
    listen,
    syn_sent,
    syn_received,
    established,
    fin_wait_1,
    fin_wait_2,
    close_wait,
    closing,
    last_ack,
    time_wait,
};
inline constexpr std::size_t tcp_state_count = 11;

std::string_view to_string(tcp_state s); // "TIME-WAIT", as RFC 9293 writes them

// Why a connection reached CLOSED, as the application is told.
enum class close_reason : std::uint8_t {
    normal,    // both FINs exchanged and ours acknowledged: LAST-ACK's end, or TIME-WAIT's
               // (the endpoint ends it at once and keeps a record for 2·MSL instead); also
               // an RST or a newer SYN (RFC 6191) in TIME-WAIT, and a close in LISTEN or SYN-SENT
    reset,     // the peer sent an acceptable RST
    timed_out, // retransmissions (or keep-alive probes) ran out (RFC 9293 §3.8.3 R2, RFC 6298),
               // or FIN-WAIT-2 after close() outlasted tcp_config::fin_timeout
    refused,   // RST in answer to our SYN (RFC 9293 §3.10.7.3)
    aborted,   // aborted here: abort(), or data arrived after close() (RFC 1122 §4.2.2.13)
    unreachable, // in SYN-SENT, the next hop did not answer ARP or Neighbor Discovery (Linux: EHOSTUNREACH)
};

std::string_view to_string(close_reason r);

// An address (either family) and port of one side.
struct endpoint {
    ip_addr addr;
    std::uint16_t port = 0;
    friend bool operator==(const endpoint&, const endpoint&) = default;
};

struct flow {
    endpoint local;
    endpoint remote;
    friend bool operator==(const flow&, const flow&) = default;
};

// How a connection's congestion window grows and what a congestion event leaves of it.
enum class congestion_algorithm : std::uint8_t {
    reno,  // RFC 5681: +1 segment a round trip, halved on loss
    cubic, // RFC 9438: a cubic function of the time since the last loss, 0.7 of it kept on loss
};

// Explicit Congestion Notification (RFC 3168), as Linux's tcp_ecn.
enum class ecn_mode : std::uint8_t {
    off,     // never: a peer's ECN-setup SYN gets a SYN,ACK without ECE
    passive, // when the peer asks (its SYN carries ECE and CWR); ours do not ask
    on,      // our SYNs ask too
};

// Engine-wide knobs. Defaults follow Linux where the RFCs leave a choice.
struct tcp_config {
    duration msl = std::chrono::seconds(30);             // TIME_WAIT lasts 2·MSL (RFC 9293 §3.4.2)
    // After close() (not shutdown(): the application reads no more), FIN-WAIT-2 waits this
    // long for the peer's FIN, then the connection is dropped (timed_out, nothing sent), so
    // that a peer that never closes cannot fill the table. Linux's tcp_fin_timeout; RFC 9293
    // sets no limit.
    duration fin_timeout = std::chrono::seconds(60);
    std::uint8_t syn_retries = 6;                        // SYN retransmissions before "timed out"
    std::uint8_t synack_retries = 5;                     // SYN-ACK retransmissions before giving up
    std::uint8_t max_retransmits = 15;                   // data retransmissions (RFC 9293 §3.8.3 R2)
    duration initial_rto = std::chrono::seconds(1);      // RFC 6298 §2.1
    duration min_rto = std::chrono::milliseconds(200);   // RFC 6298 §2.4 says 1 s; Linux uses 200 ms
    duration max_rto = std::chrono::seconds(120);        // RFC 6298 §2.5 allows a maximum >= 60 s
    duration delayed_ack = std::chrono::milliseconds(40); // RFC 9293 §3.8.6.3: well under 0.5 s
    std::uint16_t mtu = 1500;                            // our MSS is mtu - 40 (RFC 9293 §3.7.1)
    bool window_scaling = true;                          // RFC 7323 §2
    bool timestamps = true;                              // RFC 7323 §3
    bool sack = true;                                    // RFC 2018: SACK-permitted
    std::uint16_t challenge_acks_per_second = 100;       // RFC 5961 §7, per connection, and once more for all TIME-WAIT records together
    // RFC 5961 §7 for all connections (and TIME-WAIT records) of an endpoint together, as
    // Linux's tcp_challenge_ack_limit: each second's budget is drawn anew between this and
    // twice this, so that the count of challenge ACKs a blind attacker can provoke says
    // nothing about a connection it does not know (CVE-2016-5696). 0: no such limit.
    std::uint32_t challenge_acks_total_per_second = 1000;
    bool time_wait_reuse = true;                         // RFC 6191: a newer SYN may end TIME-WAIT
    // The congestion window a connection starts with, in segments: RFC 6928's 10 (as Linux),
    // never more than 14600 bytes' worth above 2 segments. 0: RFC 5681 §3.1's 2 to 4 by MSS.
    std::uint8_t initial_window = 10;
    // For every connection that does not choose its own (connection_options::congestion).
    congestion_algorithm congestion = congestion_algorithm::cubic;
    // HyStart++ (RFC 9406) in the first slow start: it ends when the round trip grows,
    // before the loss a full slow start into a queue causes.
    bool hystart = true;
    // Proportional Rate Reduction (RFC 6937, PRR-SSRB) in SACK loss recovery: the window
    // comes down to ssthresh in step with what the peer reports delivered, rather than
    // (RFC 6675) all at once, which stops sending for half a round trip and then bursts.
    bool prr = true;
    // RACK-TLP (RFC 8985) beside RFC 6675's DupThresh, with SACK: a segment is lost once
    // one sent after it arrived and a reordering window passed (lost retransmissions
    // too), and a probe after about two round trips draws the ACK that finds a lost tail,
    // where the retransmission timeout would.
    bool rack = true;
    ecn_mode ecn = ecn_mode::passive;
    // Packetization-layer path MTU discovery for black holes (RFC 4821 §7.7, as Linux's
    // tcp_mtu_probing = 1): a path that drops large packets without saying so (no ICMP
    // fragmentation needed) shows as full-sized segments timing out again and again. After
    // this many consecutive timeouts the segments shrink to a 1024-byte MTU, then by halves
    // down to 552; `mtu_probe_interval` later the larger size is tried again. 0: off.
    std::uint8_t black_hole_timeouts = 3;
    duration mtu_probe_interval = std::chrono::minutes(10); // Linux's tcp_probe_interval
};

// RFC 1122 §4.2.3.6 keep-alives, with Linux's meaning of the three numbers.
// A connection keeps these to the millisecond (a finer time is rounded up) and up to 2^32 - 1
// ms, about 49 days (a longer one is cut to that).
struct keepalive_options {
    duration idle = std::chrono::hours(2);        // no segment received for this long: probe
    duration interval = std::chrono::seconds(75); // between unanswered probes
    std::uint8_t count = 9;                       // unanswered probes before "timed out"
};

// Per-connection settings.
struct connection_options {
    std::uint32_t send_buffer = 64 * 1024;    // bytes the send ring holds
    std::uint32_t receive_buffer = 64 * 1024; // receive window and reassembly space; a power of two
    // Added to the ms clock for TSval. Unset: RFC 7323 §7.1's random offset, one per pair of
    // addresses (a keyed hash of the two with the kernel's boot ID as the secret), so TSvals
    // do not show the engine's clock and yet stay one clock for all connections between two
    // hosts, also across a restart of the process, which a peer's PAWS and RFC 6191
    // TIME-WAIT reuse rely on; a new boot makes new offsets. Set it to pin TSvals.
    std::optional<std::uint32_t> ts_offset;
    bool no_delay = false;                    // true: Nagle off (RFC 9293 §3.7.4 MUST allow it)
    std::optional<congestion_algorithm> congestion; // unset: tcp_config::congestion (beside no_delay: in its padding)
    // Receive-buffer auto-tuning (what Linux calls dynamic right-sizing): 0, off; else a power
    // of two above receive_buffer, towards which the buffer grows, in powers of two, while
    // the sender fills the window and the application takes in more than half of it each
    // round trip. The window scale is chosen for it. (In the padding after congestion.)
    std::uint32_t receive_buffer_max = 0;
    std::optional<keepalive_options> keepalive; // off by default (RFC 1122 §4.2.3.6: MUST default to off)
};

// listen(): options of the listener.
struct listen_options {
    connection_options connection; // for every connection the listener accepts
    // RFC 4987 §3.6: with this many connections in SYN-RECEIVED, further SYNs get a SYN
    // cookie and no state.
    std::uint32_t syn_backlog = 1024;
    // With this many live connections from the listener, further SYNs and the ACKs that
    // would complete a handshake (cookie or not) are dropped, as Linux drops them on a full
    // accept queue; the client tries again.
    std::uint32_t accept_backlog = 4096;
    // Idle connections kept as compact records (about 200 bytes less each, for servers that
    // hold millions): a connection that stayed `park_after` in ESTABLISHED with nothing in
    // flight, nothing owed and no timer of its own (so not with keep-alive) is parked, and
    // made again when its next segment comes. A parked connection's stream object is gone:
    // the next on_data (or on_peer_closed, on_closed) names another stream with the same
    // `user`. So the application keeps no pointer to a stream outside its callbacks, and
    // what it keeps per connection hangs off `user`.
    bool park_idle = false;
    // Long enough that a connection in use (requests every few hundred milliseconds) is not
    // parked and made again for each.
    duration park_after = std::chrono::seconds(1);
};

// connect(): the connection's options and, optionally, the local side. The local address
// must be the engine's own or one of its extra addresses (engine_config::extra_addresses),
// or one of its IPv6 addresses (engine_config::ipv6), of the remote address's family;
// without one, the engine's address of that family is taken. Without a port an ephemeral
// one is picked.
struct connect_options {
    connection_options connection;
    std::optional<ip_addr> local_addr;
    std::optional<std::uint16_t> local_port;
    // As listen_options::park_idle, for a program that opens millions of connections and
    // keeps them idle (a load generator): the stream object of a connection idle for
    // `park_after` goes, and on_parked says so. The connection lives on as a record, and
    // its next event names another stream with the same `user`; to send on it meanwhile,
    // tcp_endpoint::find(flow) makes it again.
    bool park_idle = false;
    duration park_after = std::chrono::seconds(1);
};

enum class listen_error : std::uint8_t { port_in_use };
enum class connect_error : std::uint8_t {
    no_free_port,      // every ephemeral port to this peer is taken
    port_in_use,       // the chosen local port already has a connection to this peer
    table_full,        // the engine holds as many connections as it may
    not_local_address, // local_addr is not one of the engine's addresses, or not of the remote's family
    no_local_address,  // the engine has no usable address of the remote's family (no IPv6, or not yet past DAD)
};
enum class send_error : std::uint8_t {
    not_connected, // not opened yet, or already closed
    closing,       // shutdown() or close() was called, or the connection is going away
    no_buffer,     // allocate(): the engine's mbuf pool is empty
};
enum class close_error : std::uint8_t { not_open, closing };

std::string_view to_string(connect_error e);

// One connection's state and counters, like Linux's TCP_INFO.
struct tcp_info {
    tcp_state state = tcp_state::closed;
    flow id;
    duration srtt{};   // smoothed RTT (RFC 6298); zero before the first sample
    duration rttvar{};
    duration rto{};
    std::uint32_t cwnd = 0;      // bytes (RFC 5681)
    std::uint32_t ssthresh = 0;
    std::uint16_t snd_mss = 0;   // largest payload we send
    std::uint16_t rcv_mss = 0;   // the MSS we advertised
    std::uint32_t snd_wnd = 0;   // the peer's window, scaled
    std::uint32_t rcv_wnd = 0;   // our receive window
    std::uint32_t rcv_space = 0; // our receive buffer (RCV.BUFF), grown by auto-tuning
    std::uint8_t snd_wscale = 0;
    std::uint8_t rcv_wscale = 0;
    bool timestamps = false;     // RFC 7323 negotiated
    bool sack = false;           // RFC 2018 negotiated
    std::uint32_t unacked = 0;   // bytes sent and not yet acknowledged (SND.NXT - SND.UNA)
    std::uint32_t send_queued = 0; // bytes in the send buffer (unacked and unsent)
    std::uint64_t bytes_in = 0;    // payload delivered to the application
    std::uint64_t bytes_out = 0;   // payload emitted, retransmissions included
    std::uint64_t segments_in = 0;
    std::uint64_t segments_out = 0;
    std::uint64_t retransmits = 0;
};

// Counters of one endpoint (one per engine), written on its engine's thread and readable
// from any (a progress line). Drop reasons of connections are in tcp_endpoint::counters().
struct endpoint_stats {
    counter segments_in;
    counter segments_out;
    counter no_connection; // segment for no connection, and no listener or an ACK or RST to one (RST sent unless it was one)
    counter rst_sent;      // RSTs for segments with no connection (RFC 9293 §3.10.7.1)
    counter accepted;      // connections created by a SYN to a listener
    counter table_full;    // SYN (or cookie-validated ACK) dropped: the flow table is full
    counter no_mbuf;       // segment not sent: the pool is empty (the RTO sends it again)
    counter freed;         // streams freed after CLOSED
    counter syn_backlog_full;      // SYNs to a listener with a full SYN backlog (each got a cookie)
    counter syn_cookies_sent;      // SYN,ACKs with a cookie (RFC 4987 §3.6)
    counter syn_cookies_validated; // ACKs with a valid cookie: connection created in ESTABLISHED
    counter syn_cookies_rejected;  // ACKs to a listener that had sent cookies, with none valid (RST sent)
    counter accept_backlog_full;   // SYNs or handshake ACKs dropped: the listener's accept backlog is full
    counter time_wait_reused;      // TIME-WAIT connections ended by a newer SYN (RFC 6191)
    counter time_wait_evicted;     // TIME-WAIT records let go before 2·MSL: as many as max_connections were held
    counter syn_dropped_busy;      // SYNs dropped while the engine was behind (engine::congested)
    counter challenge_acks_limited; // challenge ACKs not sent: the endpoint's budget for the second was spent
    counter icmp_unreachable_used;    // ICMP destination unreachable that ended an open or lowered the MSS
    counter icmp_unreachable_ignored; // the others: no such connection, a segment not in flight (RFC 5927), a soft error
    counter ecn_ce_in;                // segments of ECN connections that came marked CE (RFC 3168 §6.1.3)
    counter path_black_holes;         // MSS lowered after repeated timeouts of full-sized segments (RFC 4821 §7.7)
    counter parks;                    // idle streams parked (listen_options::park_idle)
    counter unparks;                  // parked streams made again by a segment for them
};

struct rx_account; // RCV.USER of one connection (src/tcp/rx_account.hpp)

// Received data kept beyond on_data. Data delivered straight from a packet is kept
// without a copy: the buffer holds a reference on the packet's mbuf. Data that waited in
// the reassembly queue is copied once. Move-only; destroying (or reset()) releases it, from
// any thread, while the engine's mbuf pool exists. Until then its bytes count against the
// connection's receive window (RFC 1122 §4.2.3.3's RCV.USER): an application that keeps
// what it has not consumed shrinks the window the peer sees, down to zero, and the window
// opens again as it releases them (back-pressure; nothing is dropped).
class rx_buffer {
public:
    rx_buffer() = default;
    rx_buffer(rx_buffer&& other) noexcept { *this = std::move(other); }
    rx_buffer& operator=(rx_buffer&& other) noexcept;
    ~rx_buffer() { reset(); }

    std::span<const std::uint8_t> bytes() const { return bytes_; }
    std::size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }
    bool zero_copy() const { return packet_ != nullptr; } // holds a packet, not a copy
    void reset();

private:
    friend class rx_data;
    void* packet_ = nullptr;                  // an rte_mbuf with one reference ours
    std::unique_ptr<std::uint8_t[]> copy_;    // or our own copy
    std::span<const std::uint8_t> bytes_;
    rx_account* account_ = nullptr;           // the connection's RCV.USER, which these bytes are part of
};

// What on_data hands over: in-order bytes, valid during the call; keep() makes them last.
class rx_data {
public:
    rx_data(std::span<const std::uint8_t> bytes, void* packet) : bytes_(bytes), packet_(packet) {}
    // `owner`: the stream the bytes are for, whose receive window kept bytes count against.
    rx_data(std::span<const std::uint8_t> bytes, void* packet, void* owner)
        : bytes_(bytes), packet_(packet), owner_(owner) {}

    std::span<const std::uint8_t> bytes() const { return bytes_; }
    const std::uint8_t* data() const { return bytes_.data(); }
    std::size_t size() const { return bytes_.size(); }
    bool from_packet() const { return packet_ != nullptr; } // keep() will not copy
    // The bytes for as long as the application holds the result.
    rx_buffer keep() const;

private:
    std::span<const std::uint8_t> bytes_;
    void* packet_; // the rte_mbuf they lie in, or null (reassembled: keep() copies)
    void* owner_ = nullptr; // the stream_state, or null (nothing counts what is kept)
};

// A buffer to fill and hand over to stream::send without a copy (zero-copy send). It lies
// in an mbuf of the engine's pool. Once sent, the stream holds it until the peer has
// acknowledged all of it, and the segments refer to it: chained to their headers where the
// port sends multi-segment frames, else copied into each segment as it goes out.
class tx_block {
public:
    tx_block() = default;
    tx_block(tx_block&& other) noexcept { *this = std::move(other); }
    tx_block& operator=(tx_block&& other) noexcept;
    ~tx_block() { reset(); }

    std::span<std::uint8_t> room() const { return {data_, capacity_}; } // writable
    void resize(std::size_t n) { size_ = n <= capacity_ ? n : capacity_; } // bytes filled
    std::size_t size() const { return size_; }
    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
    bool valid() const { return packet_ != nullptr; }
    void reset(); // gives the buffer back unsent

private:
    friend class stream;
    void* packet_ = nullptr; // the rte_mbuf
    std::uint8_t* data_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
};

// One connection, as the application sees it. Valid from on_accepted (or connect()) to the
// end of on_closed; the endpoint frees it afterwards.
class stream {
public:
    // RFC 9293 §3.10.2 SEND: copies what fits in the send buffer; returns how much that
    // was. When short, on_writable follows once space comes back.
    result<std::size_t, send_error> send(std::span<const std::uint8_t> bytes);
    // Zero-copy send: a buffer of up to `max` bytes (less when an mbuf holds less) to fill,
    // then send(block). The block is taken whole or not at all: 0 means no room now (the
    // block stays the caller's; on_writable follows); on success the block is left empty.
    result<tx_block, send_error> allocate(std::size_t max);
    result<std::size_t, send_error> send(tx_block& block);
    // Another block that refers to the bytes `filled` holds, without a copy: for a payload
    // that does not change (a load generator's, a file's), sent again and again on this or
    // any stream of the engine. The bytes are then shared: write none of them once a block
    // that refers to them is sent. no_buffer when the pool is empty.
    result<tx_block, send_error> share(const tx_block& filled);
    // Half-close: our FIN goes out after the queued data; we keep receiving (on_data, then
    // on_peer_closed) until the peer closes too.
    status<close_error> shutdown();
    // Full close (Linux's close()): the queued data goes out, then our FIN; data that
    // arrives afterwards is not delivered and resets the connection (RFC 1122 §4.2.2.13,
    // RFC 2525 §2.17).
    status<close_error> close();
    // RFC 9293 §3.10.5 ABORT: RST at once where the peer knows us, no TIME_WAIT.
    void abort();

    tcp_state state() const;
    const flow& flow_id() const;
    bool passive() const;                // accepted from a listener
    std::uint32_t send_space() const;    // bytes send() would take now
    tcp_info info() const;
    // tcp_info::retransmits alone: cheap enough to read on every event.
    std::uint64_t retransmits() const;

    void* user = nullptr; // the application's own per-stream state

protected:
    stream() = default;
    ~stream() = default;
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
};

// What the application hears about its streams. One object may serve many streams (every
// stream of a listener shares its app_events); each call names its stream.
struct app_events {
    virtual void on_accepted(stream& /*s*/) {}  // a passive connection reached ESTABLISHED
    virtual void on_connected(stream& /*s*/) {} // an active connection reached ESTABLISHED
    virtual void on_data(stream& /*s*/, const rx_data& /*data*/) {}
    virtual void on_writable(stream& /*s*/) {}
    virtual void on_peer_closed(stream& /*s*/) {} // the peer's FIN: "read returns 0"
    // The last call. A connection that closed first ends here on reaching TIME-WAIT (its
    // last ACK sent): the endpoint keeps the 4-tuple for 2·MSL in a small record of its own
    // that still answers the peer (tcp_endpoint::time_wait()), as a socket is gone after
    // close() while the kernel keeps its TIME-WAIT.
    virtual void on_closed(stream& /*s*/, close_reason /*why*/) {}
    // An idle stream is about to be parked (listen_options or connect_options park_idle):
    // the stream object goes once this returns, the connection stays. Forget the pointer;
    // call nothing on the stream here (a call that gives it work keeps it unparked).
    virtual void on_parked(stream& /*s*/) {}

protected:
    ~app_events() = default;
};

class endpoint_core;

// The ephemeral ports connect() picks from when given none: Linux's default
// ip_local_port_range, 32768-60999.
inline constexpr std::uint16_t ephemeral_port_first = 32768;
inline constexpr std::uint16_t ephemeral_port_count = 61000 - 32768;

// The TCP layer of one engine: its connections, its listeners. Construct one per engine;
// it must go before the engine does.
class tcp_endpoint {
public:
    tcp_endpoint(engine& eng, const tcp_config& config, std::size_t max_connections = 4096);
    ~tcp_endpoint();
    tcp_endpoint(const tcp_endpoint&) = delete;
    tcp_endpoint& operator=(const tcp_endpoint&) = delete;

    // RFC 9293 §3.10.1 passive OPEN on every connection to `port`.
    status<listen_error> listen(std::uint16_t port, const listen_options& options, app_events& app);
    void unlisten(std::uint16_t port);
    // RFC 9293 §3.10.1 active OPEN. The stream is the application's until on_closed.
    result<stream*, connect_error> connect(ip_addr remote, std::uint16_t port, const connect_options& options,
                                           app_events& app);
    // A hint, for a program that opens connections at the packet rate and knows its next
    // connect() ahead: the table slots that connect() will read start loading now, so its
    // cache misses overlap with other work. Changes nothing else.
    void prepare_connect(ip_addr remote, std::uint16_t port, const connect_options& options);
    // The stream of the connection `f` names, made again if it was parked; null when this
    // engine has none (never opened, closed, or in TIME-WAIT).
    stream* find(const flow& f);

    std::size_t connections() const;
    // Connections that went through TIME-WAIT less than 2·MSL ago: kept as small records,
    // no longer as connections (they are not in connections(); on_closed came on entry).
    std::size_t time_wait() const;
    const endpoint_stats& stats() const;
    const tcp_config& config() const;
    // endpoint_stats and the total per TCP drop reason (live and freed connections), by name.
    std::vector<std::pair<std::string_view, std::uint64_t>> counters() const;
    // Connections per state (index: tcp_state), netstat-style: each listening port counts
    // once under LISTEN.
    std::array<std::size_t, tcp_state_count> count_by_state() const;
    // The first `limit` connections: the listening ports first (local 0.0.0.0:PORT, remote
    // 0.0.0.0:0, state LISTEN), then the others in no particular order.
    std::vector<tcp_info> list(std::size_t limit) const;

private:
    std::unique_ptr<endpoint_core> core_;
};

} // namespace tern::tcp
