// Construction and the user calls of RFC 9293 §3.10.1–§3.10.5.
#include "tcp/connection.hpp"

#include <algorithm>
#include <cassert>

#include "wire/icmp.hpp"

namespace tern::tcp {

std::string_view to_string(tcp_state s) {
    switch (s) {
    case tcp_state::closed: return "CLOSED";
    case tcp_state::listen: return "LISTEN";
    case tcp_state::syn_sent: return "SYN-SENT";
    case tcp_state::syn_received: return "SYN-RECEIVED";
    case tcp_state::established: return "ESTABLISHED";
    case tcp_state::fin_wait_1: return "FIN-WAIT-1";
    case tcp_state::fin_wait_2: return "FIN-WAIT-2";
    case tcp_state::close_wait: return "CLOSE-WAIT";
    case tcp_state::closing: return "CLOSING";
    case tcp_state::last_ack: return "LAST-ACK";
    case tcp_state::time_wait: return "TIME-WAIT";
    }
    return "?";
}

std::string_view to_string(close_reason r) {
    switch (r) {
    case close_reason::normal: return "normal";
    case close_reason::reset: return "reset";
    case close_reason::timed_out: return "timed_out";
    case close_reason::refused: return "refused";
    case close_reason::aborted: return "aborted";
    case close_reason::unreachable: return "unreachable";
    }
    return "?";
}

std::string_view to_string(tcp_drop d) {
    switch (d) {
#define TERN_TCP_DROP_NAME(name, text) case tcp_drop::name: return #name;
        TERN_TCP_DROPS(TERN_TCP_DROP_NAME)
#undef TERN_TCP_DROP_NAME
    }
    return "?";
}

namespace {
// A keep-alive time in whole milliseconds for connection_settings: rounded up, at most 2^32 - 1.
std::uint32_t keepalive_ms(duration d) {
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
    return std::uint32_t(std::clamp<std::int64_t>(ms, 0, 0xffffffff));
}
} // namespace

connection_settings::connection_settings(const connection_options& o)
    : receive_buffer(o.receive_buffer), receive_buffer_max(o.receive_buffer_max), ts_offset(o.ts_offset.value_or(0)),
      no_delay(o.no_delay), congestion(o.congestion) {
    if (!o.keepalive) return;
    keepalive = true;
    keepalive_idle_ms = keepalive_ms(o.keepalive->idle);
    keepalive_interval_ms = keepalive_ms(o.keepalive->interval);
    keepalive_count = o.keepalive->count;
}

connection::connection(const tcp_config& config, const connection_options& options, segment_sink& sink,
                       connection_events& events)
    : config_(config), sink_(sink), events_(events), 
      send_buffer_(options.send_buffer),
      settings_(options) {}

// What the record leaves out must be empty or known: the deadlines (next_deadline), the
// send buffer and its body, the extras, every flag that still owes the application or the
// endpoint a call, the TCB's fields idle_tcb leaves out, and what the listener's share holds.
bool connection::parkable(const listener_share& shared, std::uint32_t ts_offset) const {
    constexpr std::uint64_t u32 = 0xffffffffu;
    return state_ == tcp_state::established && passive_ == shared.passive && !next_deadline() && send_buffer_.size() == 0 &&
           !send_buffer_.has_body() && !extras_ && !want_writable_ && !writable_due_ && !output_due_ &&
           !ended_by_new_syn_ && !read_closed_ && idle_tcb::fits(tcb_) && buffer_seq_ == tcb_.snd_una &&
           persist_backoff_ == 0 && persist_unanswered_ == 0 && keepalive_probes_ == 0 &&
           traffic_.segments_in <= u32 && traffic_.segments_out <= u32 && traffic_.bytes_in <= parked::most_bytes &&
           traffic_.bytes_out <= parked::most_bytes && listen_port_ == shared.listen_port &&
           send_buffer_.capacity() == shared.send_capacity && settings_.ts_offset == ts_offset &&
           settings_ == own_settings(shared.settings, settings_);
}

// The listener's settings with a connection's own two.
connection_settings connection::own_settings(connection_settings shared, const connection_settings& own) {
    shared.receive_buffer = own.receive_buffer;
    shared.ts_offset = own.ts_offset;
    return shared;
}

connection::parked connection::park() {
    assert(state_ == tcp_state::established && idle_tcb::fits(tcb_)); // and the rest of parkable()
    return parked::make(idle_tcb::of(tcb_), settings_.receive_buffer, ecn_recover_, traffic_, std::move(cc_),
                        std::move(rare_));
}

connection::connection(const tcp_config& config, segment_sink& sink, connection_events& events, const flow& f,
                       parked&& p, const listener_share& shared, std::uint32_t ts_offset)
    : config_(config), sink_(sink), events_(events), state_(tcp_state::established), passive_(shared.passive),
      flow_(f), ecn_recover_(p.ecn_recover), tcb_(p.control.restore()),
      cc_(std::move(p.cc)), send_buffer_(shared.send_capacity), buffer_seq_(tcb_.snd_una), traffic_(p.traffic()),
      settings_(shared.settings), listen_port_(shared.listen_port), rare_(std::move(p.rare)) {
    settings_.receive_buffer = p.receive_buffer;
    settings_.ts_offset = ts_offset;
}

connection_stats connection::parked::stats() const {
    connection_stats s;
    static_cast<traffic_counts&>(s) = traffic();
    if (rare) static_cast<loss_counts&>(s) = rare->loss;
    return s;
}

const sack_scoreboard connection::no_scoreboard{};

connection_extras::~connection_extras() {
    if (kept) rx_account::unref(kept);
}

bool connection_extras::idle(instant now) const {
    // A raised DupThresh is learnt (RFC 4653 §3), and a challenge window still open limits
    // the next challenge ACK (RFC 5961 §7): neither is "nothing".
    return reassembly.empty() && !reassembly.fin && scoreboard.empty() &&
           scoreboard.dup_thresh() == sack_scoreboard::default_dup_thresh && !retransmitted.active() && !dsack &&
           syn_text.empty() && (challenges_in_window == 0 || now - challenge_window_start >= std::chrono::seconds(1)) &&
           rack.idle() && (kept == nullptr || kept->bytes() == 0) && !tuning && !larger_mss;
}

rx_account& connection::application_account() {
    connection_extras& x = extras();
    if (!x.kept) x.kept = new rx_account;
    return *x.kept;
}

// RFC 9293 §3.10.7.2/§3.10.7.3: text on a SYN is queued until ESTABLISHED; no more than
// the window we offered.
void connection::hold_syn_text(std::span<const std::uint8_t> payload) {
    if (payload.empty()) { // most SYNs: nothing to make the extras for
        if (extras_) extras_->syn_text.clear();
        return;
    }
    const auto n = std::min<std::size_t>(payload.size(), tcb_.rcv_wnd);
    extras().syn_text.assign(payload.begin(), payload.begin() + n);
}

// RFC 7323 §2.3: the smallest shift that lets the 16-bit field cover the buffer, at most 14.
std::uint8_t window_shift_for(std::uint32_t buffer) {
    std::uint8_t shift = 0;
    while (shift < 14 && (buffer >> shift) > 0xffff) ++shift;
    return shift;
}

// The part of OPEN common to both sides (RFC 9293 §3.10.1): a fresh TCB.
tcb connection::fresh_tcb(seq32 iss) const {
    const tcp_config& config = config_;
    tcb t;
    t.iss = iss;
    t.snd_una = iss;
    t.snd_nxt = iss;
    t.snd_max = iss;
    t.rcv_wnd = settings_.receive_buffer;
    t.rcv_mss = std::uint16_t(config.mtu - headers()); // RFC 9293 §3.7.1: MTU minus fixed IP and TCP headers
    t.rcv_wscale = config.window_scaling ? window_shift_for(largest_receive_buffer(settings_)) : 0;
    t.rto = config.initial_rto; // RFC 6298 §2.1
    t.cc_algorithm = cc_algorithm();
    t.hystart = config.hystart;
    return t;
}

// §3.10.1 OPEN, active.
status<open_error> connection::open_active(const flow& f, seq32 iss, instant now) {
    if (state_ != tcp_state::closed) return unexpected{open_error::not_closed};
    flow_ = f;
    passive_ = false;
    tcb_ = fresh_tcb(iss);
    if (extras_) extras_->scoreboard.clear();
    buffer_seq_ = iss + 1;
    state_ = tcp_state::syn_sent;
    send_syn(now);
    return {};
}

// §3.10.1 OPEN, passive.
status<open_error> connection::open_passive(const endpoint& local, seq32 iss, instant /*now*/,
                                            std::optional<endpoint> remote) {
    if (state_ != tcp_state::closed) return unexpected{open_error::not_closed};
    if (remote) flow_ = {local, *remote};
    listen_port_ = local.port;
    passive_ = true;
    tcb_ = fresh_tcb(iss);
    if (extras_) extras_->scoreboard.clear();
    buffer_seq_ = iss + 1;
    state_ = tcp_state::listen;
    return {};
}

// RFC 4987 §3.6 (SYN cookies): the handshake completes with no SYN-RECEIVED behind it. The
// TCB is what LISTEN and SYN-RECEIVED would have built: IRS = SEG.SEQ - 1, ISS = SEG.ACK - 1,
// the options the cookie recovered (`peer`, as if from the SYN); then `ack` is processed as
// in ESTABLISHED, so data or a FIN on it count.
status<open_error> connection::open_from_cookie(const endpoint& local, const segment& ack,
                                                const wire::tcp_options& peer, instant now) {
    if (state_ != tcp_state::closed) return unexpected{open_error::not_closed};
    listen_port_ = local.port;
    passive_ = true;
    flow_ = {{ack.dst_addr, local.port}, {ack.src_addr, ack.header.src_port}};
    const seq32 iss = ack.ack() - 1;
    tcb_ = fresh_tcb(iss);
    buffer_seq_ = iss + 1;
    tcb_.snd_una = iss + 1;
    tcb_.snd_nxt = iss + 1;
    tcb_.snd_max = iss + 1;
    tcb_.irs = ack.seq() - 1;
    tcb_.rcv_nxt = ack.seq();
    tcb_.last_ack_sent = tcb_.rcv_nxt;
    negotiate_options(peer, now);
    tcb_.snd_wnd = std::uint32_t(ack.header.window) << tcb_.snd_wscale; // not a SYN: scaled
    tcb_.max_snd_wnd = tcb_.snd_wnd;
    tcb_.snd_wl1 = ack.seq();
    tcb_.snd_wl2 = ack.ack();
    state_ = tcp_state::established;
    events_.on_connected();
    if (state_ == tcp_state::established) on_segment(ack, now);
    return {};
}

// §3.10.2 SEND. In SYN-SENT and SYN-RECEIVED the data waits for ESTABLISHED.
std::optional<send_error> connection::send_refused() const {
    switch (state_) {
    case tcp_state::closed:
    case tcp_state::listen: return send_error::not_connected;
    case tcp_state::fin_wait_1:
    case tcp_state::fin_wait_2:
    case tcp_state::closing:
    case tcp_state::last_ack:
    case tcp_state::time_wait: return send_error::closing;
    default: break;
    }
    if (tcb_.fin_queued) return send_error::closing;
    return std::nullopt;
}

result<std::size_t, send_error> connection::send(std::span<const std::uint8_t> bytes, instant now) {
    if (auto refused = send_refused()) return unexpected{*refused};
    const std::uint32_t taken = send_buffer_.push(bytes);
    want_writable_ = taken < bytes.size();
    request_output(now);
    return std::size_t(taken);
}

result<std::size_t, send_error> connection::send_owned(std::span<const std::uint8_t> bytes, void* owner,
                                                       instant now) {
    if (auto refused = send_refused()) return unexpected{*refused};
    auto release = [](void* sink, void* buffer) { static_cast<segment_sink*>(sink)->release(buffer); };
    if (!send_buffer_.push_owned(bytes, owner, release, &sink_)) {
        want_writable_ = true;
        return std::size_t(0);
    }
    request_output(now);
    return bytes.size();
}

// §3.10.4 CLOSE, the half-close that RFC 9293 describes: "the user ... may continue to
// RECEIVE" in FIN-WAIT-1 and FIN-WAIT-2.
status<close_error> connection::shutdown(instant now) {
    switch (state_) {
    case tcp_state::closed: return unexpected{close_error::not_open};
    case tcp_state::listen:
    case tcp_state::syn_sent: to_closed(close_reason::normal); return {};
    case tcp_state::syn_received:
        // "queue for processing after entering ESTABLISHED state"
        tcb_.fin_queued = true;
        return {};
    case tcp_state::established:
        tcb_.fin_queued = true;
        state_ = tcp_state::fin_wait_1;
        break;
    case tcp_state::close_wait:
        tcb_.fin_queued = true;
        state_ = tcp_state::last_ack;
        break;
    default: return unexpected{close_error::closing};
    }
    request_output(now);
    return {};
}

// Linux's close(). RFC 9293 §3.10.4 lets the application keep receiving after CLOSE; RFC
// 1122 §4.2.2.13 lets a host close both directions instead, and then "if new data is
// received after CLOSE is called, its TCP SHOULD send a RST to show that data was lost".
// That is the choice here, as in Linux (RFC 2525 §2.17); shutdown() keeps the RFC 9293
// behaviour for applications that want to read on.
status<close_error> connection::close(instant now) {
    // After a shutdown() our FIN is out or queued: RFC 9293 §3.10.4 allows "ok" for a CLOSE
    // in FIN-WAIT-1/2 "as long as a second FIN is not emitted", and like Linux's close()
    // after shutdown(SHUT_WR) it ends the reading (and starts the FIN-WAIT-2 limit).
    if ((state_ == tcp_state::fin_wait_1 || state_ == tcp_state::fin_wait_2) && !read_closed_) {
        read_closed_ = true;
        limit_fin_wait_2(now);
        return {};
    }
    auto r = shutdown(now);
    if (r && state_ != tcp_state::closed) read_closed_ = true;
    return r;
}

std::size_t connection::heap_bytes() const {
    std::size_t bytes = send_buffer_.heap_bytes() + (rare_ ? sizeof(*rare_) : 0);
    if (extras_) {
        const connection_extras& x = *extras_;
        bytes += sizeof(x) + x.reassembly.heap_bytes() + x.scoreboard.heap_bytes() + x.retransmitted.heap_bytes() +
                 x.syn_text.capacity();
    }
    return bytes;
}

connection_stats connection::stats() const {
    connection_stats s;
    static_cast<traffic_counts&>(s) = traffic_;
    static_cast<loss_counts&>(s) = losses();
    return s;
}

tcp_info connection::info() const {
    tcp_info i;
    i.state = state_;
    i.id = flow_;
    i.srtt = tcb_.srtt.value_or(duration{});
    i.rttvar = tcb_.rttvar;
    i.rto = tcb_.rto;
    i.cwnd = tcb_.cwnd;
    i.ssthresh = tcb_.ssthresh;
    i.snd_mss = tcb_.snd_mss;
    i.rcv_mss = tcb_.rcv_mss;
    i.snd_wnd = tcb_.snd_wnd;
    i.rcv_wnd = tcb_.rcv_wnd;
    i.rcv_space = settings_.receive_buffer;
    i.snd_wscale = tcb_.snd_wscale;
    i.rcv_wscale = tcb_.rcv_wscale;
    i.timestamps = tcb_.ts_ok;
    i.sack = tcb_.sack_ok;
    i.unacked = seq_distance(tcb_.snd_una, tcb_.snd_nxt);
    i.send_queued = send_buffer_.size();
    i.bytes_in = traffic_.bytes_in;
    i.bytes_out = traffic_.bytes_out;
    i.segments_in = traffic_.segments_in;
    i.segments_out = traffic_.segments_out;
    i.retransmits = losses().retransmits;
    return i;
}

// §3.10.5 ABORT.
void connection::abort(instant now) {
    // What the application handed over before it aborted goes first, as it would have
    // without deferred output (the handshake's ACK among it): the peer sees the same.
    flush_output(now);
    switch (state_) {
    case tcp_state::closed: return;
    case tcp_state::syn_received:
    case tcp_state::established:
    case tcp_state::fin_wait_1:
    case tcp_state::fin_wait_2:
    case tcp_state::close_wait:
        emit(wire::tcp_flags::rst, tcb_.snd_nxt, {}, now); // <SEQ=SND.NXT><CTL=RST>
        break;
    default: break; // LISTEN, SYN-SENT, CLOSING, LAST-ACK, TIME-WAIT: no RST
    }
    to_closed(close_reason::aborted);
}

// The next hop of a connection being opened did not answer ARP. RFC 1122 §4.2.3.9 lets
// TCP act on such a "hard" error; like Linux (EHOSTUNREACH) we give up the open at once
// rather than retransmit a SYN nobody can receive. No RST: the peer never heard of us.
void connection::unreachable() {
    if (state_ == tcp_state::syn_sent) to_closed(close_reason::unreachable);
}

bool connection::on_icmp_unreachable(std::uint8_t code, std::uint16_t mtu, seq32 quoted_seq, instant now) {
    namespace c = wire::icmp_unreachable_code;
    // RFC 5927 §4.1: "SND.UNA =< SEG.SEQ < SND.NXT", or anyone who knows the 4-tuple could
    // end or slow the connection with a forged error. SND.NXT here is the highest sent.
    if (state_ == tcp_state::closed || state_ == tcp_state::listen || state_ == tcp_state::time_wait) return false;
    if (quoted_seq < tcb_.snd_una || quoted_seq >= tcb_.snd_max) return false;
    if (code == c::fragmentation_needed) {
        if (state_ == tcp_state::syn_sent || state_ == tcp_state::syn_received) return false; // a SYN always fits
        return lower_mss_to_path(mtu, now);
    }
    // RFC 1122 §4.2.3.9 leaves soft errors to the application; in SYN-SENT Linux ends the
    // connect on any of these at once (ECONNREFUSED for port and protocol, EHOSTUNREACH or
    // ENETUNREACH else) rather than retransmit toward a host that said no. Elsewhere the
    // connection's own timers decide, as in Linux without IP_RECVERR.
    if (state_ != tcp_state::syn_sent || code > c::port) return false;
    to_closed(code == c::port || code == c::protocol ? close_reason::refused : close_reason::unreachable);
    return true;
}

// RFC 1191 §5 plateaus: the MTU to try below `size` when the router did not say.
static std::uint16_t plateau_below(std::uint32_t size) {
    constexpr std::uint16_t plateaus[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};
    for (std::uint16_t p : plateaus)
        if (p < size) return p;
    return 68;
}

// RFC 1191 §6: our datagrams were too big for the path. Segments shrink to fit, and what
// is in flight goes again at once in the new size (it was dropped on the way, as Linux's
// tcp_simple_retransmit assumes): not a congestion signal, so cwnd and ssthresh stay.
bool connection::lower_mss_to_path(std::uint16_t mtu, instant now) {
    const std::uint32_t headers = this->headers();
    const std::uint32_t options = tcb_.ts_ok ? 12 : 0;
    if (mtu == 0) mtu = plateau_below(tcb_.snd_mss + headers + options);
    // RFC 1191 §3 sets 68 as the floor; like Linux (min_pmtu) we keep 552, so that a forged
    // error cannot make every segment tiny (RFC 5927 §7.3). IPv6's is its minimum link MTU,
    // 1280 (RFC 8200 §5; RFC 8201 §4: a smaller one reported is not taken below it).
    const std::uint16_t min_path_mtu = flow_.local.addr.is_v4() ? 552 : 1280;
    const std::uint32_t mss = std::max<std::uint32_t>(mtu, min_path_mtu) - headers - options;
    if (mss >= tcb_.snd_mss) return false;
    tcb_.snd_mss = std::uint16_t(mss);
    tcb_.snd_nxt = tcb_.snd_una;
    tcb_.path_mtu_resend = true; // counted as such, not as a timeout's

    tcb_.rtt_timing = false; // Karn: what goes again gives no RTT sample
    cc_.on_retransmit();
    request_output(now);
    return true;
}

// RFC 4821 §7.7: a path that silently drops packets above some size (a "black hole": a
// router whose ICMP never reaches us, a tunnel) shows as the same full-sized segment timing
// out again and again while the peer is otherwise there. After black_hole_timeouts in a row,
// what goes again goes in a 1024-byte MTU (RFC 4821 §7.2's search base, Linux's
// tcp_base_mss), each later fall halves it, never below 552 (as lower_mss_to_path). The
// timeout's own reduction and go-back stand; the larger size is tried again after
// mtu_probe_interval (try_larger_mss), and a black hole still there sends it back down.
void connection::suspect_black_hole(instant now) {
    constexpr std::uint32_t base_mtu = 1024, min_path_mtu = 552;
    const std::uint32_t headers = this->headers();
    const std::uint32_t options = tcb_.ts_ok ? 12 : 0;
    const std::uint32_t mtu = tcb_.snd_mss + headers + options;
    // Only full-sized segments fall into a black hole: a flight shorter than one is not it.
    if (flight_size() < tcb_.snd_mss || mtu <= min_path_mtu) return;
    const std::uint32_t lower = std::max(min_path_mtu, mtu > base_mtu ? base_mtu : mtu / 2);
    connection_extras& x = extras();
    if (!x.larger_mss) x.larger_mss = path_probe{tcb_.snd_mss, {}};
    x.larger_mss->at = now + config_.mtu_probe_interval;
    tcb_.snd_mss = std::uint16_t(lower - headers - options);
    sink_.note_black_hole();
}

// The interval after a fall has passed: new segments go in the size from before it again,
// once no loss is being repaired (a recovery's or a timeout's resends keep their size).
void connection::try_larger_mss(instant now) {
    path_probe& p = *extras_->larger_mss;
    if (now < p.at || tcb_.in_recovery || tcb_.retransmits != 0) return;
    tcb_.snd_mss = std::max(tcb_.snd_mss, p.mss);
    extras_->larger_mss.reset();
}

// §3.10.7 SEGMENT ARRIVES: dispatch by state.
void connection::on_segment(const segment& seg, instant now) {
    if (seg.has(wire::tcp_flags::syn) && seg.has(wire::tcp_flags::fin)) {
        drop(tcp_drop::syn_fin); // never legitimate; Linux drops it too
        return;
    }
    ++traffic_.segments_in;
    switch (state_) {
    case tcp_state::closed:
        drop(tcp_drop::closed);
        reply_rst(seg);
        return;
    case tcp_state::listen: on_listen(seg, now); return;
    case tcp_state::syn_sent: on_syn_sent(seg, now); break;
    default: on_synchronized(seg, now); break;
    }
    if (state_ != tcp_state::closed && state_ != tcp_state::listen) request_output(now);
    if (writable_due_) {
        writable_due_ = false;
        if (state_ == tcp_state::established || state_ == tcp_state::close_wait) events_.on_writable();
    }
    send_buffer_.trim(); // what the ACK emptied and the callbacks did not fill again
    settle_extras(now);
}

// On a plain instant, not by assigning optionals: GCC spills an optional<instant> to the
// stack in halves and reloads it whole, a store-forwarding stall that was half of
// endpoint_core::settle's cycles (perf annotate, tern-load at 2.8 M req/s).
std::optional<instant> connection::next_deadline() const {
    const instant next = std::min({rtx_deadline_.or_never(), delack_deadline_.or_never(),
                                   time_wait_deadline_.or_never(), persist_deadline_.or_never(),
                                   keepalive_deadline_.or_never()});
    if (next == instant::max()) return std::nullopt;
    return next;
}

seq32 reincarnation_iss(seq32 candidate, seq32 old_snd_nxt) {
    const seq32 lowest = old_snd_nxt + 65535 + 2;
    return candidate >= lowest ? candidate : lowest;
}

std::optional<wire::tcp_repr> reply_to_closed(const segment& seg) {
    if (seg.has(wire::tcp_flags::rst)) return std::nullopt; // "An incoming segment containing a RST is discarded"
    wire::tcp_repr r;
    r.src_port = seg.header.dst_port;
    r.dst_port = seg.header.src_port;
    if (seg.has(wire::tcp_flags::ack)) {
        r.seq = seg.header.ack; // <SEQ=SEG.ACK><CTL=RST>
        r.flags = wire::tcp_flags::rst;
    } else {
        r.seq = 0; // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        r.ack = (seg.seq() + seg.len()).raw();
        r.flags = wire::tcp_flags::rst | wire::tcp_flags::ack;
    }
    return r;
}

void connection::reply_rst(const segment& seg) {
    const auto r = reply_to_closed(seg);
    if (!r) return;
    ++traffic_.segments_out;
    sink_.emit(flow{{seg.dst_addr, seg.header.dst_port}, {seg.src_addr, seg.header.src_port}}, *r, {},
               wire::ecn_codepoint::not_ect);
}

} // namespace tern::tcp
