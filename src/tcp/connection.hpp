// One TCP connection, sans-IO (DESIGN.md "Layers"): it takes (segment, now), writes what it
// must send into a segment_sink, tells the application through connection_events, and
// says through next_deadline() when it next needs on_timer(now).
//
// Timers are plain deadlines (RTO / SYN retransmission, delayed ACK, TIME_WAIT, persist,
// keep-alive; timers.cpp) rather than timer_wheel hooks: the core stays a value that a
// test drives with a virtual clock, and the engine arms ONE wheel hook per connection at
// next_deadline() after every call into it (on_segment, on_timer, user calls), instead of
// five hooks per TCB.
//
// A passive open puts this connection in LISTEN and the first SYN binds it to its peer, as
// in RFC 9293 §3.10.7.2. The endpoint's listener (backlog, SYN cookies) makes a connection
// for each SYN, opens it passive and hands it that SYN: LISTEN processing here is what it
// reuses.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "tcp/rack.hpp"
#include "tcp/reassembly.hpp"
#include "tcp/rx_account.hpp"
#include "tcp/scoreboard.hpp"
#include "tcp/send_buffer.hpp"
#include "tcp/congestion.hpp"
#include "tcp/tcb.hpp"
#include "tcp/time_wait.hpp"
#include "tcp/types.hpp"
#include "tern/result.hpp"

namespace tern::tcp {

enum class open_error : std::uint8_t { not_closed };

// What only loss, reordering, a duplicate, text on a SYN or an attack (RFC 5961) needs. A
// connection makes it at the first need and frees it once it holds nothing again
// (connection::settle_extras), so that the many connections that never see any of those
// carry a pointer instead of ~150 bytes, and a segment touches fewer cache lines.
// RFC 6937 §3: Proportional Rate Reduction's counts for the recovery under way.
struct prr_state {
    std::uint32_t delivered = 0;  // prr_delivered: data the peer got since recovery began (cumulatively or SACKed)
    std::uint32_t out = 0;        // prr_out: data sent since then, retransmissions included
    std::uint32_t recover_fs = 1; // RecoverFS: the flight when it began
};

// Receive-buffer auto-tuning's measurement: from when, and from which sequence number, the
// application's intake is being counted for a round trip (connection::tune_receive_buffer).
struct receive_tuning {
    instant start;
    seq32 start_seq;
};

// After a fall of the MSS for a black hole (RFC 4821 §7.7): the size to try again, and when.
struct path_probe {
    std::uint16_t mss;
    instant at;
};

struct connection_extras {
    explicit connection_extras(std::uint32_t receive_buffer) : reassembly(receive_buffer) {}
    ~connection_extras();
    connection_extras(const connection_extras&) = delete;
    connection_extras& operator=(const connection_extras&) = delete;
    // Whether it holds nothing a fresh one would not: it can go.
    bool idle(instant now) const;

