// Micro benchmarks of TCP input, the per-segment fast path:
//   - the sans-IO connection (src/tcp/connection.hpp) in ESTABLISHED taking the next in-order
//     data segment, a pure ACK of new data (the sender then fills the window again), a no-op
//     ACK of an idle connection, and a duplicate ACK during fast recovery;
//   - the endpoint (src/tcp/endpoint.hpp) taking an in-order data segment through on_tcp, on
//     an engine over a device that only counts (the EAL comes up without hugepages or PCI).
//   - one request's bytes through a keep-alive connection's send buffer: copied in, viewed
//     for the segment, dropped once acknowledged (the buffer empties and gives its ring back);
//   - TIME-WAIT records churning at a steady population: one made, the oldest expired, or
//     let go early by a table at its capacity.
// Flow table bulk lookup and timer arm/cancel are in bench_flow and bench_timer.
//
// Segments are written once, in the tests' packetdrill notation (tests/tcp/notation.hpp),
// and each iteration moves one sequence or acknowledgment number on, so that every
// iteration is the next segment of one connection in the same steady state. After the loop
// each benchmark checks that it measured what its name says (every segment taken in order,
// every ACK acknowledging new data, ...) and reports an error otherwise.
//
// Run from a release build, pinned:
//   taskset -c 1 build-rel/bench/bench_tcp --benchmark_min_time=0.3 --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "eal_bench.hpp"
#include "core/engine.hpp"
#include "core/neighbor_cache.hpp"
#include "dpdk/mempool.hpp"
#include "notation.hpp"
#include "tcp/connection.hpp"
#include "tcp/endpoint.hpp"
#include "tcp/send_buffer.hpp"
#include "tcp/time_wait.hpp"
#include "tern/clock.hpp"
#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace tern;
using namespace tern::tcp;
using namespace std::chrono_literals;

constexpr endpoint local{ipv4_addr::from_octets(198, 18, 0, 1), 8080};
constexpr endpoint remote{ipv4_addr::from_octets(198, 18, 0, 2), 40000};
// Near 2^32, as in the tests: the sequence numbers wrap within the first iterations.
constexpr std::uint32_t our_iss = 0xffffff00u;
constexpr std::uint32_t peer_isn = 0xfffffc00u;
// A clock away from 0, so that our TSvals (ms of `now`) are not 0: a TSecr of 0 takes no
// RTT sample (RFC 7323 §4.1), and the ACK benchmarks should take one as real ACKs do.
const instant start = instant{} + 1000s;
constexpr std::uint32_t our_tsval = 1'000'000; // ts_clock(start) with ts_offset 0
constexpr std::uint16_t mss = 1448;            // 1460 - 12: what our segments carry with timestamps

// As Linux opens a connection: MSS, SACK, timestamps, window scale 7; then the window
// field 502 (64256 bytes, scaled).
constexpr std::string_view linux_syn = "S 0:0(0) win 64240 <mss 1460,sackOK,TS val 7000 ecr 0,nop,wscale 7>";
const std::string peer_ts = " <nop,nop,TS val 7000 ecr " + std::to_string(our_tsval) + ">";

wire::tcp_repr repr_of(std::string_view notation, std::uint32_t receiver_isn) {
    auto parsed = test::parse_segment(notation);
    if (!parsed) return {};
    wire::tcp_repr r = test::to_repr(*parsed, peer_isn, receiver_isn);
    r.src_port = remote.port;
    r.dst_port = local.port;
    return r;
}

// The engine's side of one connection, as cheap as it can be: counts what is sent and
// delivered, keeps nothing. It takes plain headers as they are, as the engine's sink does
// (the default would make each a full tcp_repr first).
struct counting_peer final : segment_sink, connection_events {
    void emit(const flow&, const wire::tcp_repr&, const tx_payload& payload, wire::ecn_codepoint) override {
        count(payload);
    }
    void emit(const flow&, const wire::tcp_plain_repr&, const tx_payload& payload, wire::ecn_codepoint) override {
        count(payload);
    }
    void count(const tx_payload& payload) {
        ++emitted;
        if (payload.size() > 0) ++data_segments;
    }
    void on_data(std::span<const std::uint8_t> bytes, void*) override { delivered += bytes.size(); }

