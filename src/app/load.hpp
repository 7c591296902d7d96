// The load generator behind tern-load: one load_generator per engine drives that engine's
// tcp_endpoint through app_events, on the engine's core (engine::add_poller runs its
// schedule once per round). Workloads (issue 4):
//
//   cps         new connections at a target rate; each does N HTTP GETs, then the client or
//               the server closes first
//   rps         C persistent connections; GETs at a constant target rate, open loop: the
//               latency of a request counts from its intended send time (wrk2), so a stalled
//               server shows as latency instead of as fewer samples (coordinated omission).
//               The schedule starts when the engine's first connection is established.
//               closed_loop: each connection sends its next GET when the last one returns
//   http        rps, closed loop unless a rate is given (wrk's default behaviour)
//   ping-pong   C connections each with one small message outstanding to an echo server
//   throughput  bulk upload, download or both on each of C connections
//
// Counters are written by the engine thread only and read by any thread with relaxed
// atomics (the per-second progress line); the latency histograms are read once the engines
// have stopped.
#pragma once

#include <array>
#include <bit>
#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/http_head.hpp"
#include "core/engine.hpp"
#include "core/fifo.hpp"
#include "core/histogram.hpp"
#include "core/lazy_string.hpp"
#include "tern/config.hpp"
#include "tern/tcp.hpp"
#include "tern/time.hpp"

namespace tern::app {

// Events at a constant rate from `start`: event k is intended at start + k·period (computed
// from k, so rounding never accumulates), at most `limit` of them. Period zero: all `limit`
// are due at start. The default schedule has no events.
class rate_schedule {
public:
    rate_schedule() = default;
    rate_schedule(instant start, duration period, std::uint64_t limit = std::numeric_limits<std::uint64_t>::max())
        : start_(start), period_(period), limit_(limit) {}
    // `per_second` events per second (<= 0: none).
    static rate_schedule per_second(instant start, double per_second,
                                    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max());

    // The intended time of event k.
    instant intended(std::uint64_t k) const { return start_ + period_ * std::int64_t(k); }
    // Whether the next event is due at `now` (its intended time has come) and exists.
    bool due(instant now) const { return taken_ < limit_ && intended(taken_) <= now; }
    // The intended time of the next event, if there is one.
    std::optional<instant> next() const {
        return taken_ < limit_ ? std::optional<instant>(intended(taken_)) : std::nullopt;
    }
    // Takes the next event (due or not) and returns its intended time.
    instant take() { return intended(taken_++); }
    // Takes every event due at `now` at once (O(1), however many) and returns how many.
    std::uint64_t skip_due(instant now);
    std::uint64_t taken() const { return taken_; }
    std::uint64_t limit() const { return limit_; }

private:
    instant start_{};
    duration period_{};
    std::uint64_t limit_ = 0;
    std::uint64_t taken_ = 0;
};

// Reads HTTP/1.1 responses off a byte stream, one after another (RFC 9112 §2.1, §6.3):
// status line, header fields, then a body of Content-Length bytes (no Content-Length: none,
// as for the GETs we send the servers always give one; chunked bodies are refused).
// A head that arrives whole is read where it lies; one split across pieces is held until
// its end is in. Wherever the stream is split, the same responses (or the same error) come
// out. After an error the stream cannot be read on: the caller drops the connection.
class http_response_reader {
public:
    struct response {
        unsigned status = 0;
        bool close = false; // "Connection: close": the server closes after it
    };
    struct step {
        std::size_t used = 0;              // bytes of the input consumed
        std::optional<response> complete;  // a response ended within them
        std::string_view error;            // not empty: the stream is not HTTP we can read
    };
    static constexpr std::size_t max_head = 16 * 1024;
    struct said { // what a head says
        response r;
        std::uint64_t body = 0; // bytes of body after it
    };
    using memo = http::head_memo<said>;

