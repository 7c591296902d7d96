#include "app/load.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/object_pool.hpp"

#include "app/http_head.hpp"

namespace tern::app {

namespace {

constexpr std::size_t max_backlog = std::size_t(1) << 20;
constexpr std::size_t bulk_chunk = 16 * 1024;
constexpr duration reconnect_pause = std::chrono::milliseconds(10);
constexpr unsigned dispatch_tries = 16;
constexpr unsigned max_opens_per_poll = 256;
constexpr std::size_t rtx_samples_per_ms = 64;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

} // namespace

// ---- rate_schedule -------------------------------------------------------------------

std::uint64_t rate_schedule::skip_due(instant now) {
    if (!due(now)) return 0;
    // Events 0..k are due where k = (now - start) / period; all of them with period zero.
    std::uint64_t through = limit_;
    if (period_.count() > 0) through = std::min<std::uint64_t>(limit_, std::uint64_t((now - start_) / period_) + 1);
    const std::uint64_t n = through - taken_;
    taken_ = through;
    return n;
}

rate_schedule rate_schedule::per_second(instant start, double per_second, std::uint64_t limit) {
    if (!(per_second > 0)) return rate_schedule(start, duration{}, 0);
    return rate_schedule(start, duration(std::int64_t(std::llround(1e9 / per_second))), limit);
}

// ---- http_response_reader ------------------------------------------------------------

namespace {

// A response head read in one pass (RFC 9112 §4 status line, §5 fields, §6.3 body length).
struct response_head {
    std::size_t size = 0;   // bytes of the head with its empty line; 0: not complete yet
    std::string_view error; // the first thing wrong in it, in the order of its lines
    http_response_reader::response r;
    std::uint64_t body = 0; // Content-Length (the last one given)
    bool has_length = false;
};

// RFC 9112 §4: HTTP-version SP status-code SP [reason-phrase]. Any "HTTP/1.x" is taken;
// HTTP/1.0 closes unless told otherwise (RFC 9112 §9.3).
void read_status_line(std::string_view line, response_head& h) {
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') {
        h.error = "not an HTTP/1.x status line";
        return;
    }
    unsigned status = 0;
    auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
    if (ec != std::errc{} || p != line.data() + 12 || status < 100) {
        h.error = "bad status code";
        return;
    }
    h.r = http_response_reader::response{status, line[7] == '0'};
}

// One field line. Only three names matter to us; each has a length of its own, so the
// length picks the one candidate to compare.
void read_field(std::string_view line, response_head& h) {
    const std::size_t colon = http::find_char(line, ':');
    if (colon == http::npos) {
        h.error = "header field without ':'";
        return;
    }
    const std::string_view name = line.substr(0, colon);
    switch (name.size()) {
    case 14:
        if (http::iequals_lower(name, "content-length")) {
            const std::string_view value = http::trim(line.substr(colon + 1));
            auto [q, ec] = std::from_chars(value.data(), value.data() + value.size(), h.body);
            if (ec != std::errc{} || q != value.data() + value.size()) h.error = "bad Content-Length";
            h.has_length = true;
        }
        return;
    case 17:
        if (http::iequals_lower(name, "transfer-encoding")) h.error = "chunked responses are not supported";
        return;
    case 10:
        if (http::iequals_lower(name, "connection")) {
            const std::string_view value = http::trim(line.substr(colon + 1));
            if (http::iequals_lower(value, "close")) h.r.close = true;
            if (http::iequals_lower(value, "keep-alive")) h.r.close = false;
        }
        return;
    default:
        return;
    }
}

// The head at the front of `in`. Errors are reported once the head is complete (the first
// one, in line order), so where a response is split never changes what is reported.
response_head read_response_head(std::string_view in) {
    response_head h;
    h.size = http::scan_head(in, [&](std::string_view line, bool first) {
        if (!h.error.empty()) return;
        if (first) read_status_line(line, h);
        else read_field(line, h);
    });
    if (h.size == 0 || !h.error.empty()) return h;
    // RFC 9112 §6.3: 1xx, 204 and 304 have no body; otherwise we need a length.
    const unsigned status = h.r.status;
    if (status < 200 || status == 204 || status == 304) h.body = 0;
    else if (!h.has_length) h.error = "response without Content-Length";
    return h;
}

} // namespace

http_response_reader::step http_response_reader::feed(std::string_view in, memo* heads) {
    step out;
    if (body_left_ == 0) { // between calls, a body is being read exactly while bytes of it are left
        // RFC 9112 §2.1: the head ends at the first empty line; we look for it in the first
        // max_head + 4 bytes of the head only.
        constexpr std::size_t cap = max_head + 4;
        const std::size_t held = head_.size();
        // The usual case: the whole head came in one piece, and is read where it lies.
        std::string_view head_in = in.substr(0, cap);
        if (held > 0) {
            // The rest of a head that began in an earlier piece: held until its end is in.
            // Only the new bytes are searched for the end (a byte-by-byte feed stays linear).
            head_.append(in.substr(0, std::min(in.size(), cap - std::min(held, cap))));
            if (head_.view().find("\r\n\r\n", held >= 3 ? held - 3 : 0) == std::string::npos) {
                out.used = in.size();
                if (head_.size() > max_head) out.error = "response head over 16 KiB";
                return out;
            }
            head_in = head_.view();
        }
        response_head head;
        if (const said* known = held == 0 && heads ? heads->recall(in) : nullptr) {
            head.size = heads->size();
            head.r = known->r;
            head.body = known->body;
        } else {
            head = read_response_head(head_in);
            if (heads && held == 0 && head.size > 0 && head.error.empty())
                heads->remember(head_in.substr(0, head.size), said{head.r, head.body});
        }
        if (head.size == 0) { // held == 0: the head is still coming
            head_.assign(head_in);
            out.used = in.size();
            if (head_.size() > max_head) out.error = "response head over 16 KiB";
            return out;
        }
        out.used = head.size - held;
        if (!head.error.empty()) {
            out.error = head.error;
            return out;
        }
        current_ = head.r;
        body_left_ = head.body;
        head_.clear();
        in.remove_prefix(out.used);
    }
    const std::size_t take = std::size_t(std::min<std::uint64_t>(body_left_, in.size()));
    body_left_ -= take;
    out.used += take;
    if (body_left_ == 0) out.complete = current_;
    return out;
}

