// fault_device: each fault off changes nothing, fully on affects every packet, at p hits
// a binomial share; runs replay from their seed; delay never releases early; nothing is
// ever lost or leaked (the fixture checks the pools after every test).
#include "dpdk/fault_device.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "sim_test.hpp"
#include "tcp_frames.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace tern::test {
namespace {

constexpr std::uint16_t packet_len = 64;

enum class fault_kind { loss, duplicate, corrupt, reorder };
constexpr fault_kind all_kinds[] = {fault_kind::loss, fault_kind::duplicate, fault_kind::corrupt, fault_kind::reorder};
constexpr fault_direction both_dirs[] = {fault_direction::rx, fault_direction::tx};

std::string name(fault_direction d, fault_kind k) {
    static const char* kinds[] = {"loss", "duplicate", "corrupt", "reorder"};
    return std::string(d == fault_direction::rx ? "rx " : "tx ") + kinds[int(k)];
}

fault_profile only(fault_kind k, double p) {
    fault_profile f;
    switch (k) {
    case fault_kind::loss: f.loss = p; break;
    case fault_kind::duplicate: f.duplicate = p; break;
    case fault_kind::corrupt: f.corrupt = p; break;
    case fault_kind::reorder:
        f.reorder = p;
        f.reorder_time = 5us;
        break;
    }
    return f;
}

fault_config config_for(fault_direction dir, const fault_profile& p, std::uint64_t seed = 1) {
    fault_config c;
    (dir == fault_direction::rx ? c.rx : c.tx) = p;
    c.seed = seed;
    return c;
}

// Bit offset of the only differing bit, or -1 when not exactly one bit differs.
long only_flipped_bit(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    if (differing_bits(a, b) != 1) return -1;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return long(i * 8) + __builtin_ctz(unsigned(a[i] ^ b[i]));
    return -1;
}

using sink = std::function<void(rte_mbuf*)>;

struct drive_options {
    fault_direction dir = fault_direction::rx;
    std::uint32_t count = 1000;
    std::uint16_t burst = 8;
    duration step = 1us;
    std::function<std::uint16_t(std::uint32_t)> len = [](std::uint32_t) { return packet_len; };
};

class faults : public sim_test {
public:
    // Sends `count` packets (ids 0..count-1) through one direction of a fault device
    // built on a script_device, a burst per clock step, then lets time run until nothing
    // is held. Each packet that comes out goes to `out`, with the clock at the instant it
    // came out, and is then freed. The clock starts from zero.
    fault_counters run(const fault_config& cfg, const drive_options& o, const sink& out) {
        clock_ = virtual_clock{};
        script_device inner;
        fault_device fd(inner, clock_, cfg);
        EXPECT_EQ(fd.seed(), cfg.seed);
        std::uint32_t next = 0;
        while (next < o.count) {
            std::vector<rte_mbuf*> burst;
            for (std::uint16_t i = 0; i < o.burst && next < o.count; ++i, ++next) burst.push_back(packet(next, o.len(next)));
            if (o.dir == fault_direction::rx) {
                inner.inbox.insert(inner.inbox.end(), burst.begin(), burst.end());
                receive(fd, out);
            } else {
                const auto took = fd.tx_burst(burst.data(), std::uint16_t(burst.size()));
                EXPECT_EQ(took, burst.size()) << "refused with room to hold and an inner device that takes all";
                for (std::size_t i = took; i < burst.size(); ++i) rte_pktmbuf_free(burst[i]);
                collect(inner, out);
            }
            clock_.advance(o.step);
        }
        for (;;) {
            if (o.dir == fault_direction::rx) {
                receive(fd, out);
            } else {
                fd.poll();
                collect(inner, out);
            }
            auto due = fd.next_release();
            if (!due) break;
            clock_.set(std::max(clock_.now(), *due));
        }
        auto c = fd.counters(o.dir);
        EXPECT_EQ(c.held, 0u);
        EXPECT_EQ(c.received, o.count);
        EXPECT_EQ(c.received + c.duplicated, c.passed + c.dropped) << "a packet went missing";
        return c;
    }

