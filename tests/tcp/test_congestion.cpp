// Congestion control (src/tcp/congestion.hpp): CUBIC's curve against RFC 9438's equations,
// its regions, fast convergence, timeout and undo on the bare state; then what a connection
// does with it, segment by segment.
#include <gtest/gtest.h>

#include <cmath>

#include "harness.hpp"
#include "tcp/congestion.hpp"

namespace tern::tcp::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t mss = 1000;

// The control and a connection's choice of algorithm (which a connection keeps in its tcb),
// called as a connection calls it.
struct controlled {
    explicit controlled(congestion_algorithm a, bool with_hystart = true) : algorithm(a), use_hystart(with_hystart) {}
    tcb& chosen(tcb& t) const {
        t.cc_algorithm = algorithm;
        t.hystart = use_hystart;
        return t;
    }
    void on_ack(tcb& t, std::uint32_t acked, std::uint32_t flight, instant now) { cc.on_ack(chosen(t), acked, flight, now); }
    void on_congestion(tcb& t, std::uint32_t flight) { cc.on_congestion(chosen(t), flight); }
    void on_timeout(tcb& t, std::uint32_t flight) { cc.on_timeout(chosen(t), flight); }
    void on_send(const tcb& t, seq32 end, instant now) { cc.on_send(t, end, now); }
    void undo(tcb& t, const cubic_state& before, std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
        cc.undo(t, before, prior_cwnd, prior_ssthresh);
    }
    const cubic_state& cubic() const { return cc.cubic(); }
    const hystart* slow_start_probe() const { return cc.slow_start_probe(); }
    bool hystart_exited() const { return cc.hystart_exited(); }

    congestion_algorithm algorithm;
    bool use_hystart;
    congestion_control cc;
};

tcb with_window(std::uint32_t cwnd, duration srtt) {
    tcb t;
    t.snd_mss = mss;
    t.cwnd = cwnd;
    t.srtt = srtt;
    return t;
}

// One round trip of a sender that fills its window: an ACK for each segment of it.
void one_round(controlled& cc, tcb& t, instant& now, duration rtt) {
    const std::uint32_t segments = t.cwnd / mss;
    for (std::uint32_t i = 0; i < segments; ++i) cc.on_ack(t, mss, t.cwnd, now);
    now += rtt;
}

// Rounds until `until`; returns the window then.
std::uint32_t run_until(controlled& cc, tcb& t, instant& now, instant until, duration rtt) {
    while (now < until) one_round(cc, t, now, rtt);
    return t.cwnd;
}

// ---- the equations ----

// RFC 9438 Figure 2: K = cbrt((W_max - cwnd_epoch) / C); Figure 1 passes through
// cwnd_epoch at t = 0 and through W_max at t = K, flat there.
TEST(Cubic, CurveStartsAtTheReducedWindowAndReachesWmaxAtK) {
    const double k = cubic::k_seconds(100, 70);
    EXPECT_NEAR(k, std::cbrt(30 / 0.4), 1e-12);
    EXPECT_NEAR(k, 4.2172, 1e-4);
    EXPECT_NEAR(cubic::window_segments(0, k, 100), 70, 1e-9);
    EXPECT_NEAR(cubic::window_segments(k, k, 100), 100, 1e-9);
    // Concave below W_max, convex above: symmetric around K.
    EXPECT_NEAR(100 - cubic::window_segments(k - 1, k, 100), cubic::window_segments(k + 1, k, 100) - 100, 1e-9);
    EXPECT_NEAR(cubic::window_segments(k + 2, k, 100), 100 + 0.4 * 8, 1e-9);
    EXPECT_EQ(cubic::k_seconds(100, 120), 0); // an epoch above W_max starts flat
}

// §4.3: alpha = 3 (1 - beta) / (1 + beta) with beta 0.7 (§4.6).
TEST(Cubic, RenoFriendlyAlphaIsFromBeta) {
    EXPECT_NEAR(cubic::alpha, 0.9 / 1.7, 1e-12);
    EXPECT_EQ(cubic::beta, 0.7);
    EXPECT_EQ(cubic::c, 0.4);
}

// ---- the state machine on a bare control block ----

// §4.6: in congestion avoidance ssthresh = 0.7 cwnd (at least 2 segments), whatever the
// flight when the loss is found; W_max = cwnd.
TEST(Cubic, CongestionAvoidanceKeepsSevenTenthsOfTheWindow) {
    controlled cc(congestion_algorithm::cubic);
    tcb t = with_window(100 * mss, 10ms);
    t.ssthresh = 60 * mss;
    cc.on_congestion(t, 40 * mss);
    EXPECT_EQ(t.ssthresh, 70 * mss);
    EXPECT_EQ(cc.cubic().w_max, 100 * mss);
    EXPECT_EQ(cc.cubic().cwnd_prior, 100 * mss);

    tcb small = with_window(2 * mss, 10ms);
    small.ssthresh = 2 * mss;
    cc.on_congestion(small, 2 * mss);
    EXPECT_EQ(small.ssthresh, 2 * mss); // not below two segments
}

