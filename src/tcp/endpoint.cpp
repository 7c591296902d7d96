#include "tcp/endpoint.hpp"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include <rte_mbuf.h>

#include "core/prefetch.hpp"
#include "wire/checksum.hpp"
#include "wire/frame.hpp"
#include "wire/ipv4.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv6.hpp"
#include "tcp/rx_account.hpp"
#include "wire/tcp.hpp"

namespace tern::tcp {

namespace {

// Ephemeral ports: Linux's default ip_local_port_range.
constexpr std::uint16_t ephemeral_first = ephemeral_port_first;
constexpr std::uint16_t ephemeral_count = ephemeral_port_count;

// The port search's steps (RFC 6056 §3.3.4: offset plus counter) among the ports it may
// take: all ephemeral ones (`home` empty) or an engine's home ports. Without home ports the
// divisor is the constant, which the compiler turns into a multiplication: the common case
// pays no division (it paid two a connect()).
std::uint32_t wrap_step(std::span<const std::uint16_t> home, std::uint32_t step) {
    return home.empty() ? step % ephemeral_count : step % std::uint32_t(home.size());
}
std::uint16_t port_at_step(std::span<const std::uint16_t> home, std::uint32_t step) {
    const std::uint32_t at = wrap_step(home, step);
    return home.empty() ? std::uint16_t(ephemeral_first + at) : home[at];
}

siphash_key random_key() {
    std::random_device rd;
    auto word = [&] { return (std::uint64_t(rd()) << 32) | rd(); };
    return {word(), word()};
}

// RFC 7323 §7.1's TSval offsets must not change when a process restarts: TSvals come from a
// clock that runs through restarts (the engine's, from boot), and a peer holding one of our
// 4-tuples in TIME-WAIT takes its next SYN only with a newer TSval (PAWS; RFC 6191). A
// secret drawn per process made a restarted tern-load wait out a SYN timeout against
// Linux. So the secret is the kernel's boot ID: random at each boot, unknown off the host
// (as Linux's own per-boot secret); a random one where it cannot be read.
siphash_key boot_key() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    if (!(in >> id)) return random_key();
    std::string hex;
    for (char c : id)
        if (std::isxdigit(static_cast<unsigned char>(c))) hex += c;
    if (hex.size() < 32) return random_key();
    return {std::stoull(hex.substr(0, 16), nullptr, 16), std::stoull(hex.substr(16, 16), nullptr, 16)};
}

template <class Key>
Key key_of(const flow& f) {
    if constexpr (std::is_same_v<Key, flow_key>)
        return {f.local.addr.v4(), f.remote.addr.v4(), f.local.port, f.remote.port};
    else
        return {f.local.addr.v6(), f.remote.addr.v6(), f.local.port, f.remote.port};
}

template <class Key>
flow flow_of(const Key& k) {
    return {{k.local_ip, k.local_port}, {k.remote_ip, k.remote_port}};
}

// Our end of the flow a segment came on, and the peer's.
flow flow_of(const segment& seg) {
    return {{seg.dst_addr, seg.header.dst_port}, {seg.src_addr, seg.header.src_port}};
}

} // namespace

// ---- received data kept by the application -------------------------------------------

rx_buffer rx_data::keep() const {
    rx_buffer b;
    if (bytes_.empty()) return b;
    if (packet_) {
        // Zero-copy: one more reference on the received mbuf (direct, one segment: the
        // engine drops chained frames), released by rx_buffer::reset.
        rte_mbuf_refcnt_update(static_cast<rte_mbuf*>(packet_), 1);
        b.packet_ = packet_;
        b.bytes_ = bytes_;
    } else {
        b.copy_ = std::make_unique<std::uint8_t[]>(bytes_.size());
        std::memcpy(b.copy_.get(), bytes_.data(), bytes_.size());
        b.bytes_ = {b.copy_.get(), bytes_.size()};
    }
    // keep() runs inside on_data, on the engine's core: the stream is there to ask.
    if (owner_) {
        b.account_ = &static_cast<stream_state*>(owner_)->keep_account();
        b.account_->take(std::uint32_t(bytes_.size()));
    }
    return b;
}

rx_buffer& rx_buffer::operator=(rx_buffer&& other) noexcept {
    if (this != &other) {
        reset();
        packet_ = std::exchange(other.packet_, nullptr);
        copy_ = std::move(other.copy_);
        bytes_ = std::exchange(other.bytes_, {});
        account_ = std::exchange(other.account_, nullptr);
    }
    return *this;
}

void rx_buffer::reset() {
    if (packet_) rte_pktmbuf_free(static_cast<rte_mbuf*>(packet_));
    if (account_) rx_account::give_back(account_, std::uint32_t(bytes_.size()));
    packet_ = nullptr;
    copy_.reset();
    bytes_ = {};
    account_ = nullptr;
}

