// RFC 9293 §3.10.7 SEGMENT ARRIVES, one function per step, each headed by its section.
#include <algorithm>
#include <bit>

#include "tcp/connection.hpp"

namespace tern::tcp {

namespace f = wire::tcp_flags;

// The options of the SYNs decide what the connection uses (RFC 9293 §3.7.1, RFC 7323
// §2.2 and §3.2, RFC 2018 §2). Called on the peer's SYN, in LISTEN or SYN-SENT; in
// SYN-SENT we offered everything the config enables, in LISTEN we answer only what the
// peer offered, so both cases reduce to "enabled here and present there".
void connection::negotiate_options(const wire::tcp_options& peer, instant now) {
    tcb_.ws_ok = config_.window_scaling && peer.window_scale.has_value();
    tcb_.snd_wscale = tcb_.ws_ok ? std::min<std::uint8_t>(*peer.window_scale, 14) : 0; // RFC 7323 §2.3
    if (!tcb_.ws_ok) tcb_.rcv_wscale = 0;
    // Accept no more than we can advertise: the 16-bit field, shifted.
    tcb_.rcv_wnd = std::min(tcb_.rcv_wnd, std::uint32_t(0xffff) << tcb_.rcv_wscale);
    tcb_.rcv_wnd &= ~((std::uint32_t(1) << tcb_.rcv_wscale) - 1);
    tcb_.ts_ok = config_.timestamps && peer.timestamp.has_value();
    if (tcb_.ts_ok) {
        tcb_.ts_recent = peer.timestamp->first;
        tcb_.ts_recent_at = now;
    }
    tcb_.sack_ok = config_.sack && peer.sack_permitted;
    // RFC 9293 §3.7.1: 536 when the peer sends no MSS (1220 over IPv6, RFC 8200 §5's
    // minimum link MTU less the headers); RFC 7323 §4.1: TS takes 12 bytes.
    // The RFC sets no floor, but an MSS below what the options take wrapped the payload
    // size; like Linux (tcp_min_snd_mss) we take at least 48 from the peer, which leaves 36
    // bytes beside timestamps and room for SACK blocks in segment_room().
    constexpr std::uint16_t min_peer_mss = 48;
    const std::uint16_t default_mss = flow_.local.addr.is_v4() ? 536 : 1220;
    const std::uint16_t peer_mss = std::max(min_peer_mss, peer.mss.value_or(default_mss));
    tcb_.snd_mss = std::uint16_t(std::min(peer_mss, tcb_.rcv_mss) - (tcb_.ts_ok ? 12 : 0));
    const std::uint32_t smss = tcb_.snd_mss;
    if (config_.initial_window != 0) {
        // RFC 6928 §2: min(IW * MSS, max(2 * MSS, 14600)).
        tcb_.cwnd = std::min(config_.initial_window * smss, std::max(2 * smss, 14600u));
    } else {
        // RFC 5681 §3.1: initial window by SMSS.
        tcb_.cwnd = smss > 2190 ? 2 * smss : smss > 1095 ? 3 * smss : 4 * smss;
    }
}

// ---- §3.10.7.2 LISTEN STATE ----
void connection::on_listen(const segment& seg, instant now) {
    // First: "An incoming RST segment could not be valid ... it should be ignored."
    if (seg.has(f::rst)) return drop(tcp_drop::rst_ignored);
    // Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
    // state. An acceptable reset segment should be formed ... <SEQ=SEG.ACK><CTL=RST>"
    if (seg.has(f::ack)) {
        drop(tcp_drop::bad_ack_reset);
        return reply_rst(seg);
    }
    // Third: a SYN. (Security check not done: no IPSO.) "Set RCV.NXT to SEG.SEQ+1, IRS is
    // set to SEG.SEQ, and any other control or text should be queued for processing later."
    if (!seg.has(f::syn)) return drop(tcp_drop::listen_unexpected);
    flow_ = {{seg.dst_addr, listen_port_}, {seg.src_addr, seg.header.src_port}};
    tcb_.rcv_mss = std::uint16_t(config_.mtu - headers()); // as fresh_tcb, now that the family is known
    tcb_.irs = seg.seq();
    tcb_.rcv_nxt = seg.seq() + 1;
    negotiate_options(seg.header.options, now);
    // RFC 3168 §6.1.1: an ECN-setup SYN has ECE and CWR; we answer with ECE alone.
    tcb_.ecn_ok = config_.ecn != ecn_mode::off && seg.has(f::ece) && seg.has(f::cwr);
    hold_syn_text(seg.payload);
    tcb_.snd_wnd = seg.header.window; // RFC 7323 §2.2: the window of a SYN is never scaled
    tcb_.max_snd_wnd = tcb_.snd_wnd;
    tcb_.snd_wl1 = seg.seq();
    tcb_.snd_wl2 = tcb_.iss;
    state_ = tcp_state::syn_received;
    send_syn(now); // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
}

// ---- §3.10.7.3 SYN-SENT STATE ----
void connection::on_syn_sent(const segment& seg, instant now) {
    // First: check the ACK bit. "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
    // (unless the RST bit is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>"
    const bool has_ack = seg.has(f::ack);
    if (has_ack && (seg.ack() <= tcb_.iss || seg.ack() > tcb_.snd_max)) {
        if (seg.has(f::rst)) return drop(tcp_drop::rst_ignored);
        drop(tcp_drop::bad_ack_reset);
        return reply_rst(seg);
    }
    // Second: the RST bit. Acceptable only with an ACK of our SYN (RFC 5961 §3.2 keeps
    // this rule for SYN-SENT): "the user should be signaled 'error: connection reset'".
    if (seg.has(f::rst)) {
        if (!has_ack) return drop(tcp_drop::rst_ignored);
        return to_closed(close_reason::refused);
    }
    // Fourth: the SYN bit.
    if (!seg.has(f::syn)) return drop(tcp_drop::syn_sent_no_syn);
    tcb_.irs = seg.seq();
    tcb_.rcv_nxt = seg.seq() + 1;
    negotiate_options(seg.header.options, now);
    tcb_.snd_wnd = seg.header.window; // RFC 7323 §2.2: not scaled on a SYN
    tcb_.max_snd_wnd = tcb_.snd_wnd;
    tcb_.snd_wl1 = seg.seq();
    tcb_.snd_wl2 = seg.ack();
    // RFC 3168 §6.1.1: an ECN-setup SYN,ACK has ECE and not CWR (one with both is a
    // peer that echoes every flag: not ECN).
    tcb_.ecn_ok = has_ack && config_.ecn == ecn_mode::on && seg.has(f::ece) && !seg.has(f::cwr);
    if (!has_ack) {
        // Simultaneous open (Figure 8): "enter SYN-RECEIVED, form a SYN,ACK segment ...
        // any other controls or text should be queued for processing after the
        // ESTABLISHED state has been reached".
        hold_syn_text(seg.payload);
        state_ = tcp_state::syn_received;
        tcb_.snd_nxt = tcb_.iss;
        send_syn(now);
        return;
    }
    // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to
    // ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
    on_ack_of_new_data(seg, now);
    if (!tcb_.srtt) tcb_.rto = std::min<duration>(std::chrono::seconds(3), config_.max_rto); // RFC 6298 §5.7
    state_ = tcp_state::established;
    tcb_.ack_now = true;
    events_.on_connected();
    // "If there are other controls or text in the segment, then continue processing at
    // the sixth step below where the URG bit is checked"
    if (state_ == tcp_state::established && (!seg.payload.empty() || seg.has(f::fin))) {
        segment rest = seg; // what follows the SYN
        rest.header.seq = (seg.seq() + 1).raw();
        rest.header.flags = std::uint8_t(seg.header.flags & ~f::syn);
        if (seq_acceptable(rest, now)) {
            trim_to_window(rest);
            text_and_fin(rest, now);
        }
    }
}

// ---- §3.10.7.4 Other states: the synchronized steps in order ----
// The segment is read where it lies: a copy is made only in the rare cases that change it
// (a SYN,ACK repeated in SYN-RECEIVED, a segment reaching outside the window, text held
// from a SYN). Copying every segment cost an ACK ~5 ns, most of it a store-forwarding
// stall: the caller has just written the header's fields one by one.
void connection::on_synchronized(const segment& seg, instant now) {
    if (predicted(seg)) return on_predicted(seg, now);
    if (syn_may_reuse(seg)) {
        // RFC 6191 §2: "accept the SYN": this incarnation ends here and the owner hands the
        // SYN to its listener, which opens the new one.
        ended_by_new_syn_ = true;
        return to_closed(close_reason::normal);
    }
    // A SYN,ACK answering ours while we are SYN-RECEIVED after a simultaneous open
    // repeats the peer's SYN at IRS: like BSD and Linux, drop the old SYN and keep the ACK.
    if (state_ == tcp_state::syn_received && seg.has(f::syn) && seg.has(f::ack) && seg.seq() == tcb_.irs) {
        segment ack = seg;
        ack.header.flags = std::uint8_t(seg.header.flags & ~f::syn);
        ack.header.seq = (seg.seq() + 1).raw();
        return on_synchronized(ack, now);
    }
    if (!check_timestamp(seg, now)) return;
    if (is_syn_again(seg)) return resend_syn_ack(seg, now);
    // RFC 5961 judges the RST and the SYN as they came, before trim_to_window cuts the segment
    // to the window (Linux too): an RST whose data reaches RCV.NXT from below does not sit
    // at exactly RCV.NXT, and a SYN before RCV.NXT is still a SYN.
    if (!seq_acceptable(seg, now)) return;
    if (within_window(seg)) return accepted_steps(seg, seg.seq(), seg.has(f::syn), now);
    segment trimmed = seg;
    trim_to_window(trimmed);
    accepted_steps(trimmed, seg.seq(), seg.has(f::syn), now);
}

// Header prediction (Jacobson's, which BSD and Linux have too): on an established
// connection nearly every segment is the next one in order, with an ACK and no other flag,
// within the window, passing PAWS, and it finds nothing held (no extras: no reassembly,
// scoreboard, RACK log or text from a SYN) and no recovery under way. For such a segment
// the steps of §3.10.7.4 come down to on_predicted's; any other takes them one by one.
bool connection::predicted(const segment& seg) const {
    const wire::tcp_repr& h = seg.header;
    if (state_ != tcp_state::established || extras_ || tcb_.in_recovery || read_closed_) return false;
    if ((h.flags & ~f::psh) != f::ack || seg.seq() != tcb_.rcv_nxt || seg.payload.size() > tcb_.rcv_wnd)
        return false;
    if (h.options.sack_block_count > 0 || (tcb_.ecn_ok && seg.ecn == wire::ecn_codepoint::ce)) return false;
    // RFC 7323 §5.3 R1: a TSval at or above TS.Recent passes, however old TS.Recent is.
    if (tcb_.ts_ok && (!h.options.timestamp || std::int32_t(h.options.timestamp->first - tcb_.ts_recent) < 0))
        return false;
    // An ACK of new data, or one that is no duplicate (RFC 5681 §2): it carries data, or
    // nothing is outstanding. Duplicates count toward fast retransmit: the long way.
    const seq32 ack = seg.ack();
    if (tcb_.snd_una < ack) return ack <= tcb_.snd_max;
    return ack == tcb_.snd_una && (!seg.payload.empty() || tcb_.snd_una == tcb_.snd_max);
}

// What accepted_steps does with a predicted segment: no RST, SYN or FIN to act on, an
// acceptable ACK, its text at RCV.NXT.
void connection::on_predicted(const segment& seg, instant now) {
    update_ts_recent(seg, now);
    note_peer_alive(now);
    if (tcb_.snd_una < seg.ack()) on_ack_of_new_data(seg, now);
    else tcb_.dup_acks = 0; // RFC 6675 §5 and RFC 5681 §2: not a duplicate, so the count restarts
    update_window(seg);
    persist_unanswered_ = 0;
    if (seg.payload.empty()) return;
    deliver(seg.payload, seg.packet, now);
    if (state_ == tcp_state::closed) return; // the application aborted from on_data
    schedule_ack(now);
}

// An acceptable segment shows the peer is alive (RFC 1122 §4.2.3.6); one that failed PAWS
// or the window may come from anyone who guessed the 4-tuple.
void connection::note_peer_alive(instant now) {
    if (keepalive_deadline_) {
        keepalive_deadline_ = now + settings_.keepalive_idle();
        keepalive_probes_ = 0;
    }
}

// The steps after the first, on a segment that lies within the window.
void connection::accepted_steps(const segment& seg, seq32 seq_as_sent, bool syn_as_sent, instant now) {
    update_ts_recent(seg, now);
    note_peer_alive(now);
    if (!check_rst(seg, seq_as_sent, now)) return;
    // Third (security) is not checked: no IPSO/CIPSO.
    if (!check_syn(syn_as_sent, now)) return;
    if (!check_ack(seg, now)) return;
    persist_unanswered_ = 0; // the peer answers
    if (has_syn_text()) {
        process_syn_text(seg, now);
        if (state_ == tcp_state::closed) return;
        if (seg.seq() < tcb_.rcv_nxt) return text_and_fin(after_syn_text(seg), now);
    }
    text_and_fin(seg, now);
}

// Sixth (URG) is not supported: the urgent pointer is ignored (RFC 6093 advises against
// it). Then the seventh (text) and the eighth (FIN).
void connection::text_and_fin(const segment& seg, instant now) {
    process_text(seg, now);
    if (state_ == tcp_state::closed) return; // the application aborted from on_data
    check_fin(seg, now);
}

// RFC 6191 §2. With timestamps in the old incarnation and on the new SYN (so in the new
// incarnation too) the TSval decides: "if the timestamp option in the incoming SYN is
// larger than the last timestamp seen ... accept"; otherwise the sequence number does: "if
// the sequence number of the incoming SYN is greater than the last sequence number seen on
// the previous incarnation (RCV.NXT)". Only a connection opened through a listener is
// reused: the SYN goes to that listener.
bool syn_opens_new_incarnation(const segment& seg, bool ts_ok, std::uint32_t ts_recent, seq32 rcv_nxt,
                               const tcp_config& config) {
    if (!seg.has(f::syn) || seg.has(f::ack) || seg.has(f::rst)) return false;
    const auto& ts = seg.header.options.timestamp;
    if (ts_ok && ts && config.timestamps) return std::int32_t(ts->first - ts_recent) > 0;
    return seg.seq() > rcv_nxt;
}

// A copy of the SYN a connection in SYN-RECEIVED answered: the peer did not get our SYN,ACK.
bool connection::is_syn_again(const segment& seg) const {
    return state_ == tcp_state::syn_received && seg.has(f::syn) && !seg.has(f::ack) && !seg.has(f::rst) &&
           seg.seq() == tcb_.irs;
}

// The SYN,ACK again at once, as Linux and FreeBSD send it (RFC 9293 §3.10.7.4 would answer
// the SYN, which lies below RCV.NXT, with a bare ACK, and a peer in SYN-SENT drops that and
// waits out its RTO). The RTO keeps its schedule; the copy is counted as a retransmission,
// and Karn's rule takes no RTT sample from the SYN,ACK now.
void connection::resend_syn_ack(const segment& seg, instant now) {
    update_ts_recent(seg, now); // the echo is of this SYN (Linux keeps the newer TSval too)
    ++count_losses().retransmits;
    tcb_.rtt_timing = false;
    emit(f::syn | f::ack, tcb_.iss, {}, now);
}

bool connection::syn_may_reuse(const segment& seg) const {
    return state_ == tcp_state::time_wait && config_.time_wait_reuse && passive_ &&
           syn_opens_new_incarnation(seg, tcb_.ts_ok, tcb_.ts_recent, tcb_.rcv_nxt, config_);
}

// RFC 7323 §5.3 R1 (PAWS), before the sequence check. RSTs are exempt (§5.3 last paragraph
// and §3.2: RSTs need not carry TS). A segment without TS once TS was agreed is dropped
// (§3.2: "a TCP SHOULD silently drop the segment").
bool connection::check_timestamp(const segment& seg, instant now) {
    if (!tcb_.ts_ok || seg.has(f::rst)) return true;
    const auto& ts = seg.header.options.timestamp;
    if (!ts) {
        drop(tcp_drop::missing_timestamp);
        return false;
    }
    // RFC 7323 §5.5: a TS.Recent older than 24 days is invalid and no longer tests.
    const bool recent_valid = now - tcb_.ts_recent_at <= std::chrono::hours(24 * 24);
    if (recent_valid && std::int32_t(ts->first - tcb_.ts_recent) < 0) {
        tcb_.ack_now = true; // "Send an acknowledgment in reply"
        drop(tcp_drop::paws);
        return false;
    }
    return true;
}

// RFC 7323 §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then
// SEG.TSval is copied to TS.Recent" (and §5.5: a TS.Recent older than 24 days is replaced).
void connection::update_ts_recent(const segment& seg, instant now) {
    const auto& ts = seg.header.options.timestamp;
    if (!tcb_.ts_ok || !ts || tcb_.last_ack_sent < seg.seq()) return;
    if (std::int32_t(ts->first - tcb_.ts_recent) >= 0 || now - tcb_.ts_recent_at > std::chrono::hours(24 * 24)) {
        tcb_.ts_recent = ts->first;
        tcb_.ts_recent_at = now;
    }
}

// §3.10.7.4 first: check the sequence number (trim_to_window then cuts the segment to the
// window).
bool connection::seq_acceptable(const segment& seg, instant now) {
    // TIME-WAIT: "The only thing that can arrive in this state is a retransmission of the
    // remote FIN. Acknowledge it, and restart the 2 MSL timeout."
    if (state_ == tcp_state::time_wait && seg.has(f::fin) && !seg.has(f::rst) &&
        seg.seq() + seg.len() == tcb_.rcv_nxt) {
        enter_time_wait(now);
        tcb_.ack_now = true;
        drop(tcp_drop::not_acceptable);
        return false;
    }
    const std::uint32_t len = seg.len();
    const std::uint32_t wnd = tcb_.rcv_wnd;
    const seq32 nxt = tcb_.rcv_nxt;
    if (!segment_acceptable(nxt, wnd, seg.seq(), len)) {
        // A copy of data we acknowledged, whose ACK was lost, ending at Last.ACK.sent: its
        // TSval is echoed (as Linux does), for an RTT from the earlier copy "would probably
        // include the sender's retransmit timeout" (RFC 7323 §4.3 (C)). Reaching exactly
        // Last.ACK.sent keeps the §5.3 R2 protection against injected older segments.
        if (len > 0 && seg.seq() < nxt && seg.seq() + len == tcb_.last_ack_sent) update_ts_recent(seg, now);
        // "If an incoming segment is not acceptable, an acknowledgment should be sent in
        // reply (unless the RST bit is set, if so drop the segment and return)"
        if (!seg.has(f::rst)) tcb_.ack_now = true;
        // RFC 2883 §4: data received twice is reported in a D-SACK block, so that the
        // sender learns its retransmission was needless.
        const seq32 first = seg.seq() + (seg.has(f::syn) ? 1 : 0);
        if (!seg.has(f::rst) && !seg.payload.empty() && first + std::uint32_t(seg.payload.size()) <= nxt)
            extras().dsack = seq_range{first, first + std::uint32_t(seg.payload.size())};
        drop(tcp_drop::not_acceptable);
        return false;
    }
    return true;
}

// Nothing to cut: the segment starts at or after RCV.NXT and its data ends in the window.
bool connection::within_window(const segment& seg) const {
    return seg.seq() >= tcb_.rcv_nxt &&
           seg.seq() + std::uint32_t(seg.payload.size()) <= tcb_.rcv_nxt + tcb_.rcv_wnd;
}

void connection::trim_to_window(segment& seg) {
    const seq32 nxt = tcb_.rcv_nxt;
    const std::uint32_t wnd = tcb_.rcv_wnd;
    // Trim what lies before RCV.NXT (a duplicate SYN or old data) ...
    if (seg.seq() < nxt) {
        std::uint32_t cut = seq_distance(seg.seq(), nxt);
        seq32 first = seg.seq();
        if (seg.has(f::syn)) {
            seg.header.flags = std::uint8_t(seg.header.flags & ~f::syn);
            --cut;
            first += 1;
        }
        const auto data_cut = std::min<std::size_t>(cut, seg.payload.size());
        if (data_cut > 0) {
            tcb_.ack_now = true; // a retransmission: our ACK may have been lost
            extras().dsack = seq_range{first, first + std::uint32_t(data_cut)}; // RFC 2883 §4: the part we had
        }
        seg.payload = seg.payload.subspan(data_cut);
        seg.header.seq = nxt.raw();
    }
    // ... and what lies beyond the window (a FIN there goes with it).
    const seq32 right = nxt + wnd;
    if (seg.seq() + std::uint32_t(seg.payload.size()) > right) {
        seg.payload = seg.payload.first(seq_distance(seg.seq(), right));
        seg.header.flags = std::uint8_t(seg.header.flags & ~f::fin);
        tcb_.ack_now = true;
    }
}

// §3.10.7.4 second: the RST bit, with RFC 5961 §3.2: only an RST at exactly RCV.NXT
// resets; any other (in-window) RST gets a challenge ACK.
bool connection::check_rst(const segment& seg, seq32 seq_as_sent, instant now) {
    if (!seg.has(f::rst)) return true;
    if (seq_as_sent != tcb_.rcv_nxt) {
        challenge_ack(now); // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
        drop(tcp_drop::rst_challenged);
        return false;
    }
    switch (state_) {
    case tcp_state::syn_received:
        // "If this connection was initiated with a passive OPEN, then return this
        // connection to the LISTEN state"; if active, "connection refused".
        if (passive_) back_to_listen();
        else to_closed(close_reason::refused);
        break;
    case tcp_state::time_wait: to_closed(close_reason::normal); break; // RFC 9293, not RFC 1337
    default: to_closed(close_reason::reset); break;
    }
    return false;
}

// §3.10.7.4 fourth: a SYN in a synchronized state gets a challenge ACK (RFC 5961 §4.2:
// "irrespective of the sequence number"); one outside the window has already been
// answered by seq_acceptable's ACK to an unacceptable segment.
bool connection::check_syn(bool syn, instant now) {
    if (!syn) return true;
    challenge_ack(now);
    drop(tcp_drop::syn_challenged);
    return false;
}

// RFC 5961 §7: at most challenge_acks_per_second challenge ACKs per second, so that an
// attacker cannot turn us into an amplifier or learn from the global count.
void connection::challenge_ack(instant now) {
    connection_extras& x = extras();
    if (now - x.challenge_window_start >= std::chrono::seconds(1)) {
        x.challenge_window_start = now;
        x.challenges_in_window = 0;
    }
    if (x.challenges_in_window >= config_.challenge_acks_per_second) return drop(tcp_drop::challenge_limited);
    if (!sink_.take_challenge_ack(now)) return drop(tcp_drop::challenge_limited);
    ++x.challenges_in_window;
    tcb_.ack_now = true;
}

// §3.10.7.4 fifth: the ACK field.
bool connection::check_ack(const segment& seg, instant now) {
    if (!seg.has(f::ack)) {
        drop(tcp_drop::no_ack); // "if the ACK bit is off, drop the segment and return"
        return false;
    }
    const seq32 ack = seg.ack();
    if (state_ == tcp_state::syn_received) {
        // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
        // acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>"
        if (!(tcb_.snd_una < ack && ack <= tcb_.snd_max)) {
            drop(tcp_drop::bad_ack_reset);
            reply_rst(seg);
            return false;
        }
        state_ = tcp_state::established;
        tcb_.snd_wnd = std::uint32_t(seg.header.window) << tcb_.snd_wscale;
        tcb_.max_snd_wnd = std::max(tcb_.max_snd_wnd, tcb_.snd_wnd);
        tcb_.snd_wl1 = seg.seq();
        tcb_.snd_wl2 = ack;
        on_ack_of_new_data(seg, now);
        if (!tcb_.srtt) tcb_.rto = std::min<duration>(std::chrono::seconds(3), config_.max_rto); // RFC 6298 §5.7
        events_.on_connected();
        if (state_ != tcp_state::established) return false; // the app closed or aborted
        if (tcb_.fin_queued) state_ = tcp_state::fin_wait_1; // CLOSE in SYN-RECEIVED, now due
        return true;
    }
    // RFC 5961 §5.2: acceptable only within (SND.UNA - MAX.SND.WND, SND.NXT]; otherwise
    // "send an ACK, drop the segment, and return" (the RFC 9293 rule for ACK > SND.NXT).
    if (ack > tcb_.snd_max || ack < tcb_.snd_una - tcb_.max_snd_wnd) {
        challenge_ack(now);
        drop(tcp_drop::bad_ack);
        return false;
    }
    // RFC 6675 §5: "Upon the receipt of any ACK containing SACK information, the
    // scoreboard MUST be updated via the Update () routine."
    // (Without blocks there is nothing to update or to find a D-SACK in: most ACKs.)
    const auto sacks = seg.header.options.sacks();
    const bool with_sacks = tcb_.sack_ok && !sacks.empty();
    std::uint32_t newly_sacked = 0;
    const seq32 una_before = tcb_.snd_una;
    const std::uint32_t sacked_before = extras_ ? extras_->scoreboard.sacked_bytes() : 0; // for PRR
    // RACK (RFC 8985 §6.2) acts on a flight it logs, or when SACK blocks come; an in-order
    // ACK of a flight sent in one burst tells it nothing (rack.hpp).
    const bool rack_acts = (with_sacks || rack_engaged()) && rack_on();
    if (rack_acts) [[unlikely]] {
        start_send_log();
        rack_delivered(seg, sacks, now); // before the scoreboard takes them
    }
    if (with_sacks) newly_sacked = extras().scoreboard.update(tcb_.snd_una, tcb_.snd_max, sacks);
    if (tcb_.snd_una < ack) on_ack_of_new_data(seg, now);
    else if (ack == tcb_.snd_una) on_duplicate_ack(seg, now);
    if (newly_sacked > 0) on_sack(now);
    if (tcb_.snd_una <= ack) update_window(seg);
    // After the ACK itself, so that an undo follows the deflation at the end of recovery.
    std::optional<seq_range> dsack;
    if (with_sacks)
        if ((dsack = sack_scoreboard::dsack_block(ack, sacks))) on_dsack(*dsack);
    if (tcb_.ecn_ok && seg.has(f::ece)) on_ecn_echo();
    if (rack_acts) [[unlikely]]
        rack_after_ack(seg, una_before, dsack, newly_sacked > 0, now);
    if (tcb_.in_recovery && tcb_.sack_ok && config_.prr) {
        // RFC 6937 §3: DeliveredData = change_in(snd.una) + change_in(SACKd); SACKed bytes
        // the cumulative ACK now covers count once.
        const std::int64_t delivered = std::int64_t(seq_distance(una_before, tcb_.snd_una)) +
                                       std::int64_t(scoreboard().sacked_bytes()) - std::int64_t(sacked_before);
        proportional_reduction(std::uint32_t(std::max<std::int64_t>(delivered, 0)));
    }

    switch (state_) {
    case tcp_state::fin_wait_1:
        // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2"
        if (fin_acked()) {
            state_ = tcp_state::fin_wait_2;
            limit_fin_wait_2(now);
        }
        break;
    case tcp_state::closing:
        // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state"
        if (fin_acked()) enter_time_wait(now);
        break;
    case tcp_state::last_ack:
        // "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state"
        if (fin_acked()) {
            to_closed(close_reason::normal);
            return false;
        }
        break;
    default: break;
    }
    return true;
}

// RFC 9293 §3.10.7.4 fifth: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =<
// SEG.ACK), set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
void connection::update_window(const segment& seg) {
    if (tcb_.snd_wl1 < seg.seq() || (tcb_.snd_wl1 == seg.seq() && tcb_.snd_wl2 <= seg.ack())) {
        tcb_.snd_wnd = std::uint32_t(seg.header.window) << tcb_.snd_wscale; // RFC 7323 §2.3
        tcb_.max_snd_wnd = std::max(tcb_.max_snd_wnd, tcb_.snd_wnd);
        tcb_.snd_wl1 = seg.seq();
        tcb_.snd_wl2 = seg.ack();
    }
}

// RFC 7323 §4.1: the echoed TSval times a segment even when it was sent again. Its clock
// ticks in milliseconds, so it serves only until the engine's clock has timed one: under
// heavy loss Karn's rule can leave every timed segment retransmitted, and with no sample
// the RTO stays at its initial 1-3 s, backed off from there.
std::optional<duration> connection::rtt_from_echo(const segment& seg, instant now) const {
    if (!tcb_.ts_ok || !seg.header.options.timestamp || seg.header.options.timestamp->second == 0) return std::nullopt;
    const std::uint32_t elapsed_ms = ts_clock(now) - seg.header.options.timestamp->second;
    if (elapsed_ms >= 0x80000000u) return std::nullopt; // an echo from the future: not ours
    return std::chrono::milliseconds(elapsed_ms);
}

// "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK" and free what it covers.
void connection::on_ack_of_new_data(const segment& seg, instant now) {
    const seq32 ack = seg.ack();
    const std::uint32_t flight = flight_size();
    std::uint32_t acked = 0; // data bytes: the SYN and FIN do not open cwnd
    if (buffer_seq_ < ack) {
        acked = std::min(seq_distance(buffer_seq_, ack), send_buffer_.size());
        send_buffer_.pop(acked);
        buffer_seq_ += acked;
    }
    tcb_.snd_una = ack;
    if (tcb_.snd_nxt < ack) tcb_.snd_nxt = ack; // after an RTO rewound snd_nxt
    if (extras_) extras_->scoreboard.advance(ack);
    if (tcb_.recover_pending && tcb_.recover <= ack) tcb_.recover_pending = false;

    // RTT: RFC 6298 §3, one segment timed per RTT on the engine's clock (Karn: rtt_timing is
    // cleared when anything is retransmitted), with timestamps too: their clock ticks in
    // milliseconds (RFC 7323 §5.4), and an echoed TSval read a 250 us path as 0 or 1 ms.
    // One call of rtt_sample, so that it stays inline on this path.
    std::optional<duration> rtt;
    if (tcb_.rtt_timing && tcb_.rtt_seq < ack) {
        rtt = now - tcb_.rtt_start;
        tcb_.rtt_timing = false;
    } else if (!tcb_.srtt) [[unlikely]] {
        rtt = rtt_from_echo(seg, now);
    }
    if (rtt) rtt_sample(*rtt);
    tcb_.retransmits = 0;

    // RFC 6675 §5: "If the incoming ACK is a cumulative acknowledgment, the TCP MUST reset
    // DupAcks to zero."
    tcb_.dup_acks = 0;
    if (tcb_.in_recovery && tcb_.recover <= ack) {
        // A full acknowledgment ends recovery: RFC 6582 §3.2 step 6 (option 2), RFC 6675
        // §5 (A), RFC 5681 §3.2 step 6: set cwnd to ssthresh, deflating the window.
        tcb_.cwnd = tcb_.ssthresh;
        tcb_.in_recovery = false;
        if (extras_) extras_->rack.recovery_ended();
    } else if (tcb_.in_recovery) {
        on_partial_ack(acked, now);
    } else if (acked > 0) {
        cc_.on_ack(tcb_, acked, flight, now);
    }

    // RFC 6298 §5.2: all acknowledged, stop the timer; §5.3: else restart it (RFC 8985
    // §7.2: or the probe timer in its stead).
    if (tcb_.snd_una == tcb_.snd_max) {
        rtx_deadline_.reset();
    } else {
        arm_rto(now);
        schedule_probe(now);
    }

    // Told once the segment is processed (on_segment), so that a send() from the
    // callback sees the updated window.
    if (want_writable_ && send_buffer_.space() > 0 && !tcb_.fin_queued) {
        want_writable_ = false;
        writable_due_ = true;
    }
}

// RFC 6582 §3.2 step 5: an ACK that covers new data but not recover, in recovery.
void connection::on_partial_ack(std::uint32_t acked, instant now) {
    // RFC 6675 §5 (B): with SACK, the scoreboard and pipe decide what output() sends next.
    if (tcb_.sack_ok) return;
    // RFC 6582 §3.2 step 5: "retransmit the first unacknowledged segment ... deflate the
    // congestion window by the amount of new data acknowledged by the Cumulative
    // Acknowledgment field. If the partial ACK acknowledges at least one SMSS of new data,
    // then add back SMSS bytes to the congestion window." We stay in fast recovery, and
    // the RTO restarts on every partial ACK (RFC 6298 §5.3, the "Slow-but-Steady" variant).
    const std::uint32_t smss = tcb_.snd_mss;
    retransmit(tcb_.snd_una, smss, now);
    tcb_.cwnd = tcb_.cwnd > acked ? tcb_.cwnd - acked : 0;
    if (acked >= smss) tcb_.cwnd += smss;
    tcb_.cwnd = std::max(tcb_.cwnd, smss);
}

// RFC 5681 §2 "duplicate acknowledgment" and §3.2 fast retransmit on the third.
void connection::on_duplicate_ack(const segment& seg, instant now) {
    // RFC 6675 §2: with SACK, a duplicate acknowledgment is one that SACKs new data, with
    // or without data and whatever its window (on_sack counts it); one that SACKs nothing
    // new (a D-SACK, RFC 2883) does not count. Without any SACK block, a SACK peer's
    // duplicate ACK counts as in RFC 5681.
    if (tcb_.sack_ok && seg.header.options.sack_block_count > 0) return;
    const bool duplicate = tcb_.snd_una != tcb_.snd_max && seg.payload.empty() && !seg.has(f::fin) &&
                           (std::uint32_t(seg.header.window) << tcb_.snd_wscale) == tcb_.snd_wnd;
    if (!duplicate) {
        tcb_.dup_acks = 0;
        return;
    }
    if (tcb_.dup_acks < 0xff) ++tcb_.dup_acks;
    if (tcb_.in_recovery) {
        if (!tcb_.sack_ok) tcb_.cwnd += tcb_.snd_mss; // RFC 5681 §3.2 step 4: inflate for each further duplicate
        return;
    }
    // RFC 6582 §3.2 step 2: after an RTO or a recovery, no fast retransmit until the
    // cumulative ACK reaches recover. Before the third, RFC 3042 limited transmit
    // (congestion_room) lets new data out.
    if (tcb_.dup_acks >= dup_thresh() && !tcb_.recover_pending) enter_recovery(now);
}

// RFC 6675 §5: an ACK that SACKs new data is a duplicate acknowledgment "regardless of its
// status as a cumulative acknowledgment".
void connection::on_sack(instant now) {
    if (tcb_.in_recovery || tcb_.snd_una == tcb_.snd_max) return;
    if (tcb_.dup_acks < 0xff) ++tcb_.dup_acks;
    if (tcb_.recover_pending) return; // RFC 6675 §5.1: not before HighACK reaches RecoveryPoint
    // (1) DupAcks >= DupThresh, or (2) IsLost(HighACK + 1): three segments or more than
    // two SMSS SACKed above the cumulative ACK. Otherwise (3): limited transmit, through
    // congestion_room, where SACKed data no longer counts as in flight.
    if (tcb_.dup_acks >= dup_thresh() || scoreboard().is_lost(tcb_.snd_una, tcb_.snd_mss))
        enter_recovery(now);
}

// Fast retransmit, into loss recovery: RFC 6675 §5 step (4) with SACK, RFC 6582 §3.2
// step 3 (RFC 5681 §3.2 steps 2 and 3) without.
void connection::enter_recovery(instant now) {
    const std::uint32_t smss = tcb_.snd_mss;
    ++count_losses().recoveries;
    begin_episode(false);
    cc_.on_congestion(tcb_, flight_size()); // ssthresh: RFC 5681 §3.2 step 2, or RFC 9438 §4.6
    tcb_.recover = tcb_.snd_max;            // (4.1) RecoveryPoint = HighData
    tcb_.in_recovery = true;
    extras().prr = {0, 0, std::max(flight_size(), 1u)}; // RFC 6937 §3: "At the beginning of recovery"

    tcb_.recover_pending = true;
    tcb_.rtt_timing = false; // Karn
    // (4.3): "Retransmit the first data segment presumed dropped", up to the first SACKed octet.
    std::uint32_t len = smss;
    if (const auto hole = scoreboard().next_hole(tcb_.snd_una, tcb_.snd_max))
        len = std::min(len, seq_distance(hole->left, hole->right));
    const std::uint32_t sent = retransmit(tcb_.snd_una, len, now);
    if (tcb_.sack_ok) {
        tcb_.cwnd = tcb_.ssthresh; // (4.2) no inflation: pipe counts what is in flight
        // (4.3): "set both HighRxt and RescueRxt to the highest sequence number in the
        // retransmitted segment"
        tcb_.high_rxt = tcb_.snd_una + sent;
        tcb_.rescue_rxt = tcb_.high_rxt;
    } else {
        tcb_.cwnd = tcb_.ssthresh + 3 * smss; // RFC 5681 §3.2 step 3: inflate by the three
    }
}

// RFC 3168 §6.1.2: an ECN echo is a congestion signal as a loss is, answered as the
// congestion control answers one (RFC 9438 Figure 5: cwnd at least 1 MSS on ECE), but
// at most once a window and not on top of a loss recovery's own reduction; the next new
// data carries CWR. Nothing is retransmitted: nothing was lost.
void connection::on_ecn_echo() {
    if (tcb_.ecn_reduced && ecn_recover_ <= tcb_.snd_una) tcb_.ecn_reduced = false;
    if (tcb_.ecn_reduced || tcb_.in_recovery) return;
    cc_.on_congestion(tcb_, flight_size());
    tcb_.cwnd = std::max<std::uint32_t>(tcb_.ssthresh, tcb_.snd_mss);
    tcb_.ecn_reduced = true;
    ecn_recover_ = tcb_.snd_max;
    tcb_.cwr_due = true;
    ++count_losses().ecn_reductions;
}

// RFC 6937 §3, on every ACK in SACK recovery, after RFC 6675's own processing: cwnd
// becomes pipe plus what may go now. Above ssthresh, the sending rate follows what was
// delivered in the proportion ssthresh / RecoverFS; at or below it (after a burst of
// losses), the Slow Start Reduction Bound lets it climb back to ssthresh no faster than
// slow start, rather than at once.
void connection::proportional_reduction(std::uint32_t delivered) {
    prr_state& p = extras().prr;
    p.delivered += delivered;
    const std::uint32_t smss = tcb_.snd_mss;
    const std::uint32_t pipe = scoreboard().pipe(tcb_.snd_una, tcb_.snd_max, tcb_.high_rxt, lost_end());
    std::int64_t sndcnt;
    if (pipe > tcb_.ssthresh) {
        // "sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out"
        const std::uint64_t due = (std::uint64_t(p.delivered) * tcb_.ssthresh + p.recover_fs - 1) / p.recover_fs;
        sndcnt = std::int64_t(due) - p.out;
    } else {
        // PRR-SSRB: "limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS"
        const std::int64_t limit = std::max<std::int64_t>(std::int64_t(p.delivered) - p.out, delivered) + smss;
        sndcnt = std::min<std::int64_t>(std::int64_t(tcb_.ssthresh) - pipe, limit);
    }
    tcb_.cwnd = pipe + std::uint32_t(std::max<std::int64_t>(sndcnt, 0));
}

// A loss recovery episode begins: what an undo restores, and an empty log of what it
// sends again (RFC 3708 §3: the episode is spurious when every retransmission is D-SACKed).
void connection::begin_episode(bool by_timeout) {
    connection_extras& x = extras();
    x.before_episode = {tcb_.cwnd, tcb_.ssthresh, x.scoreboard.highest_sacked(tcb_.snd_una), by_timeout};
    x.retransmitted.start();
    x.cubic_before = cc_.cubic();
}

// RFC 8985 §6.2 steps 2 and 3, for what this ACK delivers (cumulatively or SACKed) that
// was not SACKed before, in ascending order (RACK.fack then tells reordering apart).
void connection::rack_delivered(const segment& seg, std::span<const wire::sack_block> sacks, instant now) {
    rack_state& r = extras_->rack;
    const sack_scoreboard& board = scoreboard();
    std::array<seq_range, 1 + wire::tcp_max_sack_blocks> delivered;
    std::size_t n = 0;
    if (tcb_.snd_una < seg.ack()) delivered[n++] = {tcb_.snd_una, seg.ack()};
    for (const auto& b : sacks) {
        const seq32 left = seq_max(seq32(b.left), seq_max(seg.ack(), tcb_.snd_una));
        const seq32 right(b.right);
        if (left < right && right <= tcb_.snd_max) delivered[n++] = {left, right};
    }
    std::sort(delivered.begin(), delivered.begin() + n, [](seq_range a, seq_range b) { return a.left < b.left; });
    const auto& ts = seg.header.options.timestamp;
    auto echo_older = [&](const send_run& run) {
        return tcb_.ts_ok && ts && std::int32_t(ts->second - ts_clock(run.at)) < 0;
    };
    for (std::size_t i = 0; i < n; ++i) {
        r.log.for_each_within(delivered[i].left, delivered[i].right, [&](const send_run& run, seq32 a, seq32 b) {
            for (auto h = board.next_hole(a, b); h; h = board.next_hole(h->right, b)) {
                r.update(run, h->right, now, run.retransmitted && echo_older(run));
                r.note_delivered_end(h->right, run.retransmitted);
            }
        });
    }
}

// After the ACK's own processing: what RACK-TLP makes of it.
void connection::rack_after_ack(const segment& seg, seq32 una_before, std::optional<seq_range> dsack,
                                bool sacked_new, instant now) {
    rack_state& r = extras_->rack;
    if (una_before < tcb_.snd_una) r.log.acked(tcb_.snd_una);
    tlp_on_ack(seg, una_before, dsack, sacked_new);
    // An ACK that delivers nothing new and reports no duplicate leaves RACK's inputs as they
    // were: the last verdict stands, and the reordering timer covers what time changes.
    // (Every duplicate ACK of a recovery is one.)
    if (tcb_.snd_una == tcb_.snd_max || (una_before == tcb_.snd_una && !sacked_new && !dsack)) return;
    rack_detect(dsack.has_value(), now);
    // RFC 8985 §7.2 (a): no probe timer in loss recovery; the RTO runs.
    if (tcb_.rtx_for == rtx_timer::probe && (tcb_.in_recovery || tcb_.recover_pending)) arm_rto(now);
}

// RFC 8985 §6.2 steps 4 and 5: the reordering window, then which segments are lost; a
// loss outside recovery starts one (RFC 6675 §5 (4), as the third duplicate ACK would),
// a lost retransmission goes again (HighRxt back to it), and a segment whose window has
// not passed yet sets the reordering timer.
void connection::rack_detect(bool dsack, instant now) {
    rack_state& r = extras_->rack;
    const bool recovering = tcb_.in_recovery || tcb_.recover_pending;
    const bool dupthresh_sacked = scoreboard().lost_below(tcb_.snd_mss).has_value();
    const duration reo_wnd = r.reo_wnd(dsack, recovering, dupthresh_sacked, tcb_.snd_una, tcb_.snd_max, tcb_.srtt);
    const rack_verdict v = r.detect(scoreboard(), now, reo_wnd);
    r.lost_end = v.lost_end;
    if (tcb_.in_recovery && v.lost_retransmit && *v.lost_retransmit < tcb_.high_rxt) tcb_.high_rxt = *v.lost_retransmit;
    if (v.lost_end && !tcb_.in_recovery && !tcb_.recover_pending) enter_recovery(now);
    // The reordering timer runs in the RTO's stead (RFC 8985 §6.3), which restarts when it
    // is over (a wait is shorter than a round trip: the RTO is never put off by much).
    if (v.wait) {
        rtx_deadline_ = now + *v.wait;
        tcb_.rtx_for = rtx_timer::reorder;
    } else if (tcb_.rtx_for == rtx_timer::reorder && rtx_deadline_) {
        arm_rto(now);
    }
}

// RFC 8985 §7.4: whether the probe repaired a loss, once the ACK covers it. As Linux
// does, an ACK of exactly the probe's end without a D-SACK does not tell (the original may
// have arrived and its ACK been lost); one beyond it, with nothing D-SACKed, does.
void connection::tlp_on_ack(const segment& seg, seq32 una_before, std::optional<seq_range> dsack, bool sacked_new) {
    rack_state& r = extras_->rack;
    if (!r.tlp_end || seg.ack() < *r.tlp_end) return;
    if (!r.tlp_is_retrans) { // the probe was new data: RACK finds any loss
        r.tlp_end.reset();
    } else if (dsack && dsack->right == *r.tlp_end) { // both copies arrived: nothing was lost
        r.tlp_end.reset();
    } else if (seg.ack() > *r.tlp_end) { // the probe repaired a loss: the response to one,
        r.tlp_end.reset();                // unless a recovery since has made its own
        if (tcb_.in_recovery || tcb_.recover_pending) return;
        cc_.on_congestion(tcb_, flight_size());
        tcb_.cwnd = std::max<std::uint32_t>(tcb_.ssthresh, tcb_.snd_mss);
    } else if (una_before == tcb_.snd_una && !sacked_new && seg.header.options.sack_block_count == 0) {
        r.tlp_end.reset(); // a plain duplicate ACK: the probe arrived as a duplicate
    }
}

std::optional<seq32> connection::lost_end() const {
    std::optional<seq32> end = scoreboard().lost_below(tcb_.snd_mss);
    if (extras_ && extras_->rack.lost_end && tcb_.snd_una < *extras_->rack.lost_end)
        end = end ? seq_max(*end, *extras_->rack.lost_end) : extras_->rack.lost_end;
    return end;
}

// RFC 2883 §5 / RFC 3708 §3: a D-SACK block for octets the last episode retransmitted says
// that both copies arrived, so that retransmission was not needed.
void connection::on_dsack(seq_range d) {
    connection_extras& x = extras();
    if (x.retransmitted.report(d.left, d.right) == 0) return; // not ours to judge: the network duplicated it
    const std::uint32_t smss = tcb_.snd_mss;
    // RFC 4653 §3 (the idea; Linux's tp->reordering): the original was overtaken by the
    // data SACKed above it when we retransmitted, prior_fack - d.right: e segments. Raise
    // DupThresh to e + 1 so that the same reordering no longer looks like a loss.
    const auto& before = x.before_episode;
    if (!before.by_timeout && d.right < before.fack) {
        const std::uint32_t extent = (seq_distance(d.right, before.fack) + smss - 1) / smss;
        x.scoreboard.raise_dup_thresh(extent + 1);
    }
    if (!x.retransmitted.all_reported()) return;
    // RFC 4015 §3 response: the congestion state from before the episode.
    ++count_losses().undos;
    x.retransmitted.stop();
    cc_.undo(tcb_, x.cubic_before, before.cwnd, before.ssthresh);
    // Nothing of the episode was lost: it ends, and a hole that IsLost() from now on is a
    // new loss, with its own fast retransmit (RFC 6675 §5.1's wait was for this episode's).
    tcb_.in_recovery = false;
    tcb_.recover_pending = false;
}

// §3.10.7.4 seventh: process the segment text (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2).
// RFC 3168 §6.1.3: a CE mark is echoed with ECE on every ACK until a segment with CWR
// says the sender reduced; a CE on that very segment starts the echo again. The first
// echo goes at once (as Linux's quick ACK): the sender should hear of it within a round trip.
void connection::note_ecn(const segment& seg) {
    if (seg.has(f::cwr)) tcb_.ece_due = false;
    if (seg.ecn == wire::ecn_codepoint::ce && !tcb_.ece_due) {
        tcb_.ece_due = true;
        tcb_.ack_now = true;
    }
}

void connection::process_text(const segment& seg, instant now) {
    if (seg.payload.empty()) return;
    if (tcb_.ecn_ok) note_ecn(seg);
    switch (state_) {
    case tcp_state::established:
    case tcp_state::fin_wait_1:
    case tcp_state::fin_wait_2: break;
    default: return drop(tcp_drop::text_ignored); // "This should not occur since a FIN has been received"
    }
    if (read_closed_) {
        // RFC 1122 §4.2.2.13: the application closed and reads no more, so "send a RST to
        // show that data was lost" (RFC 2525 §2.17; Linux does the same).
        drop(tcp_drop::data_after_close);
        emit(wire::tcp_flags::rst, tcb_.snd_nxt, {}, now); // <SEQ=SND.NXT><CTL=RST>, as ABORT
        to_closed(close_reason::aborted);
        return;
    }
    if (seg.seq() != tcb_.rcv_nxt) {
        // Out of order: hold it, and ACK at once (RFC 9293 §3.8.6.3, RFC 5681 §4.2).
        const seq32 end = seg.seq() + std::uint32_t(seg.payload.size());
        connection_extras& x = extras();
        if (x.reassembly.holds(seg.seq(), end)) x.dsack = seq_range{seg.seq(), end}; // RFC 2883 §4
        if (!x.reassembly.insert(tcb_.rcv_nxt, seg.seq(), seg.payload)) drop(tcp_drop::ooo_full);
        tcb_.ack_now = true; // check_fin remembers a FIN that came with it
        return;
    }
    const bool filled_hole = holds_out_of_order();
    deliver(seg.payload, seg.packet, now);
    if (state_ == tcp_state::closed) return; // the application aborted from on_data
    if (filled_hole) {
        // The extras stay while on_data runs: settle_extras frees them only once the
        // segment is done with.
        reassembly_queue& queue = extras_->reassembly;
        for (auto held = queue.take(tcb_.rcv_nxt); held.size() > 0 && state_ != tcp_state::closed;
             held = queue.take(tcb_.rcv_nxt)) {
            advance_rcv_nxt(std::uint32_t(held.size()));
            traffic_.bytes_in += held.size();
            events_.on_data(held.head, nullptr); // the reassembly ring's bytes: kept by copy
            if (!held.tail.empty()) events_.on_data(held.tail, nullptr);
            open_window_by_step();
        }
        queue.release_if_empty(); // (never allocated otherwise)
    }
    if (extras_ && extras_->reassembly.fin == tcb_.rcv_nxt) reach_fin(now);
    if (filled_hole) tcb_.ack_now = true; // RFC 5681 §4.2: ACK at once when a gap fills
    else schedule_ack(now);
}

// RFC 9293 §3.10.7.2 and §3.10.7.3: the text that came on the SYN, "queued for processing
// later", now that the connection is ESTABLISHED, as if it had come with `seg` (its ECN
// mark, say). What of `seg` it covered is cut off by after_syn_text.
void connection::process_syn_text(const segment& seg, instant now) {
    segment text = seg;
    text.header.seq = (tcb_.irs + 1).raw();
    text.header.flags = f::ack;
    std::vector<std::uint8_t>& syn_text = extras_->syn_text;
    text.payload = syn_text;
    text.packet = nullptr; // the bytes are our copy, not the segment's buffer
    process_text(text, now);
    syn_text.clear(); // after: on_data saw a view of it
}

// `seg` without what the SYN's text, delivered before it, covered (the peer may have sent
// it again, since our SYN,ACK did not acknowledge it).
segment connection::after_syn_text(const segment& seg) const {
    segment rest = seg;
    const auto cut = std::min<std::size_t>(seq_distance(seg.seq(), tcb_.rcv_nxt), seg.payload.size());
    rest.payload = seg.payload.subspan(cut);
    rest.header.seq = (seg.seq() + std::uint32_t(cut)).raw();
    return rest;
}

// The receive buffer as the window can express it (RFC 7323 §2.3: at most 0xffff units of
// 2^Rcv.Wind.Shift), less what the application keeps: RCV.BUFF - RCV.USER of RFC 1122
// §4.2.3.3. Bytes taken during on_data and not kept are consumed (RCV.USER 0).
std::uint32_t connection::receive_space() const {
    const std::uint32_t unit = std::uint32_t(1) << tcb_.rcv_wscale;
    const std::uint32_t held = application_held();
    const std::uint32_t room = settings_.receive_buffer > held ? settings_.receive_buffer - held : 0;
    return std::min(room, std::uint32_t(0xffff) << tcb_.rcv_wscale) & ~(unit - 1);
}

// Data taken in at RCV.NXT: the window shrinks from the left. The application then sees it
// (and may keep some, RCV.USER) before open_window_by_step moves the right edge.
void connection::advance_rcv_nxt(std::uint32_t n) {
    tcb_.rcv_nxt += n;
    tcb_.rcv_wnd = n < tcb_.rcv_wnd ? tcb_.rcv_wnd - n : 0;
}

// Receiver silly-window avoidance (RFC 1122 §4.2.3.3, RFC 9293 §3.8.6.2.2): data taken in
// at RCV.NXT leaves the right edge where it is, so the window shrinks from the left; the
// edge moves again only once it can move by at least min(RCV.BUFF / 2, Eff.snd.MSS): "if
// RCV.BUFF - RCV.USER - RCV.WND >= min(Fr * RCV.BUFF, Eff.snd.MSS) then set RCV.WND <-
// RCV.BUFF - RCV.USER". The right edge never moves left (§3.8.6: "the window SHOULD NOT
// be shrunk"): with window scaling the window is rounded up to a whole unit, never down.
// The step is a share of RCV.BUFF, not of what RCV.USER leaves of it: a window that an application's
// kept bytes hold small opens by whole segments, never by slivers.
void connection::open_window_by_step() {
    const std::uint32_t cap = std::uint32_t(0xffff) << tcb_.rcv_wscale; // RFC 7323 §2.3
    const std::uint32_t unit = std::uint32_t(1) << tcb_.rcv_wscale;
    const std::uint32_t space = receive_space();
    const std::uint32_t eff_mss = tcb_.rcv_mss - (tcb_.ts_ok ? 12u : 0u); // what the peer's full segments carry
    const std::uint32_t wnd = tcb_.rcv_wnd;
    if (wnd >= space) return; // the edge stays
    if (space - wnd >= std::min(std::min(settings_.receive_buffer, cap) / 2, eff_mss)) {
        tcb_.rcv_wnd = space;
        return;
    }
    tcb_.rcv_wnd = std::min(space, (wnd + unit - 1) & ~(unit - 1));
}

// Receive-buffer auto-tuning, in the spirit of Linux's dynamic right-sizing: a sender can
// have at most one window in flight a round trip, so an application that takes in more than
// half the buffer per round trip may be held back by it. Measured from the first full-sized
// segment (request-response connections with small messages never start) over two smoothed
// RTTs or more, as bytes a round trip: above half the buffer, the buffer grows to the power
// of two at or above twice that (at least doubling, as the sender's slow start does), up to
// receive_buffer_max; at a quarter or less, the measurement ends (and with it the extras it
// kept) until the next full-sized segment. The reassembly ring, which must hold a whole
// window, grows with the buffer, so only while it holds nothing (it is allocated at the
// first out-of-order segment and freed when the holes fill).
void connection::tune_receive_buffer(std::uint32_t segment_bytes, instant now) {
    if (!tcb_.srtt) return;
    const duration rtt = std::max<duration>(*tcb_.srtt, std::chrono::microseconds(1));
    if (!extras_ || !extras_->tuning) {
        if (segment_bytes + (tcb_.ts_ok ? 12u : 0u) >= tcb_.rcv_mss)
            extras().tuning = receive_tuning{now, tcb_.rcv_nxt};
        return;
    }
    connection_extras& x = *extras_;
    const duration elapsed = now - x.tuning->start;
    if (elapsed < 2 * rtt) return;
    const std::uint64_t per_rtt = std::uint64_t(seq_distance(x.tuning->start_seq, tcb_.rcv_nxt)) * rtt.count() / elapsed.count();
    if (per_rtt <= settings_.receive_buffer / 4) {
        x.tuning.reset();
        return;
    }
    if (per_rtt > settings_.receive_buffer / 2) {
        const auto target = std::uint32_t(std::min<std::uint64_t>(settings_.receive_buffer_max, std::bit_ceil(per_rtt * 2)));
        if (target > settings_.receive_buffer && x.reassembly.set_capacity(target)) settings_.receive_buffer = target;
    }
    if (settings_.receive_buffer < settings_.receive_buffer_max) x.tuning = receive_tuning{now, tcb_.rcv_nxt};
    else x.tuning.reset(); // grown all the way
}

// Only where data may still come (RFC 9293 §3.10.7.4: ESTABLISHED, FIN-WAIT-1 and -2).
bool connection::reopen_window(instant now) {
    if (state_ != tcp_state::established && state_ != tcp_state::fin_wait_1 && state_ != tcp_state::fin_wait_2)
        return false;
    const std::uint32_t before = tcb_.rcv_wnd;
    open_window_by_step();
    if (tcb_.rcv_wnd <= before || before >= std::min(receive_space() / 2, std::uint32_t(tcb_.rcv_mss))) return false;
    // Said only when the peer may be held up: a window that was under half the buffer and an
    // MSS (as Linux's window update after a read); a larger one it is still filling.
    tcb_.ack_now = true;
    request_output(now);
    return true;
}

void connection::deliver(std::span<const std::uint8_t> bytes, void* packet, instant now) {
    advance_rcv_nxt(std::uint32_t(bytes.size()));
    traffic_.bytes_in += bytes.size();
    events_.on_data(bytes, packet); // zero-copy: a view of the segment itself
    if (settings_.receive_buffer < settings_.receive_buffer_max) tune_receive_buffer(std::uint32_t(bytes.size()), now);
    open_window_by_step();
}

// §3.10.7.4 eighth: the FIN bit, when the FIN is next in sequence.
void connection::check_fin(const segment& seg, instant now) {
    if (!seg.has(f::fin)) return;
    const seq32 fin = seg.seq() + std::uint32_t(seg.payload.size());
    if (fin != tcb_.rcv_nxt) {
        // Out of order: reached when the data before it is in (process_text).
        if (fin > tcb_.rcv_nxt) extras().reassembly.fin = fin;
        tcb_.ack_now = true;
        return;
    }
    reach_fin(now);
}

void connection::reach_fin(instant now) {
    tcb_.rcv_nxt += 1; // "advance RCV.NXT over the FIN"
    if (extras_) extras_->reassembly.fin.reset();
    tcb_.ack_now = true; // "send an acknowledgment for the FIN"
    switch (state_) {
    case tcp_state::syn_received:
    case tcp_state::established:
        state_ = tcp_state::close_wait;
        events_.on_peer_closed();
        break;
    case tcp_state::fin_wait_1:
        // "If our FIN has been ACKed ... enter TIME-WAIT ... otherwise, enter the CLOSING state"
        if (fin_acked()) enter_time_wait(now);
        else state_ = tcp_state::closing;
        events_.on_peer_closed();
        break;
    case tcp_state::fin_wait_2:
        enter_time_wait(now);
        events_.on_peer_closed();
        break;
    case tcp_state::time_wait: enter_time_wait(now); break; // restart the 2 MSL time-wait
    default: break; // CLOSE-WAIT, CLOSING, LAST-ACK: remain
    }
}

} // namespace tern::tcp
