// RACK-TLP loss detection (RFC 8985). RACK: a segment is lost once a segment sent after
// it has been delivered and a reordering window has passed since; this catches lost
// retransmissions and losses with too few segments after them for three duplicate ACKs.
// TLP: when a flight's tail goes unacknowledged for about two round trips, one probe
// segment draws an ACK whose SACK lets RACK find the loss, instead of the retransmission
// timeout finding it.
//
// The connection keeps the RFC 6675 machinery (scoreboard, NextSeg, pipe, PRR) and asks
// RACK only "below which point is every un-SACKed octet lost": RACK's answer joins the
// DupThresh rule's (connection::lost_end), as Linux first ran RACK beside its DupThresh
// rule. A lost retransmission moves HighRxt back to it, so NextSeg sends it again.
//
// RACK needs when each octet in flight was last sent. A record per segment would cost
// memory in proportion to the window; send_log keeps at most max_runs runs of octets,
// each sent at one instant (a burst of one engine round), in sequence order. When a run
// would not fit, the two neighbours sent closest in time become one, stamped with the
// later instant: a merged octet then looks sent later than it was, so it is found lost
// later, never sooner.
//
// A flight sent in one burst needs no log: every octet of it left at one instant, which
// the connection knows (connection::flight_sent_at). The log, in connection_extras, is
// made when a flight's second burst or first retransmission goes out, or when an ACK
// brings SACK blocks, and seeded with the burst; so a request-response connection, whose
// flights are one burst each and come back in order, never makes one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tcp/scoreboard.hpp"
#include "tcp/seq.hpp"
#include "tcp/types.hpp"
#include "tern/time.hpp"

namespace tern::tcp {

struct send_run {
    seq32 left;  // first octet
    seq32 right; // one past the last
    instant at;  // when these octets were last sent
    bool retransmitted = false;
};

class send_log {
public:
    static constexpr std::size_t max_runs = 16;

    bool empty() const { return count_ == 0; }
    std::size_t size() const { return count_; }
    std::span<const send_run> runs() const { return {runs_.data(), count_}; }

    // [left, right) went out at `now`. New data (at the end of the log) extends the last
    // run when sent at the same instant; a retransmission restamps the octets it covers.
    void sent(seq32 left, seq32 right, instant now, bool retransmission);
    // Forgets the octets below `snd_una`.
    void acked(seq32 snd_una);
    void clear() { count_ = 0; }
    // Calls fn(run, left, right) for each run's part within [left, right), in order.
    template <typename Fn>
    void for_each_within(seq32 left, seq32 right, Fn&& fn) const {
        for (const send_run& r : runs()) {
            if (r.right <= left) continue;
            if (right <= r.left) break;
            fn(r, seq_max(r.left, left), seq_min(r.right, right));
        }
    }

private:
    void restamp(seq32 left, seq32 right, instant now);
    void merge_closest();

    std::array<send_run, max_runs> runs_;
    std::size_t count_ = 0;
};

// RACK's answer after an ACK or its reordering timer (RFC 8985 §6.2 step 5).
struct rack_verdict {
    std::optional<seq32> lost_end;        // every un-SACKed octet below it is lost
    std::optional<seq32> lost_retransmit; // the lowest lost octet that was a retransmission
    std::optional<duration> wait;         // when the next candidate's reordering window ends
};

struct rack_state {
    // RFC 8985 §7.2: the worst-case delayed ACK a probe of a one-segment flight allows for.
    static constexpr duration worst_case_delayed_ack = std::chrono::milliseconds(200);
    static constexpr std::uint8_t reo_wnd_persist_rounds = 16; // §6.2 step 4

    send_log log;
    // --- RFC 8985 §6.1 ---
    bool delivered_any = false; // RACK.xmit_ts and RACK.end_seq hold a delivered segment
    instant xmit_ts{};          // RACK.xmit_ts: latest send time of a delivered segment
    seq32 end_seq;              // RACK.end_seq: its end
    duration rtt{};             // RACK.rtt: its round trip
    duration min_rtt = duration::max(); // RACK.min_RTT, of this state's samples
    seq32 fack;                 // RACK.fack: highest end of a delivered segment
    bool reordering_seen = false;
    std::uint8_t reo_wnd_mult = 1;
    std::uint8_t reo_wnd_persist = 0;
    std::optional<seq32> dsack_round;
    std::optional<seq32> lost_end; // the last verdict's: every un-SACKed octet below it is lost
    // --- TLP, RFC 8985 §7 ---
    std::optional<seq32> tlp_end; // TLP.end_seq: SND.NXT when the probe went
    bool tlp_is_retrans = false;

    // §6.2 step 2 (RACK_update) for a delivered run, [run.left, end) of it delivered;
    // `echo_older`: the ACK's TSecr is older than the run's send (so it was the original
    // that arrived, not the retransmission).
    void update(const send_run& run, seq32 end, instant now, bool echo_older);
    // §6.2 step 3: octets up to `end` of a run newly delivered; below RACK.fack and never
    // sent again, they arrived out of order.
    void note_delivered_end(seq32 end, bool retransmitted);
    // §6.2 step 4: the reordering window. `dsack`: the ACK carried a D-SACK; `recovering`:
    // in fast recovery or after an RTO; `dupthresh_sacked`: DupThresh segments are SACKed.
    duration reo_wnd(bool dsack, bool recovering, bool dupthresh_sacked, seq32 snd_una, seq32 snd_nxt,
                     maybe_duration srtt);
    void recovery_ended();
    // §6.2 step 5 over the log, with the SACKed octets taken out.
    rack_verdict detect(const sack_scoreboard& sacked, instant now, duration reo_wnd) const;
    // Whether an ACK has something to tell it: a flight logged, or a probe's outcome.
    bool engaged() const { return !log.empty() || tlp_end.has_value(); }
    // Whether it holds nothing a fresh one would not (connection_extras may go).
    bool idle() const { return !engaged() && !reordering_seen && reo_wnd_mult == 1 && reo_wnd_persist == 0; }

    // RFC 8985 §7.2: the probe timeout: two round trips, and a worst-case delayed ACK more
    // for a flight of one segment; 1 s before a round trip was measured.
    static duration probe_timeout(maybe_duration srtt, bool one_segment) {
        if (!srtt) return std::chrono::seconds(1);
        return 2 * *srtt + (one_segment ? worst_case_delayed_ack : duration::zero());
    }
};

} // namespace tern::tcp