// In slow start the window has outrun what the path carried: ssthresh = 0.7 FlightSize
// (at least 2 segments), W_max = cwnd; Reno halves the flight.
TEST(Cubic, SlowStartKeepsSevenTenthsOfTheFlight) {
    controlled cubic_cc(congestion_algorithm::cubic);
    tcb t = with_window(100 * mss, 10ms);
    cubic_cc.on_congestion(t, 90 * mss);
    EXPECT_EQ(t.ssthresh, 63 * mss);
    EXPECT_EQ(cubic_cc.cubic().w_max, 100 * mss);
    EXPECT_EQ(cubic_cc.cubic().cwnd_prior, 100 * mss);

    controlled reno_cc(congestion_algorithm::reno);
    tcb r = with_window(100 * mss, 10ms);
    reno_cc.on_congestion(r, 90 * mss);
    EXPECT_EQ(r.ssthresh, 45 * mss);

    tcb small = with_window(2 * mss, 10ms);
    cubic_cc.on_congestion(small, 2 * mss);
    EXPECT_EQ(small.ssthresh, 2 * mss); // not below two segments
}

// §4.7: a congestion event below the last W_max lowers W_max to cwnd (1 + beta) / 2.
TEST(Cubic, FastConvergenceReleasesMoreBelowTheLastMaximum) {
    controlled cc(congestion_algorithm::cubic);
    tcb t = with_window(100 * mss, 10ms);
    cc.on_congestion(t, t.cwnd);
    t.cwnd = 80 * mss; // did not get back to 100
    cc.on_congestion(t, t.cwnd);
    EXPECT_EQ(cc.cubic().w_max, 68 * mss); // 80 * 1.7 / 2
    t.cwnd = 90 * mss; // above it this time
    cc.on_congestion(t, t.cwnd);
    EXPECT_EQ(cc.cubic().w_max, 90 * mss);
}

// §4.2-§4.5: after a loss at 100 segments the window climbs the concave curve, levels off
// around W_max at K (4.2 s), then probes beyond it on the convex side. An RTT of 100 ms
// keeps it out of the Reno-friendly region (W_est gains 0.53 segment a round trip).
TEST(Cubic, CongestionAvoidanceFollowsTheCurve) {
    controlled cc(congestion_algorithm::cubic);
    const duration rtt = 100ms;
    tcb t = with_window(100 * mss, rtt);
    t.ssthresh = 0;
    cc.on_congestion(t, t.cwnd);
    t.cwnd = t.ssthresh; // what recovery leaves: 70 segments
    instant now{std::chrono::seconds(100)};
    const instant start = now;
    const double k = cubic::k_seconds(100, 70);
    auto expected = [&](double t_s) { return cubic::window_segments(t_s, k, 100) * mss; };
    // The window aims one RTT ahead of the curve: between W(t) and W(t + RTT).
    for (double at : {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}) {
        const double cwnd = run_until(cc, t, now, start + std::chrono::duration_cast<duration>(std::chrono::duration<double>(at)), rtt);
        const double elapsed = std::chrono::duration<double>(now - start).count();
        EXPECT_GE(cwnd, expected(elapsed - rtt.count() * 1e-9) - 2 * mss) << "at " << at << " s";
        EXPECT_LE(cwnd, expected(elapsed + rtt.count() * 1e-9) + mss) << "at " << at << " s";
    }
    // The plateau: near K the window hardly moves; well past it, it grows faster again.
    const std::uint32_t at_6s = t.cwnd;
    const std::uint32_t at_7s = run_until(cc, t, now, start + 7s, rtt);
    EXPECT_GT(at_7s - at_6s, 4 * mss);
    EXPECT_NEAR(cc.cubic().k_us / 1e6, k, 1e-6);
}

// §4.3: on a short path the curve is slower than Reno would be; cwnd follows W_est, which
// gains alpha segments a round trip, then 1 once past cwnd_prior.
TEST(Cubic, ShortPathsGrowAtLeastAsFastAsReno) {
    controlled cc(congestion_algorithm::cubic);
    const duration rtt = 1ms;
    tcb t = with_window(20 * mss, rtt);
    cc.on_congestion(t, t.cwnd);
    t.cwnd = t.ssthresh; // 14
    instant now{std::chrono::seconds(100)};
    for (int i = 0; i < 11; ++i) one_round(cc, t, now, rtt);
    // 6 segments to cwnd_prior at 0.53 a round trip take ~11 rounds.
    EXPECT_GE(t.cwnd, 19 * mss);
    EXPECT_LE(t.cwnd, 21 * mss);
    for (int i = 0; i < 50; ++i) one_round(cc, t, now, rtt);
    // Then a segment a round trip, as Reno; the curve alone would still be near 14-20.
    EXPECT_GE(t.cwnd, 68 * mss);
    EXPECT_LE(t.cwnd, 72 * mss);
    EXPECT_LT(cubic::window_segments(0.061, cc.cubic().k_us / 1e6, 20), 21);
}