// ---- names ---------------------------------------------------------------------------

std::string_view to_string(workload w) {
    switch (w) {
    case workload::cps: return "cps";
    case workload::rps: return "rps";
    case workload::http: return "http";
    case workload::ping_pong: return "ping-pong";
    case workload::throughput: return "throughput";
    }
    return "?";
}

std::optional<workload> workload_from(std::string_view name) {
    for (auto w : {workload::cps, workload::rps, workload::http, workload::ping_pong, workload::throughput})
        if (to_string(w) == name) return w;
    return std::nullopt;
}

std::string_view to_string(load_counter c) {
    static constexpr std::string_view names[load_counter_count] = {
        "connects",  "established", "completed", "requests",    "responses",  "bytes_in",
        "bytes_out", "retransmits", "opens_missed", "missed_late", "missed_behind", "missed_capped", "missed_round",
        "missed_paused", "refused",   "reset",       "timed_out",  "unreachable",
        "bad_status", "protocol_errors", "connect_failed", "closed_early", "overflow"};
    return names[std::size_t(c)];
}

load_totals difference(const load_totals& a, const load_totals& b) {
    load_totals d{};
    for (std::size_t i = 0; i < load_counter_count; ++i) d[i] = a[i] - b[i];
    return d;
}

source_budget check_sources(const load_options& o, duration msl) {
    source_budget b;
    const std::uint64_t addresses = 1 + o.sources.count;
    const std::uint64_t ports = o.source_port_first != 0
                                    ? std::uint64_t(o.source_port_last) - o.source_port_first + 1
                                    : tcp::ephemeral_port_count;
    b.tuples = addresses * ports;
    const std::string have = std::to_string(addresses) + " source address(es) x " + std::to_string(ports) +
                             " ports = " + std::to_string(b.tuples) + " connections to one target";
    if (o.kind != workload::cps) {
        if (o.connections > b.tuples) {
            b.refuse = true;
            b.problem = "--connections: " + std::to_string(o.connections) + " asked, " + have +
                        " at the most: add addresses with --source-ip";
        }
        return b;
    }
    const double hold = 2 * std::chrono::duration<double>(msl).count();
    if (!o.client_closes || hold <= 0) return b;
    const double carried = double(b.tuples) / hold;
    if (o.rate > carried) {
        char rate[32], seconds[32];
        std::snprintf(rate, sizeof rate, "%.0f", carried);
        std::snprintf(seconds, sizeof seconds, "%g", hold);
        b.problem = "--rate: closing first, each connection keeps its 4-tuple in TIME-WAIT for 2 x MSL (" +
                    std::string(seconds) + " s); " + have + " carry " + rate +
                    " conn/s at the most: the rest fails to connect. Add addresses with --source-ip, " +
                    "use --close server, or a shorter --msl";
    }
    return b;
}

std::uint64_t errors(const load_totals& t) {
    std::uint64_t n = 0;
    for (std::size_t i = first_error_counter; i < load_counter_count; ++i) n += t[i];
    return n;
}

// ---- load_generator ------------------------------------------------------------------

struct load_generator::conn {
    static void* operator new(std::size_t size) { return object_pool<conn>::allocate(size); }
    static void operator delete(void* p) { object_pool<conn>::release(p); }

    // Words first, then the 32-bit counts and the flags together: a million idle
    // connections hold a million of these (112 bytes each).
    tcp::stream* s = nullptr;        // null while parked (unless --no-park): stream_of finds it again
    instant opened{};               // connect latency runs from here (open_one)
    std::uint32_t rtx_seen = 0;      // its retransmissions in live_rtx_sum_ (a connection counts 32 bits of them)
    std::uint32_t echo_left = 0;     // ping-pong: bytes of the message (--size, at most 64 KiB) still to come back
    std::uint32_t index = 0;         // its slot in live_
    std::uint32_t sent = 0;          // requests sent on this connection
    std::uint32_t answered = 0;
    std::uint32_t source = 0;        // parked: its local address, as local_index gives it
    std::uint16_t local_port = 0;    // parked: its local port
    bool established = false;
    bool closing = false;            // we closed, or the server said it will
    std::uint16_t warmup_left = 0;   // of outstanding, those sent before the measured time (measured_totals)
    fifo<instant> outstanding;       // unanswered requests: intended (or sent) times
    http_response_reader reader;
    lazy_string pending;             // bytes send() did not take yet
};

