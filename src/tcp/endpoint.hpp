// The TCP endpoint of one engine, endpoint_core (behind the public tcp_endpoint of
// tern/tcp.hpp) (DESIGN.md "The engine loop", steps 3-4): it owns the
// engine's live connections (a flow_table by 4-tuple), its listeners, one wheel timer per
// connection, and the sink that turns what a connection emits into IPv4 packets. It is the
// engine's protocol_handler; like the engine it is single-threaded and takes no locks.
//
// Lifetime of a stream: created by connect(), by a SYN to a listening port or by the ACK of
// a SYN cookie (RFC 4987 §3.6: when the listener's SYN backlog is full); freed once it
// reaches TIME-WAIT with its last ACK sent (a record of its own keeps the 4-tuple for
// 2·MSL, time_wait.hpp), once it reaches CLOSED (reset, refused, timed out, aborted), or
// once a passive one went back to LISTEN before the application ever saw it. The free is
// deferred to the end of the engine's call into the endpoint (or to after_burst), never
// while one of the stream's own callbacks is on the stack. The application must not touch
// a stream after its on_closed returns.
//
// Payload is copied into each segment's mbuf on the way out, except buffers handed over by
// a zero-copy send, which a port that sends multi-segment frames chains behind the headers
// (emit); received payload reaches the application as a view of the received mbuf, which
// it may keep (rx_data::keep).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/engine.hpp"
#include "core/flow_table.hpp"
#include "core/object_pool.hpp"
#include "core/timer_wheel.hpp"
#include "tcp/connection.hpp"
#include "tcp/syn_cookie.hpp"
#include "tcp/time_wait.hpp"
#include "tcp/types.hpp"
#include "tern/result.hpp"
#include "tern/tcp.hpp"