    reassembly_queue reassembly;
    sack_scoreboard scoreboard;    // what the peer SACKed above snd_una (RFC 6675 §3)
    retransmit_log retransmitted;  // what the last episode sent again and no D-SACK reported yet (RFC 3708)
    cubic_state cubic_before;      // the congestion control's state when that episode began, for an undo
    // The rest of what an undo of a needless episode restores or reads (RFC 3708 D-SACK
    // detection, RFC 4015 §3 response). Only while retransmitted is active, as are the
    // extras: here rather than in every idle connection's TCB.
    struct episode_start {
        std::uint32_t cwnd = 0;     // cwnd when the last episode began, before its reduction
        std::uint32_t ssthresh = 0; // ssthresh then
        seq32 fack;                 // highest SACKed octet at its fast retransmit: how far the segment was overtaken
        bool by_timeout = false;    // the episode began with an RTO (not reordering, but a delay)
    } before_episode;
    prr_state prr;                 // while in SACK loss recovery
    rack_state rack;               // RACK-TLP: a flight of more than one burst, or one SACKed (rack.hpp)
    std::optional<seq_range> dsack; // RFC 2883: a duplicate to report first in our next ACK
    std::vector<std::uint8_t> syn_text; // text that came on the peer's SYN, held until ESTABLISHED (§3.10.7.2)
    instant challenge_window_start{};   // RFC 5961 §7: one-second windows
    std::uint16_t challenges_in_window = 0;
    rx_account* kept = nullptr; // RCV.USER: what the application keeps (rx_account.hpp); one reference ours
    std::optional<receive_tuning> tuning; // while a sender fills the window and the buffer may grow
    std::optional<path_probe> larger_mss; // while segments are smaller for a suspected black hole
};

// What a connection keeps of its connection_options: 28 bytes where those take 56 (the
// send buffer's size is the send buffer's own; an unset TSval offset is 0). Keep-alive
// times are kept in milliseconds, a finer one rounded up, a longer one than 2^32 ms (49
// days) cut to that.
struct connection_settings {
    explicit connection_settings(const connection_options& o);
    duration keepalive_idle() const { return std::chrono::milliseconds(keepalive_idle_ms); }
    duration keepalive_interval() const { return std::chrono::milliseconds(keepalive_interval_ms); }

    std::uint32_t receive_buffer;     // RCV.BUFF now, which auto-tuning grows (tune_receive_buffer)
    std::uint32_t receive_buffer_max; // auto-tuning's bound; 0: off
    std::uint32_t ts_offset;          // added to the ms clock for TSval
    std::uint32_t keepalive_idle_ms = 0;
    std::uint32_t keepalive_interval_ms = 0;
    std::uint8_t keepalive_count = 0;
    bool keepalive = false;           // RFC 1122 §4.2.3.6: off unless asked for
    bool no_delay;
    std::optional<congestion_algorithm> congestion;

    bool operator==(const connection_settings&) const = default;
};

class connection {
public:
    connection(const tcp_config& config, const connection_options& options, segment_sink& sink,
               connection_events& events);

    // RFC 9293 §3.10.1 OPEN. Active: sends a SYN to f.remote. Passive: waits in LISTEN on
    // `local`; with `remote` the foreign socket is fully specified, and flow_id() is that
    // flow from the open on, also when the SYN is dropped or the handshake fails (the owner
    // hands it only that flow's segments). `iss` comes from the engine (RFC 6528).
    status<open_error> open_active(const flow& f, seq32 iss, instant now);
    status<open_error> open_passive(const endpoint& local, seq32 iss, instant now,
                                    std::optional<endpoint> remote = std::nullopt);

    // §3.10.2 SEND: copies what fits in the send buffer; returns how many bytes that was.
    result<std::size_t, send_error> send(std::span<const std::uint8_t> bytes, instant now);
    // SEND without a copy: the buffer `owner` (opaque; the sink's release() gets it back once
    // acknowledged) holding `bytes` is taken whole, or not at all (0: no room; the caller
    // keeps it and hears on_writable).
    result<std::size_t, send_error> send_owned(std::span<const std::uint8_t> bytes, void* owner, instant now);
    // §3.10.4 CLOSE, as RFC 9293 means it: queued data goes out, then our FIN, and we keep
    // receiving until the peer's FIN (a half-close: shutdown(SHUT_WR)).
    status<close_error> shutdown(instant now);
    // Linux's close(): shutdown, and the application reads no more. RFC 1122 §4.2.2.13
    // allows this "half-duplex" close: data that arrives afterwards is not delivered and
    // resets the connection (RFC 2525 §2.17).
    status<close_error> close(instant now);
    // §3.10.5 ABORT: RST where the peer knows us, then CLOSED at once (no TIME_WAIT).
    void abort(instant now);
    // A passive connection in SYN-RECEIVED whose peer completed another handshake for the
    // same 4-tuple (the endpoint's SYN cookie, answered before this connection was made):
    // back to LISTEN without a segment, as after an RST (RFC 9293 §3.10.7.4), so that its
    // owner lets it go and the cookie's connection takes the 4-tuple.
    void give_way();
    // SYN-SENT only: the next hop is unreachable (ARP failed); CLOSED with that reason.
    void unreachable();
    // An ICMP destination unreachable (RFC 792) about a segment of ours that started at
    // `quoted_seq`; `mtu` is the next hop's for fragmentation needed (0: not said). Taken
    // only for a segment in flight (RFC 5927 §4.1). In SYN-SENT it ends the open, refused
    // for protocol or port unreachable, unreachable for net or host (as Linux does);
    // fragmentation needed lowers the MSS to the path (RFC 1191). Returns whether it acted.
    bool on_icmp_unreachable(std::uint8_t code, std::uint16_t mtu, seq32 quoted_seq, instant now);