    // Consumes input up to the end of at most one response. With a memo (shared by the
    // readers of one engine), a head that arrives whole and is the one the memo holds is
    // not read again.
    step feed(std::string_view in, memo* heads = nullptr);
    bool idle() const { return head_.empty() && body_left_ == 0; }

private:
    lazy_string head_; // a head split across pieces, until its end is in
    std::uint64_t body_left_ = 0; // of the body of current_; 0: reading a head
    response current_;
};

enum class workload : std::uint8_t { cps, rps, http, ping_pong, throughput };
enum class bulk_direction : std::uint8_t { upload, download, both };

std::string_view to_string(workload w);
std::optional<workload> workload_from(std::string_view name);

// Source addresses of one family, `count` from `first` up: IPv4's are the engine's extra
// addresses (engine_config::extra_addresses), IPv6's some of its own (engine_config::ipv6).
struct source_range {
    ip_addr first;
    std::uint32_t count = 0;

    source_range() = default;
    source_range(ipv4_range r) : first(r.first), count(r.count) {} // NOLINT: implicit, as it was one
    source_range(ip_addr f, std::uint32_t n) : first(f), count(n) {}
    // The i-th address: `first` plus i in its last 32 bits.
    ip_addr at(std::uint32_t i) const {
        if (first.is_v4()) return ipv4_addr{first.v4().value + i};
        ipv6_addr a = first.v6();
        std::uint32_t low = low32(a) + i;
        for (int k = 15; k >= 12; --k, low >>= 8) a.bytes[std::size_t(k)] = std::uint8_t(low);
        return a;
    }
    // The i for which at(i) is `a`, if the range holds it.
    std::optional<std::uint32_t> index_of(const ip_addr& a) const {
        if (count == 0 || a.is_v4() != first.is_v4()) return std::nullopt;
        const std::uint32_t i = a.is_v4() ? a.v4().value - first.v4().value : low32(a.v6()) - low32(first.v6());
        if (i < count && at(i) == a) return i;
        return std::nullopt;
    }

private:
    static std::uint32_t low32(const ipv6_addr& a) {
        return std::uint32_t(a.bytes[12]) << 24 | std::uint32_t(a.bytes[13]) << 16 | std::uint32_t(a.bytes[14]) << 8 |
               a.bytes[15];
    }
};

struct load_options {
    workload kind = workload::rps;
    ip_addr target;
    std::uint16_t target_port = 80;
    // Source addresses (empty: the engine's address) and ports (first == 0: ephemeral).
    source_range sources;
    std::uint16_t source_port_first = 0, source_port_last = 0;
    std::uint32_t connections = 1;        // concurrent (rps, http, ping-pong, throughput); cap for cps
    double rate = 0;                      // cps: connections/s; rps/http: requests/s; 0: closed loop
    duration ramp{};                      // persistent connections open evenly over this long
    // cps: connections still in their handshake at most (per engine). A server that falls
    // behind, or stalls, leaves our SYNs unanswered: beyond this many, opens are missed
    // (counted) rather than sent, so that a slow server meets a bounded queue of SYNs and
    // not a storm of their retransmissions. It bounds the rate at max_handshakes / the
    // handshake's round trip (5 M/s at 200 us). Measured against tern-server over memif at
    // 1 M conn/s offered: 4096 carried 413k (tern-server's SYN backlog, 1024, overflowed
    // into 3 M cookies), 1024 575k, 256 801k; but at 250-340k offered 256 made a moment's
    // stall of the server miss 0.5% of the opens, where 1024 missed none: 1024, the size of
    // tern-server's SYN backlog, is the default.
    std::uint32_t max_handshakes = 1024;
    // cps: how late an open held back (the engine behind on its input, the caps reached)
    // may still be made; later ones are missed (load.cpp, open_due).
    duration open_grace = std::chrono::milliseconds(25);
    std::uint32_t requests_per_connection = 1; // cps
    bool client_closes = true;            // cps: who closes first
    std::uint32_t pipeline = 16;          // open loop: most requests outstanding on one connection
    std::size_t message_size = 64;        // ping-pong
    bulk_direction direction = bulk_direction::upload;
    // throughput: the bulk data is one buffer of the engine's pool, filled once, and every
    // send refers to it (stream::share) rather than copying it into the send buffer; the
    // segments chain it where the port sends multi-segment frames (like iperf3 -Z).
    bool zero_copy = false;
    std::string host = "tern";            // HTTP Host header
    std::string path = "/";
    tcp::connect_options connect;
};

// Counters of one engine's generator (index: load_counter).
enum class load_counter : std::uint8_t {
    connects,      // connect() calls that opened a connection
    established,
    completed,     // connections that did all they were to and closed normally
    requests,      // requests (or ping-pong messages) sent
    responses,     // answered (any status)
    bytes_in,      // payload received
    bytes_out,     // payload handed to TCP
    retransmits,   // of connections that closed
    opens_missed,  // cps: opens the rate asked for that were not made (the cap of open
                   // connections or of handshakes, the engine behind on its input or
                   // output, the pause after connect() failed): fewer conn/s, shown
    // opens_missed by cause; the five add up to it. An open is missed when it waited more
    // than open_grace: what the rounds meanwhile said is the cause.
    missed_late,   // no round came in time (the thread off its CPU, or a round that ran long)
    missed_behind, // the engine was behind on its input or output (engine::congested)
    missed_capped, // the cap of open connections or of handshakes was reached
    missed_round,  // past the limit of opens in one round, round after round
    missed_paused, // the pause after connect() failed
    refused,       // errors from here on
    reset,
    timed_out,
    unreachable,   // ARP failed for the target (or gateway)
    bad_status,    // HTTP status outside 2xx/3xx
    protocol,      // a response we could not parse; the connection is aborted
    connect_failed,// connect() itself failed (no free port, table full)
    closed_early,  // the peer closed (normally) while a request was unanswered
    overflow,      // open loop: due requests dropped because the backlog was full
};
inline constexpr std::size_t load_counter_count = 23;
inline constexpr std::size_t first_error_counter = std::size_t(load_counter::refused);
std::string_view to_string(load_counter c);

using load_totals = std::array<std::uint64_t, load_counter_count>;
load_totals difference(const load_totals& a, const load_totals& b);
std::uint64_t errors(const load_totals& t);

// What the source addresses (--ip and --source-ip) and ports can carry to one target: a
// connection is one 4-tuple, so `tuples` of them at once at the most, and, in cps where we
// close first, each keeps its tuple for 2·MSL in TIME-WAIT. The text says what cannot be
// had and what to change; empty when the options fit. `refuse` is set when the run could
// never do what it asks (more persistent connections than tuples); otherwise the text is
// a warning: the rate beyond what the tuples carry shows as failed connects and missed opens.
struct source_budget {
    std::uint64_t tuples = 0;
    std::string problem;
    bool refuse = false;
};
source_budget check_sources(const load_options& o, duration msl);

class load_generator final : public tcp::app_events {
public:
    // Registers itself as a poller of `eng`; `measuring` says when latencies are recorded
    // (false during the warm-up). Engine `index` of `engines` takes its share of the rates
    // and connections, and its own slice of the source ports.
    load_generator(engine& eng, tcp::tcp_endpoint& ep, const load_options& options, std::size_t index,
                   std::size_t engines, const std::atomic<bool>& measuring);
    ~load_generator();
    load_generator(const load_generator&) = delete;
    load_generator& operator=(const load_generator&) = delete;

