// Random segments, application calls and clock steps against one connection, from every
// kind of start (LISTEN, SYN-SENT, ESTABLISHED with and without options). Nothing may
// crash or trip the sanitizers, and the send-space invariants must hold after every step.
// Seeded: a failing seed replays exactly.
#include <gtest/gtest.h>

#include <random>

#include "harness.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

std::string random_segment(std::mt19937_64& rng) {
    auto pick = [&](std::uint32_t n) { return std::uint32_t(rng() % n); };
    std::string flags;
    if (pick(8) == 0) flags += 'S';
    if (pick(6) == 0) flags += 'F';
    if (pick(10) == 0) flags += 'R';
    if (pick(3) == 0) flags += 'P';
    if (pick(5) != 0 || flags.empty()) flags += '.';
    static constexpr std::uint32_t seqs[] = {0, 1, 2, 100, 1001, 2001, 30000, 65535, 65537, 0x7fffffffu, 0xfffffff0u};
    const std::uint32_t seq = pick(4) == 0 ? std::uint32_t(rng()) : seqs[pick(std::size(seqs))] + pick(3);
    const std::uint32_t len = pick(3) == 0 ? 0 : pick(3000);
    static constexpr std::uint32_t acks[] = {0, 1, 2, 11, 101, 1001, 3001, 0x80000000u};
    const std::uint32_t ack = pick(5) == 0 ? std::uint32_t(rng()) : acks[pick(std::size(acks))] + pick(2);
    std::string text = flags + " " + std::to_string(seq) + ":" + std::to_string(seq + len) + "(" + std::to_string(len) + ")";
    text += " ack " + std::to_string(ack) + " win " + std::to_string(pick(4) == 0 ? 0 : pick(65536));
    if (pick(3) == 0) text += " <mss " + std::to_string(pick(2000)) + ",sackOK,nop,wscale " + std::to_string(pick(16)) + ">";
    else if (pick(4) == 0) text += " <nop,nop,TS val " + std::to_string(pick(200)) + " ecr 0>";
    return text;
}

void check_invariants(const harness& h) {
    const tcb& t = h.conn.control_block();
    if (h.conn.state() == tcp_state::closed || h.conn.state() == tcp_state::listen) return;
    ASSERT_LE(t.snd_una, t.snd_nxt);
    ASSERT_LE(t.snd_nxt, t.snd_max);
    ASSERT_LE(seq_distance(t.snd_una, t.snd_max), 64u * 1024 + 2); // buffer + SYN + FIN
}

void fuzz(std::uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    connection_options options;
    options.no_delay = rng() % 2 == 0;
    if (rng() % 3 == 0) options.keepalive = keepalive_options{5s, 1s, 2};
    harness h({}, options);
    switch (rng() % 4) {
    case 0: h.listen(); break;
    case 1: h.connect(); break;
    case 2: h.establish(); break;
    default:
        h.establish("S 0:0(0) win 65535 <mss 1000,sackOK,TS val 10 ecr 0,nop,wscale 7>",
                    ". 1:1(0) ack 1 win 100 <nop,nop,TS val 10 ecr 0>");
    }
    for (int step = 0; step < 300; ++step) {
        switch (rng() % 10) {
        case 0: (void)h.conn.send(pattern(std::uint32_t(rng() % 5000)), h.now); break;
        case 1:
            if (rng() % 8 == 0) (void)h.conn.close(h.now);
            break;
        case 2:
            if (rng() % 40 == 0) h.abort();
            break;
        case 3: h.advance(duration(std::int64_t(rng() % 3'000'000'000ull))); break;
        default: h.deliver(random_segment(rng)); break;
        }
        check_invariants(h);
        if (::testing::Test::HasFatalFailure()) return;
        h.sent.clear();
        h.events.clear();
    }
}

TEST(Fuzz, RandomSegmentsKeepInvariants) {
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        fuzz(seed);
        if (::testing::Test::HasFatalFailure()) return;
    }
}

} // namespace
} // namespace tern::tcp::test