    std::uint64_t emitted = 0;
    std::uint64_t data_segments = 0;
    std::uint64_t delivered = 0;
};

// One connection, opened passively through the handshake into ESTABLISHED.
struct established {
    explicit established(connection_options options = {}) : conn(config, options, peer, peer) {
        (void)conn.open_passive(local, seq32(our_iss), now);
        conn.on_segment(make(linux_syn), now);
        conn.on_segment(make(". 1:1(0) ack 1 win 502" + peer_ts), now);
    }

    segment make(std::string_view notation, std::span<const std::uint8_t> payload = {}) const {
        segment s;
        s.src_addr = remote.addr;
        s.dst_addr = local.addr;
        s.header = repr_of(notation, our_iss);
        s.payload = payload;
        return s;
    }

    std::uint64_t drops() const {
        std::uint64_t n = 0;
        for (std::size_t d = 0; d < tcp_drop_count; ++d) n += conn.drops(tcp_drop(d));
        return n;
    }

    tcp_config config;
    counting_peer peer;
    connection conn;
    instant now = start;
};

// ---- in-order data ----------------------------------------------------------------------

// The next in-order segment of range(0) bytes, the application's on_data doing nothing.
// We ACK every second one (RFC 9293 §3.8.6.3), so half the iterations also emit an ACK.
void bm_input_data_in_order(benchmark::State& state) {
    const auto len = std::uint32_t(state.range(0));
    established c;
    if (c.conn.state() != tcp_state::established) return state.SkipWithError("handshake failed");
    const std::vector<std::uint8_t> payload(len, 'x');
    segment seg = c.make("P. 1:" + std::to_string(1 + len) + "(" + std::to_string(len) + ") ack 1 win 502" + peer_ts,
                         payload);
    const std::uint64_t emitted_before = c.peer.emitted;
    for (auto _ : state) {
        c.conn.on_segment(seg, c.now);
        seg.header.seq += len;
    }
    const auto n = std::uint64_t(state.iterations());
    if (c.peer.delivered != n * len || c.conn.control_block().rcv_nxt != seq32(seg.header.seq) || c.drops() != 0)
        return state.SkipWithError("a segment was not taken in order");
    state.counters["acks_per_segment"] = double(c.peer.emitted - emitted_before) / double(n);
    state.SetItemsProcessed(std::int64_t(n));
    state.SetBytesProcessed(std::int64_t(n * len));
}
BENCHMARK(bm_input_data_in_order)->Arg(64)->Arg(1448);

// ---- ACKs ----------------------------------------------------------------------------------

// A sender with a full send buffer: the window is full (64256 bytes in flight, the peer's
// window) and the next ACK of new data lets the same amount out again.
struct bulk_sender {
    static constexpr std::uint32_t buffer = 8u << 20;

    bulk_sender() : c(options()), block(buffer / 2, 'y'), ack(c.make(". 1:1(0) ack 1 win 502" + peer_ts)) {}

    static connection_options options() {
        connection_options o;
        o.send_buffer = buffer;
        return o;
    }

    // The application fills half the send buffer (all of it or nothing, here).
    bool send_block() {
        auto r = c.conn.send(block, c.now);
        return r && *r == block.size();
    }

    seq32 snd_una() const { return c.conn.control_block().snd_una; }
    std::uint32_t in_flight() const { return seq_distance(snd_una(), c.conn.control_block().snd_max); }

    // The peer ACKs `acked` more bytes (0: a duplicate ACK).
    void ack_more(std::uint32_t acked) {
        ack.header.ack += acked;
        c.conn.on_segment(ack, c.now);
    }

