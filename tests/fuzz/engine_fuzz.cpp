#include "engine_fuzz.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include <rte_mbuf.h>

#include "core/engine.hpp"
#include "core/neighbor_cache.hpp"
#include "dpdk/mempool.hpp"
#include "script_device.hpp"
#include "tcp/endpoint.hpp"
#include "tcp/seq.hpp"
#include "tern/clock.hpp"
#include "wire/arp.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace tern::fuzz {

using namespace std::chrono_literals;
using tcp::tcp_state;
namespace flag = wire::tcp_flags;

// Peer ports 50000 and up are the peer's (it opens to our listeners); 40000 and up ours
// (we open to the peer's 5000s).
const std::array<tuple_spec, tuple_count> tuples{{
    {"listen-80", 80, peer_ip, 50000, tcp_state::listen, true},
    {"syn-sent", 40001, peer_ip, 5001, tcp_state::syn_sent, true},
    {"syn-sent-no-arp", 40002, silent_ip, 5002, tcp_state::syn_sent, true},
    {"syn-received", 80, peer_ip, 50003, tcp_state::syn_received, true},
    {"established", 80, peer_ip, 50004, tcp_state::established, true},
    {"established-active-no-options", 40005, peer_ip, 5005, tcp_state::established, false},
    {"fin-wait-1", 81, peer_ip, 50006, tcp_state::fin_wait_1, true},
    {"fin-wait-2", 80, peer_ip, 50007, tcp_state::fin_wait_2, true},
    {"close-wait", 80, peer_ip, 50008, tcp_state::close_wait, true},
    {"closing", 80, peer_ip, 50009, tcp_state::closing, true},
    {"last-ack", 80, peer_ip, 50010, tcp_state::last_ack, true},
    {"time-wait", 80, peer_ip, 50011, tcp_state::time_wait, true},
    {"time-wait-active-no-options", 40012, peer_ip, 5012, tcp_state::time_wait, false},
    {"zero-window", 81, peer_ip, 50013, tcp_state::established, true},
    {"closed-port", 9, peer_ip, 50014, tcp_state::closed, true},
    {"listen-81", 81, peer_ip, 50015, tcp_state::listen, true},
}};

namespace {

[[noreturn]] void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));
void fail(const char* format, ...) {
    std::va_list args;
    va_start(args, format);
    std::fputs("engine fuzz: ", stderr);
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
    va_end(args);
    std::abort();
}

constexpr mac_addr silent_mac{{0x02, 0, 0, 0, 0, 0x03}};
constexpr std::uint16_t mbuf_count = 2047;
constexpr std::size_t max_connections = 64;

tcp::listen_options listener_options(std::uint16_t port) {
    tcp::listen_options o;
    // On 80, set-up's half-open connection fills the SYN backlog: a SYN there gets a
    // cookie (RFC 4987 §3.6), which the peer model learns like any SYN,ACK. On 81 a SYN
    // gets a connection.
    o.syn_backlog = port == 80 ? 1 : 2;
    o.accept_backlog = 16;
    if (port == 80) {
        o.connection.keepalive = tcp::keepalive_options{20s, 5s, 3};
    } else { // 81: small buffers, Nagle off: zero windows and full send buffers come quickly
        o.connection.no_delay = true;
        o.connection.send_buffer = 4096;
        o.connection.receive_buffer = 4096;
    }
    return o;
}

// The payload bytes every segment and send carries: only their number matters to TCP.
std::span<const std::uint8_t> pattern(std::size_t n) {
    static const std::vector<std::uint8_t> bytes = [] {
        std::vector<std::uint8_t> b(70000);
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::uint8_t(i * 7 + 1);
        return b;
    }();
    return {bytes.data(), std::min(n, bytes.size())};
}

// Reads the input; past its end every byte is zero.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
    bool done() const { return at_ >= in_.size(); }
    std::uint8_t u8() { return at_ < in_.size() ? in_[at_++] : 0; }
    std::uint16_t u16() { return std::uint16_t(u8() << 8 | u8()); }
    std::uint32_t u32() { return std::uint32_t(u16()) << 16 | u16(); }
    std::span<const std::uint8_t> take(std::size_t n) {
        n = std::min(n, in_.size() - std::min(at_, in_.size()));
        auto s = in_.subspan(at_, n);
        at_ += n;
        return s;
    }

private:
    std::span<const std::uint8_t> in_;
    std::size_t at_ = 0;
};