    static void receive(fault_device& fd, const sink& out) {
        rte_mbuf* got[32];
        while (std::uint16_t n = fd.rx_burst(got, 32)) {
            for (std::uint16_t i = 0; i < n; ++i) {
                out(got[i]);
                rte_pktmbuf_free(got[i]);
            }
        }
    }
    static void collect(script_device& inner, const sink& out) {
        for (auto* m : inner.sent) {
            out(m);
            rte_pktmbuf_free(m);
        }
        inner.sent.clear();
    }
    // Ids of everything rx_burst hands out now.
    static std::vector<std::uint32_t> receive_ids(fault_device& fd) {
        std::vector<std::uint32_t> ids;
        receive(fd, [&](rte_mbuf* m) { ids.push_back(id_of(m)); });
        return ids;
    }
    static std::vector<std::uint32_t> ids_of(const std::vector<rte_mbuf*>& v) {
        std::vector<std::uint32_t> ids;
        for (auto* m : v) ids.push_back(id_of(m));
        return ids;
    }
};

TEST_F(faults, config_validation_names_the_bad_field) {
    EXPECT_TRUE(fault_config{}.validate());
    auto error_of = [](const fault_config& c) {
        auto s = c.validate();
        return s ? std::string("(valid)") : s.error();
    };
    fault_config c;
    c.rx.loss = -0.1;
    EXPECT_NE(error_of(c).find("rx.loss"), std::string::npos) << error_of(c);
    c = {};
    c.tx.duplicate = 1.5;
    EXPECT_NE(error_of(c).find("tx.duplicate"), std::string::npos) << error_of(c);
    c = {};
    c.rx.corrupt = std::nan("");
    EXPECT_NE(error_of(c).find("rx.corrupt"), std::string::npos) << error_of(c);
    c = {};
    c.tx.delay = -1ns;
    EXPECT_NE(error_of(c).find("tx.delay"), std::string::npos) << error_of(c);
    c = {};
    c.rx.jitter = -1ns;
    EXPECT_NE(error_of(c).find("rx.jitter"), std::string::npos) << error_of(c);
    c = {};
    c.tx.reorder = 0.5; // held back by nothing
    EXPECT_NE(error_of(c).find("tx.reorder"), std::string::npos) << error_of(c);
    c.tx.reorder_packets = 3;
    EXPECT_TRUE(c.validate());
    c = {};
    c.max_held = 1;
    EXPECT_NE(error_of(c).find("max_held"), std::string::npos) << error_of(c);

    script_device inner;
    fault_device fd(inner, clock_, fault_config{});
    fault_profile bad;
    bad.reorder = 2.0;
    auto s = fd.set_profile(fault_direction::tx, bad);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().find("tx.reorder"), std::string::npos);
}

TEST_F(faults, each_fault_at_zero_changes_nothing) {
    for (auto dir : both_dirs) {
        for (auto kind : all_kinds) {
            SCOPED_TRACE(name(dir, kind));
            std::vector<std::uint32_t> ids;
            auto c = run(config_for(dir, only(kind, 0.0)), {.dir = dir}, [&](rte_mbuf* m) {
                ids.push_back(id_of(m));
                EXPECT_EQ(bytes_of(m), expected_bytes(ids.back(), packet_len));
                EXPECT_EQ(clock_.now(), instant{} + 1us * (ids.back() / 8)) << "a packet was held";
            });
            ASSERT_EQ(ids.size(), 1000u);
            EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
            EXPECT_EQ(c.passed, 1000u);
            EXPECT_EQ(c.dropped + c.duplicated + c.corrupted + c.delayed + c.reordered + c.copy_failed, 0u);
        }
    }
}

