// What the sans-IO TCP core exchanges with whoever drives it (the engine, or a test
// harness): segments in, segments out through a sink, events to the application. The
// engine-wide knobs and the types the application shares are in tern/tcp.hpp. Nothing here
// knows DPDK or reads a clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "tcp/seq.hpp"
#include "tern/addr.hpp"
#include "tern/tcp.hpp"
#include "tern/time.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::tcp {

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
    X(text_ignored, "data after the peer's FIN")                                           \
    X(data_after_close, "data after close(): the connection is reset (RFC 1122 §4.2.2.13)")

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

// A received segment: its IP addresses, the parsed header (wire::tcp_repr::from(view)) and a view of its
// payload, valid for the duration of connection::on_segment. `packet` is the buffer the
// payload lies in, opaque to the core (an rte_mbuf for the engine, null in tests): it is
// passed on with in-order data so the application can keep that data without a copy.
struct segment {
    ip_addr src_addr; // from the IP header
    ip_addr dst_addr;
    wire::tcp_repr header;
    std::span<const std::uint8_t> payload;
    void* packet = nullptr;
    wire::ecn_codepoint ecn = wire::ecn_codepoint::not_ect; // the IP header's ECN field (RFC 3168 §5, RFC 8200 §7)

    seq32 seq() const { return seq32(header.seq); }
    seq32 ack() const { return seq32(header.ack); }
    bool has(std::uint8_t flag) const { return (header.flags & flag) != 0; }
    // SEG.LEN of RFC 9293 §3.4: payload plus one for each of SYN and FIN.
    std::uint32_t len() const {
        return std::uint32_t(payload.size()) + (has(wire::tcp_flags::syn) ? 1 : 0) +
               (has(wire::tcp_flags::fin) ? 1 : 0);
    }
};

// One contiguous piece of an outgoing payload. `owner` is the buffer the bytes lie in when
// the application handed that buffer over (zero-copy send: an rte_mbuf for the engine,
// opaque here); null for bytes in the send buffer's own copy ring.
struct tx_piece {
    std::span<const std::uint8_t> bytes;
    void* owner = nullptr;
};

// The payload of an outgoing segment: views into the send buffer, in order. Valid only
// during segment_sink::emit.
struct tx_payload {
    std::span<const tx_piece> pieces;
    std::size_t bytes = 0; // the pieces' total
    std::size_t size() const { return bytes; }
    void copy_to(std::uint8_t* out) const {
        for (const tx_piece& p : pieces) {
            if (!p.bytes.empty()) std::memcpy(out, p.bytes.data(), p.bytes.size());
            out += p.bytes.size();
        }
    }
};

// Where a connection writes what it sends. The engine's sink builds an mbuf (or a chain
// that points into the send buffer) and queues it for TX; a test sink records it.
struct segment_sink {
    // `ecn`: the IPv4 header's ECN field, ECT(0) on new data of an ECN connection (RFC 3168 §6.1.2).
    virtual void emit(const flow& f, const wire::tcp_repr& header, const tx_payload& payload,
                      wire::ecn_codepoint ecn) = 0;
    // The same for a segment whose header is a plain one (wire::tcp_plain_repr): most
    // segments. A sink may write it faster; by default it is emitted as its tcp_repr.
    virtual void emit(const flow& f, const wire::tcp_plain_repr& header, const tx_payload& payload,
                      wire::ecn_codepoint ecn) {
        emit(f, header.full(), payload, ecn);
    }
    // A buffer handed over by a zero-copy send is acknowledged and no longer needed.
    virtual void release(void* /*owner*/) {}
    // Whether one more challenge ACK fits the budget all connections share (RFC 5961 §7);
    // taken when it does.
    virtual bool take_challenge_ack(instant /*now*/) { return true; }
    // The connection took its path for a black hole to large packets (RFC 4821 §7.7): counted.
    virtual void note_black_hole() {}

protected:
    ~segment_sink() = default;
};

// What the application hears. Every callback runs inside a connection call (on_segment,
// on_timer, or a user call), on the engine's core.
struct connection_events {
    virtual void on_connected() {}                                   // ESTABLISHED reached
    // In order, the view valid during the call; `packet` is the segment's (null when the
    // bytes come from the reassembly queue).
    virtual void on_data(std::span<const std::uint8_t> /*bytes*/, void* /*packet*/) {}
    virtual void on_writable() {}                                    // send space came back
    virtual void on_peer_closed() {}                                 // the peer's FIN: "read returns 0"
    virtual void on_closed(close_reason /*why*/) {}                  // CLOSED reached; the TCB is done

protected:
    ~connection_events() = default;
};