// Sets the IPv4 header checksum and the TCP or ICMP checksum of a frame, as far as its
// lengths allow; anything else is left as it is.
void fix_checksums(std::span<std::uint8_t> frame) {
    constexpr std::size_t eth = wire::ethernet_header_len;
    if (frame.size() < eth + wire::ipv4_min_header_length) return;
    if (wire::load_be16(frame.data() + wire::ethernet_field::type) != wire::ether_type::ipv4) return;
    std::uint8_t* ip = frame.data() + eth;
    const std::size_t room = frame.size() - eth;
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    if (ihl < wire::ipv4_min_header_length || ihl > room) return;
    wire::store_be16(ip + wire::ipv4_field::checksum, 0);
    wire::store_be16(ip + wire::ipv4_field::checksum, wire::checksum_fold(wire::checksum_add({ip, ihl})));
    const std::size_t total = wire::load_be16(ip + wire::ipv4_field::total_length);
    if (total < ihl || total > room) return;
    std::uint8_t* l4 = ip + ihl;
    const std::size_t l4_len = total - ihl;
    const ipv4_addr src{wire::load_be32(ip + wire::ipv4_field::src)}, dst{wire::load_be32(ip + wire::ipv4_field::dst)};
    if (ip[wire::ipv4_field::protocol] == wire::ip_protocol::tcp && l4_len >= wire::tcp_min_header_length) {
        wire::store_be16(l4 + wire::tcp_field::checksum, 0);
        const std::uint32_t pseudo = wire::pseudo_header_sum(src, dst, wire::ip_protocol::tcp, std::uint16_t(l4_len));
        wire::store_be16(l4 + wire::tcp_field::checksum, wire::checksum_fold(wire::checksum_add({l4, l4_len}, pseudo)));
    } else if (ip[wire::ipv4_field::protocol] == wire::ip_protocol::icmp && l4_len >= wire::icmp_header_length) {
        wire::store_be16(l4 + wire::icmp_field::checksum, 0);
        wire::store_be16(l4 + wire::icmp_field::checksum, wire::checksum_fold(wire::checksum_add({l4, l4_len})));
    }
}

// What is wrong with a frame the engine sent, or nothing.
// RFC 1122 §3.3.2: a reassembly given up with fragment zero in: the quote is that fragment's
// header (from the peer the message goes to, to us) and its first 8 bytes of data.
std::optional<std::string> time_exceeded_problem(const wire::icmp_view& icmp, ipv4_addr to) {
    if (icmp.code() != wire::icmp_time_exceeded_code::reassembly) return "time exceeded other than for reassembly";
    const auto quoted = icmp.payload();
    if (quoted.size() < wire::ipv4_min_header_length) return "time exceeded quotes no IPv4 header";
    const std::size_t ihl = std::size_t(quoted[0] & 0x0f) * 4;
    if (ihl < wire::ipv4_min_header_length || quoted.size() != ihl + 8) return "time exceeded quote is not a header and 8 bytes";
    const std::uint16_t flags_fragment = wire::load_be16(quoted.data() + wire::ipv4_field::flags_fragment);
    if ((flags_fragment & (wire::ipv4_flag_mf | wire::ipv4_fragment_offset_mask)) != wire::ipv4_flag_mf)
        return "time exceeded quotes no fragment zero";
    if (ipv4_addr{wire::load_be32(quoted.data() + wire::ipv4_field::src)} != to ||
        ipv4_addr{wire::load_be32(quoted.data() + wire::ipv4_field::dst)} != our_ip)
        return "time exceeded quotes a datagram that was not the peer's to us";
    return std::nullopt;
}

