// The transmission control block (RFC 9293 §3.3.1), with the RFC's names. Each variable
// carries its invariant. Sequence variables are seq32, compared modulo 2^32.
#pragma once

#include <cstdint>
#include <optional>

#include "tcp/seq.hpp"
#include "tcp/types.hpp"
#include "tern/tcp.hpp"
#include "tern/time.hpp"

namespace tern::tcp {

struct tcb {
    // --- send sequence space (RFC 9293 §3.3.1, Figure 4) ---
    seq32 iss;             // our initial sequence number; our SYN occupies it
    seq32 snd_una;         // oldest unacknowledged: iss <= snd_una <= snd_nxt
    seq32 snd_nxt;         // next to send: snd_una <= snd_nxt <= snd_max (below snd_max only after an RTO)
    seq32 snd_max;         // one past the highest sequence number ever sent: ACKs beyond it are bad
    std::uint32_t snd_wnd = 0;     // peer's window in bytes, already scaled: we send below snd_una + snd_wnd
    std::uint32_t max_snd_wnd = 0; // largest snd_wnd seen (RFC 5961 §5.2 ACK check)
    seq32 snd_wl1;         // SEG.SEQ of the segment that last updated snd_wnd
    seq32 snd_wl2;         // SEG.ACK of the segment that last updated snd_wnd

    // --- receive sequence space (RFC 9293 §3.3.1, Figure 5) ---
    seq32 irs;             // peer's initial sequence number (its SYN)
    seq32 rcv_nxt;         // next expected: everything before it was delivered in order
    std::uint32_t rcv_wnd = 0;     // bytes we accept from rcv_nxt on; never shrinks the right edge
    seq32 last_ack_sent;   // RCV.NXT as of our last ACK (RFC 7323 §4.3 TS.Recent update)

    // --- options negotiated on the SYNs ---
    std::uint16_t snd_mss = 536;   // largest payload we send: the peer's MSS (536 if absent, RFC 9293 §3.7.1; at least 48) or ours if smaller, minus the TS option
    std::uint16_t rcv_mss = 536;   // our advertised MSS: mtu - 40
    std::uint8_t snd_wscale = 0;   // peer's shift, applied to SEG.WND (0 unless both sent wscale)
    std::uint8_t rcv_wscale = 0;   // our shift, applied to the window we advertise
    bool ws_ok = false;            // both sent wscale (RFC 7323 §2.2); else both shifts are 0
    bool ts_ok = false;            // both sent TS on the SYNs (RFC 7323 §3.2)
    bool sack_ok = false;          // both sent SACK-permitted (RFC 2018 §2)
    std::uint8_t retransmits = 0;  // RFC 6298: consecutive timeouts of the oldest outstanding segment (here, beside the flags, to fill their word)
    bool rtt_timing = false;       // rtt_seq holds the segment being timed (Karn: not after a retransmit)
    rtx_timer rtx_for = rtx_timer::rto; // what the retransmission timer runs for (rack.hpp)
    std::uint32_t ts_recent = 0;   // TS.Recent: TSval to echo (RFC 7323 §4.3)
    instant ts_recent_at{};        // when ts_recent was set: after 24 days it is invalid (RFC 7323 §5.5)

    // --- RTT and RTO (RFC 6298) ---
    maybe_duration srtt;           // absent until the first sample
    duration rttvar{};
    duration rto{};                // current RTO, backoff included, within [min_rto, max_rto]
    instant rtt_start{};           // when rtt_seq (the last word, below) was sent

