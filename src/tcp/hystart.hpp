// HyStart++ (RFC 9406): a slow start that ends before its first loss when the round trip
// starts to grow (a queue building at the bottleneck), through a few rounds of slower
// growth (Conservative Slow Start, CSS) in case the growth was noise.
//
// The round trips come from segments timed here: RFC 6298 times one segment a round trip,
// and §4.2 wants N_RTT_SAMPLE of them in every round. A probe is the end of a segment and
// when it left; its ACK gives a sample, unless something was sent again meanwhile (Karn).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "tcp/seq.hpp"
#include "tern/time.hpp"

namespace tern::tcp {

class hystart {
public:
    // RFC 9406 §4.3.
    static constexpr duration min_rtt_thresh = std::chrono::milliseconds(4);
    static constexpr duration max_rtt_thresh = std::chrono::milliseconds(16);
    static constexpr int min_rtt_divisor = 8;
    static constexpr int n_rtt_sample = 8;
    static constexpr int css_growth_divisor = 4;
    static constexpr int css_rounds = 5;
    // Probes a round at most: N_RTT_SAMPLE and a few more, so that a round has its eight
    // even when some segments are not timed (a probe is due every window / probes bytes).
    static constexpr std::size_t probes = 12;

    enum class verdict : std::uint8_t {
        slow_start,   // grow as slow start does
        conservative, // CSS: a quarter of that (§4.2)
        exit,         // CSS_ROUNDS passed: ssthresh = cwnd, congestion avoidance
    };

    // The first round ends when snd_nxt, as of now, is acknowledged.
    explicit hystart(seq32 snd_nxt) : window_end_(snd_nxt) {}

    // A segment of new data ending at `end` leaves now, with `window` bytes allowed.
    void on_send(seq32 end, instant now, std::uint32_t window);
    // Something was sent again: no probe sent before now can give a sample (Karn).
    void on_retransmit() { count_ = 0; }
    // An ACK moved snd_una to `ack`: the samples it gives, then the round's end when it
    // covers the round's last segment. `snd_nxt` begins the next round.
    verdict on_ack(seq32 ack, seq32 snd_nxt, instant now);

    // §4.2's checks, for one sample; on_ack calls it for each probe the ACK covers.
    void sample(duration rtt);
    // §4.2: a round ends; the answer for the ACK that ended it.
    verdict end_round(seq32 snd_nxt);
    bool in_css() const { return css_; }

private:
    static constexpr duration none = duration::max();

    struct probe {
        seq32 end;
        instant sent;
    };
    std::array<probe, probes> probes_{};
    std::uint8_t head_ = 0;
    std::uint8_t count_ = 0;

    seq32 window_end_;
    duration last_round_min_ = none;
    duration current_round_min_ = none;
    duration css_baseline_ = none;
    std::uint8_t samples_ = 0;
    std::uint8_t css_rounds_done_ = 0;
    bool css_ = false;
};

} // namespace tern::tcp