namespace tern::tcp {

class endpoint_core;

// What a listener counts of the connections it made (RFC 4987 §3: the backlog is what a
// SYN flood fills). Shared with its streams, which may outlive the listener.
// A listener with listen_options::park_idle: how long its streams idle before they are
// parked, and what its parked streams share (its application, and the settings its
// options give a connection), kept here once rather than in each record.
struct listener_parking {
    duration after; // listen_options::park_after
    app_events* app;
    connection::listener_share share;
};

struct listener_backlog {
    std::uint32_t half_open = 0;         // its connections in SYN-RECEIVED
    std::uint32_t live = 0;              // its connections past the handshake, not yet in TIME-WAIT or CLOSED
    std::optional<instant> cookie_sent;  // when it last answered a SYN with a cookie
    std::uint32_t accept_limit = 0;      // listen_options::accept_backlog
    std::optional<listener_parking> parking; // with listen_options::park_idle
    std::uint32_t refs = 0;              // the backlog_refs to it
};

// A counted reference to a listener_backlog, held by the listener and each of its streams:
// 8 bytes in every stream where a shared_ptr takes 16. One engine's: the count is plain.
class backlog_ref {
public:
    backlog_ref() = default;
    static backlog_ref make() { return backlog_ref(new listener_backlog{}); }
    backlog_ref(const backlog_ref& o) : backlog_ref(o.p_) {}
    backlog_ref(backlog_ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    backlog_ref& operator=(backlog_ref o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~backlog_ref() {
        if (p_ && --p_->refs == 0) delete p_;
    }
    listener_backlog* operator->() const { return p_; }
    listener_backlog& operator*() const { return *p_; }
    explicit operator bool() const { return p_ != nullptr; }

private:
    explicit backlog_ref(listener_backlog* p) : p_(p) {
        if (p_) ++p_->refs;
    }
    listener_backlog* p_ = nullptr;
};

// An idle stream of a listener with listen_options::park_idle, as the endpoint keeps it in
// the stream's stead (DESIGN.md "Memory"): the connection's record and what the stream held
// for the application. The flow table's value for its 4-tuple is its address, tagged
// (endpoint_core::tagged). A listener's stream, or an active one of a connector (its
// backlog has parking and no listener: endpoint_core::connector).
struct parked_stream {
    static void* operator new(std::size_t size) { return object_pool<parked_stream>::allocate(size); }
    static void operator delete(void* p) { object_pool<parked_stream>::release(p); }

    connection::parked conn;
    backlog_ref backlog; // its listener's: with its application and share
    void* user;          // stream::user, as the application left it
};
// What an idle connection costs a server beside its flow table slot (DESIGN.md "Memory").
static_assert(sizeof(parked_stream) == 144, "parked_stream changed: mind the bytes an idle connection takes");

// One connection as the endpoint holds it: the sans-IO connection, its wheel timer, and
// the application's callbacks. The application sees its public side, tcp::stream. The
// timer is a base, so that a fired hook is cast back to its stream (timer_wheel.hpp).
class stream_state final : public stream, private connection_events, private timer_hook {
public:
    stream_state(endpoint_core& ep, const connection_options& options, app_events& app, bool passive);
    // A parked stream made again (its flow `f`); `p` is left empty.
    stream_state(endpoint_core& ep, const flow& f, parked_stream&& p);
    ~stream_state();

    // From the engine's pool: connections come and go at the packet rate.
    static void* operator new(std::size_t size) { return object_pool<stream_state>::allocate(size); }
    static void operator delete(void* p) { object_pool<stream_state>::release(p); }

    static stream_state& of(stream& s) { return static_cast<stream_state&>(s); }
    static const stream_state& of(const stream& s) { return static_cast<const stream_state&>(s); }
    const connection& conn() const { return conn_; }

private:
    friend class endpoint_core;
    friend class stream;
    friend class rx_data;

    void on_connected() override;
    void on_data(std::span<const std::uint8_t> bytes, void* packet) override;
    void on_writable() override;
    void on_peer_closed() override;
    void on_closed(close_reason why) override;
    rx_account& keep_account();

    endpoint_core& ep() const; // the connection's segment_sink
    timer_hook& timer() { return *this; }
    // Could it be parked now (its listener parks, its connection is idle)?
    bool parkable() const;
    static stream_state& of_timer(timer_hook& hook) { return static_cast<stream_state&>(hook); }
    app_events& app_;
    connection conn_;
    backlog_ref backlog_; // the listener's counts, for a passive stream; a connector, for an active one that parks
    // The flags and the places together, in two words.
    bool in_table_ = false;  // in the flow table; false once it is queued to be freed
    bool passive_;           // accepted from a listener: on_accepted rather than on_connected
    bool half_open_ = false; // counted in backlog_->half_open
    bool live_ = false;      // counted in backlog_->live
    bool park_due_ = false;  // idle, its timer set to park it (endpoint_core::wait_to_park)
    static constexpr std::uint32_t not_due = ~std::uint32_t(0);
    std::uint32_t due_index_ = not_due;         // its place in the endpoint's output_due_
    std::uint32_t held_back_index_ = not_due;   // its place in the endpoint's held_back_ (not_due: absent)
};

// RFC 5961 §7 for a whole endpoint, as Linux's tcp_challenge_ack_limit: the challenge ACKs
// one second may send, drawn anew each second between `limit` and twice it from a random
// `draw` (CVE-2016-5696). In 64 bits: twice a 32-bit limit need not fit 32.
std::uint64_t challenge_budget(std::uint32_t limit, std::uint64_t draw);

class endpoint_core final : public protocol_handler, private segment_sink {
public:
    // `eng` must outlive the endpoint; the endpoint registers itself as its handler.
    endpoint_core(engine& eng, const tcp_config& config, std::size_t max_connections);
    // For replay only (the fuzz harness, tests/fuzz): every secret (RFC 6528's ISN key, the
    // SYN cookie key, the flow table's seed, the ephemeral port cursors) is drawn from a
    // generator seeded with `replay_seed` instead of std::random_device, so that the same
    // input meets the same sequence numbers in every run. Never in a product: ISNs and
    // cookies become predictable to anyone who knows the seed.
    endpoint_core(engine& eng, const tcp_config& config, std::size_t max_connections, std::uint64_t replay_seed);
    ~endpoint_core() override;
    endpoint_core(const endpoint_core&) = delete;
    endpoint_core& operator=(const endpoint_core&) = delete;

    status<listen_error> listen(std::uint16_t port, const listen_options& options, app_events& app);
    void unlisten(std::uint16_t port);
    // RFC 9293 §3.10.1 active OPEN. With no local port an ephemeral one is picked that no
    // connection to (remote_ip, remote_port) uses.
    result<stream*, connect_error> connect(ip_addr remote_ip, std::uint16_t remote_port,
                                           const connect_options& options, app_events& app);

    void prepare_connect(ip_addr remote_ip, std::uint16_t remote_port, const connect_options& options);
    // The stream of flow `f`, made again if parked (and left to park again when idle).
    stream* find(const flow& f);
    std::size_t connections() const { return table_.size() + table6_.size(); }
    std::size_t time_wait() const { return time_wait_.size() + time_wait6_.size(); }
    std::uint64_t table_seed() const { return table_.seed(); }
    const endpoint_stats& stats() const { return stats_; }
    const tcp_config& config() const { return config_; }
    std::vector<std::pair<std::string_view, std::uint64_t>> counters() const;
    std::array<std::size_t, tcp_state_count> count_by_state() const;
    std::vector<tcp_info> list(std::size_t limit) const;

    // protocol_handler
    void on_tcp(rte_mbuf* m, const wire::ipv4_view& ip, const wire::tcp_view& tcp) override;
    void on_tcp6(rte_mbuf* m, const wire::ipv6_view& ip, const wire::tcp_view& tcp) override;
    void look_ahead(std::span<rte_mbuf* const> burst) override;
    void on_timer(timer_hook& hook) override;
    void after_burst() override;
    void on_icmp_unreachable(std::uint8_t code, std::uint16_t mtu, const wire::icmp_quoted_tcp& quoted) override;
    void on_packet_too_big(std::uint32_t mtu, const wire::icmpv6_quoted_tcp& quoted) override;
    void report(handler_report& out) const override;

private:
    friend class stream;
    friend class stream_state;
    // What the endpoint keeps secret from its peers, drawn once at construction.
    struct secrets {
        std::uint64_t table_seed;
        siphash_key isn_key;
        siphash_key ts_key;
        siphash_key cookie_key;
        std::array<std::uint16_t, 1024> port_cursors;
    };
    template <class Source>
    static secrets draw_secrets(Source& source);
    endpoint_core(engine& eng, const tcp_config& config, std::size_t max_connections, const secrets& drawn);

    struct listener {
        listen_options options;
        app_events* app;
        backlog_ref backlog = backlog_ref::make();
    };

    void look_ahead_window(std::span<rte_mbuf* const> burst);
    template <class Key>
    std::size_t look_ahead_family(std::span<rte_mbuf* const> frames, std::span<rte_mbuf*> others);
    // The flows and TIME-WAIT records of one family: Key is flow_key (IPv4) or flow_key6.
    template <class Key>
    flow_table<stream_state, Key>& flows();
    template <class Key>
    basic_time_wait_table<Key>& waits();
    template <class Key>
    void receive(rte_mbuf* m, const segment& seg, const Key& key);
    // The flows the last look-ahead found, in the order of its burst, for receive to take
    // instead of looking each up a second time. Any flow leaving either table or changing
    // its value forgets them all (forget_found); a flow added since cannot be one of them,
    // for only flows found are kept.
    template <class Key>
    struct found_ahead {
        static constexpr std::size_t capacity = 32;
        std::array<Key, capacity> keys;
        std::array<stream_state*, capacity> values; // table values: maybe parked
        std::uint8_t count = 0;
        std::uint8_t next = 0; // the first not taken yet
        void forget() { count = next = 0; }
        void add(const Key& key, stream_state* value) {
            if (count == capacity) return;
            keys[count] = key;
            values[count++] = value;
        }
    };
    template <class Key>
    found_ahead<Key>& ahead();
    void forget_found() {
        ahead_.forget();
        ahead6_.forget();
    }
    template <class Key>
    stream_state* insert(const flow& f, const Key& key, const connection_options& options, app_events& app,
                         bool passive);
    // The local address connect() takes towards `remote`; nullopt with the error to return.
    result<ip_addr, connect_error> local_for(const ip_addr& remote, const connect_options& options) const;
    void emit(const flow& f, const wire::tcp_repr& header, const tx_payload& payload, wire::ecn_codepoint ecn) override;
    void emit(const flow& f, const wire::tcp_plain_repr& header, const tx_payload& payload,
              wire::ecn_codepoint ecn) override;
    template <class Header> // wire::tcp_repr or wire::tcp_plain_repr
    void emit_segment(const flow& f, const Header& header, const tx_payload& payload, wire::ecn_codepoint ecn);
    void release(void* owner) override;
    // After every call into a connection: re-arm its timer, or retire it once it is done.
    void settle(stream_state& s);
    void settle_after_call(stream_state& s);
    void erase_flow(const stream_state& s); // out of the table of its family
    // Runs after every call into the endpoint, which mostly leaves nothing to do: the test
    // inline, the work out of line (the call alone was ~27 instructions a segment).
    void free_retired() {
        if (!to_park_.empty() || !retired_.empty()) park_and_free();
    }
    void park_and_free();
    void list_output(stream_state& s);
    void watch_held_back(stream_state& s);
    void unwatch_held_back(stream_state& s);
    void check_held_back();
    static void list_in(std::vector<stream_state*>& list, std::uint32_t stream_state::*place, stream_state& s);
    static void list_out(std::vector<stream_state*>& list, std::uint32_t stream_state::*place, stream_state& s);
    void unlist_output(stream_state& s);
    void flush_output();
    void count_backlog(stream_state& s);
    bool completes_into_full_backlog(const stream_state& s, const segment& seg) const;
    bool completes_a_cookie_instead(stream_state& s, const segment& seg);
    bool cookies_out(const listener& l) const;
    void on_listener(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt);
    void reply_no_connection(const segment& seg);
    stream_state* accept(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt);
    void send_cookie(const segment& syn, const listener& l);
    bool accept_cookie(const segment& ack, const listener& l, stream_state* half_open = nullptr);
    seq32 initial_sequence(const flow_key& key) const;
    seq32 initial_sequence(const flow_key6& key) const;
    connection_options with_ts_offset(connection_options options, const flow& f) const;
    std::uint32_t flow_ts_offset(const flow& f) const;
    std::uint32_t ts_offset_for(const connection::listener_share& share, const flow& f) const;
    template <class Key, class Addr>
    result<stream*, connect_error> open_active(const Addr& local, const Addr& remote_ip, std::uint16_t remote_port,
                                               const connect_options& options, app_events& app);
    template <class Key, class Addr>
    void prepare(const Addr& local, const Addr& remote_ip, std::uint16_t remote_port,
                 std::optional<std::uint16_t> local_port);
    template <class Key, class Addr>
    std::optional<std::uint16_t> ephemeral_port(const Addr& local, const Addr& remote_ip, std::uint16_t remote_port);
    template <class Key, class Addr>
    std::pair<std::uint16_t&, std::uint32_t> port_search(const Addr& local, const Addr& remote_ip,
                                                         std::uint16_t remote_port);
    // The ephemeral ports an active open of this engine may take towards (remote_ip,
    // remote_port) from `local`: with several engines, those whose reply comes home
    // (engine::flow_steering); else all (an empty span means all). nullopt: none at all.
    // Inline for the one-engine case, which every connect() of tern-load asks twice.
    // IPv4 and IPv6 alike: the reply's 4-tuple of either family names its engine.
    template <class Addr>
    std::optional<std::span<const std::uint16_t>> home_ports(const Addr& local, const Addr& remote_ip,
                                                             std::uint16_t remote_port) {
        if (engine_.flow_steering() == nullptr) return std::span<const std::uint16_t>{};
        return steered_home_ports(local, remote_ip, remote_port);
    }
    template <class Addr>
    std::optional<std::span<const std::uint16_t>> steered_home_ports(const Addr& local, const Addr& remote_ip,
                                                                     std::uint16_t remote_port);
    void on_unreachable(const ip_addr& hop);
    void on_icmp_for(stream_state* s, std::uint8_t code, std::uint16_t mtu, std::uint32_t seq);
    // TIME-WAIT kept as a record (time_wait.hpp) once the connection has nothing to send.
    void keep_time_wait(stream_state& s);
    template <class Key>
    void on_time_wait(basic_time_wait_record<Key>& r, const segment& seg);
    void arm_time_wait_timer();
    template <class Key>
    void erase_time_wait(basic_time_wait_record<Key>& r);
    bool time_wait_challenge_allowed(instant now);
    bool take_challenge_ack(instant now) override;
    void note_black_hole() override { ++stats_.path_black_holes; }
    template <class Key>
    bool tuple_taken(const Key& key);
    // Parking (listen_options::park_idle). A parked stream's table value is its record's
    // address with the low bit set: records and streams are at least 8-byte aligned.
    static bool is_parked(const stream_state* v) { return std::bit_cast<std::uintptr_t>(v) & 1; }
    static parked_stream* parked_of(const stream_state* v) {
        return std::bit_cast<parked_stream*>(std::bit_cast<std::uintptr_t>(v) & ~std::uintptr_t(1));
    }
    static stream_state* tagged(parked_stream* p) {
        return std::bit_cast<stream_state*>(std::bit_cast<std::uintptr_t>(p) | 1);
    }
    // The stream of `key`, made again if it was parked; null when none.
    template <class Key>
    stream_state* find_stream(const Key& key);
    // The same for a segment just received: the look-ahead's finding when it has one.
    template <class Key>
    stream_state* stream_for(const Key& key);
    template <class Key>
    stream_state* resolved(const Key& key, stream_state* value);
    template <class Key>
    stream_state* unpark(const Key& key, stream_state* value);
    void wait_to_park(stream_state& s);
    backlog_ref connector(app_events& app, const connect_options& options);
    void park_due();
    void park(stream_state& s);
    tcp_info parked_info(const flow& f, parked_stream& p) const;

    engine& engine_;
    tcp_config config_;
    flow_table<stream_state> table_;
    time_wait_table time_wait_; // as many records as table_ holds connections, hashed as table_ (look_ahead)
    // IPv6's, apart so that IPv4's keys stay 12 bytes; sized for max_connections only on an
    // engine with IPv6 addresses (engine_config::ipv6), else empty.
    flow_table<stream_state, flow_key6> table6_;
    time_wait_table6 time_wait6_;
    timer_hook time_wait_timer_{std::uint32_t(timer_kind::upper_layer)};
    // RFC 5961 §7 for TIME-WAIT records: one budget of challenge ACKs a second for them all.
    instant time_wait_challenge_start_{};
    std::uint32_t time_wait_challenges_ = 0;
    // RFC 5961 §7 for the whole endpoint (tcp_config::challenge_acks_total_per_second).
    std::optional<instant> challenge_budget_start_;
    std::uint64_t challenge_budget_ = 0;
    std::map<std::uint16_t, listener> listeners_;
    // What active connections that park (connect_options::park_idle) share, one per
    // application and options: a backlog with its parking and no listener.
    std::vector<backlog_ref> connectors_;
    std::vector<stream_state*> retired_; // out of the table, freed when no call into them is on the stack
    // Streams whose wait to park ran out (on_timer): parked when no call into them is on
    // the stack, with the retired.
    std::vector<stream_state*> to_park_;
    std::size_t parked_ = 0; // parked streams, in the tables with the others
    // Connections with deferred output due (connection::defer_output): flushed once per
    // round, in after_burst, after every segment of the round's bursts and every poller.
    std::vector<stream_state*> output_due_;
    std::vector<stream_state*> held_back_; // whose applications keep received bytes (rx_buffer)
    unsigned depth_ = 0;           // engine entry points on the stack (on_tcp, on_timer)
    stream_state* in_segment_ = nullptr; // whose on_segment runs: settled once it returns
    siphash_key isn_key_;          // RFC 6528's secret key
    siphash_key ts_key_;           // RFC 7323 §7.1's, for TSval offsets
    struct ts_offset_memo {
        ip_addr local, remote;
        std::uint32_t offset = 0;
        bool valid = false;
    };
    // Offsets by address pair, direct-mapped (with_ts_offset). 256: with 16, a server of 240
    // clients' addresses hashed a new offset for most connections.
    mutable std::array<ts_offset_memo, 256> ts_memo_{};
    syn_cookies cookies_;          // with a key of their own
    std::array<std::uint16_t, 1024> port_cursors_; // ephemeral search counters, by (local, remote) triple
    // The last destination every ephemeral port was found taken for, and erasures_ then:
    // until a flow leaves the table (or a listener goes), no port can have come free, so a
    // connect() to it fails at once instead of searching all 28,232 ports again.
    struct ports_exhausted {
        ip_addr local, remote;
        std::uint16_t remote_port;
        std::uint64_t erasures;
    };
    std::optional<ports_exhausted> exhausted_;
    // home_ports' lists, built at the first connect to each triple (28,232 hashes, ~56 KB),
    // one map a family so that IPv4's keys stay 12 bytes.
    template <class Addr>
    struct port_triple {
        Addr local, remote;
        std::uint16_t remote_port;
        bool operator==(const port_triple&) const = default;
    };
    struct port_triple_hash {
        std::size_t operator()(const port_triple<ipv4_addr>& t) const {
            return std::hash<std::uint64_t>{}((std::uint64_t(t.local.value) << 32 | t.remote.value) ^
                                              (std::uint64_t(t.remote_port) << 17));
        }
        std::size_t operator()(const port_triple<ipv6_addr>& t) const;
    };
    template <class Addr>
    using port_pools = std::unordered_map<port_triple<Addr>, rss::port_pool, port_triple_hash>;
    template <class Addr>
    port_pools<Addr>& home_port_pools();
    port_pools<ipv4_addr> home_ports_;
    port_pools<ipv6_addr> home_ports6_;
    std::uint64_t erasures_ = 0;   // flows taken out of table_, and listeners removed
    found_ahead<flow_key> ahead_;
    found_ahead<flow_key6> ahead6_;
    std::uint16_t ip_id_ = 0;
    endpoint_stats stats_;
    std::array<std::uint64_t, tcp_drop_count> freed_drops_{}; // drops of connections already freed
    connection_totals freed_totals_;                           // and their loss and ECN counts
};

} // namespace tern::tcp