    // §3.10.7 SEGMENT ARRIVES. The segment must belong to this connection's flow (or, in
    // LISTEN, to its local endpoint).
    void on_segment(const segment& seg, instant now);

    // Deferred output (the endpoint's choice; DESIGN.md "The engine loop", step 5): a
    // segment, send, shutdown or close then only notes that output is due, and the owner
    // calls flush_output once it has made every call of the round (the endpoint: in
    // after_burst, after all the round's RX bursts and pollers), so that a connection
    // sends its data, FIN and ACK together: one ACK per connection per round, and the
    // head and body an application writes apart leave as one segment. Timers, a SYN,ACK
    // answering a SYN in LISTEN, and RSTs still send at once.
    void defer_output(bool on) { defer_output_ = on; }
    bool output_due() const { return output_due_; }
    void flush_output(instant now);
    // RFC 4987 §3.6: the ACK `ack` completed a handshake whose SYN,ACK was a SYN cookie
    // (syn_cookie.hpp) sent from `local`; no state was kept. The connection starts in
    // ESTABLISHED with the options the cookie recovered, then processes `ack` itself (it
    // may carry data or a FIN). `iss` is the cookie: SEG.ACK - 1.
    status<open_error> open_from_cookie(const endpoint& local, const segment& ack, const wire::tcp_options& peer,
                                        instant now);
    // RFC 6191 §2: this connection is in TIME-WAIT and `seg` is a SYN that may end it and
    // open a new incarnation of the 4-tuple (newer TSval, or without timestamps a sequence
    // number above RCV.NXT). on_segment then goes to CLOSED (close_reason::normal) and
    // ended_by_new_syn() says so: the owner passes the SYN on to its listener.
    bool syn_may_reuse(const segment& seg) const;
    bool ended_by_new_syn() const { return ended_by_new_syn_; }
    // For an owner that keeps TIME-WAIT apart (time_wait.hpp): in TIME-WAIT with no output
    // due, time_wait_state() is the record that stands for this connection from now on, and
    // leave_time_wait() takes the connection to CLOSED, sending nothing, and tells
    // on_closed(normal): for the application the connection is over (as a socket is after
    // close() in Linux, whose TIME-WAIT is a kernel record too).
    time_wait_record time_wait_state() const;   // IPv4
    time_wait_record6 time_wait_state6() const; // IPv6
    void leave_time_wait();
    // Parking (DESIGN.md "Memory"): an idle connection whose owner lets it (the endpoint:
    // listen_options::park_idle) gives up everything but a `parked` record, and a connection
    // made again from that record goes on as this one would have. Parkable: a passive
    // connection in ESTABLISHED with no timer armed (nothing in flight, no ACK owed, no
    // keep-alive), nothing in the send buffer, no extras, nothing to tell the application,
    // a TCB idle_tcb holds, the settings its listener gave it (`shared`, kept once for them
    // all) and the ts_offset its owner gives its flow; what the record leaves out is then all
    // empty, zero or known. park() empties this connection (it is only destroyed after).
    struct parked;
    struct listener_share;
    bool parkable(const listener_share& shared, std::uint32_t ts_offset) const;
    parked park();
    connection(const tcp_config& config, segment_sink& sink, connection_events& events, const flow& f, parked&& p,
               const listener_share& shared, std::uint32_t ts_offset);
    // Fires every timer due at `now`.
    void on_timer(instant now);
    // The earliest instant at which on_timer has work; none when idle.
    std::optional<instant> next_deadline() const;