    // Any thread.
    std::uint64_t get(load_counter c) const { return counters_[std::size_t(c)].load(std::memory_order_relaxed); }
    load_totals totals() const;
    std::uint64_t open_connections() const { return open_.load(std::memory_order_relaxed); }
    // Whether the first opens are made (what they need is there: ready_to_start), or will
    // never be (stop_opening). Any thread; the run's clock starts once every engine's is.
    bool started() const { return started_.load(std::memory_order_relaxed); }
    // On the engine's thread, or once it has stopped: connections of ours, connecting or not;
    // and of them those parked with nothing of ours outstanding, kept in 8 bytes (slot).
    std::size_t live_connections() const { return live_count_; }
    std::size_t idle_connections() const { return idle_count_; }
    // Retransmissions of the connections still open, as last sampled (a few connections
    // each round on the engine).
    std::uint64_t open_retransmits() const { return live_rtx_.load(std::memory_order_relaxed); }
    // Only once the engine has stopped: latency in ns (request, or connect for cps).
    const histogram& latency() const { return latency_; }
    const histogram& connect_latency() const { return connect_latency_; }
    // Only once the engine has stopped: the same, one histogram per second of measured time
    // (second 0 starts when this engine first saw `measuring`), for at most
    // max_series_seconds.
    const std::vector<histogram>& latency_by_second() const { return latency_by_second_; }
    const std::vector<histogram>& connect_latency_by_second() const { return connect_by_second_; }
    static constexpr std::size_t max_series_seconds = 900;
    // Only once the engine has stopped: the counts since this engine first saw `measuring`
    // (all of them when it never did), taken on its own thread at that moment, less the
    // answers to requests sent before it: the measured requests and responses agree, where
    // counts taken from another thread at the end of the warm-up had the warm-up's requests
    // still in flight answered in the measured time (responses exceeded requests by up to
    // one a connection).
    load_totals measured_totals() const;
    // Only once the engine has stopped: retransmissions of connections still open.
    std::uint64_t live_retransmits() const;
    // Only once the engine has stopped: connections still in their first handshake, their
    // SYN not yet sent again. A server that closes connections as it goes (nginx after
    // keepalive_requests) is reconnected to all the time, and a run may end while one of
    // them is in its handshake; a SYN the server left unanswered has been sent again.
    std::size_t first_handshakes() const;
    // On the engine's thread, or once it has stopped: requests sent and not yet answered
    // (ping-pong messages not yet echoed whole) on the connections still open.
    std::uint64_t requests_in_flight() const { return in_flight_; }

