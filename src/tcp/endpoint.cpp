#include "tcp/endpoint.hpp"

#include <cassert>
#include <cstring>
#include <random>

#include <rte_mbuf.h>

#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::tcp {

namespace {

// Ephemeral ports: Linux's default ip_local_port_range.
constexpr std::uint16_t ephemeral_first = 32768;
constexpr std::uint16_t ephemeral_count = 61000 - 32768;

siphash_key random_key() {
    std::random_device rd;
    auto word = [&] { return (std::uint64_t(rd()) << 32) | rd(); };
    return {word(), word()};
}

flow_key key_of(const flow& f) { return {f.local.addr, f.remote.addr, f.local.port, f.remote.port}; }

} // namespace

// ---- stream --------------------------------------------------------------------------

stream::stream(tcp_endpoint& ep, const connection_options& options, app_events& app)
    : ep_(ep), app_(app), conn_(ep.config_, options, ep, *this),
      timer_(this, std::uint32_t(timer_kind::upper_layer)) {}

stream::~stream() { ep_.engine_.timers().cancel(timer_); }

result<std::size_t, send_error> stream::send(std::span<const std::uint8_t> bytes) {
    auto r = conn_.send(bytes, ep_.engine_.now());
    ep_.settle(*this);
    return r;
}

status<close_error> stream::close() {
    auto r = conn_.close(ep_.engine_.now());
    ep_.settle(*this);
    return r;
}

void stream::abort() {
    conn_.abort(ep_.engine_.now());
    ep_.settle(*this);
}

void stream::on_connected() { app_.on_connected(*this); }
void stream::on_data(std::span<const std::uint8_t> bytes) { app_.on_data(*this, bytes); }
void stream::on_writable() { app_.on_writable(*this); }
void stream::on_peer_closed() { app_.on_peer_closed(*this); }
void stream::on_closed(close_reason why) { app_.on_closed(*this, why); }

// ---- endpoint ------------------------------------------------------------------------

tcp_endpoint::tcp_endpoint(engine& eng, const tcp_config& config, std::size_t max_connections)
    : engine_(eng), config_(config), table_(max_connections), isn_key_(random_key()), cookies_(random_key()) {
    std::random_device rd;
    next_port_ = std::uint16_t(rd() % ephemeral_count);
    engine_.set_protocol_handler(this);
}

tcp_endpoint::~tcp_endpoint() {
    engine_.set_protocol_handler(nullptr);
    std::vector<stream*> live;
    table_.for_each([&](const flow_key&, stream* s) { live.push_back(s); });
    table_.clear();
    for (stream* s : live) delete s;
    for (stream* s : retired_) delete s;
}

status<listen_error> tcp_endpoint::listen(std::uint16_t port, const listen_options& options, app_events& app) {
    if (!listeners_.try_emplace(port, listener{options, &app}).second) return unexpected(listen_error::port_in_use);
    return {};
}

void tcp_endpoint::unlisten(std::uint16_t port) { listeners_.erase(port); }

result<stream*, connect_error> tcp_endpoint::connect(ipv4_addr remote_ip, std::uint16_t remote_port,
                                                 std::optional<std::uint16_t> local_port,
                                                 const connection_options& options, app_events& app) {
    if (table_.size() == table_.max_flows()) return unexpected(connect_error::table_full);
    if (!local_port) local_port = ephemeral_port(remote_ip, remote_port);
    if (!local_port) return unexpected(connect_error::no_free_port);
    const flow f{{engine_.address().addr, *local_port}, {remote_ip, remote_port}};
    const flow_key key = key_of(f);
    auto* s = new stream(*this, options, app);
    s->key_ = key;
    if (!table_.insert(key, s)) {
        delete s;
        return unexpected(connect_error::port_in_use);
    }
    s->in_table_ = true;
    // A fresh connection in CLOSED always opens.
    [[maybe_unused]] auto opened = s->conn_.open_active(f, initial_sequence(key), engine_.now());
    assert(opened);
    settle(*s);
    return s;
}

