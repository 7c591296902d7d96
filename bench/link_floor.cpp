// What a DPDK port pair carries with nothing on it but DPDK: the floor under tern-bench's
// rows, measured on the same link, cores and ring sizes. No IP, no TCP, no engine loop.
//
//   link_floor [EAL args] -- reflect [SECONDS]      send back every frame read
//   link_floor [EAL args] -- ping [COUNT]           one 64-byte-payload frame at a time;
//                                                    prints its round trips' percentiles
//   link_floor [EAL args] -- rounds N [SECONDS]     N such frames in flight, each sent again
//                                                    as it comes back; prints round trips/s
//   link_floor [EAL args] -- sink [SECONDS]         count what arrives; prints the rate
//   link_floor [EAL args] -- blast BYTES [SECONDS]  frames of BYTES as fast as the port
//                                                    takes them; prints the rate
//
// scripts/link-floor runs a pair of them over net_memif in a namespace of its own, and
// tern-bench does before its scenarios (the binary is built beside the apps).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/histogram.hpp"

namespace {

constexpr std::uint16_t port = 0;
constexpr std::uint16_t burst = 32;
constexpr std::size_t ping_frame = 14 + 20 + 20 + 64; // what a 64-byte TCP message takes

struct ticks {
    std::uint64_t hz = rte_get_tsc_hz();
    std::uint64_t now() const { return rte_get_tsc_cycles(); }
    std::uint64_t after(double seconds) const { return now() + std::uint64_t(seconds * double(hz)); }
    double ns(std::uint64_t t) const { return double(t) * 1e9 / double(hz); }
    double seconds(std::uint64_t t) const { return double(t) / double(hz); }
};

// One queue pair; waits for the peer (memif connects once both sides have started).
rte_mempool* start_port(unsigned frame_room) {
    rte_mempool* pool = rte_pktmbuf_pool_create("floor", 8191, 256, 0, std::uint16_t(frame_room + RTE_PKTMBUF_HEADROOM),
                                                int(rte_socket_id()));
    if (pool == nullptr) throw std::runtime_error("no mbuf pool");
    rte_eth_conf conf{};
    if (rte_eth_dev_count_avail() == 0) throw std::runtime_error("no port (give one with --vdev)");
    if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 || rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0)
        throw std::runtime_error("the port did not start");
    const ticks t;
    for (const std::uint64_t end = t.after(30);;) {
        rte_eth_link link{};
        rte_eth_link_get_nowait(port, &link);
        if (link.link_status == RTE_ETH_LINK_UP) return pool;
        if (t.now() > end) throw std::runtime_error("the link did not come up in 30 s");
    }
}

rte_mbuf* frame(rte_mempool* pool, std::size_t size) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return nullptr;
    auto* d = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, std::uint16_t(size)));
    std::memset(d, 0, 14);
    d[12] = 0x08; // an IPv4 EtherType: nothing reads it, but it is a plausible frame
    return m;
}

// The receiving sides end on their own: at `seconds`, or a second after the last frame once
// frames have come (the sending side is done).
struct receiving {
    const ticks& t;
    std::uint64_t end, last = 0;
    receiving(const ticks& clock, double seconds) : t(clock), end(clock.after(seconds)) {}
    bool go_on() const {
        const std::uint64_t now = t.now();
        return now < end && (last == 0 || now - last < t.hz);
    }
};

void reflect(double seconds) {
    const ticks t;
    rte_mbuf* b[burst];
    for (receiving r(t, seconds); r.go_on();) {
        const std::uint16_t n = rte_eth_rx_burst(port, 0, b, burst);
        if (n == 0) continue;
        r.last = t.now();
        const std::uint16_t sent = rte_eth_tx_burst(port, 0, b, n);
        rte_pktmbuf_free_bulk(b + sent, n - sent);
    }
}