load_generator::load_generator(engine& eng, tcp::tcp_endpoint& ep, const load_options& options, std::size_t index,
                               std::size_t engines, const std::atomic<bool>& measuring)
    : engine_(eng), ep_(ep), options_(options), measuring_(measuring) {
    static_assert(sizeof(conn) <= 112, "conn grew: a million connections' memory (see its comment)");
    request_ = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host + "\r\nUser-Agent: tern-load\r\n\r\n";
    last_request_ = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host +
                    "\r\nUser-Agent: tern-load\r\nConnection: close\r\n\r\n";
    const std::size_t payload = options.kind == workload::ping_pong ? options.message_size : bulk_chunk;
    payload_.resize(payload);
    for (std::size_t i = 0; i < payload; ++i) payload_[i] = char('a' + i % 26);

    connections_ = std::uint32_t(options.connections / engines + (index < options.connections % engines ? 1 : 0));
    rate_share_ = options.rate / double(engines);
    if (options.source_port_first != 0 && engine_.flow_steering() != nullptr) {
        home_ports_pending_ = true;
        have_home_ports(); // made here if the source addresses are known: a problem shows before the run
    } else if (options.source_port_first != 0) {
        const std::uint32_t total = std::uint32_t(options.source_port_last) - options.source_port_first + 1;
        const std::uint32_t per = total / std::uint32_t(engines);
        port_first_ = std::uint16_t(options.source_port_first + per * index);
        port_count_ = std::uint16_t(index + 1 == engines ? total - per * index : per);
    }
    engine_.add_poller([this](instant t) { poll(t); });
}

// Over IPv6 without --source-ip the source is the address connect() would take, which
// exists once duplicate detection is done (RFC 4862 §5.4, about a second after the start):
// until then there is no list to take ports from, and an open fails rather than take a port
// outside --source-ports. False while the lists cannot be made, or this engine has none.
bool load_generator::have_home_ports() {
    if (!home_ports_pending_) return !problem_;
    if (options_.sources.count == 0 && default_source().is_unspecified()) return false;
    home_ports_pending_ = false;
    take_home_ports(*engine_.flow_steering());
    return !problem_;
}

// Every port of the range hashes to one engine: a split by range would send most replies to
// another engine. The hash covers the source address, so each address has its own list.
void load_generator::take_home_ports(const steering& st) {
    const rss::port_range range{options_.source_port_first,
                                std::uint32_t(options_.source_port_last) - options_.source_port_first + 1};
    const std::size_t addrs = options_.sources.count ? options_.sources.count : 1;
    for (std::size_t a = 0; a < addrs; ++a) {
        const ip_addr local = options_.sources.count ? options_.sources.at(std::uint32_t(a)) : default_source();
        auto pool = options_.target.is_v4()
                        ? rss::port_pool::make(st.hash(), st.table(), local.v4(), options_.target.v4(),
                                               options_.target_port, range)
                        : rss::port_pool::make(st.hash(), st.table(), local.v6(), options_.target.v6(),
                                               options_.target_port, range);
        const auto ports = pool ? pool->of(engine_.id()) : std::span<const std::uint16_t>{};
        if (ports.empty()) {
            problem_ = "--source-ports: engine " + std::to_string(engine_.id()) + " has no port of " +
                       std::to_string(options_.source_port_first) + "-" + std::to_string(options_.source_port_last) +
                       " whose replies to " + local.to_string() + " come back to it; give a wider range";
            return;
        }
        home_ports_.emplace_back(ports.begin(), ports.end());
    }
}

load_generator::~load_generator() {
    for (const slot& e : live_) {
        conn* c = e.get();
        if (!c) continue; // an idle one's record goes with the endpoint, as a parked one's does
        if (c->s) c->s->user = nullptr;
        delete c;
    }
}

load_totals load_generator::totals() const {
    load_totals t{};
    for (std::size_t i = 0; i < load_counter_count; ++i) t[i] = counters_[i].load(std::memory_order_relaxed);
    return t;
}

void load_generator::start_measuring(instant now) {
    measure_start_ = now;
    at_measure_start_ = totals();
    // Their answers come first on each connection (one stream, in order), and are not the run's.
    for (const slot& e : live_)
        if (conn* c = e.get()) c->warmup_left = std::uint16_t(std::min<std::size_t>(c->outstanding.size(), 0xffff));
}

load_totals load_generator::measured_totals() const {
    load_totals t = difference(totals(), at_measure_start_);
    t[std::size_t(load_counter::responses)] -= warmup_answers_;
    return t;
}

std::size_t load_generator::first_handshakes() const {
    std::size_t n = 0;
    for (const slot& e : live_)
        if (const conn* c = e.get()) n += !c->established && c->s && c->s->retransmits() == 0;
    return n;
}

std::uint64_t load_generator::live_retransmits() const {
    std::uint64_t n = 0;
    for (const slot& e : live_) {
        const conn* c = e.get();
        if (c) n += c->s ? c->s->retransmits() : c->rtx_seen; // parked: as last seen
        else if (e.is_idle()) n += e.rtx_seen();
    }
    return n;
}