std::optional<std::uint16_t> tcp_endpoint::ephemeral_port(ipv4_addr remote_ip, std::uint16_t remote_port) {
    const ipv4_addr local = engine_.address().addr;
    for (std::uint32_t i = 0; i < ephemeral_count; ++i) {
        const auto port = std::uint16_t(ephemeral_first + next_port_);
        next_port_ = std::uint16_t((next_port_ + 1) % ephemeral_count);
        if (listeners_.contains(port)) continue;
        if (!table_.find(flow_key{local, remote_ip, port, remote_port})) return port;
    }
    return std::nullopt;
}

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
// is a timer ticking every 4 microseconds.
seq32 tcp_endpoint::initial_sequence(const flow_key& key) const {
    std::uint64_t words[2] = {};
    std::memcpy(words, &key, sizeof key);
    const auto m = std::uint32_t(engine_.now().time_since_epoch().count() / 4000);
    return seq32(m + std::uint32_t(siphash(isn_key_, {words[0], words[1]})));
}

void tcp_endpoint::on_tcp(rte_mbuf* m, const wire::ipv4_view& ip, const wire::tcp_view& tcp) {
    ++depth_;
    ++stats_.segments_in;
    const segment seg{ip.src(), ip.dst(), wire::tcp_repr::from(tcp), tcp.payload()};
    const flow_key key{ip.dst(), ip.src(), tcp.dst_port(), tcp.src_port()};
    if (stream* s = table_.find(key)) {
        s->conn_.on_segment(seg, engine_.now());
        settle(*s);
        if (s->conn_.ended_by_new_syn()) {
            // RFC 6191: the SYN ended TIME-WAIT (settle retired the old stream); it opens a
            // new connection through the listener, as if the old one had already gone.
            ++stats_.time_wait_reused;
            if (auto l = listeners_.find(tcp.dst_port()); l != listeners_.end())
                on_listener(seg, l->second, s->conn_.control_block().snd_max);
            else
                reply_no_connection(seg);
        }
    } else if (auto l = listeners_.find(tcp.dst_port()); l != listeners_.end()) {
        on_listener(seg, l->second, std::nullopt);
    } else {
        reply_no_connection(seg);
    }
    rte_pktmbuf_free(m); // the payload view was valid until here
    if (--depth_ == 0) free_retired();
}

// RFC 9293 §3.10.7.1: no connection (or, in LISTEN, an ACK or RST): reset, unless it is one.
void tcp_endpoint::reply_no_connection(const segment& seg) {
    ++stats_.no_connection;
    if (auto rst = reply_to_closed(seg)) {
        ++stats_.rst_sent;
        emit(flow{{seg.dst_addr, seg.header.dst_port}, {seg.src_addr, seg.header.src_port}}, *rst, {});
    }
}