// A frame lost (the ring not yet read by a peer that has just started) is sent again after
// a millisecond and its round trip not counted. The round trips go into tern-load's own
// histogram (core/histogram.hpp), so that both report percentiles the same way.
void ping(rte_mempool* pool, std::size_t count) {
    const ticks t;
    const std::uint64_t patience = t.hz / 1000;
    tern::histogram rtt_ns;
    rte_mbuf* b[burst];
    for (std::size_t warm = 100000; rtt_ns.count() < count;) {
        rte_mbuf* m = frame(pool, ping_frame);
        if (m == nullptr) throw std::runtime_error("the mbuf pool ran dry");
        const std::uint64_t t0 = t.now();
        while (rte_eth_tx_burst(port, 0, &m, 1) == 0) {}
        std::uint16_t n = 0;
        while ((n = rte_eth_rx_burst(port, 0, b, burst)) == 0 && t.now() - t0 < patience) {}
        const std::uint64_t t1 = t.now();
        rte_pktmbuf_free_bulk(b, n);
        if (n == 0) continue;
        if (warm > 0) --warm;
        else rtt_ns.record(std::uint64_t(t.ns(t1 - t0)));
    }
    std::printf("round trip (ns, %llu samples): p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  p99.99 %llu  max %llu\n",
                (unsigned long long)rtt_ns.count(), (unsigned long long)rtt_ns.percentile(50),
                (unsigned long long)rtt_ns.percentile(90), (unsigned long long)rtt_ns.percentile(99),
                (unsigned long long)rtt_ns.percentile(99.9), (unsigned long long)rtt_ns.percentile(99.99),
                (unsigned long long)rtt_ns.max());
}

// `in_flight` frames at once, each sent back by the reflecting side and sent again as it
// returns: the round trips a second the link carries with that many requests outstanding,
// as tern's rps rows keep one a connection (tern-load --closed-loop). A frame this side's
// port refuses is replaced by a fresh one; one the reflecting side's refuses is lost, so
// `in_flight` must fit the rings (tern-bench checks it against the ring's slots). Counted for `seconds`
// after a warm-up of one second (the rings' memory faulted in, the peer's loop running).
void rounds(rte_mempool* pool, std::size_t in_flight, double seconds) {
    const ticks t;
    rte_mbuf* b[burst];
    std::size_t out = 0; // frames sent and not yet back
    std::uint64_t frames = 0, start = 0;
    const std::uint64_t warm_end = t.after(1), end = t.after(1 + seconds);
    for (std::uint64_t now = t.now(); now < end; now = t.now()) {
        while (out < in_flight) { // the first frames, and those a refusal cost
            const auto n = std::uint16_t(std::min<std::size_t>(burst, in_flight - out));
            for (std::uint16_t i = 0; i < n; ++i)
                if ((b[i] = frame(pool, ping_frame)) == nullptr) throw std::runtime_error("the mbuf pool ran dry");
            const std::uint16_t sent = rte_eth_tx_burst(port, 0, b, n);
            rte_pktmbuf_free_bulk(b + sent, n - sent);
            out += sent;
            if (sent < n) break;
        }
        const std::uint16_t n = rte_eth_rx_burst(port, 0, b, burst);
        if (n == 0) continue;
        if (start == 0 && now >= warm_end) start = now, frames = 0;
        frames += n;
        const std::uint16_t sent = rte_eth_tx_burst(port, 0, b, n);
        rte_pktmbuf_free_bulk(b + sent, n - sent);
        out -= n - sent;
    }
    if (start == 0 || frames == 0) throw std::runtime_error("no frame came back");
    std::printf("rounds: %zu in flight, %.0f round trips/s\n", in_flight, double(frames) / t.seconds(t.now() - start));
}

void report_rate(const char* what, const ticks& t, std::uint64_t span, std::uint64_t frames, std::uint64_t bytes) {
    std::printf("%s: %.2f Gbit/s, %.0f frames/s\n", what, double(bytes) * 8 / t.seconds(span) / 1e9,
                double(frames) / t.seconds(span));
}

