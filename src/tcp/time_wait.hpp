// TIME-WAIT kept apart from connections (DESIGN.md "Memory"): when a connection reaches
// TIME-WAIT with nothing left to send, the endpoint keeps the few numbers RFC 9293
// §3.10.7.4 still needs (the 4-tuple, both sequence numbers, the window, TS.Recent) in a
// 48-byte record and frees the connection. A connection object is ~900 bytes and a busy
// client or server holds 2·MSL worth of closed connections: at 600 k connections a second
// and MSL = 1 s that was 1 GB of cold objects, and every new connection took one of them.
//
// The record still answers what may arrive in TIME-WAIT: a retransmitted FIN is
// acknowledged and restarts the wait, an acceptable RST ends it, a SYN may start a new
// incarnation (RFC 6191), and everything else gets what the connection would have sent
// (an ACK, a challenge ACK, or nothing). time_wait_input is sans-IO: it decides, the
// endpoint sends.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "core/flow_table.hpp"
#include "tcp/seq.hpp"
#include "tcp/types.hpp"
#include "tern/time.hpp"

namespace tern::tcp {

// One record; Key is flow_key (IPv4, 48 bytes) or flow_key6 (IPv6, 72 bytes).
template <class Key>
struct basic_time_wait_record {
    Key key;                       // seen from here: local, remote
    seq32 snd_nxt;                 // past our FIN: the SEQ of our ACKs
    seq32 rcv_nxt;                 // past the peer's FIN
    std::uint32_t rcv_wnd = 0;     // for the acceptability test (RFC 9293 §3.10.7.4 first)
    std::uint32_t max_snd_wnd = 0; // for the ACK check (RFC 5961 §5.2)
    std::uint32_t ts_recent = 0;   // TS.Recent (RFC 7323 §4.3)
    std::uint32_t ts_offset = 0;   // our TSval clock's offset (connection_options::ts_offset)
    std::uint16_t window = 0;      // the window field of our ACKs, already shifted
    bool ts_ok : 1 = false;        // timestamps were agreed (RFC 7323 §3.2)
    bool passive : 1 = false;      // opened through a listener: only then may a SYN reuse it
    bool live : 1 = false;         // false once erased or moved (table slots are freed in order)
    instant deadline{};            // 2·MSL after the last FIN (RFC 9293 §3.4.2)
};
using time_wait_record = basic_time_wait_record<flow_key>;
using time_wait_record6 = basic_time_wait_record<flow_key6>;
static_assert(sizeof(time_wait_record) <= 48, "a TIME-WAIT record stays within 48 bytes");

// What a segment for a record calls for. At most one reply; `restart` may come with it.
struct time_wait_reply {
    enum class action : std::uint8_t {
        none,          // nothing to send
        ack,           // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
        challenge_ack, // the same, within the challenge-ACK budget (RFC 5961 §7)
        close,         // an acceptable RST: the record goes (RFC 9293, not RFC 1337)
        reuse,         // RFC 6191: the SYN opens a new incarnation; the record goes
    };
    action what = action::none;
    bool restart = false;          // the 2·MSL wait starts again (a retransmitted FIN)
    std::optional<tcp_drop> drop;  // why the segment was dropped, as a connection counts it
};

// RFC 9293 §3.10.7.4 for a connection in TIME-WAIT, step by step as connection::on_segment
// takes them (input.cpp). May update the record's RCV.NXT and TS.Recent.
template <class Key>
time_wait_reply time_wait_input(basic_time_wait_record<Key>& r, const segment& seg, const tcp_config& config);

// Our ACK from TIME-WAIT: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with timestamps if agreed.
template <class Key>
wire::tcp_repr time_wait_ack(const basic_time_wait_record<Key>& r, instant now);

// The records of one endpoint: found by 4-tuple, expired in the order they came. Every
// record waits the same 2·MSL, so the oldest is always the first to expire; a record whose
// wait restarts moves to the back. A record erased from the middle stays in the queue,
// dead, until it reaches the front. At most `capacity` records (live or dead) are held:
// past that, the oldest is let go early, as Linux does beyond tcp_max_tw_buckets.
template <class Key>
class basic_time_wait_table {
public:
    using record = basic_time_wait_record<Key>;
    // `seed`: the endpoint's flow table's, so that one hash serves both (look_ahead).
    basic_time_wait_table(std::size_t capacity, std::uint64_t seed);

    // Adds a record; returns false when the oldest live record had to go to make room.
    bool insert(const record& r);
    // An endpoint that never closes first holds no record: then no slot is loaded either
    // (a cache miss on every connect() of a load generator, 1/6 of its cycles at 900 k/s).
    record* find(const Key& key) const { return index_.size() ? index_.find(key) : nullptr; }
    // Starts loading the slot of a key whose flow_hash (with the seed given at construction)
    // is `hash`: a SYN may find a record there, a FIN may put one there.
    void prefetch(std::uint32_t hash) const { index_.prefetch(hash); }
    void erase(record& r);
    // The wait starts again: the record moves to the back with the new deadline.
    void restart(record& r, instant deadline);
    // Removes the records whose deadline is at or before `now`; returns how many.
    std::size_t expire(instant now);
    // The front's deadline: when expire next has work.
    std::optional<instant> next_deadline();

    std::size_t size() const { return index_.size(); }
    std::size_t capacity() const { return capacity_; }
    std::uint64_t seed() const { return index_.seed(); }
    template <class F>
    void for_each(F&& f) const {
        for (const record& r : queue_)
            if (r.live) f(r);
    }

private:
    // How far past the front expire, and an insert at capacity, load index slots: enough
    // misses in flight to overlap, few enough that a slot is still in the cache when its
    // record's turn comes.
    static constexpr std::size_t expire_ahead = 8;

    void pop_front();
    void prefetch_ahead() const;

    std::size_t capacity_;
    std::deque<record> queue_; // oldest first; push_back/pop_front keep addresses
    flow_table<record, Key> index_;
};

using time_wait_table = basic_time_wait_table<flow_key>;
using time_wait_table6 = basic_time_wait_table<flow_key6>;

} // namespace tern::tcp