std::optional<std::string> frame_problem(std::span<const std::uint8_t> frame) {
    if (frame.size() > std::size_t(mtu) + wire::ethernet_header_len) return "longer than the MTU";
    auto eth = wire::ethernet_view::parse(frame);
    if (!eth) return "no Ethernet header";
    if (eth->src() != our_mac) return "Ethernet source is not our MAC";
    if (eth->type() == wire::ether_type::arp) {
        auto arp = wire::arp_view::parse(eth->payload());
        if (!arp) return "ARP does not parse";
        if (arp->sender_mac() != our_mac || arp->sender_ip() != our_ip) return "ARP sender is not us";
        if (arp->op() == wire::arp_op::request) {
            if (!eth->dst().is_broadcast()) return "ARP request not broadcast";
        } else if (arp->op() == wire::arp_op::reply) {
            if (eth->dst() != arp->target_mac() || arp->target_mac().is_multicast()) return "ARP reply misaddressed";
        } else {
            return "ARP operation neither request nor reply";
        }
        return std::nullopt;
    }
    if (eth->type() != wire::ether_type::ipv4) return "neither ARP nor IPv4";
    if (eth->dst().is_multicast()) return "IPv4 to a multicast or broadcast MAC";
    auto ip = wire::ipv4_view::parse(eth->payload(), true);
    if (!ip) return "IPv4 does not parse (or bad header checksum)";
    if (ip->header_length() != wire::ipv4_min_header_length) return "IPv4 options sent";
    if (ip->total_length() != eth->payload().size()) return "IPv4 total length is not the frame's";
    if (ip->src() != our_ip) return "IPv4 source is not our address";
    if (ip->is_fragment()) return "IPv4 fragment sent (tern never fragments)";
    const ipv4_addr dst = ip->dst();
    if (dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast() || dst == our_ip)
        return "IPv4 destination no host can have";
    if (ip->protocol() == wire::ip_protocol::icmp) {
        auto icmp = wire::icmp_view::parse(ip->payload(), true);
        if (!icmp) return "ICMP does not parse (or bad checksum)";
        if (icmp->type() == wire::icmp_type::echo_reply) return std::nullopt;
        if (icmp->type() != wire::icmp_type::time_exceeded) return "ICMP other than echo reply or time exceeded";
        return time_exceeded_problem(*icmp, dst);
    }
    if (ip->protocol() != wire::ip_protocol::tcp) return "IPv4 neither TCP nor ICMP";
    auto tcp = wire::tcp_view::parse(ip->payload(), ip->src(), dst, true);
    if (!tcp) return "TCP does not parse (or bad checksum)";
    const std::uint8_t flags = tcp->flags();
    if ((flags & flag::syn) && (flags & (flag::rst | flag::fin))) return "SYN with RST or FIN";
    if (!(flags & flag::ack) && !(flags & flag::rst) && !(flags & flag::syn)) return "no ACK on a segment that needs one";
    const wire::tcp_options options = tcp->options();
    if ((options.mss || options.window_scale || options.sack_permitted) && !(flags & flag::syn))
        return "SYN options on a segment without SYN";
    if (options.window_scale && *options.window_scale > 14) return "window scale above 14";
    for (const wire::sack_block& b : options.sacks())
        if (!(tcp::seq32(b.left) < tcp::seq32(b.right))) return "empty or inverted SACK block";
    if (tcp->payload().size() > std::size_t(mtu) - 40) return "payload above our MSS";
    return std::nullopt;
}

// The application: accepted streams echo what they receive; every stream keeps the last
// data it received (rx_data::keep, holding the mbuf) until more comes or it closes.
class fuzz_app final : public tcp::app_events {
public:
    void on_accepted(tcp::stream& s) override { add(s); }
    void on_connected(tcp::stream& s) override { add(s); }
    void on_data(tcp::stream& s, const tcp::rx_data& data) override {
        if (s.passive()) (void)s.send(data.bytes());
        add(s).kept = data.keep();
    }
    void on_closed(tcp::stream& s, tcp::close_reason) override { streams_.erase(&s); }

    // The stream on tuple k, if the application has one.
    tcp::stream* at(std::size_t k) const {
        for (const auto& [s, st] : streams_)
            if (st.tuple == int(k)) return s;
        return nullptr;
    }
    void drop_kept(std::size_t k) {
        for (auto& [s, st] : streams_)
            if (st.tuple == int(k)) st.kept.reset();
    }
    template <class F>
    void for_each(F&& f) const {
        for (const auto& [s, st] : streams_) f(*s);
    }
    // The endpoint is gone (it frees its streams without on_closed): forget them and
    // release what they kept.
    void clear() { streams_.clear(); }

private:
    struct per_stream {
        int tuple = -1; // -1: not one of the scene's tuples (a SYN from another port)
        tcp::rx_buffer kept;
    };
    per_stream& add(tcp::stream& s) {
        auto [it, added] = streams_.try_emplace(&s);
        if (added) {
            const tcp::flow& id = s.flow_id();
            for (std::size_t k = 0; k < tuple_count; ++k)
                if (tuples[k].local_port == id.local.port && tuples[k].remote == id.remote.addr &&
                    tuples[k].remote_port == id.remote.port)
                    it->second.tuple = int(k);
        }
        return it->second;
    }
    std::map<tcp::stream*, per_stream> streams_;
};

// What the peer of one tuple knows: what it sends next, and what it saw us send.
struct peer_state {
    std::uint32_t snd_nxt = 0;
    std::uint32_t last_ack = 0;     // SEG.ACK of the peer's last segment with ACK: our SND.UNA as it knows it
    std::uint32_t seen_snd_max = 0; // one past the highest sequence number we sent
    std::uint32_t seen_tsval = 0;
    bool seen = false;
};