// A segment for no connection, to a listening port. A SYN opens a connection, or with the
// SYN backlog full gets a cookie (RFC 4987 §3.6); an ACK may complete a cookie handshake;
// everything else is answered as for no connection (§3.10.7.2: an ACK in LISTEN gets RST).
void tcp_endpoint::on_listener(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt) {
    namespace f = wire::tcp_flags;
    const listener_backlog& backlog = *l.backlog;
    if (seg.has(f::syn) && !seg.has(f::ack) && !seg.has(f::rst)) {
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
    // Cookies are checked only while the listener may have some out (like Linux), so a
    // stray ACK costs no hashing and is not counted as a rejected cookie.
    const bool cookies_out = backlog.cookie_sent && engine_.now() - *backlog.cookie_sent < 2 * syn_cookie_tick;
    if (cookies_out && seg.has(f::ack) && !seg.has(f::syn) && !seg.has(f::rst)) {
        if (accept_cookie(seg, l)) return;
        ++stats_.syn_cookies_rejected;
    }
    reply_no_connection(seg);
}

// The SYN,ACK with a cookie: nothing is kept (RFC 4987 §3.6).
void tcp_endpoint::send_cookie(const segment& syn, const listener& l) {
    const instant now = engine_.now();
    const flow f{{syn.dst_addr, syn.header.dst_port}, {syn.src_addr, syn.header.src_port}};
    const seq32 cookie = cookies_.make(f, syn.seq(), syn.header.options.mss.value_or(536), now);
    emit(f, syn_cookie_syn_ack(syn, cookie, now, config_, l.options.connection), {});
    ++stats_.syn_cookies_sent;
    l.backlog->cookie_sent = now;
}

// An ACK that may complete a cookie handshake. False when the cookie is not valid.
bool tcp_endpoint::accept_cookie(const segment& ack, const listener& l) {
    const instant now = engine_.now();
    const flow f{{ack.dst_addr, ack.header.dst_port}, {ack.src_addr, ack.header.src_port}};
    const auto mss = cookies_.check(f, ack.seq() - 1, ack.ack() - 1, now);
    if (!mss) return false;
    ++stats_.syn_cookies_validated;
    if (l.backlog->live >= l.options.accept_backlog) {
        ++stats_.accept_backlog_full; // as for a SYN: dropped, and the client's retransmission may find room
        return true;
    }
    const flow_key key = key_of(f);
    auto* s = new stream(*this, l.options.connection, *l.app);
    s->key_ = key;
    if (!table_.insert(key, s)) {
        ++stats_.table_full;
        delete s;
        return true;
    }
    s->in_table_ = true;
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
stream* tcp_endpoint::accept(const segment& seg, const listener& l, std::optional<seq32> replaced_snd_nxt) {
    const flow_key key{seg.dst_addr, seg.src_addr, seg.header.dst_port, seg.header.src_port};
    auto* s = new stream(*this, l.options.connection, *l.app);
    s->key_ = key;
    if (!table_.insert(key, s)) {
        ++stats_.table_full;
        delete s;
        return nullptr;
    }
    s->in_table_ = true;
    s->backlog_ = l.backlog;
    ++stats_.accepted;
    seq32 iss = initial_sequence(key);
    if (replaced_snd_nxt) iss = reincarnation_iss(iss, *replaced_snd_nxt);
    [[maybe_unused]] auto opened = s->conn_.open_passive({seg.dst_addr, seg.header.dst_port}, iss, engine_.now());
    assert(opened);
    s->conn_.on_segment(seg, engine_.now());
    settle(*s);
    return s;
}

void tcp_endpoint::on_timer(timer_hook& hook) {
    ++depth_;
    auto& s = *static_cast<stream*>(hook.owner);
    s.conn_.on_timer(engine_.now());
    settle(s);
    if (--depth_ == 0) free_retired();
}

void tcp_endpoint::after_burst() {
    if (depth_ == 0) free_retired();
}

// Keeps the listener's counts of half-open and live connections (listen_options).
void tcp_endpoint::count_backlog(stream& s) {
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

void tcp_endpoint::settle(stream& s) {
    count_backlog(s);
    const tcp_state st = s.conn_.state();
    // CLOSED, or a passive connection back in LISTEN (its handshake failed): done.
    if (st == tcp_state::closed || st == tcp_state::listen) {
        engine_.timers().cancel(s.timer_);
        if (s.in_table_) {
            table_.erase(s.key_);
            s.in_table_ = false;
            retired_.push_back(&s);
        }
        return;
    }
    if (auto deadline = s.conn_.next_deadline()) {
        engine_.timers().arm(s.timer_, *deadline);
    } else {
        engine_.timers().cancel(s.timer_);
    }
}

void tcp_endpoint::free_retired() {
    for (stream* s : retired_) delete s;
    stats_.freed += retired_.size();
    retired_.clear();
}

// Builds the packet in one mbuf: IPv4 header, TCP header, the payload copied after them.
void tcp_endpoint::emit(const flow& f, const wire::tcp_repr& header, tx_payload payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(engine_.pool());
    if (!m) {
        ++stats_.no_mbuf;
        return;
    }
    const std::size_t tcp_header = header.header_length();
    const std::size_t tcp_len = tcp_header + payload.size();
    const std::size_t len = wire::ipv4_repr::header_length + tcp_len;
    auto* out = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, std::uint16_t(len)));
    if (!out) { // larger than one mbuf: never with our MSS and the default data room
        ++stats_.no_mbuf;
        rte_pktmbuf_free(m);
        return;
    }
    const port_offloads& offloads = engine_.offloads();
    wire::ipv4_repr ip{f.local.addr, f.remote.addr, wire::ip_protocol::tcp, 64, ip_id_++, std::uint16_t(tcp_len),
                       true, 0};
    ip.emit(out, !offloads.tx_ipv4_checksum);
    std::uint8_t* segment = out + wire::ipv4_repr::header_length;
    std::uint8_t* data = segment + tcp_header;
    if (!payload.head.empty()) std::memcpy(data, payload.head.data(), payload.head.size());
    if (!payload.tail.empty()) std::memcpy(data + payload.head.size(), payload.tail.data(), payload.tail.size());
    const auto mode = offloads.tx_tcp_checksum ? wire::checksum_mode::offload : wire::checksum_mode::software;
    header.emit(segment, f.local.addr, f.remote.addr, {data, payload.size()}, mode);
    if (offloads.tx_tcp_checksum) {
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
        m->l4_len = tcp_header;
    }
    ++stats_.segments_out;
    engine_.send_ipv4(m, f.remote.addr);
}

} // namespace tern::tcp
