#include "tcp/hystart.hpp"

#include <algorithm>

namespace tern::tcp {

void hystart::on_send(seq32 end, instant now, std::uint32_t window) {
    if (count_ == probes) return;
    if (count_ > 0) {
        const probe& last = probes_[(head_ + count_ - 1) % probes];
        if (seq_distance(last.end, end) < window / probes) return; // spread over the round
    }
    probes_[(head_ + count_) % probes] = {end, now};
    ++count_;
}

hystart::verdict hystart::on_ack(seq32 ack, seq32 snd_nxt, instant now) {
    while (count_ > 0 && probes_[head_].end <= ack) {
        sample(now - probes_[head_].sent);
        head_ = std::uint8_t((head_ + 1) % probes);
        --count_;
    }
    if (window_end_ <= ack) return end_round(snd_nxt);
    return css_ ? verdict::conservative : verdict::slow_start;
}

void hystart::sample(duration rtt) {
    current_round_min_ = std::min(current_round_min_, rtt);
    if (samples_ < 0xff) ++samples_;
    if (samples_ < n_rtt_sample) return;
    if (!css_) {
        // §4.2: "if (currentRoundMinRTT >= (lastRoundMinRTT + RttThresh))": the delay grew
        // by an eighth of the last round's, within 4 to 16 ms: a queue is building.
        if (last_round_min_ == none) return;
        const duration thresh = std::clamp(last_round_min_ / min_rtt_divisor, min_rtt_thresh, max_rtt_thresh);
        if (current_round_min_ >= last_round_min_ + thresh) {
            css_ = true;
            css_baseline_ = current_round_min_;
            css_rounds_done_ = 0;
        }
    } else if (current_round_min_ < css_baseline_) {
        // §4.2: the delay fell below where CSS began: that exit was spurious, back to
        // slow start.
        css_ = false;
        css_baseline_ = none;
    }
}

hystart::verdict hystart::end_round(seq32 snd_nxt) {
    // §4.2: CSS lasts CSS_ROUNDS rounds, the one it began in counting.
    if (css_ && ++css_rounds_done_ >= css_rounds) return verdict::exit;
    last_round_min_ = current_round_min_;
    current_round_min_ = none;
    samples_ = 0;
    window_end_ = snd_nxt;
    return css_ ? verdict::conservative : verdict::slow_start;
}

} // namespace tern::tcp
