// What the sans-IO TCP core exchanges with whoever drives it (the engine, or a test
// harness): segments in, segments out through a sink, events to the application, and the
// engine-wide knobs. Nothing here knows DPDK or reads a clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tcp/seq.hpp"
#include "tern/addr.hpp"
#include "tern/time.hpp"
#include "wire/tcp.hpp"

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

std::string_view to_string(tcp_state s);

// Why a connection reached CLOSED, as the application is told.
enum class close_reason : std::uint8_t {
    normal,    // both FINs exchanged and acknowledged (or TIME_WAIT ran out)
    reset,     // the peer sent an acceptable RST
    timed_out, // retransmissions ran out (RFC 9293 §3.8.3 R2, RFC 6298)
    refused,   // RST in answer to our SYN (RFC 9293 §3.10.7.3)
    aborted,   // the application called abort()
};

std::string_view to_string(close_reason r);

// Why a received segment was not (fully) used. Every segment that does not advance the
// connection is counted under one of these (DESIGN.md: no silent return).
#define TERN_TCP_DROPS(X)                                                                   \
    X(not_acceptable, "sequence number outside the receive window (RFC 9293 §3.10.7.4)")  \
    X(paws, "timestamp older than TS.Recent (RFC 7323 §5)")                                \
    X(missing_timestamp, "no TS option though timestamps were negotiated (RFC 7323 §3.2)") \
    X(rst_challenged, "in-window RST not at RCV.NXT: challenge ACK sent (RFC 5961 §3)")    \
    X(challenge_limited, "challenge ACK not sent: over the rate limit (RFC 5961 §7)")     \
    X(rst_ignored, "RST not acceptable in this state")                                     \
    X(syn_challenged, "SYN in a synchronized state: challenge ACK sent (RFC 5961 §4)")    \
    X(syn_fin, "SYN and FIN together")                                                     \
    X(no_ack, "ACK bit off in a synchronized state (RFC 9293 §3.10.7.4 fifth)")           \
    X(bad_ack, "ACK outside (SND.UNA - MAX.SND.WND, SND.NXT] (RFC 5961 §5)")              \
    X(bad_ack_reset, "unacceptable ACK answered by RST (LISTEN, SYN-SENT, SYN-RECEIVED)") \
    X(listen_unexpected, "neither SYN, ACK nor RST in LISTEN")                             \
    X(syn_sent_no_syn, "no SYN in answer to our SYN")                                      \
    X(closed, "segment for a CLOSED connection (answered by RST unless it is one)")       \
    X(ooo_full, "out-of-order data beyond what the reassembly queue may hold")            \
    X(text_ignored, "data after the peer's FIN")

enum class tcp_drop : std::uint8_t {
#define TERN_TCP_DROP_ENUM(name, text) name,
    TERN_TCP_DROPS(TERN_TCP_DROP_ENUM)
#undef TERN_TCP_DROP_ENUM
};

inline constexpr std::size_t tcp_drop_count = 0
#define TERN_TCP_DROP_COUNT(name, text) +1
    TERN_TCP_DROPS(TERN_TCP_DROP_COUNT)
#undef TERN_TCP_DROP_COUNT
    ;

std::string_view to_string(tcp_drop d);

struct endpoint {
    ipv4_addr addr;
    std::uint16_t port = 0;
    friend bool operator==(const endpoint&, const endpoint&) = default;
};

struct flow {
    endpoint local;
    endpoint remote;
    friend bool operator==(const flow&, const flow&) = default;
};

// A received segment: its IPv4 addresses, the parsed header (wire::tcp_repr::from(view)) and a view of its
// payload, valid for the duration of connection::on_segment.
struct segment {
    ipv4_addr src_addr; // from the IPv4 header
    ipv4_addr dst_addr;
    wire::tcp_repr header;
    std::span<const std::uint8_t> payload;