std::uint64_t fnv(std::uint64_t h, std::span<const std::uint8_t> bytes) {
    for (std::uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
    return h;
}

class scene {
public:
    scene();
    ~scene();
    scene(const scene&) = delete;
    scene& operator=(const scene&) = delete;

    void run(std::span<const std::uint8_t> input);
    const std::array<peer_state, tuple_count>& peers() const { return peers_; }
    std::vector<tcp_state> states() const;
    std::uint64_t digest() const { return digest_; }

private:
    void poll();
    void check_sent();
    void learn_from(const wire::ipv4_view& ip, const wire::tcp_view& tcp);
    void check_connections() const;
    void check_accounting() const;
    void queue(std::span<const std::uint8_t> frame, bool fix);
    void queue_segment(std::size_t k, const wire::tcp_repr& header, std::size_t payload);
    // Set-up: the peer of tuple k sends in order, with its usual options, and the engine polls.
    void peer_sends(std::size_t k, std::uint8_t flags, std::size_t payload = 0, std::uint16_t window = 65535,
                    std::int32_t ack_delta = 0);
    wire::tcp_options usual_options(std::size_t k, std::uint8_t flags);
    std::uint32_t peer_clock() {
        return std::uint32_t((clock_.now().time_since_epoch() / 1ms) * 3 + 12345); // the peer's own ms clock
    }
    void segment_record(std::uint8_t op, reader& r);
    void app_call(std::uint8_t a);
    tcp::stream& stream_on(std::size_t k) const;
    tcp_state state_of(std::size_t k) const;

    std::uint32_t baseline_;
    test::script_device dev_;
    virtual_clock clock_{instant{} + 1000s};
    neighbor_cache neighbors_{16};
    std::optional<engine> engine_;
    std::optional<tcp::endpoint_core> endpoint_;
    fuzz_app app_;
    std::array<peer_state, tuple_count> peers_{};
    bool listening_80_ = false, listening_81_ = false;
    std::uint16_t ip_id_ = 1;
    std::uint64_t queued_ = 0; // frames put in the device's RX queue
    std::uint64_t digest_ = 0xcbf29ce484222325ull;
};

scene::scene() : baseline_(rte_mempool_in_use_count(fuzz::pool())) {
    // A learned entry, not a static one: ARP from the fuzzer may move or refresh it, and a
    // long clock step lets it expire.
    neighbors_.update(peer_ip, peer_mac, clock_.now() + 1h);
    engine_config config;
    config.address = ipv4_cidr{our_ip, 24};
    config.gateway = gateway_ip;
    config.mac = our_mac;
    config.tx_backlog = 64;
    config.arp.max_pending = 4;
    config.arp.max_resolutions = 4;
    config.mtu = mtu;
    engine_.emplace(0, config, engine_port{0, 0, our_mac, port_offloads{}, mtu}, dev_, fuzz::pool(), neighbors_, clock_);
    tcp::tcp_config tcp;
    tcp.mtu = mtu;
    endpoint_.emplace(*engine_, tcp, max_connections, /*replay_seed=*/11);
    if (!endpoint_->listen(80, listener_options(80), app_) || !endpoint_->listen(81, listener_options(81), app_))
        fail("set-up: listen");
    listening_80_ = listening_81_ = true;
    for (auto& p : peers_) p.snd_nxt = 1'000'000u * std::uint32_t(&p - peers_.data() + 1);
    engine_->start(); // gratuitous ARP
    poll();

    // Active opens: SYN-SENT, one of them to an address whose ARP never gets an answer.
    for (std::size_t k : {1, 2, 5, 12}) {
        tcp::connect_options o;
        o.local_port = tuples[k].local_port;
        if (!endpoint_->connect(tuples[k].remote, tuples[k].remote_port, o, app_)) fail("set-up: connect %zu", k);
    }
    poll();
    peer_sends(5, flag::syn | flag::ack);
    peer_sends(12, flag::syn | flag::ack);
    // Passive opens, one at a time (port 80's SYN backlog is 1): the last stays SYN-RECEIVED.
    for (std::size_t k : {4, 6, 7, 8, 9, 10, 11, 13, 3}) {
        peer_sends(k, flag::syn);
        if (k != 3) peer_sends(k, flag::ack, 0, k == 13 ? 0 : 65535);
    }
    // ESTABLISHED with data both ways, some of it unacknowledged, and a hole in reassembly.
    for (int i = 0; i < 3; ++i) peer_sends(4, flag::ack | flag::psh, 1000);
    {
        auto header = wire::tcp_repr{50004, 80, peers_[4].snd_nxt + 1000, peers_[4].seen_snd_max, flag::ack, 65535, 0,
                                     usual_options(4, flag::ack)};
        queue_segment(4, header, 500);
        poll();
    }
    // Zero window: the peer's window is shut and the application has data to send.
    peer_sends(13, flag::ack | flag::psh, 100, 0);
    // FIN-WAIT-1: our FIN unacknowledged. FIN-WAIT-2: acknowledged.
    (void)stream_on(6).close();
    (void)stream_on(7).close();
    poll();
    peer_sends(7, flag::ack);
    // CLOSE-WAIT and LAST-ACK: the peer closed first (and we then closed).
    peer_sends(8, flag::fin | flag::ack);
    peer_sends(10, flag::fin | flag::ack);
    (void)stream_on(10).close();
    poll();
    // CLOSING: both FINs crossed (the peer's does not acknowledge ours).
    (void)stream_on(9).close();
    poll();
    peer_sends(9, flag::fin | flag::ack, 0, 65535, -1);
    // TIME-WAIT, kept as a record: we closed first, the peer acknowledged and closed.
    (void)stream_on(11).close();
    (void)stream_on(12).close();
    poll();
    peer_sends(11, flag::fin | flag::ack);
    peer_sends(12, flag::fin | flag::ack);

    for (std::size_t k = 0; k < tuple_count; ++k)
        if (state_of(k) != tuples[k].state)
            fail("set-up: tuple %zu (%s) is %s, not %s", k, std::string(tuples[k].name).c_str(),
                 std::string(tcp::to_string(state_of(k))).c_str(), std::string(tcp::to_string(tuples[k].state)).c_str());
}

// Tear-down: the endpoint frees its connections, the engine its backlog and ARP queues;
// then every mbuf must be back (DESIGN.md "Memory").
scene::~scene() {
    endpoint_.reset();
    engine_.reset();
    app_.clear();
    for (rte_mbuf* m : dev_.sent) rte_pktmbuf_free(m);
    dev_.sent.clear();
    for (rte_mbuf* m : dev_.inbox) rte_pktmbuf_free(m);
    dev_.inbox.clear();
    const std::uint32_t in_use = rte_mempool_in_use_count(fuzz::pool());
    if (in_use != baseline_) fail("mbufs in use after tear-down: %u, at start %u", in_use, baseline_);
}

tcp::stream& scene::stream_on(std::size_t k) const {
    tcp::stream* s = app_.at(k);
    if (!s) fail("set-up: no stream on tuple %zu", k);
    return *s;
}

// The state of the tuple's connection or TIME-WAIT record; LISTEN for a tuple with none on
// a listening port, CLOSED otherwise.
tcp_state scene::state_of(std::size_t k) const {
    const tuple_spec& t = tuples[k];
    for (const tcp::tcp_info& i : endpoint_->list(max_connections * 2))
        if (i.id.local.port == t.local_port && i.id.remote.addr == t.remote && i.id.remote.port == t.remote_port)
            return i.state;
    const bool listening = (t.local_port == 80 && listening_80_) || (t.local_port == 81 && listening_81_);
    return listening ? tcp_state::listen : tcp_state::closed;
}

std::vector<tcp_state> scene::states() const {
    std::vector<tcp_state> out;
    for (std::size_t k = 0; k < tuple_count; ++k) out.push_back(state_of(k));
    return out;
}

wire::tcp_options scene::usual_options(std::size_t k, std::uint8_t flags) {
    wire::tcp_options o;
    if (!tuples[k].timestamps) {
        if (flags & flag::syn) o.mss = 1460;
        return o;
    }
    if (flags & flag::syn) {
        o.mss = 1460;
        o.window_scale = 7;
        o.sack_permitted = true;
    }
    o.timestamp = std::pair{peer_clock(), peers_[k].seen_tsval};
    return o;
}

void scene::peer_sends(std::size_t k, std::uint8_t flags, std::size_t payload, std::uint16_t window,
                       std::int32_t ack_delta) {
    const tuple_spec& t = tuples[k];
    peer_state& p = peers_[k];
    const std::uint32_t ack = (flags & flag::ack) ? p.seen_snd_max + std::uint32_t(ack_delta) : 0;
    queue_segment(k, wire::tcp_repr{t.remote_port, t.local_port, p.snd_nxt, ack, flags, window, 0, usual_options(k, flags)},
                  payload);
    if (flags & flag::ack) p.last_ack = ack;
    p.snd_nxt += std::uint32_t(payload) + ((flags & flag::syn) ? 1 : 0) + ((flags & flag::fin) ? 1 : 0);
    poll();
}

void scene::queue(std::span<const std::uint8_t> frame, bool fix) {
    rte_mbuf* m = rte_pktmbuf_alloc(fuzz::pool());
    if (!m) return; // the pool is dry: a NIC would drop it too
    const std::size_t len = std::min<std::size_t>(frame.size(), rte_pktmbuf_tailroom(m));
    auto* data = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, std::uint16_t(len)));
    std::memcpy(data, frame.data(), len);
    if (fix) fix_checksums({data, len});
    dev_.inbox.push_back(m);
    ++queued_;
}