// §4.8: after a timeout, cwnd is one segment, ssthresh 0.7 FlightSize, and the first
// congestion avoidance stage starts flat (K = 0, W_max = the window it starts with).
TEST(Cubic, TimeoutStartsTheNextStageFlat) {
    controlled cc(congestion_algorithm::cubic);
    tcb t = with_window(100 * mss, 100ms);
    cc.on_timeout(t, 100 * mss);
    EXPECT_EQ(t.cwnd, mss);
    EXPECT_EQ(t.ssthresh, 70 * mss);
    instant now{std::chrono::seconds(100)};
    while (t.cwnd < t.ssthresh) one_round(cc, t, now, 100ms); // slow start back, into the stage
    EXPECT_EQ(cc.cubic().k_us, 0u);
    EXPECT_EQ(cc.cubic().w_max, t.ssthresh);
    const std::uint32_t start = t.cwnd;
    one_round(cc, t, now, 100ms);
    EXPECT_LE(t.cwnd, start + mss); // flat at first
}

// §4.9.2: a spurious episode's undo restores W_max, K, the epoch and W_est while cwnd is
// still below cwnd_prior.
TEST(Cubic, UndoRestoresTheStateFromBeforeTheEpisode) {
    controlled cc(congestion_algorithm::cubic);
    tcb t = with_window(50 * mss, 100ms);
    cc.on_congestion(t, t.cwnd);
    t.cwnd = t.ssthresh;
    instant now{std::chrono::seconds(100)};
    for (int i = 0; i < 5; ++i) one_round(cc, t, now, 100ms);
    const cubic_state before = cc.cubic();
    const std::uint32_t prior_cwnd = t.cwnd;
    const std::uint32_t prior_ssthresh = t.ssthresh;
    cc.on_congestion(t, t.cwnd);
    t.cwnd = t.ssthresh;
    EXPECT_NE(cc.cubic(), before);
    cc.undo(t, before, prior_cwnd, prior_ssthresh);
    EXPECT_EQ(cc.cubic(), before);
    EXPECT_EQ(t.cwnd, prior_cwnd);
    EXPECT_EQ(t.ssthresh, prior_ssthresh);
}

// A sender that does not fill its window gives no reason to grow it (RFC 7661 §4.2), and
// CUBIC's clock stops meanwhile (RFC 9438 §5.8): the curve goes on where it was.
TEST(Congestion, WindowNotFilledDoesNotGrow) {
    for (auto algorithm : {congestion_algorithm::reno, congestion_algorithm::cubic}) {
        controlled cc(algorithm);
        tcb slow = with_window(10 * mss, 1ms);
        cc.on_ack(slow, mss, 4 * mss, instant{}); // slow start: less than half in flight
        EXPECT_EQ(slow.cwnd, 10 * mss);
        cc.on_ack(slow, mss, 5 * mss, instant{});
        EXPECT_EQ(slow.cwnd, 11 * mss);

        tcb avoid = with_window(10 * mss, 1ms);
        avoid.ssthresh = 5 * mss;
        cc.on_ack(avoid, mss, 9 * mss, instant{}); // room for one more segment
        EXPECT_EQ(avoid.cwnd, 10 * mss);
    }
}

// ---- HyStart++ (RFC 9406) ----

using namespace std::chrono;

// Eight samples of `rtt`, then the round's end.
hystart::verdict round_of(hystart& h, duration rtt, seq32& end) {
    for (int i = 0; i < hystart::n_rtt_sample; ++i) h.sample(rtt);
    end += 10000;
    return h.end_round(end);
}

// §4.2: RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms); CSS when this round's minimum
// reaches last round's plus that.
TEST(Hystart, DelayIncreaseThresholdIsAnEighthWithin4To16ms) {
    auto enters_css = [](duration last, duration now) {
        seq32 end{0};
        hystart h(end);
        round_of(h, last, end);
        for (int i = 0; i < hystart::n_rtt_sample; ++i) h.sample(now);
        return h.in_css();
    };
    EXPECT_FALSE(enters_css(10ms, 14ms - 1us)); // 10/8 is below 4 ms: 4 ms
    EXPECT_TRUE(enters_css(10ms, 14ms));
    EXPECT_FALSE(enters_css(80ms, 90ms - 1us)); // 10 ms
    EXPECT_TRUE(enters_css(80ms, 90ms));
    EXPECT_FALSE(enters_css(200ms, 216ms - 1us)); // 25 ms is above 16 ms: 16 ms
    EXPECT_TRUE(enters_css(200ms, 216ms));
}

// §4.2: no verdict on fewer than N_RTT_SAMPLE samples, nor without a last round.
TEST(Hystart, NeedsEightSamplesAndALastRound) {
    seq32 end{0};
    hystart h(end);
    for (int i = 0; i < 20; ++i) h.sample(50ms); // the first round: nothing to compare with
    EXPECT_FALSE(h.in_css());
    end += 10000;
    h.end_round(end);
    for (int i = 0; i < hystart::n_rtt_sample - 1; ++i) h.sample(100ms);
    EXPECT_FALSE(h.in_css());
    h.sample(100ms);
    EXPECT_TRUE(h.in_css());
}