    // Into congestion avoidance (RFC 5681 §3.1): slow start until the peer's window is full,
    // then a fast retransmit (three duplicate ACKs) halves cwnd below the window; with
    // `leave_recovery` an ACK of everything ends the recovery (cwnd = ssthresh), and what
    // follows is congestion avoidance, where cwnd grows by about SMSS²/cwnd an ACK: it will
    // not overflow in any run (in slow start, +1 MSS an ACK, it would after 3M ACKs).
    bool start(bool leave_recovery) {
        if (c.conn.state() != tcp_state::established || !send_block() || !send_block()) return false;
        for (int i = 0; i < 60; ++i) ack_more(mss);
        if (in_flight() < c.conn.control_block().snd_wnd - mss) return false; // not window limited
        for (int i = 0; i < 3; ++i) ack_more(0);
        if (!c.conn.control_block().in_recovery) return false;
        if (!leave_recovery) return true;
        ack_more(seq_distance(snd_una(), c.conn.control_block().snd_max));
        const tcb& t = c.conn.control_block();
        return !t.in_recovery && t.cwnd >= t.ssthresh && t.ssthresh < 0xffffffffu;
    }

    established c;
    std::vector<std::uint8_t> block; // what the application sends: half the buffer at a time
    segment ack;
};

// A pure ACK of range(0) new segments (one MSS each): in congestion avoidance, window
// limited, the connection sends as much new data again (range(0) segments, now and then
// one more as cwnd grows). The application's refill of the send buffer (4 MiB each time
// as much has been acknowledged) is not timed.
void bm_input_ack_new_data(benchmark::State& state) {
    const auto acked = std::uint32_t(state.range(0)) * mss;
    bulk_sender s;
    if (!s.start(true)) return state.SkipWithError("could not reach congestion avoidance");
    const seq32 una_before = s.snd_una();
    const std::uint64_t retransmits = s.c.conn.stats().retransmits;
    const std::uint64_t sent_before = s.c.peer.data_segments;
    bool refused = false;
    for (auto _ : state) {
        s.ack_more(acked);
        if (s.c.conn.send_space() >= s.block.size()) {
            state.PauseTiming();
            refused |= !s.send_block();
            state.ResumeTiming();
        }
    }
    const auto n = std::uint64_t(state.iterations());
    const std::uint64_t sent = s.c.peer.data_segments - sent_before;
    if (refused) return state.SkipWithError("the send buffer did not take a refill");
    if (seq_distance(una_before, s.snd_una()) != std::uint32_t(n * acked) ||
        s.c.conn.stats().retransmits != retransmits || s.c.drops() != 0)
        return state.SkipWithError("an ACK did not acknowledge new data");
    // The sender kept up: it sent as much as was acknowledged (but for the last window).
    if (sent * mss + s.c.conn.control_block().snd_wnd < n * acked) return state.SkipWithError("the sender stalled");
    state.counters["segments_sent_per_ack"] = double(sent) / double(n);
    state.SetItemsProcessed(std::int64_t(n));
}
BENCHMARK(bm_input_ack_new_data)->Arg(1)->Arg(2);

// A no-op ACK: nothing in flight, the same acknowledgment number and window as before (the
// peer's ACK of our last data, repeated). Nothing changes and nothing is sent.
void bm_input_ack_idle(benchmark::State& state) {
    established c;
    if (c.conn.state() != tcp_state::established) return state.SkipWithError("handshake failed");
    const segment ack = c.make(". 1:1(0) ack 1 win 502" + peer_ts);
    const std::uint64_t emitted_before = c.peer.emitted;
    for (auto _ : state) c.conn.on_segment(ack, c.now);
    if (c.peer.emitted != emitted_before || c.drops() != 0 || c.conn.stats().segments_in < std::uint64_t(state.iterations()))
        return state.SkipWithError("the no-op ACK was not a no-op");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_input_ack_idle);

// A duplicate ACK with data in flight, during fast recovery (after the third one): it
// carries no SACK block, so with SACK negotiated it changes nothing and lets nothing out
// (pipe is above cwnd, RFC 6675 §5 (C)). A duplicate before recovery cannot be repeated in
// a steady state: the third starts a fast retransmit.
void bm_input_ack_duplicate(benchmark::State& state) {
    bulk_sender s;
    if (!s.start(false)) return state.SkipWithError("could not reach fast recovery");
    const seq32 una_before = s.snd_una();
    const std::uint64_t emitted_before = s.c.peer.emitted;
    for (auto _ : state) s.ack_more(0);
    if (s.snd_una() != una_before || s.c.peer.emitted != emitted_before || !s.c.conn.control_block().in_recovery ||
        s.c.drops() != 0)
        return state.SkipWithError("the duplicate ACK was not one");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_input_ack_duplicate);