TEST_F(faults, each_fault_at_one_affects_every_packet) {
    constexpr std::uint32_t n = 1000;
    for (auto dir : both_dirs) {
        {
            SCOPED_TRACE(name(dir, fault_kind::loss));
            std::uint32_t out = 0;
            auto c = run(config_for(dir, only(fault_kind::loss, 1.0)), {.dir = dir, .count = n}, [&](rte_mbuf*) { ++out; });
            EXPECT_EQ(out, 0u);
            EXPECT_EQ(c.dropped, n);
        }
        {
            SCOPED_TRACE(name(dir, fault_kind::duplicate));
            std::map<std::uint32_t, int> seen;
            auto c = run(config_for(dir, only(fault_kind::duplicate, 1.0)), {.dir = dir, .count = n},
                         [&](rte_mbuf* m) { ++seen[id_of(m)]; });
            EXPECT_EQ(c.duplicated, n);
            ASSERT_EQ(seen.size(), n);
            for (auto [id, times] : seen) EXPECT_EQ(times, 2) << "id " << id;
        }
        {
            SCOPED_TRACE(name(dir, fault_kind::corrupt));
            // Corruption keeps order here, so the k-th packet out is id k (its own id field
            // may be the part that was hit).
            std::uint32_t k = 0;
            auto c = run(config_for(dir, only(fault_kind::corrupt, 1.0)), {.dir = dir, .count = n}, [&](rte_mbuf* m) {
                long bit = only_flipped_bit(bytes_of(m), expected_bytes(k++, packet_len));
                EXPECT_GE(bit, long(eth_len * 8)) << "not exactly one bit flipped past the Ethernet header";
            });
            EXPECT_EQ(k, n);
            EXPECT_EQ(c.corrupted, n);
        }
        {
            SCOPED_TRACE(name(dir, fault_kind::reorder));
            std::uint32_t out = 0;
            auto c = run(config_for(dir, only(fault_kind::reorder, 1.0)), {.dir = dir, .count = n}, [&](rte_mbuf* m) {
                ++out;
                EXPECT_GE(clock_.now(), instant{} + 1us * (id_of(m) / 8) + 5us) << "released before reorder_time";
            });
            EXPECT_EQ(out, n);
            EXPECT_EQ(c.reordered, n);
        }
    }
}

// Each fault alone at p = 0.1 over 100,000 packets hits binomial(n, p) of them: the count
// must lie within 5 standard deviations (about 0.47 % of n) of n p.
TEST_F(faults, rate_at_p_is_within_binomial_bound) {
    constexpr std::uint32_t n = 100'000;
    constexpr double p = 0.1;
    const double bound = 5.0 * std::sqrt(n * p * (1 - p));
    for (auto dir : both_dirs) {
        for (auto kind : all_kinds) {
            SCOPED_TRACE(name(dir, kind));
            std::uint64_t out = 0;
            std::uint64_t changed = 0;
            std::uint32_t k = 0;
            auto c = run(config_for(dir, only(kind, p), 1234), {.dir = dir, .count = n}, [&](rte_mbuf* m) {
                ++out;
                if (kind == fault_kind::corrupt) { // order kept: the k-th out is id k
                    int bits = differing_bits(bytes_of(m), expected_bytes(k++, packet_len));
                    EXPECT_LE(bits, 1);
                    changed += bits != 0;
                } else if (bytes_of(m) != expected_bytes(id_of(m), packet_len)) {
                    ++changed;
                }
            });
            std::uint64_t hits = 0;
            switch (kind) {
            case fault_kind::loss:
                hits = c.dropped;
                EXPECT_EQ(out, n - c.dropped);
                break;
            case fault_kind::duplicate:
                hits = c.duplicated;
                EXPECT_EQ(out, n + c.duplicated);
                break;
            case fault_kind::corrupt:
                hits = c.corrupted;
                EXPECT_EQ(changed, c.corrupted) << "corrupted counter disagrees with the bytes";
                EXPECT_EQ(out, n);
                break;
            case fault_kind::reorder:
                hits = c.reordered;
                EXPECT_EQ(out, n);
                break;
            }
            EXPECT_NEAR(double(hits), n * p, bound);
            if (kind != fault_kind::corrupt) {
                EXPECT_EQ(changed, 0u);
            }
        }
    }
}

TEST_F(faults, same_seed_replays_exactly_and_another_seed_differs) {
    struct delivery {
        std::int64_t at_ns;
        std::vector<std::uint8_t> bytes;
        bool operator==(const delivery&) const = default;
    };
    fault_profile all;
    all.loss = 0.05;
    all.duplicate = 0.05;
    all.corrupt = 0.05;
    all.delay = 20us;
    all.jitter = 30us;
    all.reorder = 0.05;
    all.reorder_packets = 3;
    all.reorder_time = 100us;
    for (auto dir : both_dirs) {
        SCOPED_TRACE(dir == fault_direction::rx ? "rx" : "tx");
        auto outcome = [&](std::uint64_t seed) {
            std::vector<delivery> seen;
            fault_config cfg;
            cfg.rx = all;
            cfg.tx = all;
            cfg.seed = seed;
            drive_options o{.dir = dir, .count = 5000, .burst = 4};
            o.len = [](std::uint32_t id) { return std::uint16_t(60 + id * 37 % 1400); };
            auto c = run(cfg, o, [&](rte_mbuf* m) {
                seen.push_back({(clock_.now() - instant{}).count(), bytes_of(m)});
            });
            EXPECT_GT(c.dropped, 0u);
            EXPECT_GT(c.duplicated, 0u);
            EXPECT_GT(c.corrupted, 0u);
            EXPECT_GT(c.reordered, 0u);
            return seen;
        };
        auto first = outcome(42);
        auto again = outcome(42);
        auto other = outcome(43);
        EXPECT_GT(first.size(), 4000u);
        EXPECT_TRUE(first == again) << "same seed, different outcome";
        EXPECT_FALSE(first == other) << "different seeds, same outcome";
    }
}