    // --- congestion control (RFC 5681) and loss recovery (RFC 6675 with SACK, else RFC 6582) ---
    std::uint32_t cwnd = 0;        // bytes in flight allowed: snd_nxt - snd_una <= min(cwnd, snd_wnd); with SACK in recovery, pipe <= cwnd
    std::uint32_t ssthresh = 0xffffffffu;
    std::uint8_t dup_acks = 0;     // duplicate ACKs (RFC 5681 §2; with SACK, RFC 6675 §2: ACKs that SACK new data)
    bool in_recovery = false;      // after a fast retransmit, until an ACK covers recover
    bool recover_pending = false;  // recover is set and snd_una has not reached it: no new fast retransmit (RFC 6582 §3.2 step 2, RFC 6675 §5.1)
    // --- ECN (RFC 3168): one byte, the one before `recover` ---
    bool ecn_ok : 1 = false;      // both agreed on the SYNs (§6.1.1): our new data goes ECT(0)
    bool ece_due : 1 = false;     // a CE mark came: ECE on our ACKs until the peer's CWR (§6.1.3)
    bool cwr_due : 1 = false;     // we reduced for an ECE: CWR on our next new data (§6.1.2)
    bool ecn_reduced : 1 = false; // that reduction's window is still in flight: no other one for ECE
    // The congestion control this connection chose (connection_options::congestion, else
    // tcp_config's), in the same byte: congestion.hpp reads it from here.
    congestion_algorithm cc_algorithm : 2 = congestion_algorithm::cubic;
    bool hystart : 1 = true;      // HyStart++ (RFC 9406) in the first slow start
    bool path_mtu_resend : 1 = false; // the last go-back to SND.UNA was for a smaller path MTU, not a timeout
    seq32 recover;                 // RecoveryPoint: snd_max at the fast retransmit or the last RTO
    seq32 high_rxt;                // RFC 6675 HighRxt: one past the highest octet retransmitted in this recovery
    seq32 rescue_rxt;              // RFC 6675 RescueRxt: set at each fast retransmit, before NextSeg reads it
    // (What an undo of a needless episode restores is in connection_extras::before_episode.)

    // --- what we still owe the peer ---
    bool fin_queued = false;       // the application closed: a FIN follows the buffered data
    bool ack_now = false;          // an ACK must go out with the next output
    std::uint8_t unacked_segments = 0; // in-order data segments, of any size, received since our last ACK
    seq32 rtt_seq;                     // RFC 6298 §3: the segment being timed, while rtt_timing (here, it fills the last word)

    bool operator==(const tcb&) const = default;
};
// A field added above belongs in idle_tcb too (or in what idle_tcb::fits requires of it).
static_assert(sizeof(tcb) == 136, "tcb changed: update idle_tcb");

// The TCB of an idle ESTABLISHED connection as its parked record keeps it (connection::park),
// 84 bytes where the TCB takes 136: without what idleness fixes (fits). Nothing is in
// flight (SND.NXT = SND.MAX = SND.UNA), nothing is being timed (rtt_seq, rtt_start), no
// recovery is on (HighRxt and RescueRxt are set when one starts, RFC 6675 §5), our last
// ACK acknowledged RCV.NXT, and nothing is owed (no FIN queued, no ACK due).
// Its words are 32 bits, so that the record packs its own 32-bit fields right after it
// (connection::parked, 128 bytes): the round-trip times and the RTO in nanoseconds below
// 2^32 (4.29 s; a connection whose estimates are longer stays whole), TS.Recent's time in
// two words.
struct idle_tcb {
    static bool fits(const tcb& t);
    static idle_tcb of(const tcb& t);
    tcb restore() const;

    static constexpr std::uint32_t no_srtt = 0xffffffffu;
    static constexpr duration longest{0xfffffffeu}; // of srtt, rttvar and rto

