// The connection's timers: retransmission (RFC 6298), delayed ACK (RFC 9293 §3.8.6.3),
// TIME-WAIT (RFC 9293 §3.10.7.4), zero-window probes (§3.8.6.1), keep-alives (RFC 1122
// §4.2.3.6), and the way out to CLOSED.
#include <algorithm>
#include <cassert>

#include "tcp/connection.hpp"

namespace tern::tcp {

namespace f = wire::tcp_flags;

void connection::on_timer(instant now) {
    if (time_wait_deadline_ && *time_wait_deadline_ <= now) {
        // "If the time-wait timeout expires on a connection, delete the TCB, enter the CLOSED state"
        if (state_ == tcp_state::time_wait) return to_closed(close_reason::normal);
        return to_closed(close_reason::timed_out); // FIN-WAIT-2 after close(): no FIN came
    }
    if (delack_deadline_ && *delack_deadline_ <= now) {
        delack_deadline_.reset();
        tcb_.ack_now = true;
        output(now);
    }
    if (rtx_deadline_ && *rtx_deadline_ <= now) on_rtx_timer(now);
    if (persist_deadline_ && *persist_deadline_ <= now) on_persist(now);
    if (keepalive_deadline_ && *keepalive_deadline_ <= now) on_keepalive(now);
    settle_extras(now);
}

// RFC 6298 §2.2 and §2.3, with a clock granularity G of 1 ms; §2.4 and §2.5 clamp it.
void connection::rtt_sample(duration r) {
    constexpr duration granularity = std::chrono::milliseconds(1);
    if (r < duration::zero()) return;
    if (!tcb_.srtt) {
        tcb_.srtt = r;
        tcb_.rttvar = r / 2;
    } else {
        const duration err = *tcb_.srtt > r ? *tcb_.srtt - r : r - *tcb_.srtt;
        tcb_.rttvar = (3 * tcb_.rttvar + err) / 4; // beta = 1/4
        tcb_.srtt = (7 * *tcb_.srtt + r) / 8;      // alpha = 1/8
    }
    tcb_.rto = std::clamp(*tcb_.srtt + std::max(granularity, 4 * tcb_.rttvar), config_.min_rto, config_.max_rto);
}

// RFC 6298 §5.4–§5.6 for data; the same backoff for SYN and SYN,ACK (RFC 9293 §3.8.1).
void connection::on_rto(instant now) {
    rtx_deadline_.reset();
    const std::uint8_t limit = state_ == tcp_state::syn_sent       ? config_.syn_retries
                               : state_ == tcp_state::syn_received ? config_.synack_retries
                                                                   : config_.max_retransmits;
    if (tcb_.retransmits >= limit) {
        // RFC 9293 §3.8.3 R2: give up. A half-open passive connection returns to LISTEN,
        // where a later segment from that peer is answered by RST (§3.10.7.2).
        if (state_ == tcp_state::syn_received && passive_) return back_to_listen();
        return to_closed(close_reason::timed_out);
    }
    ++tcb_.retransmits;
    tcb_.rto = std::min(tcb_.rto * 2, config_.max_rto); // §5.5: back off the timer
    tcb_.rtt_timing = false;                             // Karn: no sample from a retransmission
    if (state_ == tcp_state::syn_sent || state_ == tcp_state::syn_received) {
        ++count_losses().retransmits;
        return send_syn(now);
    }

    // RFC 5681 §3.1: equation (4) (RFC 9438 §4.8: CUBIC's own), then a loss window of one
    // segment; go back to SND.UNA.
    // A first timeout outside fast recovery begins an episode that a D-SACK of every
    // retransmission undoes (RFC 3708 §3, RFC 4015 §3); in recovery, the fast
    // retransmit's episode goes on, and resending its octets makes it not undoable.
    if (tcb_.retransmits == 1 && !tcb_.in_recovery) begin_episode(true);
    if (extras_) { // RFC 8985 §7.4: a timeout ends the probe's watch; the go-back-N resends what RACK would
        extras_->rack.tlp_end.reset();
        extras_->rack.lost_end.reset();
    }
    cc_.on_timeout(tcb_, flight_size());
    tcb_.in_recovery = false;
    tcb_.dup_acks = 0;
    // RFC 6675 §5.1 (and RFC 6582 §3.2 step 1 after a timeout): RecoveryPoint = HighData,
    // and no new loss recovery until the cumulative ACK reaches it.
    tcb_.recover = tcb_.snd_max;
    tcb_.recover_pending = true;
    // The scoreboard is kept (§5.1: "Update () SHOULD continue to be used"), so that the
    // go-back-N below skips what the peer SACKed. A receiver may renege on its SACKs
    // (RFC 2018 §8), and then the SACKed data would never be resent: when the same
    // segment times out a second time, the scoreboard is cleared and everything goes again.
    if (tcb_.retransmits > 1 && extras_) extras_->scoreboard.clear();
    if (config_.black_hole_timeouts != 0 && tcb_.retransmits >= config_.black_hole_timeouts) suspect_black_hole(now);
    tcb_.snd_nxt = tcb_.snd_una;
    tcb_.path_mtu_resend = false;
    send_one(now); // §5.4: retransmit the earliest segment not acknowledged (counted there)
    arm_rto(now);  // §5.6
}

// The retransmission timer runs for RFC 6298's RTO, or with RACK-TLP in its stead for a
// reordering window (RFC 8985 §6.3) or a probe (§7.3); tcb::rtx_for says which.
void connection::on_rtx_timer(instant now) {
    switch (tcb_.rtx_for) {
    case rtx_timer::rto: return on_rto(now);
    case rtx_timer::reorder: return on_reorder_timer(now);
    case rtx_timer::probe: return on_probe_timer(now);
    }
}

// RFC 8985 §7.2: a probe after PTO, when not in loss recovery and no probe is out, and
// unless the RTO (as it stands, or while the timer runs for a probe as it would if
// restarted) fires first.
void connection::arm_probe(instant now, duration pto) {
    if (tcb_.in_recovery || tcb_.recover_pending) return;
    if (extras_ && extras_->rack.tlp_end) return; // one probe at a time
    const instant rto_at = tcb_.rtx_for == rtx_timer::rto && rtx_deadline_ ? *rtx_deadline_ : now + tcb_.rto;
    const instant pto_at = now + pto;
    tcb_.rtx_for = pto_at < rto_at ? rtx_timer::probe : rtx_timer::rto;
    rtx_deadline_ = std::min(pto_at, rto_at);
}

// RFC 8985 §6.3: a segment's reordering window has passed: RACK looks again, and what it
// finds lost goes out (in recovery, which it may start).
void connection::on_reorder_timer(instant now) {
    arm_rto(now);
    if (!rack_engaged()) return;
    rack_detect(false, now);
    output(now);
}

// RFC 8985 §7.3: one probe, a new segment if there is one and the receiver's window has
// room (beyond cwnd), else the last segment again; then the RTO, not another probe.
void connection::on_probe_timer(instant now) {
    rack_state& r = extras().rack;
    r.tlp_end = tcb_.snd_max; // set before sending: no probe is scheduled for the probe
    ++count_losses().tail_probes;
    if (tcb_.snd_nxt == tcb_.snd_max && send_at_snd_nxt(segment_room(), now)) {
        r.tlp_is_retrans = false;
    } else {
        const seq32 data_end_sent = fin_sent() ? tcb_.snd_max - 1 : tcb_.snd_max;
        const std::uint32_t len = std::min(seq_distance(tcb_.snd_una, data_end_sent), segment_room());
        if (const std::uint32_t used = emit_data(data_end_sent - len, len, now); used > 0) {
            note_sent(data_end_sent - len, data_end_sent - len + used, now);
            ++count_losses().retransmits;
        }
        r.tlp_is_retrans = true;
    }
    r.tlp_end = tcb_.snd_max;
    arm_rto(now);
}

// RFC 9293 §3.8.6.3: an ACK for at least every second segment, others within the
// delayed-ACK time (RFC 5681 §4.2: "at least every second full-sized segment").
void connection::schedule_ack(instant now) {
    if (++tcb_.unacked_segments >= 2) {
        tcb_.ack_now = true;
        return;
    }
    if (!delack_deadline_) delack_deadline_ = now + config_.delayed_ack;
}

void connection::enter_time_wait(instant now) {
    state_ = tcp_state::time_wait;
    rtx_deadline_.reset();
    delack_deadline_.reset();
    persist_deadline_.reset();
    keepalive_deadline_.reset();
    time_wait_deadline_ = now + 2 * config_.msl;
}

time_wait_record connection::time_wait_state() const {
    assert(flow_.local.addr.is_v4());
    time_wait_record r;
    r.key = {flow_.local.addr.v4(), flow_.remote.addr.v4(), flow_.local.port, flow_.remote.port};
    fill_time_wait(r);
    return r;
}

time_wait_record6 connection::time_wait_state6() const {
    assert(flow_.local.addr.is_v6());
    time_wait_record6 r;
    r.key = {flow_.local.addr.v6(), flow_.remote.addr.v6(), flow_.local.port, flow_.remote.port};
    fill_time_wait(r);
    return r;
}

template <class Record>
void connection::fill_time_wait(Record& r) const {
    assert(state_ == tcp_state::time_wait && !output_due_ && !tcb_.ack_now);
    r.snd_nxt = tcb_.snd_nxt;
    r.rcv_nxt = tcb_.rcv_nxt;
    r.rcv_wnd = tcb_.rcv_wnd;
    r.max_snd_wnd = tcb_.max_snd_wnd;
    r.ts_recent = tcb_.ts_recent;
    r.ts_offset = settings_.ts_offset;
    r.deadline = *time_wait_deadline_;
    r.window = advertised_window(false);
    r.ts_ok = tcb_.ts_ok;
    r.passive = passive_;
}

void connection::leave_time_wait() {
    assert(state_ == tcp_state::time_wait && !output_due_);
    to_closed(close_reason::normal);
}

// FIN-WAIT-2 once the application has closed (close(), so no one reads any more): the
// peer's FIN is waited for tcp_config::fin_timeout at most.
void connection::limit_fin_wait_2(instant now) {
    if (state_ == tcp_state::fin_wait_2 && read_closed_ && !time_wait_deadline_)
        time_wait_deadline_ = now + config_.fin_timeout;
}

void connection::to_closed(close_reason why) {
    state_ = tcp_state::closed;
    if (extras_) extras_->syn_text.clear();
    rtx_deadline_.reset();
    delack_deadline_.reset();
    time_wait_deadline_.reset();
    persist_deadline_.reset();
    keepalive_deadline_.reset();
    events_.on_closed(why);
}

// A passive connection that did not complete its handshake listens again (RFC 9293
// §3.10.7.4 second, SYN-RECEIVED). The application hears nothing: it never had it.
void connection::back_to_listen() {
    const seq32 iss = tcb_.iss;
    tcb_ = fresh_tcb(iss);
    buffer_seq_ = iss + 1;
    // flow_ stays: its owner may still hold the connection by that 4-tuple (the endpoint
    // takes it out of its table, by flow_id(), when it sees LISTEN), and the next SYN binds
    // a new one (on_listen).
    if (extras_) extras_->syn_text.clear();
    rtx_deadline_.reset();
    delack_deadline_.reset();
    state_ = tcp_state::listen;
}

void connection::give_way() {
    assert(passive_ && state_ == tcp_state::syn_received);
    back_to_listen();
}

// RFC 9293 §3.8.6.1: with data waiting, nothing in flight and a zero window, probe
// regularly so that a lost window update cannot deadlock the connection. The probe is an
// ACK one below SND.UNA (as Linux sends it): the peer answers it with its window, and it
// consumes no sequence space, so the probing goes on as long as the peer answers.
void connection::update_persist(instant now) {
    const bool stalled = tcb_.snd_wnd == 0 && tcb_.snd_una == tcb_.snd_max && tcb_.snd_nxt < data_end();
    if (!stalled) {
        persist_deadline_.reset();
        persist_backoff_ = 0;
    } else if (!persist_deadline_) {
        persist_deadline_ = now + persist_interval();
    }
}

void connection::on_persist(instant now) {
    // A peer that answers the probes keeps the connection (RFC 1122 §4.2.2.17); one that
    // left them all unanswered for max_retransmits of them is gone (Linux: tcp_retries2).
    if (persist_unanswered_ >= config_.max_retransmits) return to_closed(close_reason::timed_out);
    ++persist_unanswered_;
    emit(f::ack, tcb_.snd_una - 1, {}, now);
    if (persist_backoff_ < 16) ++persist_backoff_;
    persist_deadline_ = now + persist_interval();
}

// The RTO, doubled for each probe already sent (RFC 1122 §4.2.2.17: exponential backoff).
duration connection::persist_interval() const {
    duration d = std::max(tcb_.rto, config_.min_rto);
    for (std::uint8_t i = 0; i < persist_backoff_ && d < config_.max_rto; ++i) d *= 2;
    return std::min(d, config_.max_rto);
}

} // namespace tern::tcp