// A few connections a millisecond, so that a million of them never stall one round (a scan
// of them all once a second did, by tens of milliseconds) and a round with nothing due
// does no such work. The sum trails: a connection is looked at every live/64 ms.
void load_generator::sample_retransmits(instant now) {
    if (now < next_rtx_sample_) return;
    next_rtx_sample_ = now + std::chrono::milliseconds(1);
    const std::size_t n = std::min<std::size_t>(rtx_samples_per_ms, live_.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (rtx_cursor_ >= live_.size()) rtx_cursor_ = 0;
        conn* c = live_[rtx_cursor_++].get();
        if (!c || !c->s) continue; // parked: seen when it parked
        const std::uint64_t now_seen = c->s->retransmits();
        live_rtx_sum_ += now_seen - c->rtx_seen;
        c->rtx_seen = std::uint32_t(now_seen);
    }
    live_rtx_.store(live_rtx_sum_, std::memory_order_relaxed);
}

void load_generator::poll(instant now) {
    if (!started_) {
        // Start once ARP for the target is done (runtime_options::resolve), so the first
        // SYNs do not overflow the ARP queue; at most a few seconds later in any case.
        // Over IPv6, once our addresses are past duplicate detection (RFC 4862 §5.4: about
        // a second) and the target's MAC is known (engine::resolve_v6).
        if (!first_poll_) first_poll_ = now;
        const bool waited = now - *first_poll_ >= std::chrono::seconds(options_.target.is_v6() ? 5 : 3);
        if (!waited && !ready_to_start()) return;
        start(now);
    }
    // From the round it starts in, when there is no warm-up: per-second series count from there.
    if (!measure_start_ && measuring()) start_measuring(now);
    sample_retransmits(now);
    if (options_.kind == workload::cps) return open_due(now);
    while (opens_.due(now)) {
        opens_.take();
        ++wanted_;
    }
    for (unsigned n = 0; live_count_ < wanted_ && now >= reopen_after_ && n < max_opens_per_poll; ++n)
        if (!open_one(now)) reopen_after_ = now + reconnect_pause;
    while (requests_.due(now)) dispatch(requests_.take());
}

// cps: the opens that are due, at most max_opens_per_poll of them in one round so that a
// round stays short and received packets keep being read. A failed connect() (no free port,
// table full) pauses the opens: trying again in the same round would fail the same way,
// and a search of the whole port space each time starved the engine. Opens the pause
// prevents are missed, counted, and not made up for in a burst.
// While the engine is behind (engine::congested), or the caps of open connections and of
// handshakes are reached, no open is made: the rate the pair cannot carry turns into missed
// opens here instead of SYNs, segments and retransmissions that it cannot carry either (a
// collapse: the more is offered, the less gets done). Opens held back that way, or by the
// round's limit, wait for a later round for up to open_grace, and are missed beyond: a
// round behind now and then (a full burst, a long round, a moment with the handshakes at
// their cap) delays a few opens by microseconds, where missing them all cost 0.5% of them
// at 337k conn/s, and only a lasting lack of capacity shows as missed opens. The grace is
// 25 ms by default (--open-grace), for the engine's thread is not alone on its core: on
// this VM it lost the CPU for 0.5-6.5 ms about 8 times a second (measured between polls at
// 300k conn/s), and after such a stall the engine is behind on its input for longer than
// the stall. With 1 ms the opens due meanwhile were 0.7-1% of all, with 5 ms 0.25% at 300k
// and 600k one day, and on a worse one (2026-12-04, 8 s pair runs) 0.6-3% at 150k and 1.6%
// at 400k, where 25 ms missed none at 150k and 0.1% at 400k, and carried 689-693k of 700k
// offered against 560k. A late open's connect latency counts from its intended time, so
// the lateness is reported, not hidden; offered more than the pair carries, every open is
// about the grace late and the excess is missed.
// Each missed open is also counted by its cause (missed_*), which the report shows.
void load_generator::open_due(instant now) {
    miss_overdue(now);
    last_open_round_ = now;
    held_by_ = load_counter::missed_behind;
    if (engine_.congested()) return;
    if (!prepared_ && opens_.due(now)) {
        for (std::uint32_t k = 0; k < prepared_ahead; ++k)
            ep_.prepare_connect(options_.target, options_.target_port, connect_from(peek_source(k)));
        prepared_ = true;
    }
    open_within_round(now);
}

// The opens due, up to the round's limit and the caps; held_by_ says which of them stopped
// the round while opens were left.
void load_generator::open_within_round(instant now) {
    held_by_ = load_counter::missed_round;
    for (unsigned n = 0; n < max_opens_per_poll && opens_.due(now); ++n) {
        const std::size_t handshakes = live_count_ - open_.load(std::memory_order_relaxed);
        if (live_count_ >= connections_ || handshakes >= options_.max_handshakes) {
            held_by_ = load_counter::missed_capped;
            return;
        }
        const instant intended = opens_.take();
        if (now < connect_paused_until_) {
            bump(load_counter::opens_missed);
            bump(load_counter::missed_paused);
            continue;
        }
        if (!open_one(intended)) connect_paused_until_ = now + reconnect_pause;
    }
}

// Opens due more than open_grace ago are missed. Their cause is what held the last round
// back, unless no round came within open_grace: then the engine was not there to make them.
void load_generator::miss_overdue(instant now) {
    const std::uint64_t n = opens_.skip_due(now - options_.open_grace);
    if (n == 0) return;
    bump(load_counter::opens_missed, n);
    const bool late = now - last_open_round_ > options_.open_grace;
    bump(late ? load_counter::missed_late : held_by_, n);
}

