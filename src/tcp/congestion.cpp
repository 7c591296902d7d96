// The parts every algorithm shares (slow start, the rule against growing an unused
// window) and Reno's own rules (RFC 5681 §3.1, §3.2); CUBIC's are in cubic.cpp.
#include "tcp/congestion.hpp"

#include <algorithm>

namespace tern::tcp {

const cubic_state congestion_control::no_cubic{};

void congestion_control::on_ack(tcb& t, std::uint32_t acked, std::uint32_t flight, instant now) {
    const std::uint32_t smss = t.snd_mss;
    if (t.cwnd < t.ssthresh) {
        // RFC 5681 §3.1 slow start, at most one SMSS an ACK (RFC 3465's L = 1), while the
        // flight is at least half the window: slow start doubles what is in use, not what
        // is allowed.
        if (2 * std::uint64_t(flight) >= t.cwnd) t.cwnd += slow_start(t, std::min(acked, smss), now);
        return;
    }
    // Congestion avoidance grows a window the sender fills: one with room for another
    // full segment was not the limit. CUBIC's clock must not run meanwhile (RFC 9438
    // §5.8): its next stage starts afresh from the window it has then, on the same curve.
    if (std::uint64_t(flight) + smss <= t.cwnd) {
        if (state_) state_->cubic.epoch_start = instant{};
        return;
    }
    switch (t.cc_algorithm) {
    case congestion_algorithm::reno:
        // RFC 5681 §3.1 equation (3): about one SMSS a round trip.
        t.cwnd += std::max<std::uint32_t>(1, smss * smss / t.cwnd);
        return;
    case congestion_algorithm::cubic: return cubic_avoid(t, acked, now);
    }
}

// What slow start adds for an ACK of `grow` bytes (at most an SMSS), through HyStart++
// (RFC 9406 §4.2) while it runs.
std::uint32_t congestion_control::slow_start(tcb& t, std::uint32_t grow, instant now) {
    if (!state_ || !state_->probe) {
        // RFC 9406 §4.2: the first slow start only, while ssthresh is where it began (a
        // loss, a timeout or HyStart++'s own exit all set it), and not once more after its exit.
        if (!t.hystart || t.ssthresh != tcb{}.ssthresh || t.cwnd < hystart_low_window * t.snd_mss ||
            hystart_exited())
            return grow;
        ensure_state().probe.emplace(t.snd_max);
        return grow;
    }
    switch (state_->probe->on_ack(t.snd_una, t.snd_max, now)) {
    case hystart::verdict::slow_start: return grow;
    case hystart::verdict::conservative: return grow / hystart::css_growth_divisor;
    case hystart::verdict::exit: break;
    }
    // §4.2: after CSS_ROUNDS, congestion avoidance from this window. RFC 9438 §4.10:
    // CUBIC's first stage then starts flat here (cwnd_prior = cwnd, W_max unknown).
    t.ssthresh = t.cwnd;
    state_->cubic.cwnd_prior = t.cwnd;
    state_->cubic.w_max = 0;
    state_->hystart_exited = true;
    end_hystart();
    return 0;
}

void congestion_control::on_congestion(tcb& t, std::uint32_t flight) {
    end_hystart(); // RFC 9406 §4.2: a loss ends slow start, HyStart++ with it
    switch (t.cc_algorithm) {
    case congestion_algorithm::reno:
        t.ssthresh = std::max(flight / 2, 2u * t.snd_mss); // RFC 5681 §3.2 step 2, equation (4)
        return;
    case congestion_algorithm::cubic: return cubic_reduce(t, flight);
    }
}

void congestion_control::on_timeout(tcb& t, std::uint32_t flight) {
    on_congestion(t, flight);
    // RFC 9438 §4.8: after a timeout the next stage's curve starts flat at the window it
    // starts with (K = 0, W_max = cwnd then), which a W_max of 0 gives in cubic_avoid.
    if (state_) state_->cubic.w_max = 0;
    t.cwnd = t.snd_mss; // RFC 5681 §3.1: the loss window
}

void congestion_control::undo(tcb& t, const cubic_state& before, std::uint32_t prior_cwnd,
                              std::uint32_t prior_ssthresh) {
    // RFC 9438 §4.9.2: CUBIC's state goes back only while cwnd is below where it was; a
    // window that has grown past it since keeps its own, newer state.
    if (t.cwnd < prior_cwnd && state_) state_->cubic = before;
    // RFC 4015 §3 response (as Linux's undo): the window from before the episode,
    // keeping whatever has grown since.
    t.cwnd = std::max(t.cwnd, prior_cwnd);
    t.ssthresh = std::max(t.ssthresh, prior_ssthresh);
}

} // namespace tern::tcp