// One frame, sent again and again: each send holds a reference (the port frees one when it
// is done with it). The sender's memory stays warm, as a zero-copy sender's block does
// (tern-load --zero-copy sends shares of one block), so the rate is the link's alone. With
// a fresh mbuf a frame, the copies read 8191 buffers in turn (75 MB of 9 KiB ones), and
// tern's jumbo row carried 57.7 Gbit/s where this carried 41.4 (2026-12-05).
void blast(rte_mempool* pool, std::size_t size, double seconds) {
    const ticks t;
    rte_mbuf* one = frame(pool, size);
    if (one == nullptr) throw std::runtime_error("no mbuf for the frame");
    rte_mbuf* b[burst];
    for (rte_mbuf*& m : b) m = one;
    std::uint64_t frames = 0;
    const std::uint64_t start = t.now(), end = t.after(seconds);
    while (t.now() < end) {
        rte_mbuf_refcnt_update(one, burst);
        const std::uint16_t sent = rte_eth_tx_burst(port, 0, b, burst);
        rte_mbuf_refcnt_update(one, std::int16_t(sent - burst)); // the sends the port refused
        frames += sent;
    }
    report_rate("blast", t, t.now() - start, frames, frames * size);
    rte_pktmbuf_free(one);
}

void sink(double seconds) {
    const ticks t;
    rte_mbuf* b[burst];
    std::uint64_t frames = 0, bytes = 0, first = 0;
    receiving r(t, seconds);
    while (r.go_on()) {
        const std::uint16_t n = rte_eth_rx_burst(port, 0, b, burst);
        if (n == 0) continue;
        r.last = t.now();
        if (frames == 0) first = r.last;
        for (std::uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(b[i]);
        frames += n;
        rte_pktmbuf_free_bulk(b, n);
    }
    if (frames < 2) throw std::runtime_error("nothing arrived");
    report_rate("sink", t, r.last - first, frames, bytes); // from the first frame to the last
}

double number(const char* text, double lowest, const char* what) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= lowest))
        throw std::invalid_argument(std::string(what) + ": '" + text + "' is not a number of at least " +
                                    std::to_string(lowest));
    return v;
}

int run(int argc, char** argv) {
    if (argc < 2) throw std::invalid_argument("which side: reflect, ping, rounds, sink or blast");
    const std::string_view mode = argv[1];
    const char* arg = argc > 2 ? argv[2] : nullptr;
    if (mode == "reflect" || mode == "sink") {
        const double seconds = arg ? number(arg, 0.1, "SECONDS") : 30;
        start_port(mode == "sink" ? 9216 : RTE_MBUF_DEFAULT_DATAROOM);
        mode == "sink" ? sink(seconds) : reflect(seconds);
    } else if (mode == "ping") {
        const auto count = std::size_t(arg ? number(arg, 1, "COUNT") : 2e6);
        ping(start_port(RTE_MBUF_DEFAULT_DATAROOM), count);
    } else if (mode == "rounds") {
        if (!arg) throw std::invalid_argument("rounds: give the frames in flight");
        const auto in_flight = std::size_t(number(arg, 1, "IN_FLIGHT"));
        if (in_flight > 4096) throw std::invalid_argument("IN_FLIGHT: at most 4096");
        const double seconds = argc > 3 ? number(argv[3], 0.1, "SECONDS") : 3;
        rounds(start_port(RTE_MBUF_DEFAULT_DATAROOM), in_flight, seconds);
    } else if (mode == "blast") {
        if (!arg) throw std::invalid_argument("blast: give the frame size in bytes");
        const auto size = std::size_t(number(arg, 60, "BYTES"));
        if (size > 9216) throw std::invalid_argument("BYTES: at most 9216");
        const double seconds = argc > 3 ? number(argv[3], 0.1, "SECONDS") : 8;
        blast(start_port(unsigned(size)), size, seconds);
    } else {
        throw std::invalid_argument("unknown side '" + std::string(mode) + "': reflect, ping, rounds, sink or blast");
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const int used = rte_eal_init(argc, argv);
    if (used < 0) {
        std::fprintf(stderr, "link_floor: the EAL did not start: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    try {
        const int rc = run(argc - used, argv + used);
        rte_eal_cleanup();
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "link_floor: %s\n", e.what());
        return 2;
    }
}