tx_block& tx_block::operator=(tx_block&& other) noexcept {
    if (this != &other) {
        reset();
        packet_ = std::exchange(other.packet_, nullptr);
        data_ = std::exchange(other.data_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

void tx_block::reset() {
    if (packet_) rte_pktmbuf_free(static_cast<rte_mbuf*>(packet_));
    packet_ = nullptr;
    data_ = nullptr;
    capacity_ = size_ = 0;
}

// ---- stream --------------------------------------------------------------------------

// The endpoint is the sink every connection it holds emits through: a stream need not keep
// a second reference to it.
endpoint_core& stream_state::ep() const { return static_cast<endpoint_core&>(conn_.sink()); }

stream_state::stream_state(endpoint_core& ep, const connection_options& options, app_events& app, bool passive)
    : timer_hook(std::uint32_t(timer_kind::upper_layer)), app_(app), conn_(ep.config_, options, ep, *this),
      passive_(passive) {
    conn_.defer_output(true);
}

stream_state::stream_state(endpoint_core& ep, const flow& f, parked_stream&& p)
    : timer_hook(std::uint32_t(timer_kind::upper_layer)), app_(*p.backlog->parking->app),
      conn_(ep.config_, ep, *this, f, std::move(p.conn), p.backlog->parking->share,
            ep.ts_offset_for(p.backlog->parking->share, f)),
      backlog_(std::move(p.backlog)), in_table_(true), passive_(backlog_->parking->share.passive), live_(true) {
    user = p.user;
    conn_.defer_output(true);
}

bool stream_state::parkable() const {
    if (!backlog_ || !backlog_->parking) return false;
    const connection::listener_share& share = backlog_->parking->share;
    return conn_.parkable(share, ep().ts_offset_for(share, conn_.flow_id()));
}

stream_state::~stream_state() {
    ep().engine_.timers().cancel(timer());
    ep().unwatch_held_back(*this);
}

result<std::size_t, send_error> stream::send(std::span<const std::uint8_t> bytes) {
    auto& s = stream_state::of(*this);
    auto r = s.conn_.send(bytes, s.ep().engine_.now());
    s.ep().settle_after_call(s);
    return r;
}

result<tx_block, send_error> stream::allocate(std::size_t max) {
    auto& s = stream_state::of(*this);
    rte_mbuf* m = rte_pktmbuf_alloc(s.ep().engine_.pool());
    if (!m) return unexpected{send_error::no_buffer};
    tx_block b;
    b.packet_ = m;
    b.data_ = rte_pktmbuf_mtod(m, std::uint8_t*);
    b.capacity_ = std::min<std::size_t>(max, rte_pktmbuf_tailroom(m));
    return b;
}

result<tx_block, send_error> stream::share(const tx_block& filled) {
    auto& s = stream_state::of(*this);
    if (!filled.valid()) return unexpected{send_error::no_buffer};
    rte_mbuf* m = rte_pktmbuf_alloc(s.ep().engine_.pool());
    if (!m) return unexpected{send_error::no_buffer};
    // An indirect mbuf: a reference on the filled one's buffer, which goes back to the pool
    // when the last block, and the last segment, that refers to it is freed.
    rte_pktmbuf_attach(m, static_cast<rte_mbuf*>(filled.packet_));
    tx_block b;
    b.packet_ = m;
    b.data_ = filled.data_;
    b.capacity_ = b.size_ = filled.size_;
    return b;
}

result<std::size_t, send_error> stream::send(tx_block& block) {
    auto& s = stream_state::of(*this);
    if (!block.valid()) return std::size_t(0);
    auto* m = static_cast<rte_mbuf*>(block.packet_);
    m->data_len = std::uint16_t(block.size_);
    m->pkt_len = std::uint32_t(block.size_);
    auto r = s.conn_.send_owned(block.bytes(), m, s.ep().engine_.now());
    if (r && *r == block.size_) { // taken: the send buffer holds the mbuf now
        block.packet_ = nullptr;
        block.reset();
    }
    s.ep().settle_after_call(s);
    return r;
}

status<close_error> stream::shutdown() {
    auto& s = stream_state::of(*this);
    auto r = s.conn_.shutdown(s.ep().engine_.now());
    s.ep().settle(s);
    return r;
}

status<close_error> stream::close() {
    auto& s = stream_state::of(*this);
    auto r = s.conn_.close(s.ep().engine_.now());
    s.ep().settle(s);
    return r;
}

void stream::abort() {
    auto& s = stream_state::of(*this);
    s.conn_.abort(s.ep().engine_.now());
    s.ep().settle(s);
}

tcp_state stream::state() const { return stream_state::of(*this).conn_.state(); }
const flow& stream::flow_id() const { return stream_state::of(*this).conn_.flow_id(); }
bool stream::passive() const { return stream_state::of(*this).passive_; }
std::uint32_t stream::send_space() const { return stream_state::of(*this).conn_.send_space(); }
tcp_info stream::info() const { return stream_state::of(*this).conn_.info(); }
std::uint64_t stream::retransmits() const { return stream_state::of(*this).conn_.losses().retransmits; }

void stream_state::on_connected() {
    if (passive_) app_.on_accepted(*this);
    else app_.on_connected(*this);
}
void stream_state::on_data(std::span<const std::uint8_t> bytes, void* packet) {
    app_.on_data(*this, rx_data(bytes, packet, this));
}

// The application keeps received bytes: they count against the window until released, and
// the endpoint watches for their release to open the window again (check_held_back).
rx_account& stream_state::keep_account() {
    ep().watch_held_back(*this);
    return conn_.application_account();
}
void stream_state::on_writable() { app_.on_writable(*this); }
void stream_state::on_peer_closed() { app_.on_peer_closed(*this); }
void stream_state::on_closed(close_reason why) { app_.on_closed(*this, why); }

// ---- the public endpoint -------------------------------------------------------------

tcp_endpoint::tcp_endpoint(engine& eng, const tcp_config& config, std::size_t max_connections)
    : core_(std::make_unique<endpoint_core>(eng, config, max_connections)) {}
tcp_endpoint::~tcp_endpoint() = default;
status<listen_error> tcp_endpoint::listen(std::uint16_t port, const listen_options& options, app_events& app) {
    return core_->listen(port, options, app);
}
void tcp_endpoint::unlisten(std::uint16_t port) { core_->unlisten(port); }
result<stream*, connect_error> tcp_endpoint::connect(ip_addr remote, std::uint16_t port,
                                                     const connect_options& options, app_events& app) {
    return core_->connect(remote, port, options, app);
}
void tcp_endpoint::prepare_connect(ip_addr remote, std::uint16_t port, const connect_options& options) {
    core_->prepare_connect(remote, port, options);
}
stream* tcp_endpoint::find(const flow& f) { return core_->find(f); }
std::size_t tcp_endpoint::connections() const { return core_->connections(); }
std::size_t tcp_endpoint::time_wait() const { return core_->time_wait(); }
const endpoint_stats& tcp_endpoint::stats() const { return core_->stats(); }
const tcp_config& tcp_endpoint::config() const { return core_->config(); }
std::vector<std::pair<std::string_view, std::uint64_t>> tcp_endpoint::counters() const { return core_->counters(); }
std::array<std::size_t, tcp_state_count> tcp_endpoint::count_by_state() const { return core_->count_by_state(); }
std::vector<tcp_info> tcp_endpoint::list(std::size_t limit) const { return core_->list(limit); }

std::string_view to_string(connect_error e) {
    switch (e) {
    case connect_error::no_free_port: return "no free ephemeral port";
    case connect_error::port_in_use: return "local port in use";
    case connect_error::table_full: return "connection table full";
    case connect_error::not_local_address: return "not one of the engine's addresses of the remote's family";
    case connect_error::no_local_address: return "no usable address of the remote's family";
    }
    return "?";
}

// ---- endpoint ------------------------------------------------------------------------

// `source` gives 32 random bits a call (std::random_device, or std::mt19937 for replay).
// The flow table's hash seed is per endpoint and random too: with a public constant, a peer
// could pick 4-tuples that all land in one probe chain (hash flooding) and make every
// lookup a scan.
template <class Source>
endpoint_core::secrets endpoint_core::draw_secrets(Source& source) {
    auto word = [&] { return (std::uint64_t(source()) << 32) | std::uint32_t(source()); };
    secrets s;
    s.table_seed = word();
    s.isn_key = {word(), word()};
    s.ts_key = {word(), word()};
    s.cookie_key = {word(), word()};
    for (auto& c : s.port_cursors) c = std::uint16_t(source() % ephemeral_count);
    return s;
}

endpoint_core::endpoint_core(engine& eng, const tcp_config& config, std::size_t max_connections)
    : endpoint_core(eng, config, max_connections, [] {
          std::random_device rd;
          secrets s = draw_secrets(rd);
          s.ts_key = boot_key(); // the same across processes (see boot_key); replays draw theirs
          return s;
      }()) {}

endpoint_core::endpoint_core(engine& eng, const tcp_config& config, std::size_t max_connections,
                             std::uint64_t replay_seed)
    : endpoint_core(eng, config, max_connections, [replay_seed] {
          std::seed_seq seed{std::uint32_t(replay_seed), std::uint32_t(replay_seed >> 32)};
          std::mt19937 generator(seed);
          return draw_secrets(generator);
      }()) {}

endpoint_core::endpoint_core(engine& eng, const tcp_config& config, std::size_t max_connections, const secrets& drawn)
    : engine_(eng), config_(config), table_(max_connections, drawn.table_seed),
      time_wait_(max_connections, table_.seed()), table6_(eng.has_ipv6() ? max_connections : 0, drawn.table_seed),
      time_wait6_(eng.has_ipv6() ? max_connections : 0, drawn.table_seed),
      isn_key_(drawn.isn_key), ts_key_(drawn.ts_key), cookies_(drawn.cookie_key), port_cursors_(drawn.port_cursors) {
    // Every connection's first segment probes its flow table: touched now, a table of
    // millions of flows faults in before the traffic (on a VM, 2 s a GiB past what the host
    // has backed). The TIME-WAIT indexes become resident as they fill: a side whose peers
    // close first never does.
    table_.populate();
    table6_.populate();
    engine_.set_protocol_handler(this);
    engine_.on_unreachable([this](const ip_addr& hop) { on_unreachable(hop); });
}

endpoint_core::~endpoint_core() {
    engine_.set_protocol_handler(nullptr);
    engine_.on_unreachable(nullptr);
    engine_.timers().cancel(time_wait_timer_);
    std::vector<stream_state*> live;
    table_.for_each([&](const flow_key&, stream_state* s) { live.push_back(s); });
    table6_.for_each([&](const flow_key6&, stream_state* s) { live.push_back(s); });
    table_.clear();
    table6_.clear();
    for (stream_state* s : live) {
        if (is_parked(s)) delete parked_of(s);
        else delete s;
    }
    for (stream_state* s : retired_) delete s;
}

status<listen_error> endpoint_core::listen(std::uint16_t port, const listen_options& options, app_events& app) {
    auto [l, added] = listeners_.try_emplace(port, listener{options, &app});
    if (!added) return unexpected(listen_error::port_in_use);
    l->second.backlog->accept_limit = options.accept_backlog;
    if (options.park_idle)
        l->second.backlog->parking = listener_parking{options.park_after, &app, connection::listener_share(options.connection, port)};
    return {};
}

void endpoint_core::unlisten(std::uint16_t port) {
    listeners_.erase(port);
    ++erasures_; // its port may serve connect() now
}

template <>
flow_table<stream_state, flow_key>& endpoint_core::flows<flow_key>() { return table_; }
template <>
flow_table<stream_state, flow_key6>& endpoint_core::flows<flow_key6>() { return table6_; }
template <>
endpoint_core::found_ahead<flow_key>& endpoint_core::ahead<flow_key>() { return ahead_; }
template <>
endpoint_core::found_ahead<flow_key6>& endpoint_core::ahead<flow_key6>() { return ahead6_; }
template <>
time_wait_table& endpoint_core::waits<flow_key>() { return time_wait_; }
template <>
time_wait_table6& endpoint_core::waits<flow_key6>() { return time_wait6_; }

result<ip_addr, connect_error> endpoint_core::local_for(const ip_addr& remote, const connect_options& options) const {
    if (remote.is_v4()) {
        const ipv4_addr local = options.local_addr && options.local_addr->is_v4() ? options.local_addr->v4()
                                : options.local_addr                          ? ipv4_addr{}
                                                                              : engine_.address().addr;
        if (!engine_.is_local(local)) return unexpected(connect_error::not_local_address);
        return ip_addr(local);
    }
    if (options.local_addr) {
        if (options.local_addr->is_v4() || !engine_.is_local_v6(options.local_addr->v6()))
            return unexpected(connect_error::not_local_address);
        return *options.local_addr;
    }
    // RFC 6724's choice, simplified (neighbor_discovery::source_for): the address on the
    // remote's prefix, else the first global one.
    const auto source = engine_.ipv6_source_for(remote.v6());
    if (!source) return unexpected(connect_error::no_local_address);
    return ip_addr(*source);
}

result<stream*, connect_error> endpoint_core::connect(ip_addr remote_ip, std::uint16_t remote_port,
                                                      const connect_options& options, app_events& app) {
    const auto local = local_for(remote_ip, options);
    if (!local) return unexpected(local.error());
    if (remote_ip.is_v4()) return open_active<flow_key>(local->v4(), remote_ip.v4(), remote_port, options, app);
    return open_active<flow_key6>(local->v6(), remote_ip.v6(), remote_port, options, app);
}

// connect() once the family is known: Addr is ipv4_addr for flow_key, ipv6_addr for flow_key6.
template <class Key, class Addr>
result<stream*, connect_error> endpoint_core::open_active(const Addr& local, const Addr& remote_ip,
                                                          std::uint16_t remote_port, const connect_options& options,
                                                          app_events& app) {
    if (flows<Key>().size() == flows<Key>().max_flows()) return unexpected(connect_error::table_full);
    std::optional<std::uint16_t> local_port = options.local_port;
    if (!local_port) local_port = ephemeral_port<Key>(local, remote_ip, remote_port);
    if (!local_port) return unexpected(connect_error::no_free_port);
    const Key key{local, remote_ip, *local_port, remote_port};
    if (waits<Key>().find(key)) return unexpected(connect_error::port_in_use);
    const flow f{{local, *local_port}, {remote_ip, remote_port}};
    stream_state* s = insert(f, key, options.connection, app, false);
    if (!s) return unexpected(connect_error::port_in_use);
    if (options.park_idle) s->backlog_ = connector(app, options);
    // A fresh connection in CLOSED always opens.
    [[maybe_unused]] auto opened = s->conn_.open_active(f, initial_sequence(key), engine_.now());
    assert(opened);
    settle(*s);
    return static_cast<stream*>(s);
}

// A new stream in the table of its family, or null when the 4-tuple is there already or
// the table is full (the stream is not made then).
template <class Key>
stream_state* endpoint_core::insert(const flow& f, const Key& key, const connection_options& options,
                                    app_events& app, bool passive) {
    auto* s = new stream_state(*this, with_ts_offset(options, f), app, passive);
    if (!flows<Key>().insert(key, s)) {
        delete s;
        return nullptr;
    }
    s->in_table_ = true;
    return s;
}

// RFC 6056 Algorithm 4's state for a (local, remote) triple: its counter and its offset.
template <class Key, class Addr>
std::pair<std::uint16_t&, std::uint32_t> endpoint_core::port_search(const Addr& local, const Addr& remote_ip,
                                                                   std::uint16_t remote_port) {
    const std::uint32_t h = flows<Key>().hash(Key{local, remote_ip, 0, remote_port});
    return {port_cursors_[h % port_cursors_.size()], (h >> 8) % ephemeral_count};
}

template <class Key>
bool endpoint_core::tuple_taken(const Key& key) {
    return flows<Key>().find(key) || waits<Key>().find(key);
}

// The slots the next connect() with these arguments reads start loading now: the 4-tuple
// it will most likely take (the next port of the search, when none is given).
void endpoint_core::prepare_connect(ip_addr remote_ip, std::uint16_t remote_port, const connect_options& options) {
    if (remote_ip.is_v4()) {
        const ipv4_addr local = options.local_addr ? options.local_addr->v4() : engine_.address().addr;
        return prepare<flow_key>(local, remote_ip.v4(), remote_port, options.local_port);
    }
    const auto local = options.local_addr ? std::optional(options.local_addr->v6()) : engine_.ipv6_source_for(remote_ip.v6());
    if (local) prepare<flow_key6>(*local, remote_ip.v6(), remote_port, options.local_port);
}

template <class Key, class Addr>
void endpoint_core::prepare(const Addr& local, const Addr& remote_ip, std::uint16_t remote_port,
                            std::optional<std::uint16_t> local_port) {
    std::uint16_t port = local_port.value_or(0);
    if (!local_port) {
        const auto home = home_ports(local, remote_ip, remote_port);
        if (!home) return;
        const auto [cursor, offset] = port_search<Key>(local, remote_ip, remote_port);
        port = port_at_step(*home, offset + cursor);
    }
    const std::uint32_t h = flows<Key>().hash(Key{local, remote_ip, port, remote_port});
    flows<Key>().prefetch(h);
    if (waits<Key>().size()) waits<Key>().prefetch(h);
}

template <>
endpoint_core::port_pools<ipv4_addr>& endpoint_core::home_port_pools<ipv4_addr>() { return home_ports_; }
template <>
endpoint_core::port_pools<ipv6_addr>& endpoint_core::home_port_pools<ipv6_addr>() { return home_ports6_; }

// The addresses' four words folded into one with the port: an engine holds a few triples
// (its destinations), looked up once a connect(), so a plain fold does.
std::size_t endpoint_core::port_triple_hash::operator()(const port_triple<ipv6_addr>& t) const {
    std::uint64_t w[4];
    std::memcpy(w, t.local.bytes.data(), 16);
    std::memcpy(w + 2, t.remote.bytes.data(), 16);
    return std::hash<std::uint64_t>{}(w[0] ^ w[1] ^ w[2] ^ w[3] ^ (std::uint64_t(t.remote_port) << 17));
}

template <class Addr>
std::optional<std::span<const std::uint16_t>> endpoint_core::steered_home_ports(const Addr& local, const Addr& remote_ip,
                                                                              std::uint16_t remote_port) {
    const steering* st = engine_.flow_steering();
    const port_triple<Addr> key{local, remote_ip, remote_port};
    auto& pools = home_port_pools<Addr>();
    auto it = pools.find(key);
    if (it == pools.end()) {
        auto pool = rss::port_pool::make(st->hash(), st->table(), local, remote_ip, remote_port);
        if (!pool) return std::nullopt;
        it = pools.emplace(key, std::move(*pool)).first;
    }
    const auto ports = it->second.of(engine_.id());
    if (ports.empty()) return std::nullopt;
    return ports;
}

template <class Key, class Addr>
std::optional<std::uint16_t> endpoint_core::ephemeral_port(const Addr& local, const Addr& remote_ip,
                                                          std::uint16_t remote_port) {
    const auto& x = exhausted_;
    if (x && x->erasures == erasures_ && x->remote_port == remote_port && x->local == ip_addr(local) &&
        x->remote == ip_addr(remote_ip))
        return std::nullopt;
    // RFC 6056 §3.3.4 (Algorithm 4, double-hash): the search starts at an offset of the
    // (local, remote) triple plus a counter of its own, one of port_cursors_. With one
    // counter for all, a client that takes its source addresses in turn (tern-load's
    // --source-ip) paired each address with every eighth port only: 8 addresses gave
    // 28,232 distinct 4-tuples instead of 225,856, and every new connection landed on
    // one the server still held in TIME-WAIT.
    const auto home = home_ports(local, remote_ip, remote_port);
    if (!home) return std::nullopt;
    // DESIGN.md "Flow steering": with several engines, only the ports whose reply hashes to
    // this engine; never one of another engine's, which would carry the flow there.
    const std::uint32_t count = home->empty() ? ephemeral_count : std::uint32_t(home->size());
    auto [cursor, offset] = port_search<Key>(local, remote_ip, remote_port);
    for (std::uint32_t i = 0; i < count; ++i) {
        const auto port = port_at_step(*home, offset + cursor);
        cursor = std::uint16_t(wrap_step(*home, cursor + 1u));
        if (listeners_.contains(port)) continue;
        if (!tuple_taken(Key{local, remote_ip, port, remote_port})) return port;
    }
    exhausted_ = ports_exhausted{local, remote_ip, remote_port, erasures_};
    return std::nullopt;
}

// RFC 7323 §7.1: a TSval offset that is random to everyone else, one per pair of addresses
// rather than per connection, so that all connections between two hosts share one clock
// (the peer's RFC 6191 TIME-WAIT reuse compares TSvals across connections; Linux keys its
// offsets the same way). An offset the application set is kept.
connection_options endpoint_core::with_ts_offset(connection_options options, const flow& f) const {
    if (!options.ts_offset) options.ts_offset = flow_ts_offset(f);
    return options;
}

std::uint32_t endpoint_core::flow_ts_offset(const flow& f) const {
    // A few pairs of addresses carry most connections (a load generator's source addresses
    // to its target, a server's clients), and the offset is a function of the pair alone:
    // offsets are kept by pair rather than hashed again for every connection.
    const ip_addr& local = f.local.addr;
    const ip_addr& remote = f.remote.addr;
    const auto [l0, l1] = address_words(local);
    const auto [r0, r1] = address_words(remote);
    const bool v4 = local.is_v4();
    // The addresses' low bits pick the slot: their last bytes (l1 and r1's high ones).
    const std::uint64_t slot = v4 ? local.v4().value ^ remote.v4().value : (l1 ^ r1) >> 56;
    ts_offset_memo& m = ts_memo_[slot % ts_memo_.size()];
    if (!m.valid || m.local != local || m.remote != remote) {
        const std::uint64_t offset = v4 ? siphash(ts_key_, {local.v4().value, remote.v4().value})
                                        : siphash(ts_key_, {l0, l1, r0, r1});
        m = ts_offset_memo{local, remote, std::uint32_t(offset), true};
    }
    return m.offset;
}

// A parked stream's ts_offset: its listener's options', else its flow's (with_ts_offset).
std::uint32_t endpoint_core::ts_offset_for(const connection::listener_share& share, const flow& f) const {
    return share.ts_offset_by_flow ? flow_ts_offset(f) : share.settings.ts_offset;
}

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
// is a timer ticking every 4 microseconds.
seq32 endpoint_core::initial_sequence(const flow_key& key) const {
    // F takes the key's words as the flow table makes them, from its fields: a key just
    // built field by field and read back as whole words stalls on store forwarding.
    const auto m = std::uint32_t(engine_.now().time_since_epoch().count() / 4000);
    return seq32(m + std::uint32_t(siphash(isn_key_, {detail::flow_key_lo(key), detail::flow_key_hi(key)})));
}

seq32 endpoint_core::initial_sequence(const flow_key6& key) const {
    // Word by word: the key copied into a zeroed array was read back across two stores of
    // different sizes, a failed store forward (11% of tern-load's open_one over IPv6).
    using detail::flow_key_word;
    const std::uint64_t tail = detail::flow_key_tail(key);
    const auto m = std::uint32_t(engine_.now().time_since_epoch().count() / 4000);
    return seq32(m + std::uint32_t(siphash(isn_key_, {flow_key_word(key, 0), flow_key_word(key, 1), flow_key_word(key, 2),
                                                      flow_key_word(key, 3), tail})));
}

// DESIGN.md "The engine loop", step 3: the burst's flow table slots start loading before
// the first of its segments is received, so that the lookups of a burst miss the cache
// together instead of one after another (a table sized for a million flows holds a
// thousand live ones a cache line apart: the slot's load was half of on_tcp's cycles).
void endpoint_core::look_ahead(std::span<rte_mbuf* const> burst) {
    forget_found();
    // In windows, so that the keys and hashes of the first pass fit on the stack.
    constexpr std::size_t window = 32;
    for (std::size_t base = 0; base < burst.size(); base += window)
        look_ahead_window(burst.subspan(base, std::min(window, burst.size() - base)));
}

void endpoint_core::look_ahead_window(std::span<rte_mbuf* const> burst) {
    std::array<rte_mbuf*, 32> others; // not IPv4 TCP: maybe IPv6's
    const std::size_t n_others = look_ahead_family<flow_key>(burst, others);
    // IPv6's keys are three times IPv4's, set up only for a window that
    // holds frames of another kind.
    if (n_others && table6_.max_flows()) look_ahead_family<flow_key6>({others.data(), n_others}, {});
}

// Two passes over the TCP segments of one family (Key: flow_key, IPv4, or flow_key6). The
// first starts loading the flow-table slot of every segment; the second finds each flow
// (its slot is in flight or there by then) and starts loading the whole connection it
// leads to. A busy connection's state is cold when its next segment comes (a thousand of
// them do not fit a core's L2, ~13 lines each), so without the second pass every segment
// waited for those lines one after another. The flows found are kept (found_ahead) for
// receive, which then does not look them up again. Frames of another kind go to `others`
// while it has room; returns how many went there.
template <class Key>
std::size_t endpoint_core::look_ahead_family(std::span<rte_mbuf* const> frames, std::span<rte_mbuf*> others) {
    namespace f = wire::tcp_flags;
    std::array<Key, 32> keys;
    std::array<std::uint32_t, 32> hashes;
    std::array<bool, 32> opens;
    std::size_t n = 0, n_others = 0;
    for (rte_mbuf* m : frames) {
        const std::span<const std::uint8_t> frame{rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m)};
        const auto e = [&] {
            if constexpr (std::is_same_v<Key, flow_key>) return wire::peek_tcp_ipv4_ends(frame);
            else return wire::peek_tcp_ipv6_ends(frame);
        }();
        if (!e.found) {
            if (n_others < others.size()) others[n_others++] = m;
            continue;
        }
        keys[n] = Key{e.dst, e.src, e.dst_port, e.src_port};
        hashes[n] = flows<Key>().hash(keys[n]);
        flows<Key>().prefetch(hashes[n]);
        // A SYN looks for a TIME-WAIT record (RFC 6191), a FIN may leave one: that slot too
        // (with connections opened and closed at the packet rate, it was 7% of the cycles).
        if (e.flags & (f::syn | f::fin)) waits<Key>().prefetch(hashes[n]);
        // A SYN without ACK opens a connection that is not there yet (a retransmitted SYN
        // aside): no second look for it. Under a SYN flood that look is all waste.
        opens[n] = (e.flags & (f::syn | f::ack)) == f::syn;
        ++n;
    }
    // A parked record's tagged address too: prefetch_object starts at the line that holds it
    // (the tag bit is below a line), and a record is smaller than a stream.
    static_assert(sizeof(parked_stream) <= sizeof(stream_state));
    found_ahead<Key>& found = ahead<Key>();
    for (std::size_t i = 0; i < n; ++i)
        if (!opens[i])
            if (stream_state* s = flows<Key>().find(keys[i], hashes[i])) {
                prefetch_object(s);
                found.add(keys[i], s);
            }
    return n_others;
}

void endpoint_core::on_tcp(rte_mbuf* m, const wire::ipv4_view& ip, const wire::tcp_view& tcp) {
    const segment seg{ip.src(), ip.dst(), wire::tcp_repr::from(tcp), tcp.payload(), m, ip.ecn()};
    receive(m, seg, flow_key{ip.dst(), ip.src(), tcp.dst_port(), tcp.src_port()});
}

void endpoint_core::on_tcp6(rte_mbuf* m, const wire::ipv6_view& ip, const wire::tcp_view& tcp) {
    const segment seg{ip.src(), ip.dst(), wire::tcp_repr::from(tcp), tcp.payload(), m, ip.ecn()};
    receive(m, seg, flow_key6{ip.dst(), ip.src(), tcp.dst_port(), tcp.src_port()});
}

// A segment of either family, `key` its 4-tuple seen from here.
template <class Key>
void endpoint_core::receive(rte_mbuf* m, const segment& seg, const Key& key) {
    ++depth_;
    ++stats_.segments_in;
    if (seg.ecn == wire::ecn_codepoint::ce) ++stats_.ecn_ce_in;
    const std::uint16_t port = seg.header.dst_port;
    if (stream_state* s = stream_for(key)) {
        if (completes_into_full_backlog(*s, seg)) {
            ++stats_.accept_backlog_full;
        } else if (!(s->half_open_ && completes_a_cookie_instead(*s, seg))) {
            stream_state* const outer = std::exchange(in_segment_, s);
            s->conn_.on_segment(seg, engine_.now());
            in_segment_ = outer;
            settle(*s);
        }
        if (s->conn_.ended_by_new_syn()) {
            // RFC 6191: the SYN ended TIME-WAIT (settle retired the old stream); it opens a
            // new connection through the listener, as if the old one had already gone.
            ++stats_.time_wait_reused;
            if (auto l = listeners_.find(port); l != listeners_.end())
                on_listener(seg, l->second, s->conn_.control_block().snd_max);
            else
                reply_no_connection(seg);
        }
    } else if (auto* r = waits<Key>().find(key)) {
        on_time_wait(*r, seg);
    } else if (auto l = listeners_.find(port); l != listeners_.end()) {
        on_listener(seg, l->second, std::nullopt);
    } else {
        reply_no_connection(seg);
    }
    engine_.free_received(m); // our reference: the application may hold more (rx_data::keep)
    if (--depth_ == 0) free_retired();
}

// RFC 9293 §3.10.7.1: no connection (or, in LISTEN, an ACK or RST): reset, unless it is one.
void endpoint_core::reply_no_connection(const segment& seg) {
    ++stats_.no_connection;
    if (auto rst = reply_to_closed(seg)) {
        ++stats_.rst_sent;
        emit(flow_of(seg), *rst, {}, wire::ecn_codepoint::not_ect);
    }
}

// A segment for no connection, to a listening port. A SYN opens a connection, or with the
// SYN backlog full gets a cookie (RFC 4987 §3.6); an ACK may complete a cookie handshake,
// and is otherwise reset (§3.10.7.2 second: an ACK in LISTEN gets RST); an RST is ignored
// (first); anything else is dropped (fourth).
void endpoint_core::on_listener(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt) {
    namespace f = wire::tcp_flags;
    const listener_backlog& backlog = *l.backlog;
    if (seg.has(f::syn) && !seg.has(f::ack) && !seg.has(f::rst)) {
        // An engine that is behind on its input, or whose device refuses its output, has
        // no room for a new connection's work: its SYN-ACK would wait behind the backlog or
        // be dropped with it, and the client retransmit into the same jam. The SYN is
        // dropped unanswered (the client sends it again, RFC 9293 §3.8.1) while the
        // connections already open are served.
        if (engine_.congested()) {
            ++stats_.syn_dropped_busy;
            return;
        }
        if (backlog.live >= l.options.accept_backlog) {
            ++stats_.accept_backlog_full; // dropped: the client sends its SYN again
            return;
        }
        if (backlog.half_open >= l.options.syn_backlog) {
            ++stats_.syn_backlog_full;
            return send_cookie(seg, l);
        }
        accept(seg, l, replaced_snd_nxt);
        return;
    }
    // §3.10.7.2 fourth: "Any other control or text-bearing segment (not containing SYN)
    // must have an ACK and thus would have been discarded by the ACK processing ... drop the
    // segment and return." A listening port is no closed port: it does not reset those.
    if (!seg.has(f::ack) && !seg.has(f::rst)) {
        ++freed_drops_[std::size_t(tcp_drop::listen_unexpected)];
        return;
    }
    if (cookies_out(l) && seg.has(f::ack) && !seg.has(f::syn) && !seg.has(f::rst)) {
        if (accept_cookie(seg, l)) return;
        ++stats_.syn_cookies_rejected;
    }
    reply_no_connection(seg);
}

// Cookies are checked only while the listener may have some out (like Linux), so a stray
// ACK costs no hashing and is not counted as a rejected cookie.
bool endpoint_core::cookies_out(const listener& l) const {
    const auto& sent = l.backlog->cookie_sent;
    return sent && engine_.now() - *sent < 2 * syn_cookie_tick;
}

// A SYN the listener answered with a cookie (its SYN backlog full), then the same SYN again
// once there was room, answered by this connection, in SYN-RECEIVED: the client took the
// cookie's SYN,ACK, so its ACK acknowledges the cookie, and this connection would answer it
// with an RST <SEQ=SEG.ACK> (RFC 9293 §3.10.7.4) that resets the connection the client has.
// Like Linux, where an ACK that the pending request does not match goes on to the
// listener's cookie check, such an ACK is tried as a cookie: if it is one, this connection
// gives way and the cookie's takes the 4-tuple. (In a ramp to 10 M connections whose
// server stalled at its start, 8 clients were reset this way.) The caller asks only for a
// stream in SYN-RECEIVED (half_open_), so that other segments pay no call.
bool endpoint_core::completes_a_cookie_instead(stream_state& s, const segment& seg) {
    namespace f = wire::tcp_flags;
    assert(s.half_open_);
    if (!seg.has(f::ack) || seg.has(f::syn) || seg.has(f::rst)) return false;
    if (seg.ack() == s.conn_.control_block().iss + 1) return false; // its own handshake
    const auto l = listeners_.find(seg.header.dst_port);
    if (l == listeners_.end() || !cookies_out(l->second)) return false;
    return accept_cookie(seg, l->second, &s);
}

// The SYN,ACK with a cookie: nothing is kept (RFC 4987 §3.6).
void endpoint_core::send_cookie(const segment& syn, const listener& l) {
    const instant now = engine_.now();
    const flow f = flow_of(syn);
    const seq32 cookie = cookies_.make(f, syn.seq(), syn.header.options.mss.value_or(syn.dst_addr.is_v4() ? 536 : 1220), now);
    // Not ECN-capable (no ECE): the cookie has no room to remember it (RFC 3168 §6.1.1).
    emit(f, syn_cookie_syn_ack(syn, cookie, now, config_, with_ts_offset(l.options.connection, f)), {},
         wire::ecn_codepoint::not_ect);
    ++stats_.syn_cookies_sent;
    l.backlog->cookie_sent = now;
}

// An ACK that may complete a cookie handshake. False when the cookie is not valid. A valid
// one first takes the 4-tuple from `half_open`, a connection of it in SYN-RECEIVED, if any.
bool endpoint_core::accept_cookie(const segment& ack, const listener& l, stream_state* half_open) {
    const instant now = engine_.now();
    const flow f = flow_of(ack);
    const auto mss = cookies_.check(f, ack.seq() - 1, ack.ack() - 1, now);
    if (!mss) return false;
    ++stats_.syn_cookies_validated;
    if (half_open) {
        half_open->conn_.give_way();
        settle(*half_open); // out of the table: the cookie's connection goes in under the same key
    }
    if (l.backlog->live >= l.options.accept_backlog) {
        ++stats_.accept_backlog_full; // as for a SYN: dropped, and the client's retransmission may find room
        return true;
    }
    stream_state* s = f.local.addr.is_v4() ? insert(f, key_of<flow_key>(f), l.options.connection, *l.app, true)
                                           : insert(f, key_of<flow_key6>(f), l.options.connection, *l.app, true);
    if (!s) {
        ++stats_.table_full;
        return true;
    }
    s->backlog_ = l.backlog;
    ++stats_.accepted;
    [[maybe_unused]] auto opened =
        s->conn_.open_from_cookie(f.local, ack, syn_cookie_peer_options(ack, *mss), now);
    assert(opened);
    settle(*s);
    return true;
}

// A SYN to a listening port: a connection of its own, in LISTEN, takes it (RFC 9293
// §3.10.7.2), so SYN-RECEIVED processing is the sans-IO core's. One that replaces a
// connection in TIME-WAIT starts above that one's SND.NXT (RFC 6191 §2).
stream_state* endpoint_core::accept(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt) {
    const flow f = flow_of(seg);
    const bool v4 = f.local.addr.is_v4();
    stream_state* s = v4 ? insert(f, key_of<flow_key>(f), l.options.connection, *l.app, true)
                         : insert(f, key_of<flow_key6>(f), l.options.connection, *l.app, true);
    if (!s) {
        ++stats_.table_full;
        return nullptr;
    }
    s->backlog_ = l.backlog;
    ++stats_.accepted;
    seq32 iss = v4 ? initial_sequence(key_of<flow_key>(f)) : initial_sequence(key_of<flow_key6>(f));
    if (replaced_snd_nxt) iss = reincarnation_iss(iss, *replaced_snd_nxt);
    // Fully specified: the stream's key in the table is its flow from here on, whatever
    // becomes of the SYN (a SYN+FIN, say, is dropped before LISTEN processing binds one).
    [[maybe_unused]] auto opened = s->conn_.open_passive(f.local, iss, engine_.now(), f.remote);
    assert(opened);
    s->conn_.on_segment(seg, engine_.now());
    settle(*s);
    return s;
}

void endpoint_core::on_timer(timer_hook& hook) {
    if (&hook == &time_wait_timer_) {
        erasures_ += time_wait_.expire(engine_.now()); // their ports may serve connect() now
        if (time_wait6_.size()) erasures_ += time_wait6_.expire(engine_.now());
        return arm_time_wait_timer();
    }
    stream_state& s = stream_state::of_timer(hook);
    // The hook fired for a deadline that has since moved later (arm_no_later): when the
    // one it has now lies beyond what the engine's timers run to this round (input waits
    // that may meet it), it waits too.
    if (auto deadline = s.conn_.next_deadline(); deadline && *deadline > engine_.timers_due_by())
        return engine_.timers().arm_no_later(s.timer(), *deadline);
    ++depth_;
    s.conn_.on_timer(engine_.now());
    settle(s);
    // Idle still, and the timer was its wait to park (settle leaves it unarmed then):
    // park_due decides once no call into it is on the stack.
    if (s.park_due_ && !s.timer().armed()) to_park_.push_back(&s);
    if (--depth_ == 0) free_retired();
}

// The connection has reached TIME-WAIT and sent all it owed: a record takes its place, and
// the connection (its ~900 bytes, its buffers) is freed now rather than 2·MSL from now.
void endpoint_core::keep_time_wait(stream_state& s) {
    engine_.timers().cancel(s.timer());
    erase_flow(s);
    s.in_table_ = false;
    retired_.push_back(&s);
    const bool kept = s.conn_.flow_id().local.addr.is_v4() ? time_wait_.insert(s.conn_.time_wait_state())
                                               : time_wait6_.insert(s.conn_.time_wait_state6());
    if (!kept) ++stats_.time_wait_evicted;
    arm_time_wait_timer();
    s.conn_.leave_time_wait(); // on_closed(normal), after the record holds the 4-tuple
}

// Every record waits the same 2·MSL from when it is made (or restarted), so a new deadline is
// never earlier than one the timer is armed for, and an erased record leaves it armed at
// most early (it fires, expires what is due, arms again). Only an unarmed timer needs the
// front's deadline, whose read was a cache miss on every TIME-WAIT a busy server made: the
// oldest record is the coldest (1.8% of tern-server's cycles at 960 k connections/s).
void endpoint_core::arm_time_wait_timer() {
    if (time_wait_timer_.armed()) return;
    const instant next = std::min(time_wait_.next_deadline().value_or(instant::max()),
                                  time_wait6_.size() ? time_wait6_.next_deadline().value_or(instant::max()) : instant::max());
    if (next != instant::max()) engine_.timers().arm_no_later(time_wait_timer_, next);
    else engine_.timers().cancel(time_wait_timer_);
}

// The timer stays armed (arm_time_wait_timer) unless no record is left: an endpoint with
// nothing to wait for has no timer.
template <class Key>
void endpoint_core::erase_time_wait(basic_time_wait_record<Key>& r) {
    waits<Key>().erase(r);
    ++erasures_;
    if (time_wait_.size() == 0 && time_wait6_.size() == 0) engine_.timers().cancel(time_wait_timer_);
}

// A segment for a 4-tuple in TIME-WAIT (time_wait_input decides).
template <class Key>
void endpoint_core::on_time_wait(basic_time_wait_record<Key>& r, const segment& seg) {
    using action = time_wait_reply::action;
    const instant now = engine_.now();
    const time_wait_reply reply = time_wait_input(r, seg, config_);
    if (reply.drop) ++freed_drops_[std::size_t(*reply.drop)];
    const flow f = flow_of(r.key);
    switch (reply.what) {
    case action::none: break;
    case action::challenge_ack:
        if (!time_wait_challenge_allowed(now)) {
            ++freed_drops_[std::size_t(tcp_drop::challenge_limited)];
            break;
        }
        [[fallthrough]];
    case action::ack: emit(f, time_wait_ack(r, now), {}, wire::ecn_codepoint::not_ect); break;
    case action::close:
        return erase_time_wait(r);
    case action::reuse: {
        // RFC 6191: the SYN ends TIME-WAIT and opens a new connection through the
        // listener, as if the old one had already gone; its ISS starts above SND.NXT.
        const seq32 snd_nxt = r.snd_nxt;
        erase_time_wait(r);
        ++stats_.time_wait_reused;
        if (auto l = listeners_.find(seg.header.dst_port); l != listeners_.end())
            on_listener(seg, l->second, snd_nxt);
        else
            reply_no_connection(seg);
        return;
    }
    }
    if (reply.restart) {
        waits<Key>().restart(r, now + 2 * config_.msl);
        arm_time_wait_timer();
    }
}

// RFC 5961 §7 across the endpoint (tcp_config::challenge_acks_total_per_second): a budget
// per one-second window, drawn between the limit and twice it.
std::uint64_t challenge_budget(std::uint32_t limit, std::uint64_t draw) {
    assert(limit > 0);
    return std::uint64_t(limit) + draw % limit;
}

bool endpoint_core::take_challenge_ack(instant now) {
    const std::uint32_t limit = config_.challenge_acks_total_per_second;
    if (limit == 0) return true;
    if (!challenge_budget_start_ || now - *challenge_budget_start_ >= std::chrono::seconds(1)) {
        challenge_budget_start_ = now;
        challenge_budget_ = challenge_budget(limit, siphash(isn_key_, {std::uint64_t(now.time_since_epoch().count())}));
    }
    if (challenge_budget_ == 0) {
        ++stats_.challenge_acks_limited;
        return false;
    }
    --challenge_budget_;
    return true;
}

// RFC 5961 §7: at most challenge_acks_per_second, here for all TIME-WAIT records together,
// and within the endpoint's budget.
bool endpoint_core::time_wait_challenge_allowed(instant now) {
    if (now - time_wait_challenge_start_ >= std::chrono::seconds(1)) {
        time_wait_challenge_start_ = now;
        time_wait_challenges_ = 0;
    }
    if (time_wait_challenges_ >= config_.challenge_acks_per_second) return false;
    if (!take_challenge_ack(now)) return false;
    ++time_wait_challenges_;
    return true;
}

// ARP or Neighbor Discovery for `hop` failed: every connection in SYN-SENT whose next hop
// it is gives up (connection::unreachable). A scan of the table, but only on such a failure,
// which is rare and already took seconds of retries.
void endpoint_core::on_unreachable(const ip_addr& hop) {
    std::vector<stream_state*> hit;
    auto through = [&](const stream_state* s) {
        const ip_addr& remote = s->conn_.flow_id().remote.addr;
        return hop.is_v4() ? engine_.next_hop(remote.v4()) == hop.v4() : engine_.next_hop_v6(remote.v6()) == hop.v6();
    };
    auto collect = [&](const auto&, stream_state* s) {
        if (is_parked(s)) return; // ESTABLISHED
        if (s->conn_.state() == tcp_state::syn_sent && through(s)) hit.push_back(s);
    };
    if (hop.is_v4()) table_.for_each(collect);
    else table6_.for_each(collect);
    ++depth_;
    for (stream_state* s : hit) {
        s->conn_.unreachable();
        settle(*s);
    }
    if (--depth_ == 0) free_retired();
}

// The quote is of a segment we sent: its source is our end of the flow.
void endpoint_core::on_icmp_unreachable(std::uint8_t code, std::uint16_t mtu, const wire::icmp_quoted_tcp& quoted) {
    on_icmp_for(find_stream(flow_key{quoted.src, quoted.dst, quoted.src_port, quoted.dst_port}), code, mtu, quoted.seq);
}

// RFC 8201 §4: Packet Too Big is IPv6's fragmentation needed; its MTU field has 32 bits,
// more than any link of ours carries.
void endpoint_core::on_packet_too_big(std::uint32_t mtu, const wire::icmpv6_quoted_tcp& quoted) {
    stream_state* s = find_stream(flow_key6{quoted.src, quoted.dst, quoted.src_port, quoted.dst_port});
    on_icmp_for(s, wire::icmp_unreachable_code::fragmentation_needed, std::uint16_t(std::min<std::uint32_t>(mtu, 0xffff)),
                quoted.seq);
}

// An ICMP error for the connection `s` (null: none has the quoted 4-tuple).
void endpoint_core::on_icmp_for(stream_state* s, std::uint8_t code, std::uint16_t mtu, std::uint32_t seq) {
    if (s == nullptr) {
        ++stats_.icmp_unreachable_ignored;
        return;
    }
    ++depth_;
    if (s->conn_.on_icmp_unreachable(code, mtu, seq32(seq), engine_.now())) ++stats_.icmp_unreachable_used;
    else ++stats_.icmp_unreachable_ignored;
    settle(*s);
    if (--depth_ == 0) free_retired();
}

void endpoint_core::after_burst() {
    if (!held_back_.empty()) check_held_back();
    flush_output();
    if (depth_ == 0) free_retired();
}

void endpoint_core::watch_held_back(stream_state& s) { list_in(held_back_, &stream_state::held_back_index_, s); }

void endpoint_core::unwatch_held_back(stream_state& s) { list_out(held_back_, &stream_state::held_back_index_, s); }

// Once a round, for the connections whose application keeps received bytes: what it gave
// back since (from any thread) may open the window, and the peer, which may be waiting on a
// zero window, hears it at once rather than at its next probe. A connection whose application
// holds nothing any more is watched no longer.
void endpoint_core::check_held_back() {
    const instant now = engine_.now();
    for (std::size_t i = held_back_.size(); i-- > 0;) {
        stream_state& s = *held_back_[i];
        if (s.conn_.reopen_window(now)) settle(s);
        if (s.conn_.application_held() == 0) unwatch_held_back(s);
    }
}

void endpoint_core::list_output(stream_state& s) { list_in(output_due_, &stream_state::due_index_, s); }

// A connection that closed with output still due leaves the list.
void endpoint_core::unlist_output(stream_state& s) { list_out(output_due_, &stream_state::due_index_, s); }

// Lists of streams that each know their place in them (`place`, not_due when absent): in
// and out in O(1), the last one taking the place of one that leaves.
void endpoint_core::list_in(std::vector<stream_state*>& list, std::uint32_t stream_state::*place, stream_state& s) {
    if (s.*place != stream_state::not_due) return;
    s.*place = std::uint32_t(list.size());
    list.push_back(&s);
}

void endpoint_core::list_out(std::vector<stream_state*>& list, std::uint32_t stream_state::*place, stream_state& s) {
    if (s.*place == stream_state::not_due) return;
    stream_state* last = list.back();
    list[s.*place] = last;
    last->*place = s.*place;
    list.pop_back();
    s.*place = stream_state::not_due;
}

// Each connection with output due sends it, once: data, FIN and ACK together.
void endpoint_core::flush_output() {
    if (output_due_.empty()) return;
    ++depth_;
    const instant now = engine_.now();
    for (std::size_t i = 0; i < output_due_.size(); ++i) {
        stream_state& s = *output_due_[i];
        s.due_index_ = stream_state::not_due;
        s.conn_.flush_output(now);
        if (s.conn_.state() == tcp_state::time_wait) keep_time_wait(s);
        else settle(s); // the RTO its data armed; output never closes a connection
    }
    output_due_.clear();
    --depth_;
}

// An ACK that would take a passive connection out of SYN-RECEIVED while its listener already
// holds accept_backlog live connections is dropped, as Linux drops the handshake's last ACK
// on a full accept queue: the connection stays half-open, and the client's retransmission
// may find room or the SYN-ACK retries run out. (A check on SYNs alone lets a burst of SYNs,
// all half-open at once, past the limit.)
bool endpoint_core::completes_into_full_backlog(const stream_state& s, const segment& seg) const {
    namespace f = wire::tcp_flags;
    return s.half_open_ && s.backlog_->live >= s.backlog_->accept_limit && seg.has(f::ack) && !seg.has(f::syn) &&
           !seg.has(f::rst);
}

// Keeps the listener's counts of half-open and live connections (listen_options).
void endpoint_core::count_backlog(stream_state& s) {
    if (!s.backlog_) return;
    const tcp_state st = s.conn_.state();
    const bool half_open = st == tcp_state::syn_received;
    const bool live = st != tcp_state::closed && st != tcp_state::listen && st != tcp_state::syn_received &&
                      st != tcp_state::time_wait;
    listener_backlog& b = *s.backlog_;
    if (half_open != s.half_open_) {
        if (half_open) ++b.half_open;
        else --b.half_open;
        s.half_open_ = half_open;
    }
    if (live != s.live_) {
        if (live) ++b.live;
        else --b.live;
        s.live_ = live;
    }
}

void endpoint_core::erase_flow(const stream_state& s) {
    // Its key is the connection's flow, which the open set before the stream's first
    // settle (and a passive one back in LISTEN keeps).
    const flow& f = s.conn_.flow_id();
    if (f.local.addr.is_v4()) table_.erase(key_of<flow_key>(f));
    else table6_.erase(key_of<flow_key6>(f));
    forget_found();
}

void endpoint_core::settle(stream_state& s) {
    count_backlog(s);
    const tcp_state st = s.conn_.state();
    // CLOSED, or a passive connection back in LISTEN (its handshake failed): done.
    if (st == tcp_state::closed || st == tcp_state::listen) {
        engine_.timers().cancel(s.timer());
        unlist_output(s);
        if (s.in_table_) {
            erase_flow(s);
            ++erasures_;
            s.in_table_ = false;
            retired_.push_back(&s);
        }
        return;
    }
    // Output due is sent, and the timer set for what it leaves, in flush_output this round:
    // working out the deadline now as well would be done twice per segment.
    // A connection in TIME-WAIT becomes a record there too, once the ACK of the FIN is out
    // (a settle from an application's call inside on_segment comes before the ACK is due).
    if (s.conn_.output_due() || st == tcp_state::time_wait) return list_output(s);
    // on_timer asks the connection what is due, so a hook that fires early costs one call.
    if (auto deadline = s.conn_.next_deadline()) {
        engine_.timers().arm_no_later(s.timer(), *deadline);
        s.park_due_ = false;
    } else if (s.backlog_ && s.backlog_->parking) {
        wait_to_park(s);
    } else {
        engine_.timers().cancel(s.timer());
    }
}

// After an application's send on a stream. A send from inside that stream's own on_segment
// (an answer from on_data) is settled when on_segment returns: settling it here as well was
// a second settle on every request. (Close and abort settle at once: an aborted stream
// leaves the flow table before the application's next call.)
void endpoint_core::settle_after_call(stream_state& s) {
    if (&s != in_segment_) settle(s);
}

// ---- parking (listen_options::park_idle) ---------------------------------------------

template <class Key>
stream_state* endpoint_core::find_stream(const Key& key) {
    return resolved(key, flows<Key>().find(key));
}

// Segments come to receive in the order the look-ahead saw them, so the finding for this
// one, when there is one, is the next: one comparison instead of a second lookup (a
// quarter of on_tcp's own instructions). A frame the look-ahead kept a finding for and that
// never came here (dropped on the way: a bad checksum) leaves the rest of its burst to
// find_stream.
template <class Key>
stream_state* endpoint_core::stream_for(const Key& key) {
    found_ahead<Key>& found = ahead<Key>();
    if (found.next < found.count && found.keys[found.next] == key)
        return resolved(key, found.values[found.next++]);
    return find_stream(key);
}

template <class Key>
stream_state* endpoint_core::resolved(const Key& key, stream_state* value) {
    if (is_parked(value)) [[unlikely]]
        return unpark(key, value);
    return value;
}

// Out of line: rare, and the lookup every segment makes need not carry it.
template <class Key>
[[gnu::noinline]] stream_state* endpoint_core::unpark(const Key& key, stream_state* value) {
    parked_stream* p = parked_of(value);
    auto* s = new stream_state(*this, flow_of(key), std::move(*p));
    flows<Key>().replace(key, s);
    forget_found();
    delete p;
    --parked_;
    ++stats_.unparks;
    return s;
}

// An idle stream of a listener that parks: its timer, which nothing else needs now, is set
// to park it once it has stayed idle park_after (on_timer). Anything that sets a deadline
// of the connection's own in the meantime ends the wait (settle). The timer moves: left
// armed for a deadline that went (an RTO the last ACK stopped), it would park a stream in
// use between two requests.
void endpoint_core::wait_to_park(stream_state& s) {
    if (s.park_due_) return;
    s.park_due_ = true;
    engine_.timers().arm(s.timer(), engine_.now() + s.backlog_->parking->after);
}

// The backlog active connections opened by `app` with `options` share: made on the first
// such connect(), kept while any of them lives (a connector none holds any more goes when
// another is made).
backlog_ref endpoint_core::connector(app_events& app, const connect_options& options) {
    const connection::listener_share share(options.connection, 0, false);
    for (const backlog_ref& c : connectors_)
        if (c->parking->app == &app && c->parking->after == options.park_after && c->parking->share == share) return c;
    std::erase_if(connectors_, [](const backlog_ref& c) { return c->refs == 1; });
    backlog_ref c = backlog_ref::make();
    c->accept_limit = std::numeric_limits<std::uint32_t>::max(); // no listener: nothing accepted
    c->parking = listener_parking{options.park_after, &app, share};
    connectors_.push_back(c);
    return c;
}

stream* endpoint_core::find(const flow& f) {
    const std::size_t parked_before = parked_;
    stream_state* s = f.local.addr.is_v4() ? find_stream(key_of<flow_key>(f)) : find_stream(key_of<flow_key6>(f));
    // Made again with nothing to do: it waits to park again, as after its last segment.
    if (s && parked_ < parked_before) settle(*s);
    return s;
}

// Parked once no call into the stream is on the stack; what happened since its timer
// fired may have ended its idleness (data sent, a close, TIME-WAIT). One that holds
// something still waits again from its next settle. The application hears first, and
// what it does then is judged too.
void endpoint_core::park_due() {
    // What an application's call from on_parked can change shows here: a call that gives
    // the stream work settles it (output due, a deadline ends the wait), a kept buffer holds
    // it back, a close or an abort takes it out of the table. So parkable(), which works
    // out the flow's TSval offset, is asked once.
    auto still_due = [](const stream_state& s) {
        return s.in_table_ && s.due_index_ == stream_state::not_due && s.held_back_index_ == stream_state::not_due &&
               s.park_due_;
    };
    for (stream_state* s : to_park_) {
        if (still_due(*s) && s->parkable()) {
            s->app_.on_parked(*s);
            if (still_due(*s)) {
                park(*s);
                continue;
            }
        }
        s->park_due_ = false;
    }
    to_park_.clear();
}

// The stream goes; a record takes its place in the table. Its listener still counts it
// live (backlog_ moves to the record).
void endpoint_core::park(stream_state& s) {
    engine_.timers().cancel(s.timer());
    const flow f = s.conn_.flow_id();
    auto* p = new parked_stream{s.conn_.park(), std::move(s.backlog_), s.user};
    const bool held = f.local.addr.is_v4() ? table_.replace(key_of<flow_key>(f), tagged(p))
                                           : table6_.replace(key_of<flow_key6>(f), tagged(p));
    assert(held);
    (void)held;
    forget_found();
    s.in_table_ = false;
    delete &s;
    ++parked_;
    ++stats_.parks;
}

// TCP_INFO of a parked stream: the connection made for a moment from its record, which
// gets it all back.
tcp_info endpoint_core::parked_info(const flow& f, parked_stream& p) const {
    struct quiet_events final : connection_events {};
    static quiet_events quiet;
    auto& self = const_cast<endpoint_core&>(*this);
    const connection::listener_share& share = p.backlog->parking->share;
    connection c(config_, self, quiet, f, std::move(p.conn), share, ts_offset_for(share, f));
    const tcp_info i = c.info();
    p.conn = c.park();
    return i;
}

void endpoint_core::park_and_free() {
    if (!to_park_.empty()) park_due();
    if (retired_.empty()) return;
    for (stream_state* s : retired_) {
        // Keep the drop and loss totals of connections that are gone (tcp_endpoint::counters).
        if (s->conn_.has_rare_counts()) {
            for (std::size_t d = 0; d < tcp_drop_count; ++d) freed_drops_[d] += s->conn_.drops(tcp_drop(d));
            freed_totals_.add(s->conn_.stats());
        }
        delete s;
    }
    stats_.freed.add(retired_.size());
    retired_.clear();
}

// ---- what telemetry shows ------------------------------------------------------------

std::vector<std::pair<std::string_view, std::uint64_t>> endpoint_core::counters() const {
    std::vector<std::pair<std::string_view, std::uint64_t>> c{
        {"segments_in", stats_.segments_in},     {"segments_out", stats_.segments_out},
        {"no_connection", stats_.no_connection}, {"rst_sent", stats_.rst_sent},
        {"accepted", stats_.accepted},           {"table_full", stats_.table_full},
        {"no_mbuf", stats_.no_mbuf},             {"freed", stats_.freed},
        {"syn_backlog_full", stats_.syn_backlog_full},
        {"syn_cookies_sent", stats_.syn_cookies_sent},
        {"syn_cookies_validated", stats_.syn_cookies_validated},
        {"syn_cookies_rejected", stats_.syn_cookies_rejected},
        {"accept_backlog_full", stats_.accept_backlog_full},
        {"time_wait_reused", stats_.time_wait_reused},
        {"time_wait_evicted", stats_.time_wait_evicted},
        {"time_wait", time_wait()},
        {"syn_dropped_busy", stats_.syn_dropped_busy},
        {"challenge_acks_limited", stats_.challenge_acks_limited},
        {"icmp_unreachable_used", stats_.icmp_unreachable_used},
        {"icmp_unreachable_ignored", stats_.icmp_unreachable_ignored},
        {"ecn_ce_in", stats_.ecn_ce_in},
        {"path_black_holes", stats_.path_black_holes},
        {"parks", stats_.parks},
        {"unparks", stats_.unparks},
        {"parked", parked_},
        {"connections", connections()},
    };
    std::array<std::uint64_t, tcp_drop_count> drops = freed_drops_;
    connection_totals totals = freed_totals_;
    auto add = [&](const stream_state* s) {
        if (is_parked(s)) {
            const connection::parked& p = parked_of(s)->conn;
            for (std::size_t d = 0; d < tcp_drop_count; ++d) drops[d] += p.drops(tcp_drop(d));
            return totals.add(p.stats());
        }
        for (std::size_t d = 0; d < tcp_drop_count; ++d) drops[d] += s->conn_.drops(tcp_drop(d));
        totals.add(s->conn_.stats());
    };
    table_.for_each([&](const flow_key&, const stream_state* s) { add(s); });
    table6_.for_each([&](const flow_key6&, const stream_state* s) { add(s); });
    for (const stream_state* s : retired_) add(s);
    c.emplace_back("ecn_reductions", totals.ecn_reductions);
    c.emplace_back("fast_retransmits", totals.fast_retransmits);
    c.emplace_back("rto_retransmits", totals.rto_retransmits);
    c.emplace_back("path_mtu_retransmits", totals.path_mtu_retransmits);
    c.emplace_back("recoveries", totals.recoveries);
    c.emplace_back("undos", totals.undos);
    c.emplace_back("tail_probes", totals.tail_probes);
    for (std::size_t d = 0; d < tcp_drop_count; ++d) c.emplace_back(to_string(tcp_drop(d)), drops[d]);
    return c;
}

// As netstat counts: each listening port is one socket in LISTEN.
std::array<std::size_t, tcp_state_count> endpoint_core::count_by_state() const {
    std::array<std::size_t, tcp_state_count> n{};
    n[std::size_t(tcp_state::listen)] = listeners_.size();
    auto count = [&](const auto&, const stream_state* s) {
        ++n[std::size_t(is_parked(s) ? tcp_state::established : s->conn_.state())];
    };
    table_.for_each(count);
    table6_.for_each(count);
    n[std::size_t(tcp_state::time_wait)] += time_wait();
    return n;
}

// Listeners first, as netstat shows them: local 0.0.0.0:PORT (every address of ours),
// remote 0.0.0.0:0 (anyone).
std::vector<tcp_info> endpoint_core::list(std::size_t limit) const {
    std::vector<tcp_info> out;
    for (const auto& [port, l] : listeners_) {
        if (out.size() >= limit) return out;
        tcp_info i;
        i.state = tcp_state::listen;
        i.id.local.port = port;
        out.push_back(i);
    }
    auto add = [&](const auto& key, const stream_state* s) {
        if (out.size() >= limit) return;
        out.push_back(is_parked(s) ? parked_info(flow_of(key), *parked_of(s)) : s->conn_.info());
    };
    table_.for_each(add);
    table6_.for_each(add);
    auto add_time_wait = [&](const auto& r) {
        if (out.size() >= limit) return;
        tcp_info i;
        i.state = tcp_state::time_wait;
        i.id = flow_of(r.key);
        i.timestamps = r.ts_ok;
        out.push_back(i);
    };
    time_wait_.for_each(add_time_wait);
    time_wait6_.for_each(add_time_wait);
    return out;
}

namespace {

// "198.18.0.2:80", "[2001:2::2]:80" (RFC 5952 §6).
std::string endpoint_text(const endpoint& e) {
    const std::string port = ":" + std::to_string(e.port);
    return e.addr.is_v4() ? e.addr.to_string() + port : "[" + e.addr.to_string() + "]" + port;
}

// Telemetry keys are alphanumerics and '_' only: "TIME-WAIT" becomes "TIME_WAIT".
std::string telemetry_key(std::string_view name) {
    std::string k(name);
    for (char& c : k)
        if (c == '-') c = '_';
    return k;
}

} // namespace

// One line per connection, netstat-style, short enough for a telemetry string (127 bytes):
//   "198.18.0.2:80 198.18.0.1:40000 ESTABLISHED rtt_us=120 cwnd=14600 unacked=0 rtx=0 in=512"
// and one per listening port, with nothing more to say: "0.0.0.0:80 0.0.0.0:* LISTEN".
// The total counts the listeners with the connections.
void endpoint_core::report(handler_report& out) const {
    for (auto& [name, value] : counters()) out.counters.emplace_back(std::string(name), value);
    const auto states = count_by_state();
    for (std::size_t i = 0; i < tcp_state_count; ++i)
        out.states.emplace_back(telemetry_key(to_string(tcp_state(i))), states[i]);
    out.connections_total = connections() + listeners_.size();
    for (const tcp_info& i : list(handler_report::max_listed)) {
        char line[128];
        if (i.state == tcp_state::listen) {
            std::snprintf(line, sizeof line, "0.0.0.0:%u 0.0.0.0:* LISTEN", i.id.local.port);
            out.connections.emplace_back(line);
            continue;
        }
        std::snprintf(line, sizeof line, "%s %s %s rtt_us=%lld cwnd=%u unacked=%u rtx=%llu in=%llu",
                      endpoint_text(i.id.local).c_str(), endpoint_text(i.id.remote).c_str(),
                      telemetry_key(to_string(i.state)).c_str(),
                      static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(i.srtt).count()),
                      i.cwnd, i.unacked, static_cast<unsigned long long>(i.retransmits),
                      static_cast<unsigned long long>(i.bytes_in));
        out.connections.emplace_back(line);
    }
}

void endpoint_core::release(void* owner) { rte_pktmbuf_free(static_cast<rte_mbuf*>(owner)); }

namespace {

// An mbuf whose data are `bytes` inside `owner`'s buffer, sharing it (an indirect mbuf: the
// owner's reference count holds the buffer until this one is sent and freed).
rte_mbuf* attach_to(rte_mempool* pool, rte_mbuf* owner, std::span<const std::uint8_t> bytes) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return nullptr;
    rte_pktmbuf_attach(m, owner);
    m->data_off = std::uint16_t(bytes.data() - static_cast<const std::uint8_t*>(m->buf_addr));
    m->data_len = std::uint16_t(bytes.size());
    m->pkt_len = std::uint32_t(bytes.size());
    return m;
}

} // namespace