// §4.2: CSS_ROUNDS rounds of CSS (the one it began in counting), then the exit.
TEST(Hystart, ConservativeSlowStartEndsAfterFiveRounds) {
    seq32 end{0};
    hystart h(end);
    EXPECT_EQ(round_of(h, 10ms, end), hystart::verdict::slow_start);
    EXPECT_EQ(round_of(h, 20ms, end), hystart::verdict::conservative); // round 1 of CSS
    for (int i = 2; i < hystart::css_rounds; ++i) EXPECT_EQ(round_of(h, 20ms, end), hystart::verdict::conservative);
    EXPECT_EQ(round_of(h, 20ms, end), hystart::verdict::exit);
}

// §4.2: in CSS, a round whose minimum falls below the baseline sends it back to slow start.
TEST(Hystart, DelayFallingBackResumesSlowStart) {
    seq32 end{0};
    hystart h(end);
    round_of(h, 10ms, end);
    round_of(h, 20ms, end);
    ASSERT_TRUE(h.in_css());
    EXPECT_EQ(round_of(h, 19ms, end), hystart::verdict::slow_start);
    EXPECT_FALSE(h.in_css());
}

// A bulk sender on the bare state, clocked by its ACKs: each ACK lets out what the window
// allows at once, and everything sent in one round is acknowledged one RTT later.
struct bulk_sender {
    explicit bulk_sender(bool use_hystart = true) : cc(congestion_algorithm::cubic, use_hystart) {
        t.snd_mss = mss;
        t.cwnd = 10 * mss;
        t.snd_una = t.snd_nxt = t.snd_max = seq32{1};
        fill();
    }
    void fill() {
        while (seq_distance(t.snd_una, t.snd_max) + mss <= t.cwnd) {
            t.snd_nxt += mss;
            t.snd_max = t.snd_nxt;
            cc.on_send(t, t.snd_nxt, now);
        }
    }
    void round(duration rtt) {
        const std::uint32_t segments = seq_distance(t.snd_una, t.snd_max) / mss;
        now += rtt;
        for (std::uint32_t i = 0; i < segments; ++i) {
            const std::uint32_t flight = seq_distance(t.snd_una, t.snd_max);
            t.snd_una += mss;
            cc.on_ack(t, mss, flight, now);
            fill();
        }
    }
    tcb t;
    controlled cc;
    instant now{seconds(100)};
};

// The whole path: slow start doubles while the delay holds; when it grows by more than the
// threshold the window grows by a quarter as fast (CSS) for five rounds, then ssthresh = cwnd.
TEST(Hystart, SlowStartEndsOnDelayBeforeAnyLoss) {
    bulk_sender s;
    s.round(10ms); // 10 -> 20 segments; HyStart++ starts at 16
    EXPECT_EQ(s.t.cwnd, 20 * mss);
    ASSERT_NE(s.cc.slow_start_probe(), nullptr);
    for (int i = 0; i < 3; ++i) s.round(10ms);
    EXPECT_EQ(s.t.cwnd, 160 * mss); // plain doubling
    bool saw_css = false;
    bool grew_by_a_quarter = false;
    int rounds = 0;
    while (!s.cc.hystart_exited() && rounds < 12) {
        const std::uint32_t before = s.t.cwnd;
        const bool css = s.cc.slow_start_probe()->in_css();
        s.round(20ms); // the queue builds
        ++rounds;
        saw_css |= css;
        if (css && !s.cc.hystart_exited()) {
            grew_by_a_quarter = true;
            EXPECT_LE(s.t.cwnd, before + before / 4 + mss) << "round " << rounds;
        }
    }
    EXPECT_TRUE(saw_css);
    EXPECT_TRUE(grew_by_a_quarter);
    ASSERT_TRUE(s.cc.hystart_exited());
    EXPECT_LE(rounds, 7); // detected within two rounds, then five of CSS
    EXPECT_EQ(s.cc.slow_start_probe(), nullptr);
    EXPECT_LE(s.t.ssthresh, s.t.cwnd); // cwnd then, and congestion avoidance since
    EXPECT_GE(s.t.ssthresh + 2 * mss, s.t.cwnd);
    EXPECT_LT(s.t.cwnd, (160u << rounds) * mss / 8); // doubling on would have been 160 << rounds
}

// Without a delay increase slow start goes on, as RFC 5681's; and with HyStart++ off the
// same delay changes nothing.
TEST(Hystart, SteadyDelayOrHystartOffKeepsDoubling) {
    bulk_sender steady;
    for (int i = 0; i < 6; ++i) steady.round(10ms);
    EXPECT_EQ(steady.t.cwnd, 640 * mss);
    EXPECT_FALSE(steady.cc.hystart_exited());

    bulk_sender off(false);
    for (int i = 0; i < 3; ++i) off.round(10ms);
    for (int i = 0; i < 3; ++i) off.round(40ms);
    EXPECT_EQ(off.t.cwnd, 640 * mss);
    EXPECT_EQ(off.cc.slow_start_probe(), nullptr);
}