    seq32 seq() const { return seq32(header.seq); }
    seq32 ack() const { return seq32(header.ack); }
    bool has(std::uint8_t flag) const { return (header.flags & flag) != 0; }
    // SEG.LEN of RFC 9293 §3.4: payload plus one for each of SYN and FIN.
    std::uint32_t len() const {
        return std::uint32_t(payload.size()) + (has(wire::tcp_flags::syn) ? 1 : 0) +
               (has(wire::tcp_flags::fin) ? 1 : 0);
    }
};

// The payload of an outgoing segment: a view into the send buffer, which is a ring, so it
// may come in two pieces. Valid only during segment_sink::emit.
struct tx_payload {
    std::span<const std::uint8_t> head;
    std::span<const std::uint8_t> tail;
    std::size_t size() const { return head.size() + tail.size(); }
};

// Where a connection writes what it sends. The engine's sink builds an mbuf (or a chain
// that points into the send buffer) and queues it for TX; a test sink records it.
struct segment_sink {
    virtual void emit(const flow& f, const wire::tcp_repr& header, tx_payload payload) = 0;

protected:
    ~segment_sink() = default;
};

// What the application hears. Every callback runs inside a connection call (on_segment,
// on_timer, or a user call), on the engine's core.
struct connection_events {
    virtual void on_connected() {}                                   // ESTABLISHED reached
    virtual void on_data(std::span<const std::uint8_t> /*bytes*/) {} // in order, view valid during the call
    virtual void on_writable() {}                                    // send space came back
    virtual void on_peer_closed() {}                                 // the peer's FIN: "read returns 0"
    virtual void on_closed(close_reason /*why*/) {}                  // CLOSED reached; the TCB is done

protected:
    ~connection_events() = default;
};

// Counters of one connection, the beginnings of a TCP_INFO.
struct connection_stats {
    std::uint64_t segments_in = 0;   // every segment handed to on_segment
    std::uint64_t segments_out = 0;  // every segment emitted, RSTs and probes included
    std::uint64_t bytes_in = 0;      // payload delivered to the application
    std::uint64_t bytes_out = 0;     // payload emitted, retransmissions included
    std::uint64_t retransmits = 0;   // segments sent again (RTO, fast retransmit, SYN, SYN,ACK)
    std::uint64_t fast_retransmits = 0; // of those, sent by fast retransmit and loss recovery (RFC 6675, RFC 6582)
    std::uint64_t rto_retransmits = 0;  // of those, data sent again after a timeout (RFC 6298 §5.4, go-back-N)
    std::uint64_t recoveries = 0;       // fast recovery episodes entered
};

// Engine-wide knobs (issue 3). Defaults follow Linux where the RFCs leave a choice.
struct tcp_config {
    duration msl = std::chrono::seconds(30);             // TIME_WAIT lasts 2·MSL (RFC 9293 §3.4.2)
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
    std::uint16_t challenge_acks_per_second = 100;       // RFC 5961 §7, per connection
};

// RFC 1122 §4.2.3.6 keep-alives, with Linux's meaning of the three numbers.
struct keepalive_options {
    duration idle = std::chrono::hours(2);        // no segment received for this long: probe
    duration interval = std::chrono::seconds(75); // between unanswered probes
    std::uint8_t count = 9;                       // unanswered probes before "timed out"
};

// Per-connection settings.
struct connection_options {
    std::uint32_t send_buffer = 64 * 1024;    // bytes the send ring holds
    std::uint32_t receive_buffer = 64 * 1024; // receive window and reassembly space; a power of two
    std::uint32_t ts_offset = 0;              // added to the ms clock for TSval (RFC 7323 §5.4: random)
    bool no_delay = false;                    // true: Nagle off (RFC 9293 §3.7.4 MUST allow it)
    std::optional<keepalive_options> keepalive; // off by default (RFC 1122 §4.2.3.6: MUST default to off)
};

} // namespace tern::tcp