    std::uint32_t ts_recent_at_low, ts_recent_at_high;
    std::uint32_t srtt_ns, rttvar_ns, rto_ns;
    seq32 iss, snd_una, snd_wl1, snd_wl2, irs, rcv_nxt, recover;
    std::uint32_t snd_wnd, max_snd_wnd, rcv_wnd, cwnd, ssthresh, ts_recent;
    std::uint16_t snd_mss, rcv_mss;
    std::uint8_t snd_wscale, rcv_wscale, retransmits, dup_acks;
    rtx_timer rtx_for;
    bool ws_ok : 1, ts_ok : 1, sack_ok : 1, recover_pending : 1, ecn_ok : 1, ece_due : 1, cwr_due : 1, ecn_reduced : 1;
    congestion_algorithm cc_algorithm : 2;
    bool hystart : 1, path_mtu_resend : 1;
};
static_assert(sizeof(idle_tcb) == 84 && alignof(idle_tcb) == 4);

inline bool idle_tcb::fits(const tcb& t) {
    return t.snd_nxt == t.snd_una && t.snd_max == t.snd_una && !t.rtt_timing && !t.in_recovery &&
           t.last_ack_sent == t.rcv_nxt && !t.fin_queued && !t.ack_now && t.unacked_segments == 0 &&
           t.srtt.value_or(duration{}) <= idle_tcb::longest && t.rttvar <= idle_tcb::longest &&
           t.rto <= idle_tcb::longest && t.rttvar >= duration{} && t.rto >= duration{};
}

inline idle_tcb idle_tcb::of(const tcb& t) {
    idle_tcb i;
    i.iss = t.iss;
    i.snd_una = t.snd_una;
    i.snd_wl1 = t.snd_wl1;
    i.snd_wl2 = t.snd_wl2;
    i.irs = t.irs;
    i.rcv_nxt = t.rcv_nxt;
    i.recover = t.recover;
    i.snd_wnd = t.snd_wnd;
    i.max_snd_wnd = t.max_snd_wnd;
    i.rcv_wnd = t.rcv_wnd;
    i.cwnd = t.cwnd;
    i.ssthresh = t.ssthresh;
    i.ts_recent = t.ts_recent;
    const auto at = std::uint64_t(t.ts_recent_at.time_since_epoch().count());
    i.ts_recent_at_low = std::uint32_t(at);
    i.ts_recent_at_high = std::uint32_t(at >> 32);
    i.srtt_ns = t.srtt ? std::uint32_t((*t.srtt).count()) : no_srtt;
    i.rttvar_ns = std::uint32_t(t.rttvar.count());
    i.rto_ns = std::uint32_t(t.rto.count());
    i.snd_mss = t.snd_mss;
    i.rcv_mss = t.rcv_mss;
    i.snd_wscale = t.snd_wscale;
    i.rcv_wscale = t.rcv_wscale;
    i.retransmits = t.retransmits;
    i.dup_acks = t.dup_acks;
    i.rtx_for = t.rtx_for;
    i.ws_ok = t.ws_ok;
    i.ts_ok = t.ts_ok;
    i.sack_ok = t.sack_ok;
    i.recover_pending = t.recover_pending;
    i.ecn_ok = t.ecn_ok;
    i.ece_due = t.ece_due;
    i.cwr_due = t.cwr_due;
    i.ecn_reduced = t.ecn_reduced;
    i.cc_algorithm = t.cc_algorithm;
    i.hystart = t.hystart;
    i.path_mtu_resend = t.path_mtu_resend;
    return i;
}

inline tcb idle_tcb::restore() const {
    tcb t;
    t.iss = iss;
    t.snd_una = t.snd_nxt = t.snd_max = snd_una;
    t.snd_wnd = snd_wnd;
    t.max_snd_wnd = max_snd_wnd;
    t.snd_wl1 = snd_wl1;
    t.snd_wl2 = snd_wl2;
    t.irs = irs;
    t.rcv_nxt = t.last_ack_sent = rcv_nxt;
    t.rcv_wnd = rcv_wnd;
    t.snd_mss = snd_mss;
    t.rcv_mss = rcv_mss;
    t.snd_wscale = snd_wscale;
    t.rcv_wscale = rcv_wscale;
    t.ws_ok = ws_ok;
    t.ts_ok = ts_ok;
    t.sack_ok = sack_ok;
    t.retransmits = retransmits;
    t.rtx_for = rtx_for;
    t.ts_recent = ts_recent;
    t.ts_recent_at = instant(duration(std::int64_t(std::uint64_t(ts_recent_at_high) << 32 | ts_recent_at_low)));
    if (srtt_ns != no_srtt) t.srtt = duration(srtt_ns);
    t.rttvar = duration(rttvar_ns);
    t.rto = duration(rto_ns);
    t.cwnd = cwnd;
    t.ssthresh = ssthresh;
    t.dup_acks = dup_acks;
    t.recover_pending = recover_pending;
    t.ecn_ok = ecn_ok;
    t.ece_due = ece_due;
    t.cwr_due = cwr_due;
    t.ecn_reduced = ecn_reduced;
    t.cc_algorithm = cc_algorithm;
    t.hystart = hystart;
    t.path_mtu_resend = path_mtu_resend;
    t.recover = recover;
    t.high_rxt = t.rescue_rxt = snd_una; // unread outside recovery
    return t;
}

} // namespace tern::tcp