    tcp_state state() const { return state_; }
    const tcb& control_block() const { return tcb_; }
    const congestion_control& congestion() const { return cc_; }
    // The algorithm this connection uses (connection_options::congestion, else tcp_config's).
    congestion_algorithm cc_algorithm() const { return settings_.congestion.value_or(config_.congestion); }
    const flow& flow_id() const { return flow_; }
    segment_sink& sink() const { return sink_; }
    std::uint32_t send_space() const { return send_buffer_.space(); }
    std::uint64_t drops(tcp_drop d) const { return rare_ ? rare_->drops[std::size_t(d)] : 0; }
    // The counts of drops and losses, on the heap from the first (see rare_).
    struct rare_counts {
        loss_counts loss{};
        std::array<std::uint64_t, tcp_drop_count> drops{};
    };
    // Whether drops or losses were ever counted (they are all zero otherwise).
    bool has_rare_counts() const { return rare_ != nullptr; }
    connection_stats stats() const;
    // The loss counts alone, without making them (all zero before the first loss).
    const loss_counts& losses() const {
        static constexpr loss_counts none{};
        return rare_ ? rare_->loss : none;
    }
    tcp_info info() const; // TCP_INFO
    // RCV.USER (RFC 1122 §4.2.3.3): received bytes the application keeps (rx_buffer), which
    // the window leaves room for. The account is made at the first keep and shared with the
    // buffers; it goes with the extras once they are all released.
    rx_account& application_account();
    std::uint32_t application_held() const { return extras_ && extras_->kept ? extras_->kept->bytes() : 0; }
    // The application released kept bytes: when that lets the window open by RFC 1122
    // §4.2.3.3's step, it opens, an ACK is due to say so, and the answer is true.
    bool reopen_window(instant now);
    // Bytes of the buffers and tables this connection allocates on demand: the send ring,
    // the connection_extras with the reassembly ring, the SACK and recovery tables and text
    // held from a SYN in it, drop counters. Back to 0 (drop counters aside) on an idle
    // connection whose data is all acknowledged and delivered.
    std::size_t heap_bytes() const;
    const sack_scoreboard& scoreboard() const { return extras_ ? extras_->scoreboard : no_scoreboard; }
    bool has_extras() const { return extras_ != nullptr; }
    // RACK-TLP's state, when the connection holds one (rack.hpp).
    const rack_state* loss_detection() const { return extras_ ? &extras_->rack : nullptr; }

private:
    // ---- input.cpp: RFC 9293 §3.10.7 ----
    void on_listen(const segment& seg, instant now);
    void on_syn_sent(const segment& seg, instant now);
    void on_synchronized(const segment& seg, instant now);
    bool predicted(const segment& seg) const;
    void on_predicted(const segment& seg, instant now);
    void note_peer_alive(instant now);
    void accepted_steps(const segment& seg, seq32 seq_as_sent, bool syn_as_sent, instant now);
    void text_and_fin(const segment& seg, instant now);
    bool check_timestamp(const segment& seg, instant now);
    void update_ts_recent(const segment& seg, instant now);
    bool seq_acceptable(const segment& seg, instant now);
    bool within_window(const segment& seg) const;
    void trim_to_window(segment& seg);
    bool check_rst(const segment& seg, seq32 seq_as_sent, instant now);
    bool check_syn(bool syn, instant now);
    void challenge_ack(instant now);
    bool check_ack(const segment& seg, instant now);
    void process_text(const segment& seg, instant now);
    void check_fin(const segment& seg, instant now);
    void negotiate_options(const wire::tcp_options& peer, instant now);
    void update_window(const segment& seg);
    void on_ack_of_new_data(const segment& seg, instant now);
    void on_duplicate_ack(const segment& seg, instant now);
    void on_sack(instant now);
    void enter_recovery(instant now);
    void proportional_reduction(std::uint32_t delivered);
    void on_ecn_echo();
    void note_ecn(const segment& seg);
    void on_partial_ack(std::uint32_t acked, instant now);
    void begin_episode(bool by_timeout);
    void on_dsack(seq_range d);
    // ---- RACK-TLP (RFC 8985; rack.hpp): the connection's side ----
    bool rack_on() const { return config_.rack && tcb_.sack_ok; }
    bool rack_engaged() const { return extras_ && extras_->rack.engaged(); }
    void start_send_log();
    void rack_delivered(const segment& seg, std::span<const wire::sack_block> sacks, instant now);
    void rack_after_ack(const segment& seg, seq32 una_before, std::optional<seq_range> dsack, bool sacked_new,
                        instant now);
    void rack_detect(bool dsack, instant now);
    void tlp_on_ack(const segment& seg, seq32 una_before, std::optional<seq_range> dsack, bool sacked_new);
    // Every un-SACKed octet below it is lost: RFC 6675's IsLost or RACK, the higher.
    std::optional<seq32> lost_end() const;
    void deliver(std::span<const std::uint8_t> bytes, void* packet, instant now);
    void tune_receive_buffer(std::uint32_t segment_bytes, instant now);
    void advance_rcv_nxt(std::uint32_t n);
    std::uint32_t receive_space() const;
    void open_window_by_step();
    void process_syn_text(const segment& seg, instant now);
    segment after_syn_text(const segment& seg) const;
    void reach_fin(instant now);
    void drop(tcp_drop d) { ++rare().drops[std::size_t(d)]; }
    loss_counts& count_losses() { return rare().loss; } // makes them: for counting