    // No more connections or requests from here on (the end of a run): send_request sends
    // nothing, so the requests due and not yet sent (the open loop's backlog) stay unsent
    // and an answer no longer brings the next request; what is in flight can be waited for
    // (requests_in_flight) and then aborted.
    void stop_opening();
    // Why this generator cannot run as asked, or nothing: with several engines, an engine
    // that has no port of --source-ports for a source address. Set up before the run, except
    // over IPv6 without --source-ip: at the first open after duplicate detection (have_home_ports).
    const std::optional<std::string>& problem() const { return problem_; }
    // Aborts every connection of ours (RST where the peer knows it; RFC 9293 §3.10.5), at the
    // end of a run, so the server is not left holding them. On the engine's thread, or once
    // it has stopped; the RSTs go out with its next poll. At most `limit` of them at a time
    // (the engine's TX backlog holds a burst's worth, not a million).
    void abort_all(std::size_t limit = std::numeric_limits<std::size_t>::max());

    // The engine's poller: opens connections and sends scheduled requests.
    void poll(instant now);
    // When poll() next has scheduled work (a simulation's clock must not jump past it).
    std::optional<instant> next_deadline() const;

private:
    struct conn;

    // A connection of ours in live_: its conn; or, parked with nothing of ours outstanding
    // (no request, response or bytes unsent), only what finds it again (its local address
    // as local_index gives it, and its port) and its retransmissions as live_rtx_sum_
    // counts them, in place of a conn (a million idle connections take 8 MB, not 120); or
    // nothing, free for the next connection. A connection keeps its slot while it lives:
    // an idle one's parked stream names it in its user word (idle_user).
    class slot {
    public:
        static constexpr std::uint32_t field = (1u << 23) - 1; // source and rtx_seen: 23 bits
        slot() = default;
        explicit slot(conn* c) : w_(std::bit_cast<std::uintptr_t>(c)) {}
        // Null when the source's offset or the count do not fit (the connection keeps its conn).
        static std::optional<slot> idle(std::uint32_t source, std::uint16_t port, std::uint32_t rtx_seen);
        conn* get() const { return (w_ & 3) == 0 ? std::bit_cast<conn*>(std::uintptr_t(w_)) : nullptr; }
        bool is_idle() const { return (w_ & 3) == 1; }
        bool is_free() const { return w_ == free_word; }
        std::uint32_t rtx_seen() const { return std::uint32_t(w_ >> 2) & field; }
        std::uint16_t port() const { return std::uint16_t(w_ >> 25); }
        std::uint32_t source() const; // no_source, or the offset