TEST_F(faults, corruption_flips_exactly_one_bit_past_the_ethernet_header) {
    // Lengths from just past the header to a full frame: any byte of the rest may be hit.
    auto len = [](std::uint32_t id) { return std::uint16_t(eth_len + 4 + id * 131 % 1500); };
    std::uint32_t k = 0;
    std::vector<long> hit_bytes;
    auto c = run(config_for(fault_direction::rx, only(fault_kind::corrupt, 1.0)),
                 {.dir = fault_direction::rx, .count = 3000, .len = len}, [&](rte_mbuf* m) {
                     const std::uint32_t id = k++;
                     long bit = only_flipped_bit(bytes_of(m), expected_bytes(id, len(id)));
                     ASSERT_GE(bit, long(eth_len * 8)) << "packet " << id;
                     hit_bytes.push_back(bit / 8);
                 });
    EXPECT_EQ(c.corrupted, 3000u);
    EXPECT_EQ(*std::min_element(hit_bytes.begin(), hit_bytes.end()), long(eth_len)) << "first byte past the header never hit";

    // Across segments: the flip lands in whichever segment holds the offset.
    script_device inner;
    fault_device fd(inner, clock_, config_for(fault_direction::rx, only(fault_kind::corrupt, 1.0)));
    for (std::uint32_t id = 0; id < 200; ++id) inner.inbox.push_back(chained_packet(id, 300, 40));
    std::uint32_t id = 0;
    int in_second = 0;
    receive(fd, [&](rte_mbuf* m) {
        EXPECT_EQ(m->nb_segs, 2);
        long bit = only_flipped_bit(bytes_of(m), expected_bytes(id++, 300));
        EXPECT_GE(bit, long(eth_len * 8));
        in_second += bit >= 40 * 8;
    });
    EXPECT_EQ(id, 200u);
    EXPECT_GT(in_second, 0);
    EXPECT_LT(in_second, 200);
}

// mark_ce: an ECN-capable IPv4 packet comes out CE with a header checksum that still
// checks (RFC 1624's update); one that is not ECN-capable, or not IPv4, is left alone.
TEST_F(faults, ce_marks_only_ecn_capable_ipv4_and_mends_the_checksum) {
    const frame_ends ends{mac_addr{{2, 0, 0, 0, 0, 1}}, mac_addr{{2, 0, 0, 0, 0, 2}}, ipv4_addr::from_octets(198, 18, 0, 2),
                          ipv4_addr::from_octets(198, 18, 0, 1)};
    wire::tcp_repr tcp;
    tcp.src_port = 40000;
    tcp.dst_port = 80;
    tcp.flags = wire::tcp_flags::ack;
    const std::uint8_t data[100] = {};
    script_device inner;
    fault_profile p;
    p.mark_ce = 1.0;
    fault_device fd(inner, clock_, config_for(fault_direction::rx, p));
    for (auto ecn : {wire::ecn_codepoint::ect0, wire::ecn_codepoint::ect1, wire::ecn_codepoint::not_ect})
        inner.inbox.push_back(tcp_frame_mbuf(pool_.get(), ends, tcp, data, ecn));
    inner.inbox.push_back(packet(7, 80)); // not IPv4
    const auto not_ipv4 = bytes_of(inner.inbox.back());
    std::vector<std::vector<std::uint8_t>> out;
    receive(fd, [&](rte_mbuf* m) {
        out.push_back(bytes_of(m));
        rte_pktmbuf_free(m);
    });
    ASSERT_EQ(out.size(), 4u);
    for (int i = 0; i < 3; ++i) {
        auto ip = wire::ipv4_view::parse(std::span(out[i]).subspan(14));
        ASSERT_TRUE(ip) << "packet " << i << ": the header checksum no longer checks";
        EXPECT_EQ(ip->ecn(), i < 2 ? wire::ecn_codepoint::ce : wire::ecn_codepoint::not_ect) << "packet " << i;
    }
    EXPECT_EQ(out[3], not_ipv4);
    EXPECT_EQ(fd.counters(fault_direction::rx).ce_marked, 2u);
}