    std::optional<send_error> send_refused() const;

    // connection_extras: made by extras(), read through the accessors below (which stand in
    // for an empty one), and freed by settle_extras at the end of each call from outside.
    connection_extras& extras() {
        if (!extras_) extras_ = std::make_unique<connection_extras>(settings_.receive_buffer);
        return *extras_;
    }
    void settle_extras(instant now) {
        if (extras_ && extras_->idle(now)) extras_.reset();
    }
    static const sack_scoreboard no_scoreboard;
    std::uint32_t dup_thresh() const { return scoreboard().dup_thresh(); }
    bool has_syn_text() const { return extras_ && !extras_->syn_text.empty(); }
    bool holds_out_of_order() const { return extras_ && !extras_->reassembly.empty(); }
    void hold_syn_text(std::span<const std::uint8_t> payload);

    // ---- output.cpp ----
    void output(instant now);
    void request_output(instant now);
    bool lower_mss_to_path(std::uint16_t mtu, instant now);
    void suspect_black_hole(instant now);
    void try_larger_mss(instant now);
    void send_syn(instant now);
    bool is_syn_again(const segment& seg) const;
    void resend_syn_ack(const segment& seg, instant now);
    void send_ack(instant now);
    void reply_rst(const segment& seg);
    void emit(std::uint8_t flags, seq32 seq, const tx_payload& payload, instant now,
              wire::ecn_codepoint ecn = wire::ecn_codepoint::not_ect);
    void note_emitted(std::uint8_t flags, const tx_payload& payload);
    bool send_one(instant now);
    bool send_at_snd_nxt(std::uint32_t cwnd_room, instant now);
    bool unsent_at_snd_nxt() const;
    [[gnu::cold]] bool send_in_recovery(instant now); // cold: send_one stays small enough to inline
    std::uint32_t retransmit(seq32 seq, std::uint32_t max_len, instant now);
    std::uint32_t congestion_room() const;
    std::uint32_t emit_data(seq32 seq, std::uint32_t max_len, instant now);
    // Bytes of payload the next segment may carry. RFC 9293 §3.7.1: the MSS bounds data
    // plus TCP options beyond the fixed header, and snd_mss already leaves out the
    // timestamps; the SACK blocks our ACKs carry (RFC 2018 §3: NOP, NOP, kind, length, 8
    // bytes a block, as many as fit in 40 bytes of options) come off it too.
    std::uint32_t segment_room() const { return sack_blocks_due() ? segment_room_with_sacks() : tcb_.snd_mss; }
    std::uint32_t segment_room_with_sacks() const;
    std::size_t sack_option(std::array<seq_range, wire::tcp_max_sack_blocks>& out) const;
    // Whether our next ACK carries SACK blocks (sack_option gives at least one): SACK was
    // agreed, and a duplicate is to be reported or data is held out of order.
    bool sack_blocks_due() const {
        return tcb_.sack_ok && extras_ && (extras_->dsack || !extras_->reassembly.empty());
    }
    std::uint16_t advertised_window(bool syn) const;
    std::uint32_t ts_clock(instant now) const;
    seq32 data_end() const { return buffer_seq_ + send_buffer_.size(); } // one past the last buffered byte
    bool fin_sent() const;
    bool fin_acked() const;