    private:
        static constexpr std::uint64_t free_word = 2;
        std::uint64_t w_ = free_word;
    };
    // The user word of an idle connection's parked stream: its slot, tagged (a conn's
    // address has its low bits clear).
    static void* idle_user(std::uint32_t index) { return std::bit_cast<void*>(std::uintptr_t(index) << 2 | 1); }
    static bool is_idle_user(const void* user) { return (std::bit_cast<std::uintptr_t>(user) & 1) != 0; }

    void on_connected(tcp::stream& s) override;
    void on_data(tcp::stream& s, const tcp::rx_data& data) override;
    void on_writable(tcp::stream& s) override;
    void on_peer_closed(tcp::stream& s) override;
    void on_closed(tcp::stream& s, tcp::close_reason why) override;
    void on_parked(tcp::stream& s) override;
    void finish(tcp::stream& s, conn& c, tcp::close_reason why);
    void sample_retransmits(instant now);

    void start(instant now);
    void open_due(instant now);
    void open_within_round(instant now);
    void miss_overdue(instant now);
    bool open_one(instant intended);
    std::optional<tcp::endpoint> next_source();
    std::optional<tcp::endpoint> peek_source(std::uint32_t ahead = 0) const;
    bool have_home_ports();
    void take_home_ports(const steering& st);
    bool ready_to_start();
    ip_addr default_source() const;
    bool ports_given() const { return port_count_ != 0 || !home_ports_.empty(); }
    tcp::connect_options connect_from(std::optional<tcp::endpoint> source) const;
    void send_request(tcp::stream& s, conn& c, instant intended);
    void write(tcp::stream& s, conn& c, std::string_view bytes);
    void flush(tcp::stream& s, conn& c);
    void fill_bulk(tcp::stream& s, conn& c);
    void forget(conn& c, tcp::close_reason why);
    std::uint32_t local_index(const ip_addr& a);
    tcp::stream* stream_of(conn& c);
    tcp::stream* find_parked(std::uint32_t source, std::uint16_t port);
    conn* conn_of(tcp::stream& s);
    std::pair<tcp::stream*, conn*> open_slot(std::size_t i);
    std::uint32_t take_slot(conn* c);
    void free_slot(std::uint32_t i);
    static bool nothing_outstanding(const conn& c);
    static constexpr std::uint32_t no_source = 0xffffffff;
    bool fill_bulk_shared(tcp::stream& s);
    void on_response(tcp::stream& s, conn& c, const http_response_reader::response& r, instant now);
    void dispatch(instant intended);
    // This engine's measured time starts now (the first round or answer that sees `measuring`).
    void start_measuring(instant now);
    void record(histogram& run, std::vector<histogram>& by_second, instant now, std::uint64_t ns);
    void bump(load_counter c, std::uint64_t n = 1) {
        auto& a = counters_[std::size_t(c)];
        a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    bool measuring() const { return measuring_.load(std::memory_order_relaxed); }
    bool open_loop() const {
        return rate_share_ > 0 && (options_.kind == workload::rps || options_.kind == workload::http);
    }

    engine& engine_;
    tcp::tcp_endpoint& ep_;
    load_options options_;
    const std::atomic<bool>& measuring_;
    std::string request_;       // the GET of rps/http (and cps before its last)
    http_response_reader::memo heads_; // the server's last response head, for every connection's reader
    std::string last_request_;  // cps, server closes first: the last GET asks it to
    std::string payload_;       // ping-pong message and bulk data
    tcp::tx_block bulk_block_;  // --zero-copy: the bulk data, filled once, every send a share of it
    ip_addr default_local_;     // parked connections without a source: their local address
    std::uint32_t connections_; // this engine's share
    double rate_share_;         // and of the rate
    std::atomic<bool> started_{false};
    std::optional<instant> first_poll_;
    rate_schedule opens_;       // cps: new connections; others: the ramp of the persistent ones
    rate_schedule requests_;    // rps/http open loop
    bool awaiting_first_connection_ = false; // open loop: requests_ starts with the first
    std::uint64_t wanted_ = 0;  // persistent connections the ramp has asked for so far
    instant reopen_after_{};    // after an error, reconnects wait a little
    instant connect_paused_until_{}; // cps: after connect() failed
    // cps: why the last round left opens due (missed_* counters), and when it ran. (No
    // open is overdue in the first round: the schedule starts with it.)
    load_counter held_by_ = load_counter::missed_late;
    instant last_open_round_{};
    std::vector<slot> live_;    // every connection of ours, connecting or established, and free slots
    std::vector<std::uint32_t> free_; // free slots of live_, the last freed first
    std::size_t live_count_ = 0; // slots not free
    std::size_t idle_count_ = 0; // idle slots
    std::size_t cursor_ = 0;    // open loop: where dispatch looks next
    std::size_t abort_cursor_ = std::numeric_limits<std::size_t>::max(); // abort_all: where it goes on down
    std::deque<instant> backlog_; // open loop: due requests no connection could take yet
    bool stopped_ = false;      // stop_opening: no request is sent any more
    std::uint64_t in_flight_ = 0; // requests_in_flight
    // prepare_connect runs this many opens ahead (their slots load in time). prepared_: the
    // first round with opens due prepared that many, and each open prepares the one that
    // many ahead of it (open_one), so the next ones stay prepared. Preparing all of them
    // again after every round without opens (at moderate rates, most rounds: up to 9
    // prepares an open) took 4.7% of tern-load's samples at 150k conn/s, 1.8% since.
    static constexpr std::uint32_t prepared_ahead = 8;
    bool prepared_ = false;
    std::uint32_t source_addr_ = 0;
    std::uint32_t source_port_ = 0;
    std::uint16_t port_first_ = 0, port_count_ = 0; // one engine: its part of --source-ports
    // Several engines: by source address, the ports of --source-ports whose replies hash to
    // this engine (DESIGN.md "Flow steering"); each engine walks its own.
    std::vector<std::vector<std::uint16_t>> home_ports_;
    bool home_ports_pending_ = false; // wanted and not yet made (have_home_ports)
    std::optional<std::string> problem_;
    std::array<std::atomic<std::uint64_t>, load_counter_count> counters_{};
    std::atomic<std::uint64_t> open_{0}; // established now
    std::atomic<std::uint64_t> live_rtx_{0};
    std::uint64_t live_rtx_sum_ = 0; // of conn::rtx_seen over live_
    std::size_t rtx_cursor_ = 0;
    instant next_rtx_sample_{};
    histogram latency_;
    histogram connect_latency_;
    std::optional<instant> measure_start_;
    load_totals at_measure_start_{}; // totals() then (measured_totals)
    std::uint64_t warmup_answers_ = 0; // responses since, to requests sent before it
    std::vector<histogram> latency_by_second_;
    std::vector<histogram> connect_by_second_;
};

} // namespace tern::app