// ---- the endpoint on an engine ------------------------------------------------------------

using bench::start_eal;

// Receives nothing; frees (and counts) everything sent, keeping a copy of the last frame
// while `keep_last` is set.
class counting_device final : public device {
public:
    std::uint16_t rx_burst(rte_mbuf**, std::uint16_t) override { return 0; }
    std::uint16_t tx_burst(rte_mbuf** pkts, std::uint16_t n) override {
        if (keep_last && n > 0) {
            const rte_mbuf* m = pkts[n - 1];
            const auto* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
            last.assign(data, data + rte_pktmbuf_data_len(m));
        }
        rte_pktmbuf_free_bulk(pkts, n);
        frames += n;
        return n;
    }

    bool keep_last = true;
    std::vector<std::uint8_t> last;
    std::uint64_t frames = 0;
};

struct counting_app final : app_events {
    void on_accepted(stream&) override { ++accepted; }
    void on_data(stream&, const rx_data& d) override { delivered += d.size(); }

    std::uint64_t accepted = 0;
    std::uint64_t delivered = 0;
};

// A received frame as the engine hands it to on_tcp: the mbuf (at the IPv4 header) and
// the two views into it.
struct rx_segment {
    rte_mbuf* m = nullptr;
    std::optional<wire::ipv4_view> ip;
    std::optional<wire::tcp_view> tcp;
};

// An engine on a counting device with its endpoint listening on `local`, one connection
// accepted from `remote` and in ESTABLISHED.
struct engine_rig {
    explicit engine_rig(const listen_options& listening = {})
        : pool(make_pool()), eng(0, engine_cfg(), engine_port{0, 0, local_mac, port_offloads{}}, dev, pool.get(),
                                 neighbors, clk),
          ep(eng, tcp_config{}, 1024) {
        neighbors.update(remote.addr.v4(), remote_mac, instant::max(), true);
        (void)ep.listen(local.port, listening, app);
        ep_iss = 0;
        feed(frame(repr_of(linux_syn, 0), {}));
        eng.poll(); // sends the SYN,ACK
        const auto synack = parse_sent();
        if (!synack || synack->flags() != (wire::tcp_flags::syn | wire::tcp_flags::ack)) return;
        ep_iss = synack->seq();
        const auto ts = synack->options().timestamp;
        tsecr = ts ? ts->first : 0;
        feed(frame(repr_of(". 1:1(0) ack 1 win 502" + ts_option(), ep_iss), {}));
        dev.keep_last = false;
    }
    ~engine_rig() {
        if (data.m) rte_pktmbuf_free(data.m);
    }

    static mbuf_pool make_pool() {
        static int n = 0;
        auto p = mbuf_pool::create("bench_tcp_" + std::to_string(n++), 4095);
        if (!p) std::abort();
        return std::move(*p);
    }
    static engine_config engine_cfg() {
        engine_config c;
        c.address = ipv4_cidr{local.addr.v4(), 24};
        c.mac = local_mac;
        c.gratuitous_arp = false;
        return c;
    }

    std::string ts_option() const { return " <nop,nop,TS val 7000 ecr " + std::to_string(tsecr) + ">"; }