    // ---- timers.cpp ----
    void arm_rto(instant now) {
        rtx_deadline_ = now + tcb_.rto;
        tcb_.rtx_for = rtx_timer::rto;
    }
    // RFC 8985 §7.2, after new data went out or an ACK of new data: the probe timer, when it
    // would fire before the RTO. Inline, as it runs for every request, whose flight of one
    // segment it leaves at once to the RTO: the probe of such a flight waits for a
    // worst-case delayed ACK too (2 SRTT + 200 ms), and the RTO comes first unless RTTVAR
    // exceeds 50 ms + SRTT / 4 (min_rto 200 ms), where the RTO it leaves was the rule
    // before RACK-TLP.
    void schedule_probe(instant now) {
        const bool one_segment = flight_size() <= tcb_.snd_mss;
        if ((one_segment && tcb_.rtx_for == rtx_timer::rto) || tcb_.rtx_for == rtx_timer::reorder || !rack_on()) return;
        const duration pto = rack_state::probe_timeout(tcb_.srtt, one_segment);
        if (tcb_.rtx_for == rtx_timer::rto && rtx_deadline_ && *rtx_deadline_ <= now + pto) return;
        arm_probe(now, pto);
    }
    void arm_probe(instant now, duration pto);
    void on_rtx_timer(instant now);
    void on_reorder_timer(instant now);
    void on_probe_timer(instant now);
    // RFC 8985 §6.1: RACK keeps when each octet in flight was last sent, in a log once a
    // flight is more than one burst (rack.hpp). Called for every data segment sent, before
    // snd_max moves. The first burst into an empty flight needs nothing: a request's.
    void note_sent(seq32 left, seq32 right, instant now) {
        if (!extras_ && tcb_.snd_una == tcb_.snd_max) return;
        if (rack_on()) log_sent(left, right, now);
    }
    // When a flight without a log was sent: its first segment was the one RFC 6298 timed
    // (nothing is timed when a flight empties, as the ACK that empties it covers the timed
    // segment; the first new data sent then is timed), and rtt_start stays until the next
    // timing, which is at a later burst, when the log is made.
    instant flight_sent_at() const { return tcb_.rtt_start; }
    void log_sent(seq32 left, seq32 right, instant now);
    std::uint32_t flight_size() const { return seq_distance(tcb_.snd_una, tcb_.snd_max); }
    void rtt_sample(duration r);
    std::optional<duration> rtt_from_echo(const segment& seg, instant now) const;
    void on_rto(instant now);
    void schedule_ack(instant now);
    void enter_time_wait(instant now);
    void limit_fin_wait_2(instant now);
    void update_persist(instant now);
    void update_keepalive(instant now);
    void on_keepalive(instant now);
    void on_persist(instant now);
    duration persist_interval() const;
    void to_closed(close_reason why);
    void back_to_listen();
    tcb fresh_tcb(seq32 iss) const;
    static connection_settings own_settings(connection_settings shared, const connection_settings& own);
    // The fixed IP and TCP headers of the flow's family (IPv4 until the flow is known):
    // what the MTU holds beside a segment's payload and options.
    std::uint16_t headers() const { return flow_.local.addr.is_v4() ? 40 : 60; }
    template <class Record>
    void fill_time_wait(Record& r) const; // all of a TIME-WAIT record but its key