void load_generator::start(instant now) {
    started_ = true;
    if (options_.kind == workload::cps) {
        opens_ = rate_schedule::per_second(now, rate_share_);
    } else {
        // The ramp: connections_ opened evenly over options.ramp (all at once without one).
        const duration period = connections_ == 0 ? duration{} : options_.ramp / connections_;
        opens_ = rate_schedule(now, period, connections_);
        // The open loop's requests_ starts with the first established connection (on_connected).
        awaiting_first_connection_ = open_loop();
    }
}

void load_generator::stop_opening() {
    started_ = true;
    opens_ = rate_schedule();
    requests_ = rate_schedule();
    awaiting_first_connection_ = false;
    wanted_ = 0;
    stopped_ = true;
}

// From the last slot down, going on where the last call stopped (no connection is opened
// meanwhile, and one that closes only frees its slot).
void load_generator::abort_all(std::size_t limit) {
    stop_opening();
    abort_cursor_ = std::min(abort_cursor_, live_.size());
    std::size_t wrapped = 0;
    for (std::size_t n = 0; n < limit && live_count_ > 0;) {
        if (abort_cursor_ == 0) { // cannot be: look again, once, rather than stop
            if (wrapped++) break;
            abort_cursor_ = live_.size();
        }
        const std::size_t i = --abort_cursor_;
        if (live_[i].is_free()) continue;
        ++n;
        auto [s, c] = open_slot(i);
        if (!s) continue; // open_slot forgot it
        s->abort(); // on_closed (aborted) frees its slot
        if (live_[i].get() == c) finish(*s, *c, tcp::close_reason::aborted);
    }
}