    // An IPv4 packet from the peer in a fresh mbuf (software checksums, as a NIC delivers it).
    rx_segment frame(const wire::tcp_repr& h, std::span<const std::uint8_t> payload) {
        rx_segment s;
        s.m = rte_pktmbuf_alloc(pool.get());
        if (!s.m) return s;
        const std::size_t tcp_len = h.header_length() + payload.size();
        const std::size_t total = wire::ipv4_repr::header_length + tcp_len;
        auto* out = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(s.m, std::uint16_t(total)));
        wire::ipv4_repr{remote.addr.v4(), local.addr.v4(), wire::ip_protocol::tcp, 64, 1, std::uint16_t(tcp_len)}.emit(out);
        h.emit(out + wire::ipv4_repr::header_length, remote.addr.v4(), local.addr.v4(), payload, wire::checksum_mode::software);
        auto ip = wire::ipv4_view::parse({out, total});
        if (!ip) return s;
        s.ip = *ip;
        auto tcp = wire::tcp_view::parse(ip->payload(), ip->src(), ip->dst());
        if (tcp) s.tcp = *tcp;
        return s;
    }

    void feed(const rx_segment& s) {
        if (s.m && s.ip && s.tcp) ep.on_tcp(s.m, *s.ip, *s.tcp);
        else if (s.m) rte_pktmbuf_free(s.m);
    }

    // The TCP header of the last frame the engine sent.
    std::optional<wire::tcp_view> parse_sent() {
        if (dev.last.size() < wire::ethernet_header_len) return std::nullopt;
        auto ip = wire::ipv4_view::parse(std::span(dev.last).subspan(wire::ethernet_header_len));
        if (!ip) return std::nullopt;
        auto tcp = wire::tcp_view::parse(ip->payload(), ip->src(), ip->dst());
        if (!tcp) return std::nullopt;
        return *tcp;
    }

    static inline const mac_addr local_mac{{0x02, 0, 0, 0, 0, 0x01}};
    static inline const mac_addr remote_mac{{0x02, 0, 0, 0, 0, 0x02}};

    mbuf_pool pool;
    counting_device dev;
    virtual_clock clk{start};
    neighbor_cache neighbors{16};
    engine eng;
    endpoint_core ep;
    counting_app app;
    std::uint32_t ep_iss = 0;
    std::uint32_t tsecr = 0;
    rx_segment data;
};

// endpoint_core::on_tcp with the next in-order segment of range(0) bytes for an established
// connection: the flow table lookup, tcp_repr::from (options decoded), the connection, the
// wheel timer re-armed (settle), and every second segment an ACK built in a fresh mbuf and
// queued for TX. As in the engine, one poll() per 32 segments (one RX burst) flushes TX to
// the device, which frees the ACKs; that poll is timed too, an engine round's share.
// The same mbuf is fed every time with one more reference (the endpoint frees one), its
// sequence number rewritten: the NIC's work and the RX parse are not timed (bench_wire has
// the parse), and the endpoint's free is an atomic decrement rather than a return to the pool.
void bm_endpoint_data_in_order(benchmark::State& state) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    const auto len = std::uint32_t(state.range(0));
    auto rig = std::make_unique<engine_rig>();
    if (rig->app.accepted != 1) return state.SkipWithError("handshake failed");
    const std::vector<std::uint8_t> payload(len, 'x');
    rig->data = rig->frame(repr_of("P. 1:" + std::to_string(1 + len) + "(" + std::to_string(len) + ") ack 1 win 502" +
                                       rig->ts_option(),
                                   rig->ep_iss),
                           payload);
    const rx_segment& d = rig->data;
    if (!d.m || !d.ip || !d.tcp) return state.SkipWithError("could not build the segment");
    auto* seq_field = const_cast<std::uint8_t*>(d.tcp->segment().data()) + wire::tcp_field::seq;
    std::uint32_t seq = peer_isn + 1;
    const std::uint64_t frames_before = rig->dev.frames;
    std::uint32_t in_burst = 0;
    for (auto _ : state) {
        rte_mbuf_refcnt_update(d.m, 1);
        wire::store_be32(seq_field, seq);
        rig->ep.on_tcp(d.m, *d.ip, *d.tcp);
        seq += len;
        if (++in_burst == 32) {
            rig->eng.poll();
            in_burst = 0;
        }
    }
    rig->eng.poll();
    const auto n = std::uint64_t(state.iterations());
    if (rig->app.delivered != n * len || rte_mbuf_refcnt_read(d.m) != 1 || rig->ep.stats().no_mbuf != 0)
        return state.SkipWithError("a segment was not taken in order");
    state.counters["acks_per_segment"] = double(rig->dev.frames - frames_before) / double(n);
    state.SetItemsProcessed(std::int64_t(n));
    state.SetBytesProcessed(std::int64_t(n * len));
}
BENCHMARK(bm_endpoint_data_in_order)->Arg(64)->Arg(1448);

