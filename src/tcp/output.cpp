// What goes on the wire: SYNs, data with the FIN after it, ACKs, RSTs. Every segment
// leaves through emit(), which adds the window and the options.
#include <algorithm>

#include "tcp/connection.hpp"

namespace tern::tcp {

namespace f = wire::tcp_flags;

std::uint32_t connection::ts_clock(instant now) const {
    // RFC 7323 §5.4: a 1 ms TSval clock, plus the connection's offset (unless set, the
    // endpoint's one per pair of addresses: RFC 7323 §7.1, endpoint_core::with_ts_offset).
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    return std::uint32_t(std::uint64_t(ms)) + settings_.ts_offset;
}

// RFC 7323 §2.2: the window in a SYN is not scaled; §2.3: the others are shifted right.
// Outside SYNs rcv_wnd is a whole number of units (advance_rcv_nxt rounds it up, never
// down), so the shift loses nothing and the advertised right edge is the one seq_acceptable
// accepts up to; where it moves and by how much is receiver SWS avoidance (input.cpp).
std::uint16_t connection::advertised_window(bool syn) const {
    const std::uint32_t wnd = syn ? tcb_.rcv_wnd : tcb_.rcv_wnd >> tcb_.rcv_wscale;
    return std::uint16_t(std::min<std::uint32_t>(wnd, 0xffff));
}

bool connection::fin_sent() const { return tcb_.fin_queued && tcb_.snd_max == data_end() + 1; }
bool connection::fin_acked() const { return fin_sent() && tcb_.snd_una == tcb_.snd_max; }

void connection::emit(std::uint8_t flags, seq32 seq, const tx_payload& payload, instant now, wire::ecn_codepoint ecn) {
    if (tcb_.ece_due && (flags & f::ack) && !(flags & (f::syn | f::rst))) flags |= f::ece; // RFC 3168 §6.1.3
    if ((flags & f::ack) && !(flags & (f::syn | f::rst)) && !sack_blocks_due()) {
        // No SACK blocks to send: a plain header, the common case.
        const bool ts = tcb_.ts_ok;
        const wire::tcp_plain_repr r{flow_.local.port, flow_.remote.port, seq.raw(), tcb_.rcv_nxt.raw(), flags,
                                     advertised_window(false), ts, ts ? ts_clock(now) : 0, ts ? tcb_.ts_recent : 0};
        note_emitted(flags, payload);
        sink_.emit(flow_, r, payload, ecn);
        return;
    }
    wire::tcp_repr r;
    r.src_port = flow_.local.port;
    r.dst_port = flow_.remote.port;
    r.seq = seq.raw();
    r.flags = flags;
    if (flags & f::ack) r.ack = tcb_.rcv_nxt.raw();
    if (!(flags & f::rst)) {
        r.window = advertised_window(flags & f::syn);
        auto& o = r.options;
        if (flags & f::syn) {
            // Our SYN offers what the config enables; a SYN,ACK answers what was offered.
            const bool offer = state_ == tcp_state::syn_sent;
            o.mss = tcb_.rcv_mss;
            if (offer ? config_.window_scaling : tcb_.ws_ok) o.window_scale = tcb_.rcv_wscale;
            o.sack_permitted = offer ? config_.sack : tcb_.sack_ok;
            if (offer ? config_.timestamps : tcb_.ts_ok)
                o.timestamp = std::pair{ts_clock(now), offer ? 0u : tcb_.ts_recent};
        } else if (tcb_.ts_ok) {
            o.timestamp = std::pair{ts_clock(now), tcb_.ts_recent}; // RFC 7323 §3.2: on every non-RST segment
        }
        if (flags & f::ack) {
            std::array<seq_range, wire::tcp_max_sack_blocks> blocks;
            o.sack_block_count = std::uint8_t(sack_option(blocks));
            for (std::size_t i = 0; i < o.sack_block_count; ++i)
                o.sack_blocks[i] = {blocks[i].left.raw(), blocks[i].right.raw()};
        }
    }
    note_emitted(flags, payload);
    sink_.emit(flow_, r, payload, ecn);
}

// What sending a segment changes here, before it goes.
void connection::note_emitted(std::uint8_t flags, const tx_payload& payload) {
    if (flags & f::ack) {
        tcb_.last_ack_sent = tcb_.rcv_nxt;
        tcb_.ack_now = false;
        tcb_.unacked_segments = 0;
        delack_deadline_.reset();
        if (extras_) extras_->dsack.reset(); // RFC 2883 §4: each duplicate is reported once
    }
    ++traffic_.segments_out;
    traffic_.bytes_out += payload.size();
}

// Our SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED), first or again.
void connection::send_syn(instant now) {
    std::uint8_t flags = state_ == tcp_state::syn_received ? (f::syn | f::ack) : f::syn;
    // RFC 3168 §6.1.1: our SYN asks with ECE and CWR; our SYN,ACK agrees with ECE.
    if (state_ == tcp_state::syn_sent && config_.ecn == ecn_mode::on) flags |= f::ece | f::cwr;
    if (state_ == tcp_state::syn_received && tcb_.ecn_ok) flags |= f::ece;
    emit(flags, tcb_.iss, {}, now);
    tcb_.snd_nxt = tcb_.iss + 1;
    tcb_.snd_max = seq_max(tcb_.snd_max, tcb_.snd_nxt);
    if (tcb_.retransmits == 0) { // Karn: time only a SYN sent once
        tcb_.rtt_seq = tcb_.iss;
        tcb_.rtt_timing = true;
        tcb_.rtt_start = now;
    }
    arm_rto(now);
}

// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; SND.NXT here is the highest sent (snd_max), which
// differs from snd_nxt only while an RTO is resending.
void connection::send_ack(instant now) { emit(f::ack, tcb_.snd_max, {}, now); }

// segment_room() with SACK blocks to send.
std::uint32_t connection::segment_room_with_sacks() const {
    std::array<seq_range, wire::tcp_max_sack_blocks> blocks;
    const std::size_t sent = sack_option(blocks);
    return sent == 0 ? tcb_.snd_mss : tcb_.snd_mss - std::uint32_t(4 + 8 * sent);
}

// The SACK blocks our next ACK carries, as many as fit beside the timestamps: first a
// D-SACK block when a duplicate arrived (RFC 2883 §4), then the out-of-order blocks we
// hold, most recent first (RFC 2018 §4). A D-SACK inside a held block is followed by
// that block, which is the most recent one (RFC 2883 §4 (2)).
std::size_t connection::sack_option(std::array<seq_range, wire::tcp_max_sack_blocks>& out) const {
    if (!sack_blocks_due()) return 0;
    const std::size_t fit = (40 - (tcb_.ts_ok ? 12 : 0) - 4) / 8;
    std::size_t n = 0;
    const connection_extras& x = *extras_; // sack_blocks_due: there are extras
    if (x.dsack) out[n++] = *x.dsack;
    if (!x.reassembly.empty()) {
        std::array<seq_range, wire::tcp_max_sack_blocks> held;
        const std::size_t count = x.reassembly.sack_blocks(held);
        for (std::size_t i = 0; i < count && n < fit; ++i) out[n++] = held[i];
    }
    return n;
}

// Up to max_len buffered bytes from `seq` on, with the FIN if they end the stream; the
// caller keeps max_len within segment_room(). Returns the sequence space used.
std::uint32_t connection::emit_data(seq32 seq, std::uint32_t max_len, instant now) {
    const std::uint32_t offset = seq_distance(buffer_seq_, seq);
    const std::uint32_t buffered = send_buffer_.size();
    if (offset > buffered) return 0; // only the FIN was there, and it is sent
    const std::uint32_t len = std::min(buffered - offset, max_len);
    const bool fin = tcb_.fin_queued && offset + len == buffered;
    if (len == 0 && !fin) return 0;
    std::uint8_t flags = f::ack;
    if (fin) flags |= f::fin;
    if (len > 0 && offset + len == buffered) flags |= f::psh; // the last byte the app gave us
    // RFC 3168 §6.1.2: new data of an ECN connection is ECT(0), and the first after a
    // reduction carries CWR; §6.1.5: never a retransmission.
    auto ecn = wire::ecn_codepoint::not_ect;
    if (tcb_.ecn_ok && len > 0 && seq >= tcb_.snd_max) [[unlikely]] {
        ecn = wire::ecn_codepoint::ect0;
        if (tcb_.cwr_due) {
            flags |= f::cwr;
            tcb_.cwr_due = false;
        }
    }
    emit(flags, seq, send_buffer_.view(offset, len), now, ecn);
    return len + (fin ? 1 : 0);
}

void connection::log_sent(seq32 left, seq32 right, instant now) {
    const bool retransmission = left < tcb_.snd_max;
    if (!extras_ || extras_->rack.log.empty()) {
        if (tcb_.snd_una == tcb_.snd_max) return; // into an empty flight (extras held for other things)
        if (!retransmission && now == flight_sent_at()) return; // the same burst
        start_send_log();
    }
    extras_->rack.log.sent(left, right, now, retransmission);
}

// The log of a flight sent so far in one burst: all of it at flight_sent_at().
void connection::start_send_log() {
    rack_state& r = extras().rack;
    if (!r.log.empty() || tcb_.snd_una == tcb_.snd_max) return;
    r.log.sent(tcb_.snd_una, tcb_.snd_max, flight_sent_at(), false);
    r.fack = tcb_.snd_una;
}

// One segment, as the windows allow: in SACK loss recovery what NextSeg() picks, else the
// next segment at SND.NXT. False when nothing can go.
bool connection::send_one(instant now) {
    switch (state_) {
    case tcp_state::established:
    case tcp_state::close_wait:
    case tcp_state::fin_wait_1:
    case tcp_state::closing:
    case tcp_state::last_ack: break;
    default: return false;
    }
    if (tcb_.in_recovery && tcb_.sack_ok) return send_in_recovery(now);
    // Everything sent, the FIN too if there is one: output's last call, answered before
    // the windows' arithmetic (send_at_snd_nxt finds the same, later).
    if (tcb_.snd_nxt == tcb_.snd_max && !unsent_at_snd_nxt()) return false;
    return send_at_snd_nxt(congestion_room(), now);
}

// Data or a FIN beyond SND.NXT that has not gone yet.
bool connection::unsent_at_snd_nxt() const {
    const seq32 end = data_end();
    return tcb_.snd_nxt < end || (tcb_.snd_nxt == end && tcb_.fin_queued);
}

// Octets the congestion window lets out beyond what is in flight. SACKed octets are not in
// flight (RFC 6675 §5 step (3): limited transmit governed by cwnd and pipe; §5.1: the
// slow start after an RTO uses the SACK information). Without SACK, RFC 3042: on the first
// two duplicate ACKs, up to two segments beyond cwnd.
std::uint32_t connection::congestion_room() const {
    const std::uint32_t in_flight =
        seq_distance(tcb_.snd_una, tcb_.snd_nxt) - scoreboard().sacked_in(tcb_.snd_una, tcb_.snd_nxt);
    std::uint32_t wnd = tcb_.cwnd;
    if (!tcb_.sack_ok && !tcb_.in_recovery && tcb_.dup_acks > 0 && tcb_.dup_acks < dup_thresh() &&
        tcb_.snd_nxt == tcb_.snd_max) // new data only, not the go-back-N after an RTO
        wnd += tcb_.dup_acks * std::uint32_t(tcb_.snd_mss);
    return wnd > in_flight ? wnd - in_flight : 0;
}

// The next segment at SND.NXT (RFC 9293 §3.8.6.2.1), within the peer's window and
// cwnd_room. Below snd_max (go-back-N after an RTO) it skips what the peer SACKed
// (RFC 6675 §5.1).
bool connection::send_at_snd_nxt(std::uint32_t cwnd_room, instant now) {
    std::uint32_t hole_len = 0xffffffffu;
    if (tcb_.snd_nxt < tcb_.snd_max && !scoreboard().empty()) {
        const auto hole = scoreboard().next_hole(tcb_.snd_nxt, tcb_.snd_max);
        tcb_.snd_nxt = hole ? hole->left : tcb_.snd_max;
        if (hole) hole_len = seq_distance(hole->left, hole->right);
    }
    if (!unsent_at_snd_nxt()) return false;
    const std::uint32_t in_flight = seq_distance(tcb_.snd_una, tcb_.snd_nxt);
    const std::uint32_t receiver_room = tcb_.snd_wnd > in_flight ? tcb_.snd_wnd - in_flight : 0;
    const std::uint32_t usable = std::min(receiver_room, cwnd_room);
    const std::uint32_t unsent = seq_distance(tcb_.snd_nxt, data_end());
    const std::uint32_t room = segment_room();
    const std::uint32_t len = std::min({usable, room, unsent, hole_len});
    // RFC 9293 §3.7.4 (Nagle): while data is unacknowledged, hold a less-than-full
    // segment, unless it ends the stream with our FIN.
    const bool with_fin = tcb_.fin_queued && len == unsent;
    if (!settings_.no_delay && len > 0 && len < room && in_flight > 0 && !with_fin && len != hole_len) return false;
    const bool new_data = tcb_.snd_nxt >= tcb_.snd_max;
    const std::uint32_t used = emit_data(tcb_.snd_nxt, len, now);
    if (used == 0) return false;
    note_sent(tcb_.snd_nxt, tcb_.snd_nxt + used, now);
    if (new_data && !tcb_.rtt_timing) { // RFC 6298 §3: time one segment per RTT
        tcb_.rtt_seq = tcb_.snd_nxt;
        tcb_.rtt_timing = true;
        tcb_.rtt_start = now;
    }
    if (new_data) cc_.on_send(tcb_, tcb_.snd_nxt + used, now);
    if (!new_data) { // RFC 6298 §5.4 and what follows it, going back to SND.UNA (or RFC 1191's resend)
        loss_counts& l = count_losses();
        ++l.retransmits;
        ++(tcb_.path_mtu_resend ? l.path_mtu_retransmits : l.rto_retransmits);
        extras().retransmitted.record(tcb_.snd_nxt, tcb_.snd_nxt + used);
    }
    tcb_.snd_nxt += used;
    tcb_.snd_max = seq_max(tcb_.snd_max, tcb_.snd_nxt);
    if (!rtx_deadline_) arm_rto(now); // RFC 6298 §5.1
    return true;
}

// A retransmission below snd_max in loss recovery; returns the sequence space sent.
std::uint32_t connection::retransmit(seq32 seq, std::uint32_t max_len, instant now) {
    const std::uint32_t used = emit_data(seq, std::min(max_len, segment_room()), now);
    if (used > 0) {
        note_sent(seq, seq + used, now);
        loss_counts& l = count_losses();
        ++l.retransmits;
        ++l.fast_retransmits;
        extras().retransmitted.record(seq, seq + used);
        extras_->prr.out += used; // RFC 6937 §3: prr_out (retransmissions are all in recovery)
    }
    return used;
}

// RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() (§4) returns.
bool connection::send_in_recovery(instant now) {
    const std::uint32_t smss = tcb_.snd_mss;
    const sack_scoreboard& board = scoreboard();
    const auto lost = lost_end();
    const std::uint32_t pipe = board.pipe(tcb_.snd_una, tcb_.snd_max, tcb_.high_rxt, lost);
    if (tcb_.cwnd < pipe || tcb_.cwnd - pipe < smss) return false;
    const seq32 from = seq_max(tcb_.high_rxt, tcb_.snd_una);
    // Rule (1): the first un-SACKed octet above HighRxt, below the highest SACKed octet,
    // that IsLost(): (1.a) to (1.c), or that RACK found lost.
    const auto hole = board.next_hole(from, board.highest_sacked(tcb_.snd_una));
    auto resend = [&](seq_range h) {
        const std::uint32_t used = retransmit(h.left, std::min(smss, seq_distance(h.left, h.right)), now);
        tcb_.high_rxt = h.left + used; // (C.2)
        return used > 0;
    };
    if (hole && lost && hole->left < *lost && resend(*hole)) return true;
    // Rule (2): new data, as the receiver's window allows (C.3: snd_max moves).
    if (const seq32 before = tcb_.snd_max; tcb_.snd_nxt == before && send_at_snd_nxt(tcb_.cwnd - pipe, now)) {
        extras_->prr.out += seq_distance(before, tcb_.snd_max); // RFC 6937 §3: prr_out
        return true;
    }
    // Rule (3): an un-SACKed octet below the highest SACKed one, though not yet lost.
    if (hole && resend(*hole)) return true;
    // Rule (4): one rescue retransmission per recovery, of the highest un-SACKed octet,
    // "if HighACK is greater than RescueRxt"; HighRxt is not updated. Not when that octet
    // was already retransmitted in this recovery (below HighRxt): that would be a
    // retransmission of a retransmission, which only the RTO should decide.
    if (tcb_.snd_una <= tcb_.rescue_rxt) return false;
    std::optional<seq_range> last;
    for (auto h = board.next_hole(tcb_.snd_una, tcb_.snd_max); h; h = board.next_hole(h->right, tcb_.snd_max))
        last = h;
    if (!last || last->right <= tcb_.high_rxt) return false;
    const std::uint32_t len = std::min(smss, seq_distance(last->left, last->right));
    tcb_.rescue_rxt = tcb_.recover;
    return retransmit(last->right - len, len, now) > 0;
}

void connection::request_output(instant now) {
    if (defer_output_) output_due_ = true;
    else output(now);
}

void connection::flush_output(instant now) {
    if (!output_due_) return;
    output_due_ = false;
    output(now);
    settle_extras(now); // an ACK that carried a D-SACK may have left them holding nothing
}

void connection::output(instant now) {
    if (state_ == tcp_state::closed || state_ == tcp_state::listen) return;
    if (extras_ && extras_->larger_mss) try_larger_mss(now);
    const seq32 sent_before = tcb_.snd_max;
    while (send_one(now)) {
    }
    if (tcb_.snd_max != sent_before) schedule_probe(now); // RFC 8985 §7.2: after new data goes out
    if (tcb_.ack_now) send_ack(now);
    update_persist(now);
    update_keepalive(now);
}

// RFC 1122 §4.2.3.6: keep-alives only while the connection is open in both directions
// or the peer alone has closed; off elsewhere.
void connection::update_keepalive(instant now) {
    const bool wanted =
        settings_.keepalive && (state_ == tcp_state::established || state_ == tcp_state::close_wait);
    if (!wanted) keepalive_deadline_.reset();
    else if (!keepalive_deadline_) keepalive_deadline_ = now + settings_.keepalive_idle();
}

// A probe is an ACK one below SND.UNA (RFC 1122 §4.2.3.6: "SEG.SEQ = SND.NXT-1"), which
// the peer must answer. While data is outstanding the RTO watches the peer instead.
void connection::on_keepalive(instant now) {
    if (tcb_.snd_una != tcb_.snd_max) {
        keepalive_deadline_ = now + settings_.keepalive_idle();
        return;
    }
    if (keepalive_probes_ >= settings_.keepalive_count) return to_closed(close_reason::timed_out);
    emit(f::ack, tcb_.snd_una - 1, {}, now);
    ++keepalive_probes_;
    keepalive_deadline_ = now + settings_.keepalive_interval();
}

} // namespace tern::tcp