std::optional<instant> load_generator::next_deadline() const {
    if (!started_) return first_poll_ ? *first_poll_ + std::chrono::milliseconds(1) : instant{};
    std::optional<instant> next = requests_.next();
    auto consider = [&](std::optional<instant> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    if (options_.kind == workload::cps) consider(opens_.next());
    else {
        consider(opens_.next());
        if (live_count_ < wanted_) consider(reopen_after_);
    }
    return next;
}

std::optional<tcp::endpoint> load_generator::next_source() {
    const auto e = peek_source();
    if (!e) return e;
    // Addresses turn fastest, so connections spread over all of them; then the port.
    if (options_.sources.count == 0 || ++source_addr_ == options_.sources.count) {
        source_addr_ = 0;
        if (port_count_ && ++source_port_ == port_count_) source_port_ = 0;
        else if (!home_ports_.empty()) ++source_port_;
    }
    return e;
}

// Whether what the first connections need is there: the target's MAC (IPv4: ARP, which
// runtime_options::resolve started; IPv6: asked for here), and over IPv6 a preferred
// address of ours.
bool load_generator::ready_to_start() {
    if (options_.target.is_v4()) return engine_.arp_in_progress() == 0;
    if (!engine_.ipv6_source_for(options_.target.v6())) return false;
    return engine_.resolve_v6(options_.target.v6());
}

// The engine's own address of the target's family (IPv6: the one connect() would take).
ip_addr load_generator::default_source() const {
    if (options_.target.is_v4()) return engine_.address().addr;
    return engine_.ipv6_source_for(options_.target.v6()).value_or(ipv6_addr{});
}

// The source next_source() gives `ahead` calls from now, without taking any.
std::optional<tcp::endpoint> load_generator::peek_source(std::uint32_t ahead) const {
    if (options_.sources.count == 0 && !ports_given()) return std::nullopt;
    const std::uint32_t addrs = options_.sources.count ? std::uint32_t(options_.sources.count) : 1;
    // The address `ahead` steps on and how many times the addresses wrap on the way. Most
    // calls look at most one round ahead: no division for them (two a connection, each
    // tens of cycles, on the side whose work bounds the cps a pair carries).
    std::uint32_t at = source_addr_ + ahead;
    std::uint32_t rounds = 0;
    if (at >= addrs) {
        rounds = at / addrs;
        at -= rounds * addrs;
    }
    tcp::endpoint e;
    e.addr = options_.sources.count ? options_.sources.at(at) : default_source();
    if (port_count_) e.port = std::uint16_t(port_first_ + (source_port_ + rounds) % port_count_);
    if (!home_ports_.empty()) {
        const auto& ports = home_ports_[at];
        e.port = ports[(source_port_ + rounds) % ports.size()];
    }
    return e;
}

tcp::connect_options load_generator::connect_from(std::optional<tcp::endpoint> source) const {
    tcp::connect_options o = options_.connect;
    if (source) {
        o.local_addr = source->addr;
        if (source->port) o.local_port = source->port;
    }
    return o;
}

// One connect(); false (and counted) when it failed. Its connect latency runs from
// `intended`: in cps the schedule's time, so that an open held back (up to open_grace)
// shows its wait there rather than nowhere, as the open loop's requests do (dispatch).
bool load_generator::open_one(instant intended) {
    if (!have_home_ports()) {
        bump(load_counter::connect_failed);
        return false;
    }
    // A chosen source may still be in TIME_WAIT towards the target: try a few more.
    const unsigned attempts = ports_given() ? 64 : 1;
    for (unsigned i = 0; i < attempts; ++i) {
        auto r = ep_.connect(options_.target, options_.target_port, connect_from(next_source()), *this);
        if (!r) {
            if (r.error() == tcp::connect_error::port_in_use) continue;
            break;
        }
        auto* c = new conn;
        c->s = *r;
        c->opened = intended;
        c->index = take_slot(c);
        (*r)->user = c;
        bump(load_counter::connects);
        // The table slot of an open a few ahead loads while this round goes on: at a
        // million opens a second that cache miss was a fifth of the cycles.
        ep_.prepare_connect(options_.target, options_.target_port, connect_from(peek_source(prepared_ahead - 1)));
        return true;
    }
    bump(load_counter::connect_failed);
    return false;
}

void load_generator::write(tcp::stream& s, conn& c, std::string_view bytes) {
    if (c.pending.empty()) {
        auto r = s.send(as_bytes(bytes));
        const std::size_t n = r ? *r : 0;
        bump(load_counter::bytes_out, n);
        bytes.remove_prefix(n);
    }
    c.pending.append(bytes);
}

void load_generator::flush(tcp::stream& s, conn& c) {
    if (c.pending.empty()) return;
    auto r = s.send(as_bytes(c.pending.view()));
    if (!r) return;
    bump(load_counter::bytes_out, *r);
    c.pending.erase_front(*r);
}

void load_generator::send_request(tcp::stream& s, conn& c, instant intended) {
    if (stopped_) return;
    ++c.sent;
    ++in_flight_;
    c.outstanding.push_back(intended);
    bump(load_counter::requests);
    if (options_.kind == workload::ping_pong) {
        c.echo_left = std::uint32_t(payload_.size());
        return write(s, c, payload_);
    }
    const bool last = options_.kind == workload::cps && c.sent == options_.requests_per_connection;
    write(s, c, last && !options_.client_closes ? last_request_ : request_);
}

void load_generator::fill_bulk(tcp::stream& s, conn& c) {
    flush(s, c);
    if (!c.pending.empty()) return;
    if (options_.zero_copy && fill_bulk_shared(s)) return;
    while (true) {
        auto r = s.send(as_bytes(payload_));
        if (!r || *r == 0) return;
        bump(load_counter::bytes_out, *r);
        if (*r < payload_.size()) return; // the rest of this chunk is not owed: bulk data is all alike
    }
}

// --zero-copy: shares of one filled block until the send buffer is full. False when the
// pool had no mbuf for it: the caller copies instead, so that the stream does not wait for
// an on_writable that a send buffer with room never brings.
bool load_generator::fill_bulk_shared(tcp::stream& s) {
    if (!bulk_block_.valid()) {
        auto b = s.allocate(payload_.size());
        if (!b) return false;
        std::memcpy(b->room().data(), payload_.data(), b->room().size());
        b->resize(b->room().size());
        bulk_block_ = std::move(*b);
    }
    while (true) {
        auto b = s.share(bulk_block_);
        if (!b) return false;
        const std::size_t n = b->size();
        auto r = s.send(*b);
        if (!r || *r == 0) return true; // closing, or full: on_writable follows
        bump(load_counter::bytes_out, n);
    }
}

// Open loop: a due request goes to the next connection with room; if none of a few has
// room it waits in the backlog, still carrying its intended time.
void load_generator::dispatch(instant intended) {
    if (backlog_.empty()) {
        const std::size_t n = live_.size();
        for (unsigned i = 0; i < std::min<std::size_t>(dispatch_tries, n); ++i) {
            const std::size_t k = cursor_++ % n;
            const conn* c = live_[k].get();
            if (!live_[k].is_idle() && !(c && c->established && !c->closing && c->outstanding.size() < options_.pipeline))
                continue;
            if (auto [s, found] = open_slot(k); s) return send_request(*s, *found, intended);
        }
    }
    if (backlog_.size() >= max_backlog) return bump(load_counter::overflow);
    backlog_.push_back(intended);
}

// A sample counts in the run's histogram and in that of its second of measured time (the
// series stops at max_series_seconds: each second's histogram takes 58 KiB).
void load_generator::record(histogram& run, std::vector<histogram>& by_second, instant now, std::uint64_t ns) {
    run.record(ns);
    if (!measure_start_) start_measuring(now);
    const auto second = std::size_t((now - *measure_start_) / std::chrono::seconds(1));
    if (second >= max_series_seconds) return;
    if (by_second.size() <= second) by_second.resize(second + 1);
    by_second[second].record(ns);
}

void load_generator::on_connected(tcp::stream& s) {
    conn* found = conn_of(s);
    if (!found) return;
    conn& c = *found;
    const instant now = engine_.now();
    c.established = true;
    bump(load_counter::established);
    open_.store(open_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (measuring()) record(connect_latency_, connect_by_second_, now, std::uint64_t((now - c.opened).count()));
    switch (options_.kind) {
    case workload::throughput:
        if (options_.direction != bulk_direction::download) fill_bulk(s, c);
        return;
    case workload::cps:
    case workload::ping_pong:
        return send_request(s, c, now);
    case workload::rps:
    case workload::http:
        if (open_loop()) {
            // Time spent getting the first connection up is the connect latency's; started
            // earlier, the schedule would fire its backlog at once here, a burst that can
            // land after the warm-up and inflate the measured rate.
            if (awaiting_first_connection_) {
                awaiting_first_connection_ = false;
                requests_ = rate_schedule::per_second(now, rate_share_);
            }
            while (!backlog_.empty() && c.outstanding.size() < options_.pipeline) {
                const instant t = backlog_.front();
                backlog_.pop_front();
                send_request(s, c, t);
            }
            return;
        }
        return send_request(s, c, now); // closed loop
    }
}

void load_generator::on_writable(tcp::stream& s) {
    conn* c = conn_of(s);
    if (!c) return; // finished (TIME_WAIT): nothing more to send
    if (options_.kind == workload::throughput && options_.direction != bulk_direction::download) fill_bulk(s, *c);
    else flush(s, *c);
}

void load_generator::on_data(tcp::stream& s, const tcp::rx_data& data) {
    conn* found = conn_of(s);
    if (!found) return;
    conn& c = *found;
    const instant now = engine_.now();
    bump(load_counter::bytes_in, data.size());
    switch (options_.kind) {
    case workload::throughput:
        return;
    case workload::ping_pong: {
        std::size_t n = data.size();
        while (n > 0 && c.echo_left > 0) {
            const std::size_t take = std::min<std::size_t>(n, c.echo_left);
            c.echo_left -= take;
            n -= take;
            if (c.echo_left == 0) on_response(s, c, {200, false}, now);
        }
        if (n > 0) { // more than we sent: not an echo server
            bump(load_counter::protocol);
            s.abort();
        }
        return;
    }
    default:
        break;
    }
    std::string_view in(reinterpret_cast<const char*>(data.data()), data.size());
    while (!in.empty()) {
        auto step = c.reader.feed(in, &heads_);
        if (!step.error.empty() || (step.complete && c.outstanding.empty())) {
            bump(load_counter::protocol);
            s.abort(); // on_closed has run: c is gone
            return;
        }
        in.remove_prefix(step.used);
        if (step.complete) {
            on_response(s, c, *step.complete, now);
            if (s.user == nullptr) return;
        }
    }
}

// One answer to the oldest outstanding request on c.
void load_generator::on_response(tcp::stream& s, conn& c, const http_response_reader::response& r, instant now) {
    if (c.warmup_left > 0) {
        --c.warmup_left;
        ++warmup_answers_;
    }
    const instant intended = c.outstanding.front();
    c.outstanding.pop_front();
    --in_flight_;
    ++c.answered;
    bump(load_counter::responses);
    if (measuring())
        record(latency_, latency_by_second_, now, std::uint64_t(std::max<std::int64_t>(0, (now - intended).count())));
    if (r.status < 200 || r.status >= 400) bump(load_counter::bad_status);
    if (r.close) c.closing = true;
    switch (options_.kind) {
    case workload::cps:
        if (c.answered < options_.requests_per_connection) {
            if (!c.closing) send_request(s, c, now);
        } else if (options_.client_closes && !c.closing) {
            c.closing = true;
            (void)s.close();
        }
        return;
    case workload::ping_pong:
        return send_request(s, c, now);
    case workload::rps:
    case workload::http:
        if (c.closing) return;
        if (open_loop()) {
            if (!backlog_.empty()) {
                const instant t = backlog_.front();
                backlog_.pop_front();
                send_request(s, c, t);
            }
            return;
        }
        return send_request(s, c, now);
    case workload::throughput:
        return;
    }
}

void load_generator::on_peer_closed(tcp::stream& s) {
    conn* found = conn_of(s);
    if (!found) return;
    conn& c = *found;
    if (c.closing && s.state() != tcp::tcp_state::close_wait) {
        // We closed first and the peer's FIN has come: the exchange is over for us. The
        // stream is in TIME-WAIT (or CLOSING until our FIN is acknowledged); on_closed comes
        // once the endpoint has made it a TIME-WAIT record, which keeps the 4-tuple for 2·MSL.
        return finish(s, c, tcp::close_reason::normal);
    }
    c.closing = true;
    (void)s.close();
}

void load_generator::on_closed(tcp::stream& s, tcp::close_reason why) {
    if (conn* c = conn_of(s)) finish(s, *c, why);
}

// The accounting of a connection we are done with; it leaves live_ (and s.user).
void load_generator::finish(tcp::stream& s, conn& c, tcp::close_reason why) {
    bump(load_counter::retransmits, s.retransmits());
    s.user = nullptr;
    forget(c, why);
}

void load_generator::forget(conn& c, tcp::close_reason why) {
    live_rtx_sum_ -= c.rtx_seen;
    if (c.established) open_.store(open_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    switch (why) {
    case tcp::close_reason::normal:
        if (options_.kind == workload::cps && c.answered >= options_.requests_per_connection)
            bump(load_counter::completed);
        else if (!c.outstanding.empty() && !open_loop()) bump(load_counter::closed_early);
        break;
    case tcp::close_reason::reset: bump(load_counter::reset); break;
    case tcp::close_reason::timed_out: bump(load_counter::timed_out); break;
    case tcp::close_reason::refused: bump(load_counter::refused); break;
    case tcp::close_reason::unreachable: bump(load_counter::unreachable); break;
    case tcp::close_reason::aborted: break; // ours: counted where we decided it
    }
    if (why != tcp::close_reason::normal) reopen_after_ = engine_.now() + reconnect_pause;
    in_flight_ -= c.outstanding.size();
    // Open loop: requests that got no answer are sent again on another connection, with
    // their intended times (the wait shows in their latency).
    if (open_loop())
        for (auto it = c.outstanding.rbegin(); it != c.outstanding.rend(); ++it) backlog_.push_front(*it);
    free_slot(c.index);
    delete &c;
}

// ---- parked connections (--park-idle) ------------------------------------------------

// The stream goes, the connection stays (a record in the endpoint's table): what finds it
// again is its local address and port, the rest of its flow being the target. With nothing
// of ours outstanding on it, its conn goes too, and its slot keeps what finds it.
void load_generator::on_parked(tcp::stream& s) {
    if (!s.user || is_idle_user(s.user)) return; // made again by a segment, and idle since
    auto& c = *static_cast<conn*>(s.user);
    const tcp::endpoint local = s.flow_id().local;
    c.source = local_index(local.addr);
    c.local_port = local.port;
    c.s = nullptr;
    const std::uint64_t now_seen = s.retransmits();
    live_rtx_sum_ += now_seen - c.rtx_seen;
    c.rtx_seen = std::uint32_t(now_seen);
    if (options_.kind == workload::cps || !nothing_outstanding(c)) return; // cps counts its requests
    const auto idle = slot::idle(c.source, c.local_port, c.rtx_seen);
    if (!idle) return;
    live_[c.index] = *idle;
    s.user = idle_user(c.index);
    ++idle_count_;
    delete &c;
}

// What an idle slot cannot keep: a request or a response under way, bytes not yet sent, a
// close begun (nor, in cps, the count of requests a connection has made).
bool load_generator::nothing_outstanding(const conn& c) {
    return c.established && !c.closing && c.outstanding.empty() && c.echo_left == 0 && c.reader.idle() &&
           c.pending.empty();
}

std::optional<load_generator::slot> load_generator::slot::idle(std::uint32_t source, std::uint16_t port,
                                                               std::uint32_t rtx_seen) {
    if ((source >= field && source != no_source) || rtx_seen > field) return std::nullopt;
    slot e;
    e.w_ = std::uint64_t(source == no_source ? field : source) << 41 | std::uint64_t(port) << 25 |
           std::uint64_t(rtx_seen) << 2 | 1;
    return e;
}

std::uint32_t load_generator::slot::source() const {
    const auto v = std::uint32_t(w_ >> 41);
    return v == field ? no_source : v;
}

// A source address as a number: its offset in --source-ip's range, or no_source for the
// engine's own address (the same for every connection without a source).
std::uint32_t load_generator::local_index(const ip_addr& a) {
    if (auto i = options_.sources.index_of(a)) return *i;
    default_local_ = a;
    return no_source;
}

tcp::stream* load_generator::stream_of(conn& c) {
    if (!c.s) c.s = find_parked(c.source, c.local_port);
    return c.s;
}

// A parked connection of ours made again, from its local address (as local_index gives it)
// and port: the rest of its flow is the target.
tcp::stream* load_generator::find_parked(std::uint32_t source, std::uint16_t port) {
    const ip_addr local = source == no_source ? default_local_ : options_.sources.at(source);
    return ep_.find(tcp::flow{{local, port}, {options_.target, options_.target_port}});
}

// The conn of a stream of ours (made again from its slot if it was idle), or null for one
// we are done with. Every callback starts here: a parked stream made again is a new stream.
load_generator::conn* load_generator::conn_of(tcp::stream& s) {
    if (!s.user) return nullptr;
    if (!is_idle_user(s.user)) {
        auto* c = static_cast<conn*>(s.user);
        c->s = &s;
        return c;
    }
    const auto index = std::uint32_t(std::bit_cast<std::uintptr_t>(s.user) >> 2);
    assert(index < live_.size() && live_[index].is_idle());
    const slot idle = live_[index];
    auto* c = new conn;
    c->s = &s;
    c->index = index;
    c->rtx_seen = idle.rtx_seen();
    c->source = idle.source();
    c->local_port = idle.port();
    c->established = true;
    live_[index] = slot(c);
    --idle_count_;
    s.user = c;
    return c;
}

// Slot i's connection and its stream, made again if parked; nulls for a free slot, or for a
// connection the endpoint no longer has (it cannot be: it is forgotten, not looked for again).
std::pair<tcp::stream*, load_generator::conn*> load_generator::open_slot(std::size_t i) {
    const slot e = live_[i];
    if (conn* c = e.get()) {
        if (tcp::stream* s = stream_of(*c)) return {s, c};
        forget(*c, tcp::close_reason::aborted);
        return {nullptr, nullptr};
    }
    if (!e.is_idle()) return {nullptr, nullptr};
    tcp::stream* s = find_parked(e.source(), e.port());
    if (s && is_idle_user(s->user)) return {s, conn_of(*s)};
    live_rtx_sum_ -= e.rtx_seen();
    open_.store(open_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    --idle_count_;
    free_slot(std::uint32_t(i));
    return {nullptr, nullptr};
}

std::uint32_t load_generator::take_slot(conn* c) {
    ++live_count_;
    if (free_.empty()) {
        live_.emplace_back(c);
        return std::uint32_t(live_.size() - 1);
    }
    const std::uint32_t i = free_.back();
    free_.pop_back();
    live_[i] = slot(c);
    return i;
}

void load_generator::free_slot(std::uint32_t i) {
    live_[i] = slot();
    free_.push_back(i);
    --live_count_;
}

} // namespace tern::app