// What parking (listen_options::park_idle) costs an idle connection that wakes: a pure ACK
// that changes nothing makes the parked connection a stream again; the engine's round that
// follows flushes its (empty) output and starts its wait to park; past park_after the next
// round fires its wheel timer and parks it. bm_endpoint_idle_wake runs the same steps
// without parking: the difference is one unpark, one park and the timer work between.
void bm_endpoint_park_unpark(benchmark::State& state) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    listen_options parking;
    parking.park_idle = true;
    auto rig = std::make_unique<engine_rig>(parking);
    if (rig->app.accepted != 1) return state.SkipWithError("handshake failed");
    rig->data = rig->frame(repr_of(". 1:1(0) ack 1 win 502" + rig->ts_option(), rig->ep_iss), {});
    const rx_segment& d = rig->data;
    if (!d.m || !d.ip || !d.tcp) return state.SkipWithError("could not build the segment");
    // The handshake's last output goes at the first poll, which starts the wait; the next
    // one, past park_after, parks.
    for (int i = 0; i < 2; ++i) {
        rig->clk.advance(parking.park_after + 1ms);
        rig->eng.poll();
    }
    const std::uint64_t parks_before = rig->ep.stats().parks;
    if (parks_before != 1) return state.SkipWithError("the idle connection was not parked");
    for (auto _ : state) {
        rte_mbuf_refcnt_update(d.m, 1);
        rig->ep.on_tcp(d.m, *d.ip, *d.tcp); // made again
        rig->eng.poll();                    // the round's output is flushed: the wait starts
        rig->clk.advance(parking.park_after + 1ms);
        rig->eng.poll(); // the wait runs out: parked
    }
    const auto n = std::uint64_t(state.iterations());
    if (rig->ep.stats().parks - parks_before != n || rig->ep.stats().unparks != n)
        return state.SkipWithError(("not parked and made again once an iteration: " + std::to_string(rig->ep.stats().parks - parks_before) + " parks, " + std::to_string(rig->ep.stats().unparks) + " unparks in " + std::to_string(n)).c_str());
    state.SetItemsProcessed(std::int64_t(n));
}
BENCHMARK(bm_endpoint_park_unpark);

// The same without parking: the clock moves and the engine polls as above, and the ACK
// meets the stream. Its difference to bm_endpoint_park_unpark is what parking adds.
void bm_endpoint_idle_wake(benchmark::State& state) {
    if (!start_eal()) return state.SkipWithError("EAL start-up failed");
    auto rig = std::make_unique<engine_rig>();
    if (rig->app.accepted != 1) return state.SkipWithError("handshake failed");
    rig->data = rig->frame(repr_of(". 1:1(0) ack 1 win 502" + rig->ts_option(), rig->ep_iss), {});
    const rx_segment& d = rig->data;
    if (!d.m || !d.ip || !d.tcp) return state.SkipWithError("could not build the segment");
    for (auto _ : state) {
        rte_mbuf_refcnt_update(d.m, 1);
        rig->ep.on_tcp(d.m, *d.ip, *d.tcp);
        rig->eng.poll();
        rig->clk.advance(listen_options{}.park_after + 1ms);
        rig->eng.poll();
    }
    if (rig->ep.stats().parks != 0 || rig->ep.connections() != 1) return state.SkipWithError("the stream changed");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_endpoint_idle_wake);