// §4.2: a loss ends HyStart++ for good; later slow starts are RFC 5681's.
// (An undo that puts ssthresh back where it began makes it the first slow start again:
// HyStart++ may run once more then, since the loss never was.)
TEST(Hystart, LossEndsItForGood) {
    bulk_sender s;
    s.round(10ms);
    ASSERT_NE(s.cc.slow_start_probe(), nullptr);
    s.cc.on_timeout(s.t, s.t.cwnd);
    EXPECT_EQ(s.cc.slow_start_probe(), nullptr);
    for (int i = 0; i < 4; ++i) s.round(10ms); // slow start again, from one segment up to ssthresh
    EXPECT_GE(s.t.cwnd, s.t.ssthresh);
    EXPECT_EQ(s.cc.slow_start_probe(), nullptr);
}

// Karn: after a retransmission no probe sent before it gives a sample, so a round with
// late ACKs of resent data does not read as a delay increase.
TEST(Hystart, RetransmissionForgetsTheProbes) {
    seq32 end{1};
    hystart h(end);
    const instant t0{seconds(1)};
    for (int i = 1; i <= 8; ++i) h.on_send(seq32{std::uint32_t(1 + i * 1000)}, t0, 8000);
    h.on_retransmit();
    h.on_ack(seq32{9001}, seq32{20001}, t0 + 10ms); // ends round 1 with no sample
    for (int i = 1; i <= 8; ++i) h.on_send(seq32{std::uint32_t(20001 + i * 1000)}, t0 + 10ms, 8000);
    h.on_ack(seq32{28001}, seq32{40001}, t0 + 100ms);
    EXPECT_FALSE(h.in_css()); // round 1 had no minimum to compare with
}


// ---- Proportional Rate Reduction (RFC 6937) ----

// A connection with 20 segments of 1000 bytes in flight (IW10 grown by slow start) whose
// first one is lost: the peer SACKs the other 19 one by one. Returns, for each of those
// ACKs, how many segments went out, and leaves the connection in recovery.
struct one_loss_in_twenty {
    explicit one_loss_in_twenty(bool prr) : h(config(prr), no_delay()) {
        h.establish("S 0:0(0) win 65535 <mss 1000,sackOK>");
        h.send(60000);
        h.sent.clear(); // the first 10
        for (int i = 1; i <= 10; ++i) {
            h.deliver(". 1:1(0) ack " + std::to_string(1 + i * 1000) + " win 65535");
            h.sent.clear(); // two for each: slow start
        }
        EXPECT_EQ(h.conn.control_block().cwnd, 20000u);
        // In flight: 10001-30001. 10001:11001 is lost.
        for (int i = 1; i <= 19; ++i) {
            h.deliver(". 1:1(0) ack 10001 win 65535 <sack 11001:" + std::to_string(11001 + i * 1000) + ">");
            sent_per_ack.push_back(h.sent.size());
            if (i > 3) // after the fast retransmit (the first two SACKs let out one each: RFC 3042)
                for (const sent_segment& s : h.sent) new_data += s.header.seq - h.our_iss >= 30001;
            h.sent.clear();
        }
    }
    static tcp_config config(bool prr) {
        tcp_config c;
        c.congestion = congestion_algorithm::reno; // ssthresh = FlightSize / 2: RecoverFS / 2
        c.prr = prr;
        // DupThresh alone finds the loss, on the third SACK, as in RFC 6937's example (the
        // clock stands still here: RACK's window would be 0 and find it on the first).
        c.rack = false;
        return c;
    }
    std::size_t first_send_after_retransmit() const {
        for (std::size_t i = 3; i < sent_per_ack.size(); ++i)
            if (sent_per_ack[i] > 0) return i;
        return sent_per_ack.size();
    }
    harness h;
    std::vector<std::size_t> sent_per_ack;
    int new_data = 0;
};