void scene::queue_segment(std::size_t k, const wire::tcp_repr& header, std::size_t payload) {
    const tuple_spec& t = tuples[k];
    constexpr std::size_t below_tcp = wire::ethernet_header_len + wire::ipv4_repr::header_length;
    const std::size_t room = RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM - below_tcp - header.header_length();
    payload = std::min(payload, room);
    const std::size_t tcp_len = header.header_length() + payload;
    std::vector<std::uint8_t> frame(below_tcp + tcp_len);
    wire::ethernet_repr{our_mac, t.remote == silent_ip ? silent_mac : peer_mac, wire::ether_type::ipv4}.emit(frame.data());
    wire::ipv4_repr{t.remote, our_ip, wire::ip_protocol::tcp, 64, ip_id_++, std::uint16_t(tcp_len), true, 0}.emit(
        frame.data() + wire::ethernet_header_len);
    std::uint8_t* seg = frame.data() + below_tcp;
    const auto bytes = pattern(payload);
    std::copy(bytes.begin(), bytes.end(), seg + header.header_length());
    header.emit(seg, t.remote, our_ip, {seg + header.header_length(), payload}, wire::checksum_mode::software);
    queue(frame, false);
}

void scene::poll() {
    engine_->poll();
    check_sent();
    check_connections();
    check_accounting();
}