// A keep-alive connection's send buffer over one request and its acknowledgment: `range(0)`
// bytes pushed into the empty buffer, viewed as one segment's payload, then popped whole and
// trimmed (as the connection does after an ACK whose callbacks wrote nothing: left idle).
void bm_send_buffer_request(benchmark::State& state) {
    const std::vector<std::uint8_t> message(std::size_t(state.range(0)), 'x');
    tcp::send_buffer buffer(64 * 1024);
    std::size_t viewed = 0;
    for (auto _ : state) {
        buffer.push(message);
        const tcp::tx_payload p = buffer.view(0, std::uint32_t(message.size()));
        viewed += p.size();
        benchmark::DoNotOptimize(p.pieces.data());
        buffer.pop(std::uint32_t(message.size()));
        buffer.trim();
    }
    if (viewed != message.size() * state.iterations() || buffer.has_body())
        state.SkipWithError("a request's bytes did not go through whole, or the buffer kept its body");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_send_buffer_request)->Arg(64)->Arg(1024);

// The n-th 4-tuple of a server's many clients: 16,384 ports on each of as many addresses as
// it takes, so that none repeats within a population of millions.
flow_key client_key(std::uint64_t n) {
    return flow_key{ipv4_addr{0xc6120001u}, ipv4_addr{0xc6130000u + std::uint32_t(n >> 14)}, 80,
                    std::uint16_t(1024 + (n & 0x3fff))};
}

// The n-th record's slot starts loading 16 records before it is made, as the endpoint's
// look-ahead loads a FIN's slot before the FIN is taken.
void load_slot_ahead(const tcp::time_wait_table& table, std::uint64_t n) {
    table.prefetch(flow_hash(client_key(n + 16), table.seed()));
}

// A server that closes first, at a steady population of `range(0)` TIME-WAIT records (2·MSL
// times its connection rate: 2 M at 1 M connections/s and MSL 1 s): each item makes one
// record for a new 4-tuple, and the oldest expire a hundred at a time, as a timer tick's
// worth. Its 4-tuples do not repeat within the population (many clients), so every expiry
// erases its record's index slot, written a population ago: a cache miss unless something
// loaded it.
void bm_time_wait_churn(benchmark::State& state) {
    const auto population = std::size_t(state.range(0));
    // The engine's timer ticks every 100 us: at 1 M connections/s, 100 records expire at once.
    constexpr std::uint64_t expire_batch = 100;
    tcp::time_wait_table table(population + expire_batch, 1); // the new records before their expiry
    auto record_for = [](std::uint64_t n) {
        tcp::time_wait_record r{};
        r.key = client_key(n);
        r.deadline = instant{std::chrono::nanoseconds(std::int64_t(n))};
        return r;
    };
    std::uint64_t made = 0;
    for (; made < population; ++made) table.insert(record_for(made));
    std::size_t expired = 0;
    for (auto _ : state) {
        load_slot_ahead(table, made);
        table.insert(record_for(made));
        if (++made % expire_batch == 0)
            expired += table.expire(instant{std::chrono::nanoseconds(std::int64_t(made - population) - 1)});
    }
    expired += table.expire(instant{std::chrono::nanoseconds(std::int64_t(made - population) - 1)});
    if (expired != std::size_t(state.iterations()) || table.size() != population)
        return state.SkipWithError("not one record expired for each made");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_time_wait_churn)->Arg(1 << 16)->Arg(1 << 21);

// The same population held at the table's capacity: each new record lets the oldest go
// before its 2·MSL are up (as Linux does past tcp_max_tw_buckets), a server whose
// --max-connections is below 2·MSL times its rate.
void bm_time_wait_full(benchmark::State& state) {
    const auto population = std::size_t(state.range(0));
    tcp::time_wait_table table(population, 1);
    tcp::time_wait_record r{};
    std::uint64_t made = 0;
    std::size_t kept_all = 0;
    for (; made < population; ++made) {
        r.key = client_key(made);
        table.insert(r);
    }
    for (auto _ : state) {
        load_slot_ahead(table, made);
        r.key = client_key(made++);
        kept_all += table.insert(r);
    }
    if (kept_all != 0 || table.size() != population) return state.SkipWithError("not one record let go for each made");
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(bm_time_wait_full)->Arg(1 << 16)->Arg(1 << 21);

} // namespace

int main(int argc, char** argv) { return tern::bench::run_benchmarks(argc, argv); }