// RFC 6937 §3 and its example: with ssthresh half of RecoverFS, one segment goes for every
// two delivered, from the start of recovery, never a burst; RFC 6675 sends nothing until
// pipe falls to cwnd, half the window later, then one for every one. Measured: PRR sends
// 1 1 1 0 0 1 0 1 0 1 0 1 0 1 0 0 1 1 1 on the 19 ACKs, RFC 6675 1 1 1 0 0 0 0 0 0 0 0 1 1 ...
TEST(Prr, SendsOneForEveryTwoDeliveredFromTheStart) {
    one_loss_in_twenty prr(true);
    EXPECT_TRUE(prr.h.conn.control_block().in_recovery);
    EXPECT_EQ(prr.h.conn.control_block().ssthresh, 11000u); // the two limited transmits made FlightSize 22
    EXPECT_EQ(prr.sent_per_ack[2], 1u); // the third SACK: the fast retransmit
    for (std::size_t n : prr.sent_per_ack) EXPECT_LE(n, 1u);
    // prr_delivered 17 segments by the end, at ssthresh / RecoverFS = 1/2: 8.5 due, one of
    // them the fast retransmit; then pipe reaches ssthresh and the SSRB adds one an ACK.
    EXPECT_GE(prr.new_data, 7);
    EXPECT_LE(prr.new_data, 9);
    // Spread: no run of three ACKs without a segment once sending began.
    const std::size_t first = prr.first_send_after_retransmit();
    EXPECT_LE(first, 6u);
    for (std::size_t i = first; i + 2 < prr.sent_per_ack.size(); ++i)
        EXPECT_GT(prr.sent_per_ack[i] + prr.sent_per_ack[i + 1] + prr.sent_per_ack[i + 2], 0u) << "ACK " << i;

    one_loss_in_twenty rfc6675(false);
    EXPECT_GT(rfc6675.first_send_after_retransmit(), first + 3);
}

// RFC 6937 §3: recovery ends with cwnd = ssthresh, as RFC 6675's.
TEST(Prr, RecoveryEndsAtSsthresh) {
    one_loss_in_twenty prr(true);
    prr.h.deliver(". 1:1(0) ack 10001 win 65535 <sack 11001:30001>"); // nothing new
    prr.h.sent.clear();
    const std::uint32_t snd_max = prr.h.conn.control_block().snd_max.raw() - prr.h.our_iss;
    prr.h.deliver(". 1:1(0) ack " + std::to_string(snd_max) + " win 65535");
    EXPECT_FALSE(prr.h.conn.control_block().in_recovery);
    EXPECT_EQ(prr.h.conn.control_block().cwnd, prr.h.conn.control_block().ssthresh);
}

// PRR-SSRB (RFC 6937 §3): after a burst of losses pipe falls below ssthresh, and the window
// climbs back no faster than slow start would: at most DeliveredData + 1 MSS an ACK.
TEST(Prr, BelowSsthreshGrowsBackAsSlowStart) {
    tcp_config c = one_loss_in_twenty::config(true);
    harness h(c, no_delay());
    h.establish("S 0:0(0) win 65535 <mss 1000,sackOK>");
    h.send(60000);
    h.sent.clear();
    for (int i = 1; i <= 10; ++i) {
        h.deliver(". 1:1(0) ack " + std::to_string(1 + i * 1000) + " win 65535");
        h.sent.clear();
    }
    // 10001-20001 lost (ten segments), then 20001-30001 SACKed in one ACK, three at first.
    h.deliver(". 1:1(0) ack 10001 win 65535 <sack 20001:23001>");
    h.sent.clear();
    ASSERT_TRUE(h.conn.control_block().in_recovery);
    h.deliver(". 1:1(0) ack 10001 win 65535 <sack 20001:30001>"); // 7000 delivered at once
    const tcb& t = h.conn.control_block();
    // pipe: ten lost, one retransmitted: below ssthresh (10000): SSRB, at most
    // DeliveredData + MSS = 8000 of it now.
    EXPECT_LE(h.sent.size(), 8u);
    EXPECT_GE(h.sent.size(), 1u);
    EXPECT_LE(t.cwnd, t.ssthresh);
}


// ---- ECN (RFC 3168) ----

tcp_config ecn(ecn_mode mode) {
    tcp_config c;
    c.ecn = mode;
    return c;
}

// §6.1.1: a SYN with ECE and CWR asks; the SYN,ACK agrees with ECE alone. By default
// (passive, as Linux) tern agrees when asked and does not ask.
TEST(Ecn, PassiveOpenAgreesWhenAsked) {
    harness h;
    h.listen();
    h.deliver("SEW 0:0(0) win 65535 <mss 1460>");
    h.expect_tx("SE. 0:0(0) ack 1");
    EXPECT_TRUE(h.conn.control_block().ecn_ok);

    harness plain;
    plain.listen();
    plain.deliver("S 0:0(0) win 65535 <mss 1460>");
    plain.expect_tx("S. 0:0(0) ack 1");
    EXPECT_FALSE(plain.conn.control_block().ecn_ok);

    harness off(ecn(ecn_mode::off));
    off.listen();
    off.deliver("SEW 0:0(0) win 65535 <mss 1460>");
    off.expect_tx("S. 0:0(0) ack 1");
    EXPECT_FALSE(off.conn.control_block().ecn_ok);
}