TEST_F(faults, corruption_never_writes_through_a_shared_buffer) {
    script_device inner;
    fault_device fd(inner, clock_, config_for(fault_direction::tx, only(fault_kind::corrupt, 1.0)));
    rte_mbuf* m = packet(7);
    rte_mbuf* clone = rte_pktmbuf_clone(m, pool_.get()); // shares m's data, refcnt 2
    ASSERT_NE(clone, nullptr);
    ASSERT_EQ(fd.tx_burst(&m, 1), 1);
    ASSERT_EQ(inner.sent.size(), 1u);
    EXPECT_NE(inner.sent[0], m) << "a shared packet was corrupted in place";
    EXPECT_EQ(differing_bits(bytes_of(inner.sent[0]), expected_bytes(7, packet_len)), 1);
    EXPECT_EQ(bytes_of(clone), expected_bytes(7, packet_len)) << "the other holder saw the flip";
    rte_pktmbuf_free(clone);
}

TEST_F(faults, corruption_skipped_and_counted_when_copy_pool_is_empty) {
    auto tiny = mbuf_pool::create("sim_tiny", 4);
    ASSERT_TRUE(tiny) << tiny.error();
    std::vector<rte_mbuf*> hog;
    while (rte_mbuf* x = rte_pktmbuf_alloc(tiny->get())) hog.push_back(x);
    fault_config cfg = config_for(fault_direction::rx, only(fault_kind::corrupt, 1.0));
    cfg.rx.duplicate = 1.0;
    cfg.copy_pool = tiny->get();
    {
        script_device inner;
        fault_device fd(inner, clock_, cfg);
        rte_mbuf* m = packet(1);
        rte_mbuf* clone = rte_pktmbuf_clone(m, pool_.get());
        inner.inbox.push_back(m);
        auto ids = receive_ids(fd);
        EXPECT_EQ(ids, std::vector<std::uint32_t>{1}) << "no duplicate without a copy";
        EXPECT_EQ(fd.counters(fault_direction::rx).copy_failed, 2u); // the duplicate, the private copy
        EXPECT_EQ(fd.counters(fault_direction::rx).corrupted, 0u);
        EXPECT_EQ(bytes_of(clone), expected_bytes(1, packet_len));
        rte_pktmbuf_free(clone);
    }
    free_all(hog);
    EXPECT_EQ(tiny->in_use(), 0u);
}

TEST_F(faults, duplicates_are_independent_packets) {
    for (bool own_pool : {false, true}) {
        SCOPED_TRACE(own_pool ? "copy pool" : "packet's pool");
        fault_config cfg = config_for(fault_direction::rx, only(fault_kind::duplicate, 1.0));
        if (own_pool) cfg.copy_pool = copy_pool_.get();
        script_device inner;
        fault_device fd(inner, clock_, cfg);
        for (std::uint32_t id = 0; id < 10; ++id) inner.inbox.push_back(packet(id));
        rte_mbuf* got[32];
        ASSERT_EQ(fd.rx_burst(got, 32), 20);
        for (int i = 0; i < 20; i += 2) {
            rte_mbuf* orig = got[i];
            rte_mbuf* dup = got[i + 1];
            ASSERT_NE(orig, dup);
            EXPECT_EQ(id_of(orig), id_of(dup));
            EXPECT_EQ(dup->pool, own_pool ? copy_pool_.get() : pool_.get());
            EXPECT_NE(rte_pktmbuf_mtod(orig, void*), rte_pktmbuf_mtod(dup, void*)) << "data shared";
            EXPECT_TRUE(RTE_MBUF_DIRECT(dup));
            EXPECT_EQ(rte_mbuf_refcnt_read(orig), 1);
            EXPECT_EQ(rte_mbuf_refcnt_read(dup), 1);
            const auto want = expected_bytes(id_of(orig), packet_len);
            // Writing one leaves the other alone; freeing one leaves the other intact.
            rte_pktmbuf_mtod(dup, std::uint8_t*)[30] ^= 0xff;
            EXPECT_EQ(bytes_of(orig), want);
            rte_pktmbuf_mtod(dup, std::uint8_t*)[30] ^= 0xff;
            if (i % 4 == 0) std::swap(orig, dup);
            rte_pktmbuf_free(orig);
            EXPECT_EQ(bytes_of(dup), want);
            rte_pktmbuf_free(dup);
        }
    }
}