// DESIGN.md: every received packet is consumed or dropped with a named reason. Each frame
// the engine took from the device is a drop for one of the receive reasons, a TCP segment
// handed to the endpoint, an echo request, a destination unreachable handed to the
// endpoint, ARP the engine acted on (counted in, and not then dropped as from a bad
// sender or for another host), or an IPv4 fragment kept for reassembly.
void scene::check_accounting() const {
    const engine_stats& e = engine_->stats();
    std::uint64_t rx_drops = 0; // the receive reasons come first in drop_reason, up to tcp_no_endpoint
    for (std::size_t r = 0; r < drop_reason_count; ++r)
        if (r <= std::size_t(drop_reason::tcp_no_endpoint)) rx_drops += e.dropped(drop_reason(r));
    const std::uint64_t arp_used = e.arp_requests_in.get() + e.arp_replies_in.get() -
                                   e.dropped(drop_reason::arp_bad_sender) - e.dropped(drop_reason::arp_not_for_us);
    // A fragment kept is consumed; the datagram it completes is received once more, whole.
    std::uint64_t fragments_dropped = 0;
    for (std::size_t r = std::size_t(drop_reason::ipv4_fragment); r <= std::size_t(drop_reason::ipv4_fragment_no_buffer); ++r)
        fragments_dropped += e.dropped(drop_reason(r));
    const std::uint64_t fragments_kept = e.ipv4_fragments_in.get() - fragments_dropped;
    const std::uint64_t accounted = rx_drops + endpoint_->stats().segments_in.get() + e.icmp_echo_requests_in.get() +
                                    e.icmp_unreachable_in.get() + arp_used + fragments_kept - e.ipv4_reassembled.get();
    const std::uint64_t taken = queued_ - dev_.inbox.size();
    if (e.rx_packets.get() != taken || accounted != taken)
        fail("%llu frames delivered, %llu received, %llu accounted for", static_cast<unsigned long long>(taken),
             static_cast<unsigned long long>(e.rx_packets.get()), static_cast<unsigned long long>(accounted));
}

void scene::check_sent() {
    for (rte_mbuf* m : dev_.sent) {
        if (m->nb_segs != 1 || m->data_len != m->pkt_len) fail("a chained frame from a port without multi-segment TX");
        const std::span<const std::uint8_t> frame{rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len};
        if (auto problem = frame_problem(frame)) {
            std::string hex;
            for (std::uint8_t b : frame) hex += "0123456789abcdef"[b >> 4], hex += "0123456789abcdef"[b & 15];
            fail("sent frame: %s: %s", problem->c_str(), hex.c_str());
        }
        digest_ = fnv(digest_, frame);
        auto eth = wire::ethernet_view::parse(frame);
        if (eth->type() == wire::ether_type::ipv4) {
            auto ip = wire::ipv4_view::parse(eth->payload());
            if (ip->protocol() == wire::ip_protocol::tcp) learn_from(*ip, *wire::tcp_view::parse(ip->payload(), ip->src(), ip->dst()));
        }
        rte_pktmbuf_free(m);
    }
    dev_.sent.clear();
}

// The peer of the tuple sees the segment: how far we have sent, our last TSval.
void scene::learn_from(const wire::ipv4_view& ip, const wire::tcp_view& tcp) {
    if (tcp.flags() & flag::rst) return; // an RST's sequence number may be the fuzzer's own
    for (std::size_t k = 0; k < tuple_count; ++k) {
        const tuple_spec& t = tuples[k];
        if (t.local_port != tcp.src_port() || t.remote != ip.dst() || t.remote_port != tcp.dst_port()) continue;
        peer_state& p = peers_[k];
        const std::uint32_t end = tcp.seq() + std::uint32_t(tcp.payload().size()) + ((tcp.flags() & flag::syn) ? 1 : 0) +
                                  ((tcp.flags() & flag::fin) ? 1 : 0);
        if (!p.seen || tcp::seq32(p.seen_snd_max) < tcp::seq32(end)) p.seen_snd_max = end;
        p.seen = true;
        if (auto ts = tcp.options().timestamp) p.seen_tsval = ts->first;
    }
}

