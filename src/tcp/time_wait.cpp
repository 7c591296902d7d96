#include "tcp/time_wait.hpp"

#include <algorithm>
#include <chrono>

#include "tcp/connection.hpp"

namespace tern::tcp {

namespace f = wire::tcp_flags;
using action = time_wait_reply::action;

namespace {

// connection::syn_may_reuse, for a record: only for a connection a listener opened.
template <class Key>
bool syn_may_reuse(const basic_time_wait_record<Key>& r, const segment& seg, const tcp_config& config) {
    return config.time_wait_reuse && r.passive && syn_opens_new_incarnation(seg, r.ts_ok, r.ts_recent, r.rcv_nxt, config);
}

time_wait_reply dropped(action what, tcp_drop why) { return {what, false, why}; }

} // namespace

namespace {

// RFC 7323 §4.3 (2), as connection::update_ts_recent; Last.ACK.sent is RCV.NXT, for the
// FIN was acknowledged before the record was made. (TS.Recent is at most 2·MSL old here,
// far from §5.5's 24 days.)
template <class Key>
void update_ts_recent(basic_time_wait_record<Key>& r, const segment& seg) {
    const auto& ts = seg.header.options.timestamp;
    if (r.ts_ok && ts && seg.seq() <= r.rcv_nxt && std::int32_t(ts->first - r.ts_recent) >= 0) r.ts_recent = ts->first;
}

} // namespace

template <class Key>
time_wait_reply time_wait_input(basic_time_wait_record<Key>& r, const segment& seg, const tcp_config& config) {
    if (syn_may_reuse(r, seg, config)) return {action::reuse};
    const auto& ts = seg.header.options.timestamp;
    // RFC 7323 §5.3 R1 (PAWS).
    if (r.ts_ok && !seg.has(f::rst)) {
        if (!ts) return dropped(action::none, tcp_drop::missing_timestamp);
        if (std::int32_t(ts->first - r.ts_recent) < 0) return dropped(action::ack, tcp_drop::paws);
    }
    // §3.10.7.4 first. "The only thing that can arrive in this state is a retransmission of
    // the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
    const seq32 nxt = r.rcv_nxt;
    if (seg.has(f::fin) && !seg.has(f::rst) && seg.seq() + seg.len() == nxt)
        return {action::ack, true, tcp_drop::not_acceptable};
    if (!segment_acceptable(nxt, r.rcv_wnd, seg.seq(), seg.len())) {
        // A copy of what we acknowledged, ending at Last.ACK.sent: its TSval is echoed.
        if (seg.len() > 0 && seg.seq() < nxt && seg.seq() + seg.len() == nxt) update_ts_recent(r, seg);
        return dropped(seg.has(f::rst) ? action::none : action::ack, tcp_drop::not_acceptable);
    }
    // The trimming of connection::trim_to_window: data before RCV.NXT (its ACK may have been
    // lost) and beyond the window (a FIN there goes with it) are cut off and acknowledged,
    // whatever the later steps decide.
    seq32 first = seg.seq();
    std::size_t bytes = seg.payload.size();
    bool fin = seg.has(f::fin);
    bool trimmed = false;
    if (first < nxt) {
        const std::uint32_t cut = seq_distance(first, nxt) - (seg.has(f::syn) ? 1 : 0);
        const std::size_t data_cut = std::min<std::size_t>(cut, bytes);
        trimmed = data_cut > 0;
        bytes -= data_cut;
        first = nxt;
    }
    if (first + std::uint32_t(bytes) > nxt + r.rcv_wnd) {
        bytes = seq_distance(first, nxt + r.rcv_wnd);
        fin = false;
        trimmed = true;
    }
    const action otherwise = trimmed ? action::ack : action::none;
    update_ts_recent(r, seg);
    // Second: only an RST at exactly RCV.NXT ends the wait (RFC 5961 §3.2).
    if (seg.has(f::rst)) {
        if (seg.seq() != nxt) return dropped(action::challenge_ack, tcp_drop::rst_challenged);
        return {action::close};
    }
    // Fourth: a SYN (one that may not reuse the 4-tuple) is challenged (RFC 5961 §4.2).
    if (seg.has(f::syn)) return dropped(action::challenge_ack, tcp_drop::syn_challenged);
    // Fifth: the ACK field, acceptable within (SND.UNA - MAX.SND.WND, SND.NXT] (RFC 5961 §5.2).
    if (!seg.has(f::ack)) return dropped(otherwise, tcp_drop::no_ack);
    if (seg.ack() > r.snd_nxt || seg.ack() < r.snd_nxt - r.max_snd_wnd)
        return dropped(action::challenge_ack, tcp_drop::bad_ack);
    // Seventh: "This should not occur since a FIN has been received from the remote side."
    std::optional<tcp_drop> drop;
    if (bytes > 0) drop = tcp_drop::text_ignored;
    // Eighth: a FIN in sequence is passed over and acknowledged, and the wait restarts; one
    // out of order is acknowledged.
    if (fin) {
        if (first + std::uint32_t(bytes) != nxt) return {action::ack, false, drop};
        r.rcv_nxt += 1;
        return {action::ack, true, drop};
    }
    return {otherwise, false, drop};
}

template <class Key>
wire::tcp_repr time_wait_ack(const basic_time_wait_record<Key>& r, instant now) {
    wire::tcp_repr h;
    h.src_port = r.key.local_port;
    h.dst_port = r.key.remote_port;
    h.seq = r.snd_nxt.raw();
    h.ack = r.rcv_nxt.raw();
    h.flags = f::ack;
    h.window = r.window;
    if (r.ts_ok) {
        // As connection::ts_clock: a 1 ms clock with the connection's offset (RFC 7323 §5.4).
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        h.options.timestamp = std::pair{std::uint32_t(std::uint64_t(ms)) + r.ts_offset, r.ts_recent};
    }
    return h;
}

// ---- the table ---------------------------------------------------------------------

template <class Key>
basic_time_wait_table<Key>::basic_time_wait_table(std::size_t capacity, std::uint64_t seed) : capacity_(capacity), index_(capacity, seed) {}

template <class Key>
bool basic_time_wait_table<Key>::insert(const record& r) {
    bool kept_all = true;
    while (!queue_.empty() && queue_.size() >= capacity_) {
        kept_all = kept_all && !queue_.front().live;
        prefetch_ahead(); // at capacity every insert lets the oldest go: as expire
        pop_front();
    }
    if (capacity_ == 0) return false;
    queue_.push_back(r);
    record& back = queue_.back();
    back.live = true;
    if (!index_.insert(back.key, &back)) {
        // Only one record per 4-tuple: the caller erased the connection it came from.
        back.live = false;
        return false;
    }
    return kept_all;
}

template <class Key>
void basic_time_wait_table<Key>::erase(record& r) {
    if (!r.live) return;
    index_.erase(r.key);
    r.live = false;
    // The record leaves the queue when it reaches the front (insert at capacity, expire,
    // next_deadline). Popping the dead fronts here read the oldest record, the coldest, on
    // every erase: a fifth of erase's cycles where SYNs reuse TIME-WAIT at 960 k/s.
}

template <class Key>
void basic_time_wait_table<Key>::restart(record& r, instant deadline) {
    record moved = r;
    moved.deadline = deadline;
    erase(r);
    insert(moved);
}

template <class Key>
void basic_time_wait_table<Key>::pop_front() {
    record& r = queue_.front();
    if (r.live) index_.erase(r.key);
    queue_.pop_front();
}

template <class Key>
std::size_t basic_time_wait_table<Key>::expire(instant now) {
    std::size_t n = 0;
    while (!queue_.empty() && (!queue_.front().live || queue_.front().deadline <= now)) {
        prefetch_ahead();
        n += queue_.front().live;
        pop_front();
    }
    return n;
}

// The index slot of a record that leaves soon starts loading now. It was written 2·MSL
// ago and is long gone from the cache: popping the records one by one took each slot's
// miss in turn (DRAM, at a busy server's millions of records). Each pop loads the slot of
// the record expire_ahead past the front, so the next call finds its first ones loaded too.
template <class Key>
void basic_time_wait_table<Key>::prefetch_ahead() const {
    if (queue_.size() <= expire_ahead) return;
    const record& r = queue_[expire_ahead];
    if (r.live) index_.prefetch(index_.hash(r.key));
}

template <class Key>
std::optional<instant> basic_time_wait_table<Key>::next_deadline() {
    while (!queue_.empty() && !queue_.front().live) queue_.pop_front();
    if (queue_.empty()) return std::nullopt;
    return queue_.front().deadline;
}

template class basic_time_wait_table<flow_key>;
template class basic_time_wait_table<flow_key6>;
template time_wait_reply time_wait_input(time_wait_record&, const segment&, const tcp_config&);
template time_wait_reply time_wait_input(time_wait_record6&, const segment&, const tcp_config&);
template wire::tcp_repr time_wait_ack(const time_wait_record&, instant);
template wire::tcp_repr time_wait_ack(const time_wait_record6&, instant);

} // namespace tern::tcp