TEST_F(faults, delay_releases_exactly_when_due_never_early) {
    for (auto dir : both_dirs) {
        SCOPED_TRACE(dir == fault_direction::rx ? "rx" : "tx");
        fault_profile p;
        p.delay = 100us;
        auto c = run(config_for(dir, p), {.dir = dir, .count = 500, .burst = 1}, [&](rte_mbuf* m) {
            EXPECT_EQ(clock_.now(), instant{} + 1us * id_of(m) + 100us);
        });
        EXPECT_EQ(c.delayed, 500u);
    }
    // Polled on a coarse step, a packet still never leaves before it is due.
    script_device inner;
    fault_profile p;
    p.delay = 100us;
    fault_device fd(inner, clock_, config_for(fault_direction::rx, p));
    clock_ = virtual_clock{};
    inner.inbox.push_back(packet(0));
    EXPECT_TRUE(receive_ids(fd).empty());
    EXPECT_EQ(fd.next_release(), instant{} + 100us);
    clock_.set(instant{} + 100us - 1ns);
    EXPECT_TRUE(receive_ids(fd).empty());
    clock_.advance(1ns);
    EXPECT_EQ(receive_ids(fd), std::vector<std::uint32_t>{0});
}

TEST_F(faults, jitter_stays_in_bounds_and_reorders) {
    fault_profile p;
    p.delay = 100us;
    p.jitter = 50us;
    std::vector<std::uint32_t> ids;
    auto c = run(config_for(fault_direction::rx, p), {.dir = fault_direction::rx, .count = 2000, .burst = 1},
                 [&](rte_mbuf* m) {
                     ids.push_back(id_of(m));
                     const duration latency = clock_.now() - (instant{} + 1us * ids.back());
                     EXPECT_GE(latency, 100us) << "released early";
                     EXPECT_LE(latency, 150us) << "held past delay + jitter (polled every 1 us)";
                 });
    EXPECT_EQ(c.delayed, 2000u);
    EXPECT_EQ(c.reordered, 0u) << "jitter is not counted as explicit reordering";
    ASSERT_EQ(ids.size(), 2000u);
    EXPECT_FALSE(std::is_sorted(ids.begin(), ids.end())) << "jitter did not reorder";
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

TEST_F(faults, reorder_holds_a_packet_back_by_n_later_packets) {
    script_device inner;
    fault_profile hold;
    hold.reorder = 1.0;
    hold.reorder_packets = 3;
    fault_device fd(inner, clock_, config_for(fault_direction::tx, hold));
    rte_mbuf* m = packet(0);
    ASSERT_EQ(fd.tx_burst(&m, 1), 1);
    ASSERT_TRUE(fd.set_profile(fault_direction::tx, fault_profile{}));
    for (std::uint32_t id = 1; id <= 5; ++id) {
        m = packet(id);
        ASSERT_EQ(fd.tx_burst(&m, 1), 1);
    }
    EXPECT_EQ(ids_of(inner.sent), (std::vector<std::uint32_t>{1, 2, 3, 0, 4, 5}));
    EXPECT_EQ(fd.counters(fault_direction::tx).reordered, 1u);
    EXPECT_EQ(fd.counters(fault_direction::tx).held, 0u);
}

TEST_F(faults, reorder_by_packets_gives_up_after_reorder_time_when_traffic_stops) {
    script_device inner;
    fault_profile hold;
    hold.reorder = 1.0;
    hold.reorder_packets = 3;
    hold.reorder_time = 10us;
    fault_device fd(inner, clock_, config_for(fault_direction::rx, hold));
    inner.inbox.push_back(packet(0));
    EXPECT_TRUE(receive_ids(fd).empty());
    EXPECT_EQ(fd.next_release(), clock_.now() + 10us);
    clock_.advance(10us - 1ns);
    EXPECT_TRUE(receive_ids(fd).empty());
    clock_.advance(1ns);
    EXPECT_EQ(receive_ids(fd), std::vector<std::uint32_t>{0});
}

TEST_F(faults, reorder_by_time_lets_later_packets_pass) {
    script_device inner;
    fault_profile hold;
    hold.reorder = 1.0;
    hold.reorder_time = 10us;
    fault_device fd(inner, clock_, config_for(fault_direction::rx, hold));
    inner.inbox.push_back(packet(0));
    std::vector<std::uint32_t> ids = receive_ids(fd);
    ASSERT_TRUE(fd.set_profile(fault_direction::rx, fault_profile{}));
    for (std::uint32_t id = 1; id <= 12; ++id) {
        clock_.advance(1us);
        inner.inbox.push_back(packet(id));
        auto got = receive_ids(fd);
        ids.insert(ids.end(), got.begin(), got.end());
    }
    // Packet 0 is due at 10 us, before packet 10 arrives at 10 us is taken in.
    EXPECT_EQ(ids, (std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 10, 11, 12}));
}