// RFC 9293 §3.3.1's invariants on every connection the application holds, and the send
// buffer's hold on what is in flight.
void scene::check_connections() const {
    app_.for_each([](const tcp::stream& s) {
        const tcp::connection& c = tcp::stream_state::of(s).conn();
        const tcp::tcb& t = c.control_block();
        if (c.state() == tcp_state::closed || c.state() == tcp_state::listen) return;
        if (!(t.snd_una <= t.snd_nxt && t.snd_nxt <= t.snd_max))
            fail("%s: SND.UNA %u, SND.NXT %u, SND.MAX %u out of order", std::string(tcp::to_string(c.state())).c_str(),
                 t.snd_una.raw(), t.snd_nxt.raw(), t.snd_max.raw());
        const std::uint32_t in_flight = tcp::seq_distance(t.snd_una, t.snd_max);
        if (in_flight > 64 * 1024 + 2) // the largest send buffer, SYN and FIN
            fail("%u bytes in flight", in_flight);
        // What is sent and not acknowledged may be sent again: the send buffer still holds it.
        if (const std::uint32_t held = c.info().send_queued; in_flight > held + 2)
            fail("%s: %u in flight, %u in the send buffer", std::string(tcp::to_string(c.state())).c_str(), in_flight,
                 held);
        if (t.rcv_wnd > 64 * 1024) fail("receive window %u above the largest receive buffer", t.rcv_wnd);
    });
}

void scene::run(std::span<const std::uint8_t> input) {
    static constexpr duration units[8] = {10us, 1ms, 10ms, 100ms, 1s, 10s, 100s, 1000s};
    reader r(input);
    for (std::size_t n = 0; n < max_records && !r.done(); ++n) {
        const std::uint8_t op = r.u8();
        switch (op & 3) {
        case 0: {
            const std::uint16_t len = r.u16();
            queue(r.take(len), (op & 0x08) != 0);
            if (op & 0x04) poll();
            break;
        }
        case 1: {
            const std::uint8_t t = r.u8();
            clock_.advance(units[t >> 5] * ((t & 31) + 1));
            poll();
            break;
        }
        case 2: {
            const std::uint8_t a = r.u8();
            if (!dev_.inbox.empty()) poll();
            app_call(a);
            poll();
            break;
        }
        case 3: segment_record(op, r); break;
        }
    }
    poll();
    poll(); // what the last poll queued (an RX burst it could not finish)
}

void scene::segment_record(std::uint8_t op, reader& r) {
    const std::size_t k = r.u8() & 15;
    const std::uint8_t flags = r.u8();
    const auto seq_delta = std::int16_t(r.u16());
    const auto ack_delta = std::int16_t(r.u16());
    const std::uint16_t window = r.u16();
    const std::uint8_t options = r.u8();
    const std::size_t payload = std::size_t(r.u8()) * 8;
    peer_state& p = peers_[k];
    const tuple_spec& t = tuples[k];
    const std::uint32_t ack_base = (op & 0x08) ? p.last_ack : p.seen_snd_max;
    wire::tcp_repr h{t.remote_port, t.local_port, p.snd_nxt + std::uint32_t(seq_delta),
                     ack_base + std::uint32_t(ack_delta), flags, window, 0, {}};
    if (options & (opt_mss | opt_mss_value)) h.options.mss = 1460;
    if (options & opt_mss_value) h.options.mss = r.u16();
    if (options & opt_wscale) h.options.window_scale = 7;
    h.options.sack_permitted = (options & opt_sack_permitted) != 0;
    h.options.sack_block_count = std::uint8_t((options >> 4) & 3);
    for (std::size_t b = 0; b < h.options.sack_block_count; ++b) {
        const std::uint32_t left = h.ack + std::uint32_t(std::int16_t(r.u16()));
        h.options.sack_blocks[b] = {left, left + r.u16()};
    }
    if (options & opt_ts_values) {
        const std::uint32_t tsval = r.u32();
        h.options.timestamp = std::pair{tsval, r.u32()};
    } else if (options & opt_timestamps) {
        h.options.timestamp = std::pair{peer_clock(), p.seen_tsval};
    }
    queue_segment(k, h, payload);
    if (flags & flag::ack) p.last_ack = h.ack;
    if (seq_delta == 0)
        p.snd_nxt += std::uint32_t(payload) + ((flags & flag::syn) ? 1 : 0) + ((flags & flag::fin) ? 1 : 0);
    if (op & 0x04) poll();
}