    // Members in the order a segment touches them, the ones every segment or send reads
    // or writes first: a connection's state is cold when its next segment comes (a thousand
    // busy connections do not fit a core's L2), and each cache line it spans is a miss.
    const tcp_config& config_;
    segment_sink& sink_;
    connection_events& events_;
    tcp_state state_ = tcp_state::closed;
    bool passive_ = false;       // opened by LISTEN: an RST in SYN-RECEIVED returns there (§3.10.7.4)
    bool read_closed_ = false;   // close() (not shutdown()): data that arrives now resets
    bool want_writable_ = false; // send() was short: tell the app when space comes back
    bool writable_due_ = false;  // space came back during this segment: on_writable at its end
    bool defer_output_ = false;  // see defer_output()
    bool output_due_ = false;    // deferred output waits for flush_output
    bool ended_by_new_syn_ = false; // TIME-WAIT ended by a newer SYN (RFC 6191)
    flow flow_{};
    // ECN (RFC 3168 §6.1.2): snd_max at the last reduction for ECE, read while
    // tcb_.ecn_reduced. Here rather than in the TCB, in the word the 36-byte flow leaves:
    // 8 bytes less a connection.
    seq32 ecn_recover_;
    tcb tcb_{};
    congestion_control cc_;
    send_buffer send_buffer_;
    // The timers (timers.cpp); next_deadline reads all five after every call.
    deadline rtx_deadline_;       // RTO, SYN or SYN-ACK retransmission
    deadline delack_deadline_;    // delayed ACK (RFC 9293 §3.8.6.3)
    deadline time_wait_deadline_; // 2·MSL (RFC 9293 §3.10.7.4); in FIN-WAIT-2 after close(), fin_timeout
    deadline persist_deadline_;   // zero-window probe (RFC 9293 §3.8.6.1)
    deadline keepalive_deadline_; // RFC 1122 §4.2.3.6
    std::uint8_t persist_backoff_ = 0;    // probes sent while the window stayed shut
    std::uint8_t persist_unanswered_ = 0; // probes sent since the peer's last acceptable ACK
    std::uint8_t keepalive_probes_ = 0;   // unanswered keep-alive probes
    // Here to fill the word after the three above; traffic_, on the same cache line, is
    // written by every segment too.
    seq32 buffer_seq_;          // sequence number of send_buffer_'s first byte (iss + 1 + bytes acked)
    traffic_counts traffic_{};
    connection_settings settings_;