// §6.1.1: with ECN on, our SYN asks; a SYN,ACK with ECE and not CWR agrees.
TEST(Ecn, ActiveOpenAsksAndTakesTheAnswer) {
    harness h(ecn(ecn_mode::on));
    h.connect();
    h.expect_tx("SEW 0:0(0)");
    h.deliver("SE. 0:0(0) ack 1 win 65535 <mss 1460>");
    EXPECT_TRUE(h.conn.control_block().ecn_ok);

    harness refused(ecn(ecn_mode::on));
    refused.connect();
    refused.sent.clear();
    refused.deliver("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    EXPECT_FALSE(refused.conn.control_block().ecn_ok);

    harness echoes(ecn(ecn_mode::on)); // a peer that reflects every flag it got
    echoes.connect();
    echoes.sent.clear();
    echoes.deliver("SEW. 0:0(0) ack 1 win 65535 <mss 1460>");
    EXPECT_FALSE(echoes.conn.control_block().ecn_ok);

    harness passive; // passive does not ask
    passive.connect();
    passive.expect_tx("S 0:0(0)");
}

// Through a handshake that agrees on ECN, into ESTABLISHED.
void open_with_ecn(harness& h) {
    h.listen();
    h.deliver("SEW 0:0(0) win 65535 <mss 1000,sackOK>");
    h.deliver(". 1:1(0) ack 1 win 65535");
    h.sent.clear();
}

// §6.1.2, §6.1.4, §6.1.5: new data is ECT(0); pure ACKs and retransmissions are not.
TEST(Ecn, NewDataIsEctRetransmissionsAndAcksAreNot) {
    harness h({}, no_delay());
    open_with_ecn(h);
    h.send(1000);
    ASSERT_EQ(h.sent.size(), 1u);
    EXPECT_EQ(h.sent.front().ecn, wire::ecn_codepoint::ect0);
    h.sent.clear();
    h.advance(1s); // the RTO resends it
    ASSERT_FALSE(h.sent.empty());
    EXPECT_EQ(h.sent.front().ecn, wire::ecn_codepoint::not_ect);
    h.sent.clear();
    h.deliver("P. 1:101(100) ack 1001 win 65535");
    h.advance(1s); // the delayed ACK
    ASSERT_FALSE(h.sent.empty());
    EXPECT_EQ(h.sent.front().payload.size(), 0u);
    EXPECT_EQ(h.sent.front().ecn, wire::ecn_codepoint::not_ect);

    harness plain({}, no_delay()); // no ECN agreed: nothing is ECT
    plain.establish();
    plain.send(100);
    ASSERT_EQ(plain.sent.size(), 1u);
    EXPECT_EQ(plain.sent.front().ecn, wire::ecn_codepoint::not_ect);
}

// §6.1.3: a CE mark is echoed at once with ECE, and on every ACK after, until a segment
// with CWR comes.
TEST(Ecn, CeIsEchoedUntilCwr) {
    harness h({}, no_delay());
    open_with_ecn(h);
    h.deliver_marked("P. 1:101(100) ack 1 win 65535", wire::ecn_codepoint::ce);
    h.expect_tx("E. 1:1(0) ack 101"); // at once, not after the delayed-ACK time
    h.deliver("P. 101:201(100) ack 1 win 65535");
    h.deliver("P. 201:301(100) ack 1 win 65535");
    h.expect_tx("E. 1:1(0) ack 301");
    h.deliver("WP. 301:401(100) ack 1 win 65535");
    h.deliver("P. 401:501(100) ack 1 win 65535");
    h.expect_tx(". 1:1(0) ack 501"); // no ECE after the CWR
}

// §6.1.2: an ECE halves the window (Reno) once a window, and the next new data carries CWR;
// a second ECE for the same window changes nothing.
TEST(Ecn, EchoReducesOnceAWindowAndSendsCwr) {
    tcp_config c;
    c.congestion = congestion_algorithm::reno;
    harness h(c, no_delay());
    open_with_ecn(h);
    h.send(20000);
    EXPECT_EQ(h.sent.size(), 10u); // IW10
    h.sent.clear();
    const tcb& t = h.conn.control_block();
    h.deliver("E. 1:1(0) ack 1001 win 65535");
    EXPECT_EQ(t.ssthresh, 4500u); // FlightSize 9000 / 2
    EXPECT_EQ(t.cwnd, 4500u);
    EXPECT_EQ(h.conn.stats().ecn_reductions, 1u);
    EXPECT_EQ(h.conn.stats().retransmits, 0u);
    h.deliver("E. 1:1(0) ack 2001 win 65535"); // the same window
    EXPECT_EQ(t.ssthresh, 4500u);
    EXPECT_EQ(h.conn.stats().ecn_reductions, 1u);
    h.deliver(". 1:1(0) ack 6001 win 65535");
    ASSERT_FALSE(h.sent.empty());
    EXPECT_TRUE(h.sent.front().header.flags & wire::tcp_flags::cwr);
    EXPECT_EQ(h.sent.front().ecn, wire::ecn_codepoint::ect0);
    for (std::size_t i = 1; i < h.sent.size(); ++i) EXPECT_FALSE(h.sent[i].header.flags & wire::tcp_flags::cwr);
    h.sent.clear();
    h.deliver("E. 1:1(0) ack 10001 win 65535"); // past that window: a new reduction
    EXPECT_EQ(h.conn.stats().ecn_reductions, 2u);
}

// ---- a connection ----

// The default is CUBIC (RFC 9438 §1: Linux, Windows and Apple's default); a connection may
// choose Reno.
TEST(Congestion, ConnectionUsesTheConfiguredAlgorithm) {
    // What the control reads is the tcb's copy, made when the connection opens: checked
    // there, and by what a loss leaves (Reno halves, CUBIC keeps 0.7).
    auto after_loss = [](tcp_config config, connection_options options) {
        options.no_delay = true;
        config.initial_window = 0; // 4 segments of 1000
        harness h(config, options);
        h.establish("S 0:0(0) win 65535 <mss 1000,sackOK>");
        EXPECT_EQ(h.conn.control_block().cc_algorithm, h.conn.cc_algorithm());
        h.send(4000);
        h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
        return h.conn.control_block().ssthresh;
    };
    EXPECT_EQ(after_loss({}, {}), 2800u); // CUBIC by default
    connection_options reno;
    reno.congestion = congestion_algorithm::reno;
    EXPECT_EQ(after_loss({}, reno), 2000u); // chosen by the connection
    tcp_config config;
    config.congestion = congestion_algorithm::reno;
    EXPECT_EQ(after_loss(config, {}), 2000u); // chosen for the engine
    connection_options cubic;
    cubic.congestion = congestion_algorithm::cubic;
    EXPECT_EQ(after_loss(config, cubic), 2800u); // the connection's choice wins
}

// A request-response connection keeps the window it started with. Each ACK used to add a
// segment's worth in slow start, without end: after ~3 million ACKs cwnd wrapped around 2^32.
TEST(Congestion, RequestResponseDoesNotGrowTheWindow) {
    harness h({}, no_delay());
    h.establish();
    const std::uint32_t iw = h.conn.control_block().cwnd;
    std::uint32_t seq = 1;
    for (int i = 0; i < 200; ++i) {
        h.send(100);
        h.expect_tx("P. " + std::to_string(seq) + ":" + std::to_string(seq + 100) + "(100) ack 1");
        seq += 100;
        h.deliver(". 1:1(0) ack " + std::to_string(seq) + " win 65535");
    }
    EXPECT_EQ(h.conn.control_block().cwnd, iw);
}

// RFC 9438 §4.6 through a connection: the third duplicate ACK with SACK, in slow start,
// leaves cwnd = ssthresh = 0.7 FlightSize.
TEST(Congestion, FastRetransmitWithCubicKeepsSevenTenths) {
    tcp_config config;
    config.initial_window = 0; // 4 segments of 1000
    harness h(config, no_delay());
    h.establish("S 0:0(0) win 65535 <mss 1000,sackOK>");
    h.send(4000);
    for (int i = 0; i < 4; ++i) h.sent.pop_front();
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    h.expect_tx(". 1:1001(1000) ack 1");
    const auto& t = h.conn.control_block();
    EXPECT_TRUE(t.in_recovery);
    EXPECT_EQ(t.ssthresh, 2800u);
    EXPECT_EQ(t.cwnd, 2800u);
    EXPECT_EQ(h.conn.congestion().cubic().w_max, 4000u);
}

// §4.6 through a connection in congestion avoidance: an ACK that both acknowledges three
// segments of seven and SACKs the three past a hole finds the loss when the flight is
// already down to four. ssthresh is 0.7 of the window, not of those four (2,800 before).
TEST(Congestion, LossFoundByAStretchAckKeepsSevenTenthsOfTheWindow) {
    tcp_config config;
    config.initial_window = 10;
    config.rack = false; // the SACKed segments alone find the loss (RFC 6675 IsLost)
    harness h(config, no_delay());
    h.establish("S 0:0(0) win 65535 <mss 1000,sackOK>");
    h.send(100000);
    // A first loss ends slow start: ssthresh 7,000 (0.7 of the flight of 10), then a full
    // acknowledgment ends the recovery with cwnd = ssthresh.
    h.deliver(". 1:1(0) ack 1 win 65535 <sack 1001:4001>");
    const std::uint32_t first_max = h.conn.control_block().snd_max.raw() - h.our_iss;
    h.deliver(". 1:1(0) ack " + std::to_string(first_max) + " win 65535");
    const auto& t = h.conn.control_block();
    ASSERT_FALSE(t.in_recovery);
    ASSERT_EQ(t.cwnd, 7000u);
    ASSERT_EQ(t.ssthresh, 7000u);
    const std::uint32_t snd_max = t.snd_max.raw() - h.our_iss;
    ASSERT_EQ(snd_max - first_max, 7000u); // a full window in flight
    // Three acknowledged, the fourth lost, the last three SACKed.
    const std::uint32_t hole = first_max + 3000;
    h.deliver(". 1:1(0) ack " + std::to_string(hole) + " win 65535 <sack " + std::to_string(hole + 1000) + ":" +
              std::to_string(snd_max) + ">");
    EXPECT_TRUE(t.in_recovery);
    EXPECT_GE(t.ssthresh, 4900u); // 0.7 of the 7,000 (and of what the three ACKed grew)
    EXPECT_LE(t.ssthresh, 5300u);
}

} // namespace
} // namespace tern::tcp::test