TEST_F(faults, reordering_at_random_loses_and_repeats_nothing) {
    fault_profile p;
    p.reorder = 0.1;
    p.reorder_packets = 3;
    p.reorder_time = 1ms;
    std::vector<std::uint32_t> ids;
    auto c = run(config_for(fault_direction::rx, p, 99), {.dir = fault_direction::rx, .count = 5000, .burst = 1},
                 [&](rte_mbuf* m) { ids.push_back(id_of(m)); });
    EXPECT_GT(c.reordered, 0u);
    ASSERT_EQ(ids.size(), 5000u);
    // Every packet that comes out after a higher id was held back.
    std::uint64_t late = 0;
    std::uint32_t highest = 0;
    for (auto id : ids) {
        late += id < highest;
        highest = std::max(highest, id);
    }
    EXPECT_GT(late, 0u);
    EXPECT_LE(late, c.reordered);
    std::sort(ids.begin(), ids.end());
    for (std::uint32_t i = 0; i < 5000; ++i) ASSERT_EQ(ids[i], i);
}

TEST_F(faults, inner_device_refusing_loses_nothing) {
    script_device inner;
    inner.accept = 0;
    fault_profile p;
    p.delay = 10us;
    fault_device fd(inner, clock_, config_for(fault_direction::tx, p));
    std::deque<rte_mbuf*> pending; // the caller's, as the engine's TX buffer
    for (std::uint32_t id = 0; id < 200; ++id) pending.push_back(packet(id));
    bool pushed_back = false;
    for (int round = 0; round < 10'000 && (!pending.empty() || fd.counters(fault_direction::tx).held > 0); ++round) {
        if (!pending.empty()) {
            rte_mbuf* burst[8];
            const auto n = std::uint16_t(std::min<std::size_t>(8, pending.size()));
            std::copy_n(pending.begin(), n, burst);
            const std::uint16_t took = fd.tx_burst(burst, n);
            pending.erase(pending.begin(), pending.begin() + took);
            pushed_back |= took == 0;
        } else {
            fd.poll();
        }
        if (round % 3 == 0) inner.accept += 5;
        clock_.advance(1us);
    }
    EXPECT_TRUE(pushed_back) << "never saw back-pressure";
    ASSERT_TRUE(pending.empty());
    std::vector<std::uint32_t> want(200);
    for (std::uint32_t i = 0; i < 200; ++i) want[i] = i;
    EXPECT_EQ(ids_of(inner.sent), want);
    auto c = fd.counters(fault_direction::tx);
    EXPECT_EQ(c.received, 200u);
    EXPECT_EQ(c.passed, 200u);
    EXPECT_EQ(c.held, 0u);
}