void scene::app_call(std::uint8_t a) {
    const std::size_t k = a & 15;
    const tuple_spec& t = tuples[k];
    tcp::stream* s = app_.at(k);
    switch (app_action(a >> 4)) {
    case app_action::send_1: if (s) (void)s->send(pattern(1)); break;
    case app_action::send_1000: if (s) (void)s->send(pattern(1000)); break;
    case app_action::send_20000: if (s) (void)s->send(pattern(20000)); break;
    case app_action::send_70000: if (s) (void)s->send(pattern(70000)); break;
    case app_action::shutdown: if (s) (void)s->shutdown(); break;
    case app_action::close: if (s) (void)s->close(); break;
    case app_action::abort: if (s) s->abort(); break;
    case app_action::send_block:
        if (s) {
            if (auto block = s->allocate(1000)) {
                const auto bytes = pattern(block->room().size());
                std::copy(bytes.begin(), bytes.end(), block->room().begin());
                block->resize(bytes.size());
                (void)s->send(*block); // a block not taken goes back to the pool with it
            }
        }
        break;
    case app_action::drop_kept: app_.drop_kept(k); break;
    case app_action::connect:
        if (!s) {
            tcp::connect_options o;
            o.local_port = t.local_port;
            (void)endpoint_->connect(t.remote, t.remote_port, o, app_);
        }
        break;
    case app_action::toggle_listen:
        if (t.local_port == 80 || t.local_port == 81) {
            bool& on = t.local_port == 80 ? listening_80_ : listening_81_;
            if (on) endpoint_->unlisten(t.local_port);
            else if (!endpoint_->listen(t.local_port, listener_options(t.local_port), app_)) fail("listen again");
            on = !on;
        }
        break;
    case app_action::report:
        (void)engine_->report_now();
        (void)endpoint_->counters();
        app_.for_each([](const tcp::stream& x) { (void)x.info(); });
        break;
    case app_action::refuse_tx: dev_.accept = dev_.accept == 0 ? UINT64_MAX : 0; break;
    }
}

} // namespace

// Never destroyed: the programs call rte_eal_cleanup before static destructors run, and a
// pool freed after it takes the EAL down with it.
rte_mempool* pool() {
    static mbuf_pool* p = [] {
        auto made = mbuf_pool::create("engine_fuzz", mbuf_count);
        if (!made) fail("%s", made.error().c_str());
        return new mbuf_pool(std::move(*made));
    }();
    return p->get();
}

std::uint64_t run_input(std::span<const std::uint8_t> input) {
    scene s;
    s.run(input);
    return s.digest();
}

std::array<tuple_view, tuple_count> scene_after_setup() {
    scene s;
    std::array<tuple_view, tuple_count> out{};
    for (std::size_t k = 0; k < tuple_count; ++k) {
        const peer_state& p = s.peers()[k];
        out[k] = {p.snd_nxt, p.seen_snd_max, p.seen_tsval, p.seen};
    }
    return out;
}

std::vector<tcp_state> states_after_setup() {
    scene s;
    return s.states();
}

std::optional<std::string> sent_frame_problem(std::span<const std::uint8_t> frame) { return frame_problem(frame); }

void set_checksums(std::span<std::uint8_t> frame) { fix_checksums(frame); }

// ---- input_writer ----------------------------------------------------------------------

input_writer& input_writer::frame(std::span<const std::uint8_t> bytes, bool poll, bool fix_checksums) {
    out_.push_back(std::uint8_t(0 | (poll ? 0x04 : 0) | (fix_checksums ? 0x08 : 0)));
    out_.push_back(std::uint8_t(bytes.size() >> 8));
    out_.push_back(std::uint8_t(bytes.size()));
    out_.insert(out_.end(), bytes.begin(), bytes.end());
    return *this;
}

input_writer& input_writer::clock(std::uint8_t t) {
    out_.push_back(1);
    out_.push_back(t);
    return *this;
}

input_writer& input_writer::app(std::size_t tuple, app_action action) {
    out_.push_back(2);
    out_.push_back(std::uint8_t(std::uint8_t(action) << 4 | (tuple & 15)));
    return *this;
}

input_writer& input_writer::segment(const segment_spec& s) {
    auto u16 = [&](std::uint16_t v) {
        out_.push_back(std::uint8_t(v >> 8));
        out_.push_back(std::uint8_t(v));
    };
    auto u32 = [&](std::uint32_t v) {
        u16(std::uint16_t(v >> 16));
        u16(std::uint16_t(v));
    };
    const std::uint8_t options = std::uint8_t((s.options & 0xcf) | opt_sack_blocks(s.sacks.size()));
    out_.push_back(std::uint8_t(3 | (s.poll ? 0x04 : 0) | (s.ack_from_last_ack ? 0x08 : 0)));
    out_.push_back(std::uint8_t(s.tuple));
    out_.push_back(s.flags);
    u16(std::uint16_t(s.seq_delta));
    u16(std::uint16_t(s.ack_delta));
    u16(s.window);
    out_.push_back(options);
    out_.push_back(s.payload_units);
    if (options & opt_mss_value) u16(s.mss);
    for (std::size_t b = 0; b < std::min<std::size_t>(s.sacks.size(), 3); ++b) {
        u16(std::uint16_t(s.sacks[b].first));
        u16(s.sacks[b].second);
    }
    if (options & opt_ts_values) {
        u32(s.tsval);
        u32(s.tsecr);
    }
    return *this;
}

} // namespace tern::fuzz