    // Seldom touched: the handshake, loss recovery, attacks.
    std::uint16_t listen_port_ = 0; // LISTEN's: the local port of the flow a SYN makes (§3.10.7.2)
    std::unique_ptr<connection_extras> extras_; // see connection_extras
    // The counts of drops and losses are made at the first: most connections have none, and
    // an idle connection is 32 bytes smaller without room for the losses.
    rare_counts& rare() {
        if (!rare_) rare_ = std::make_unique<rare_counts>();
        return *rare_;
    }
    std::unique_ptr<rare_counts> rare_;
};

// RFC 9293 §3.10.7.1: the reply to a segment for which no connection exists (CLOSED).
// None for an incoming RST. The reply goes from seg's destination back to its source.
std::optional<wire::tcp_repr> reply_to_closed(const segment& seg);

// RFC 6191 §2 (input.cpp): `seg` is a SYN that may end TIME-WAIT and open a new incarnation
// of the 4-tuple. Shared by the connection and its TIME-WAIT record (time_wait.cpp).
bool syn_opens_new_incarnation(const segment& seg, bool ts_ok, std::uint32_t ts_recent, seq32 rcv_nxt,
                               const tcp_config& config);

// RFC 6191 §2 / RFC 1122 §4.2.2.13: the ISS of a connection that replaces one in TIME-WAIT
// must lie above the old SND.NXT, so that the peer can tell new segments from old ones.
// `candidate` (RFC 6528) is kept when it is at least one unscaled window beyond it (as
// Linux does: old SND.NXT + 65535 + 2); otherwise that is the ISS.
seq32 reincarnation_iss(seq32 candidate, seq32 old_snd_nxt);

// RFC 7323 §2.3: the window shift we offer for a receive buffer of this size.
std::uint8_t window_shift_for(std::uint32_t buffer);
// The largest receive buffer a connection may have: what its window scale must cover.
inline std::uint32_t largest_receive_buffer(const connection_options& o) {
    return std::max(o.receive_buffer, o.receive_buffer_max);
}
inline std::uint32_t largest_receive_buffer(const connection_settings& s) {
    return std::max(s.receive_buffer, s.receive_buffer_max);
}

// What a listener's connections share of their record (connection::park): the settings and
// the send buffer's size its options give each, and its port. Kept once, with the listener;
// for active connections (connect_options::park_idle) once for all opened with the same
// options, port 0 and not passive.
struct connection::listener_share {
    listener_share(const connection_options& options, std::uint16_t port, bool opened_passive = true)
        : settings(options), send_capacity(options.send_buffer), listen_port(port),
          ts_offset_by_flow(!options.ts_offset), passive(opened_passive) {}
    bool operator==(const listener_share&) const = default;
    connection_settings settings; // but receive_buffer and ts_offset, which are each connection's own
    std::uint32_t send_capacity;
    std::uint16_t listen_port;
    bool ts_offset_by_flow; // ts_offset is the owner's for the flow (RFC 7323 §7.1), not the options'
    bool passive;
};

// An idle connection's record (connection::park): what a connection carries that is not
// empty, zero or known from idleness (idle_tcb) or from its listener (listener_share, and
// ts_offset, which its owner gives by flow) when it is idle. Its 4-tuple is its owner's key.
// 128 bytes: the 32-bit words after idle_tcb's, then the two pointers. The traffic counts
// are kept in fewer bits than traffic_counts has (parkable: 2^32 segments, 2^48 bytes).
struct connection::parked {
    idle_tcb control;
    std::uint32_t receive_buffer = 0; // connection_settings' own, which auto-tuning grows
    seq32 ecn_recover;
    std::uint32_t segments_in = 0;
    std::uint32_t segments_out = 0;
    std::uint32_t bytes_in_low = 0, bytes_out_low = 0;
    std::uint16_t bytes_in_high = 0, bytes_out_high = 0;
    congestion_control cc;
    std::unique_ptr<rare_counts> rare;

    static constexpr std::uint64_t most_bytes = (std::uint64_t(1) << 48) - 1;

    std::uint64_t drops(tcp_drop d) const { return rare ? rare->drops[std::size_t(d)] : 0; }
    connection_stats stats() const;
    // A record with the counts in their fewer bits (traffic() gives them back). Made whole
    // in one expression: built empty and then assigned, it took park_unpark from 164 to
    // 184 ns (bench_tcp).
    static parked make(const idle_tcb& control, std::uint32_t receive_buffer, seq32 ecn_recover,
                       const traffic_counts& t, congestion_control&& cc, std::unique_ptr<rare_counts>&& rare) {
        return {control,
                receive_buffer,
                ecn_recover,
                std::uint32_t(t.segments_in),
                std::uint32_t(t.segments_out),
                std::uint32_t(t.bytes_in),
                std::uint32_t(t.bytes_out),
                std::uint16_t(t.bytes_in >> 32),
                std::uint16_t(t.bytes_out >> 32),
                std::move(cc),
                std::move(rare)};
    }
    traffic_counts traffic() const {
        return {segments_in, segments_out, std::uint64_t(bytes_in_high) << 32 | bytes_in_low,
                std::uint64_t(bytes_out_high) << 32 | bytes_out_low};
    }
};

} // namespace tern::tcp