TEST_F(faults, refused_packets_are_held_then_the_caller_is_pushed_back) {
    script_device inner;
    inner.accept = 0;
    fault_device fd(inner, clock_, fault_config{});
    std::vector<rte_mbuf*> out;
    for (std::uint32_t id = 0; id < 16; ++id) out.push_back(packet(id));
    EXPECT_EQ(fd.tx_burst(out.data(), 8), 8); // taken and held: the device had nothing queued
    EXPECT_EQ(fd.counters(fault_direction::tx).held, 8u);
    EXPECT_EQ(fd.tx_burst(out.data() + 8, 8), 0) << "took more while the inner device refuses";
    inner.accept = 3;
    fd.poll();
    EXPECT_EQ(ids_of(inner.sent), (std::vector<std::uint32_t>{0, 1, 2}));
    inner.accept = UINT64_MAX;
    EXPECT_EQ(fd.tx_burst(out.data() + 8, 8), 8);
    std::vector<std::uint32_t> want(16);
    for (std::uint32_t i = 0; i < 16; ++i) want[i] = i;
    EXPECT_EQ(ids_of(inner.sent), want);
}

TEST_F(faults, held_transmit_packets_leave_on_any_call) {
    script_device inner;
    fault_profile p;
    p.delay = 10us;
    fault_device fd(inner, clock_, config_for(fault_direction::tx, p));
    rte_mbuf* out[5];
    for (std::uint32_t id = 0; id < 5; ++id) out[id] = packet(id);
    ASSERT_EQ(fd.tx_burst(out, 5), 5);
    clock_.advance(10us);
    rte_mbuf* got[4];
    EXPECT_EQ(fd.rx_burst(got, 4), 0); // the engine polls rx every round, even with nothing to send
    EXPECT_EQ(ids_of(inner.sent), (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
}

TEST_F(faults, max_held_bounds_what_is_taken_in) {
    fault_profile p;
    p.delay = 1s;
    fault_config cfg;
    cfg.rx = p;
    cfg.tx = p;
    cfg.max_held = 10;
    script_device inner;
    fault_device fd(inner, clock_, cfg);
    std::vector<rte_mbuf*> out;
    for (std::uint32_t id = 0; id < 32; ++id) out.push_back(packet(id));
    EXPECT_EQ(fd.tx_burst(out.data(), 32), 10);
    EXPECT_EQ(fd.tx_burst(out.data() + 10, 22), 0);
    free_all(out = std::vector<rte_mbuf*>(out.begin() + 10, out.end()));
    for (std::uint32_t id = 0; id < 32; ++id) inner.inbox.push_back(packet(id));
    rte_mbuf* got[32];
    EXPECT_EQ(fd.rx_burst(got, 32), 0);
    EXPECT_EQ(inner.inbox.size(), 22u) << "pulled more than it can hold";
    EXPECT_EQ(fd.counters(fault_direction::rx).held, 10u);

    // Room for each packet's possible duplicate.
    fault_config dup = cfg;
    dup.tx.duplicate = 0.5;
    script_device inner2;
    fault_device fd2(inner2, clock_, dup);
    for (std::uint32_t id = 0; id < 32; ++id) out.push_back(packet(id));
    EXPECT_EQ(fd2.tx_burst(out.data(), 32), 5);
    EXPECT_LE(fd2.counters(fault_direction::tx).held, 10u);
    free_all(out = std::vector<rte_mbuf*>(out.begin() + 5, out.end()));
}

TEST_F(faults, destruction_frees_every_held_packet) {
    fault_profile p;
    p.delay = 1s;
    p.jitter = 1ms;
    p.duplicate = 0.5;
    p.reorder = 0.3;
    p.reorder_packets = 1000;
    fault_config cfg;
    cfg.rx = p;
    cfg.tx = p;
    cfg.copy_pool = copy_pool_.get();
    {
        script_device inner;
        fault_device fd(inner, clock_, cfg);
        for (std::uint32_t id = 0; id < 100; ++id) {
            inner.inbox.push_back(packet(id));
            rte_mbuf* m = packet(1000 + id);
            ASSERT_EQ(fd.tx_burst(&m, 1), 1);
        }
        rte_mbuf* got[128];
        EXPECT_EQ(fd.rx_burst(got, 128), 0);
        const auto rx = fd.counters(fault_direction::rx);
        const auto tx = fd.counters(fault_direction::tx);
        EXPECT_EQ(rx.held, 100 + rx.duplicated);
        EXPECT_EQ(tx.held, 100 + tx.duplicated);
        EXPECT_GT(rx.reordered, 0u);
        EXPECT_GT(pool_.in_use(), start_in_use_);
    }
    EXPECT_EQ(pool_.in_use(), start_in_use_);
    EXPECT_EQ(copy_pool_.in_use(), start_copy_in_use_);
}

} // namespace
} // namespace tern::test