// A point in time that may be unset, in 8 bytes: instant::max() stands for unset (no timer
// is ever due then). What std::optional<instant> offers a timer, at half its size; GCC also
// spilled and reloaded those optionals in halves, a store-forwarding stall on every read.
class deadline {
public:
    deadline() = default;
    deadline& operator=(instant at) {
        at_ = at;
        return *this;
    }
    explicit operator bool() const { return at_ != instant::max(); }
    instant operator*() const { return at_; }
    void reset() { at_ = instant::max(); }
    // The instant, instant::max() when unset: for taking the earliest of several.
    instant or_never() const { return at_; }

private:
    instant at_ = instant::max();
};

// What a connection's retransmission timer runs for: RFC 6298's RTO, or with RACK-TLP in
// its stead a reordering window (RFC 8985 §6.3) or a tail loss probe (§7.3).
enum class rtx_timer : std::uint8_t { rto, reorder, probe };

// A duration that may be unset, in 8 bytes (duration::min() stands for unset): what
// std::optional<duration> offers a round-trip estimate, at half its size. Round trips are
// never negative.
class maybe_duration {
public:
    maybe_duration() = default;
    maybe_duration(duration d) : d_(d) {}
    maybe_duration& operator=(duration d) {
        d_ = d;
        return *this;
    }
    bool has_value() const { return d_ != duration::min(); }
    explicit operator bool() const { return has_value(); }
    duration operator*() const { return d_; }
    duration value_or(duration other) const { return has_value() ? d_ : other; }
    void reset() { d_ = duration::min(); }
    operator std::optional<duration>() const { return has_value() ? std::optional<duration>(d_) : std::nullopt; }
    friend bool operator==(const maybe_duration& a, duration b) { return a.has_value() && a.d_ == b; }
    friend bool operator==(const maybe_duration&, const maybe_duration&) = default;

private:
    duration d_ = duration::min();
};

// Counters of one connection, the beginnings of a TCP_INFO: what every segment counts...
struct traffic_counts {
    std::uint64_t segments_in = 0;   // every segment handed to on_segment but SYN+FIN ones (dropped first)
    std::uint64_t segments_out = 0;  // every segment emitted, RSTs and probes included
    std::uint64_t bytes_in = 0;      // payload delivered to the application
    std::uint64_t bytes_out = 0;     // payload emitted, retransmissions included
};

// ...and the counts of events that each take a loss or a timeout, which most connections
// never see: a connection keeps them apart, made at the first (connection::losses). 32
// bits: 2^32 retransmissions of one connection, one every microsecond, would take 71
// minutes of a path losing everything.
struct loss_counts {
    std::uint32_t retransmits = 0;   // segments sent again (RTO, fast retransmit, SYN, SYN,ACK)
    std::uint32_t fast_retransmits = 0; // of those, sent by fast retransmit and loss recovery (RFC 6675, RFC 6582)
    std::uint32_t rto_retransmits = 0;  // of those, data sent again after a timeout (RFC 6298 §5.4, go-back-N)
    std::uint32_t recoveries = 0;       // fast recovery episodes entered
    std::uint32_t undos = 0;            // episodes undone: every retransmission D-SACKed (RFC 3708, RFC 4015)
    std::uint32_t ecn_reductions = 0;   // windows reduced for an ECN echo (RFC 3168 §6.1.2)
    std::uint32_t tail_probes = 0;      // TLP probes sent (RFC 8985 §7.3), new data or the last segment again
    std::uint32_t path_mtu_retransmits = 0; // data sent again in a smaller size after ICMP fragmentation needed (RFC 1191)
};

struct connection_stats : traffic_counts, loss_counts {};

// The loss and ECN counts of connection_stats summed over many connections (an endpoint's,
// live and freed), for its counters.
struct connection_totals {
    std::uint64_t fast_retransmits = 0;
    std::uint64_t rto_retransmits = 0;
    std::uint64_t recoveries = 0;
    std::uint64_t undos = 0;
    std::uint64_t tail_probes = 0;
    std::uint64_t ecn_reductions = 0;
    std::uint64_t path_mtu_retransmits = 0;

    void add(const loss_counts& s) {
        fast_retransmits += s.fast_retransmits;
        rto_retransmits += s.rto_retransmits;
        recoveries += s.recoveries;
        undos += s.undos;
        tail_probes += s.tail_probes;
        ecn_reductions += s.ecn_reductions;
        path_mtu_retransmits += s.path_mtu_retransmits;
    }
};

} // namespace tern::tcp