// Builds the packet: Ethernet (when the next hop is known), IP and TCP headers in a
// fresh mbuf, and the payload either copied after them, or - when it holds handed-over
// buffers and the port sends multi-segment frames - chained behind them as mbufs that
// share those buffers (zero-copy). For IPv4 the Ethernet and IPv4 headers are the engine's
// prebuilt prefix for the address pair; without one (no route, or ARP to do) the packet
// starts at IPv4 and send_ipv4 decides. IPv6 alike: the engine's prefix, or a packet that
// starts at IPv6 and send_ipv6 decides (Neighbor Discovery).
void endpoint_core::emit(const flow& f, const wire::tcp_repr& header, const tx_payload& payload,
                         wire::ecn_codepoint ecn) {
    emit_segment(f, header, payload, ecn);
}

void endpoint_core::emit(const flow& f, const wire::tcp_plain_repr& header, const tx_payload& payload,
                         wire::ecn_codepoint ecn) {
    emit_segment(f, header, payload, ecn);
}

template <class Header>
void endpoint_core::emit_segment(const flow& f, const Header& header, const tx_payload& payload,
                                 wire::ecn_codepoint ecn) {
    const port_offloads& offloads = engine_.offloads();
    bool chain = false;
    if (offloads.multi_segment_tx)
        for (const tx_piece& p : payload.pieces) chain |= p.owner != nullptr;
    rte_mbuf* m = rte_pktmbuf_alloc(engine_.pool());
    if (!m) {
        ++stats_.no_mbuf;
        return;
    }
    const bool v4 = f.remote.addr.is_v4();
    const wire::ipv4_frame_prefix* prefix = v4 ? engine_.tcp_frame_prefix(f.local.addr.v4(), f.remote.addr.v4()) : nullptr;
    const wire::ipv6_frame_prefix* prefix6 = v4 ? nullptr : engine_.tcp_frame_prefix6(f.local.addr.v6(), f.remote.addr.v6());
    const std::size_t ip_at = prefix || prefix6 ? wire::ethernet_header_len : 0;
    const std::size_t ip_header = v4 ? wire::ipv4_repr::header_length : wire::ipv6_repr::header_length;
    const std::size_t tcp_header = header.header_length();
    const std::size_t tcp_len = tcp_header + payload.size();
    const std::size_t in_first = ip_at + ip_header + tcp_header + (chain ? 0 : payload.size());
    auto* out = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, std::uint16_t(in_first)));
    if (!out) { // larger than one mbuf: never with our MSS in mbufs of mbuf_data_room(mtu)
        ++stats_.no_mbuf;
        rte_pktmbuf_free(m);
        return;
    }
    if (prefix) {
        prefix->emit(out, std::uint16_t(tcp_len), ip_id_++, !offloads.tx_ipv4_checksum, ecn);
    } else if (prefix6) {
        prefix6->emit(out, std::uint16_t(tcp_len), ecn);
    } else if (v4) {
        wire::ipv4_repr ip{f.local.addr.v4(), f.remote.addr.v4(), wire::ip_protocol::tcp, 64, ip_id_++, std::uint16_t(tcp_len),
                           true, std::uint8_t(ecn)};
        ip.emit(out, !offloads.tx_ipv4_checksum);
    } else {
        // RFC 8200 §3: no fragmentation from here (segments fit the MTU, RFC 8201 shrinks them).
        wire::ipv6_repr{f.local.addr.v6(), f.remote.addr.v6(), wire::ip_protocol::tcp, 64, std::uint16_t(tcp_len),
                        std::uint8_t(ecn)}
            .emit(out);
    }
    std::uint8_t* segment = out + ip_at + ip_header;
    const auto mode = offloads.tx_tcp_checksum ? wire::checksum_mode::offload : wire::checksum_mode::software;
    auto emit_tcp_header = [&](std::size_t length, std::uint32_t sum) {
        if (v4) header.emit_header(segment, f.local.addr.v4(), f.remote.addr.v4(), length, sum, mode);
        else header.emit_header(segment, f.local.addr.v6(), f.remote.addr.v6(), length, sum, mode);
    };
    if (!chain) {
        // The payload is summed as it is copied in: read once, not copied and read again.
        wire::checksum_accumulator sum;
        std::uint8_t* data = segment + tcp_header;
        for (const tx_piece& p : payload.pieces) {
            if (mode == wire::checksum_mode::software) sum.copy(data, p.bytes);
            else if (!p.bytes.empty()) std::memcpy(data, p.bytes.data(), p.bytes.size());
            data += p.bytes.size();
        }
        emit_tcp_header(payload.size(), sum.sum());
    } else {
        wire::checksum_accumulator sum;
        for (const tx_piece& p : payload.pieces) {
            rte_mbuf* piece = nullptr;
            if (p.owner) {
                piece = attach_to(engine_.pool(), static_cast<rte_mbuf*>(p.owner), p.bytes);
            } else if ((piece = rte_pktmbuf_alloc(engine_.pool()))) {
                std::memcpy(rte_pktmbuf_append(piece, std::uint16_t(p.bytes.size())), p.bytes.data(), p.bytes.size());
            }
            if (!piece || rte_pktmbuf_chain(m, piece) != 0) {
                if (piece) rte_pktmbuf_free(piece);
                ++stats_.no_mbuf;
                rte_pktmbuf_free(m);
                return;
            }
            if (mode == wire::checksum_mode::software) sum.add(p.bytes);
        }
        emit_tcp_header(payload.size(), sum.sum());
    }
    if (offloads.tx_tcp_checksum) {
        m->ol_flags |= (v4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6) | RTE_MBUF_F_TX_TCP_CKSUM;
        m->l4_len = tcp_header;
    }
    ++stats_.segments_out;
    if (prefix) engine_.send_frame(m);
    else if (prefix6) engine_.send_frame_v6(m);
    else if (v4) engine_.send_ipv4(m, f.remote.addr.v4());
    else engine_.send_ipv6(m, f.remote.addr.v6());
}

} // namespace tern::tcp
