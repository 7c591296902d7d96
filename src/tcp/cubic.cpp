// CUBIC (RFC 9438): congestion avoidance follows a cubic function of the time since the
// last congestion event, flat around the window where that event came (W_max), so that a
// long fat path gets back to it in a few seconds rather than one segment a round trip.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "tcp/congestion.hpp"

namespace tern::tcp {

double cubic::k_seconds(double w_max_segments, double cwnd_epoch_segments) {
    if (w_max_segments <= cwnd_epoch_segments) return 0;
    return std::cbrt((w_max_segments - cwnd_epoch_segments) / c);
}

double cubic::window_segments(double t_seconds, double k_seconds, double w_max_segments) {
    const double d = t_seconds - k_seconds;
    return c * d * d * d + w_max_segments;
}

namespace {

double seconds(duration d) { return std::chrono::duration<double>(d).count(); }

} // namespace

void congestion_control::cubic_avoid(tcb& t, std::uint32_t acked, instant now) {
    cubic_state& s = ensure_state().cubic;
    const double smss = t.snd_mss;
    if (s.epoch_start == instant{}) {
        // §4.2: a congestion avoidance stage begins. With no W_max above the window (after
        // a timeout, §4.8; or a slow start that ended without loss, §4.10) the curve is
        // flat here: W_max = cwnd, K = 0. W_est starts at cwnd_epoch (§4.3).
        s.epoch_start = now;
        s.w_max = std::max(s.w_max, t.cwnd);
        const double k = cubic::k_seconds(s.w_max / smss, t.cwnd / smss);
        s.k_us = std::uint32_t(k * 1e6);
        s.w_est = t.cwnd;
        s.carry = 0;
    }
    // §4.3: the Reno-friendly estimate, alpha 1 once it has passed cwnd_prior.
    const double alpha = s.w_est >= s.cwnd_prior ? 1.0 : cubic::alpha;
    s.w_est += alpha * acked * smss / t.cwnd;

    const double k = s.k_us / 1e6;
    const double w_max = s.w_max / smss;
    const double t_now = seconds(now - s.epoch_start);
    if (cubic::window_segments(t_now, k, w_max) * smss < s.w_est) {
        // §4.3: in the Reno-friendly region cwnd follows W_est.
        t.cwnd = std::max(t.cwnd, std::uint32_t(std::min(s.w_est, 4e9)));
        return;
    }
    // §4.2: aim at where the curve is one round trip from now, bounded to [cwnd, 1.5 cwnd];
    // §4.4/§4.5: grow by (target - cwnd) / cwnd segments for each segment acknowledged.
    const double rtt = seconds(t.srtt.value_or(duration{}));
    const double cwnd = t.cwnd;
    const double target = std::clamp(cubic::window_segments(t_now + rtt, k, w_max) * smss, cwnd, 1.5 * cwnd);
    s.carry += float((target - cwnd) * acked / cwnd);
    const float whole = std::floor(s.carry);
    s.carry -= whole;
    t.cwnd = std::uint32_t(std::min(cwnd + whole, 4e9));
}

// §4.6 multiplicative decrease with §4.7 fast convergence. In congestion avoidance the
// window is what is reduced, as Linux and Windows do: §4.6 allows cwnd in place of
// flight_size where cwnd cannot grow while the flight is below it, and on_ack keeps it
// from growing then. The flight measured when a loss is found is too low a base: the ACK
// that finds it has already taken what it covers out of the flight, before anything new
// went out for it (stretch ACKs, RACK marking later, an ACK both cumulative and SACKing),
// and half the window went with it at times on a path with 1% loss. In slow start the
// window has run ahead of what the path was shown to carry, so the flight stays the base
// there (RFC 5681 §3.1 equation (4)).
void congestion_control::cubic_reduce(tcb& t, std::uint32_t flight) {
    cubic_state& s = ensure_state().cubic;
    const std::uint32_t base = t.cwnd >= t.ssthresh ? t.cwnd : flight;
    s.cwnd_prior = t.cwnd;
    // §4.7: a window that did not get back to the last W_max finds less room than before:
    // release some more, so that a newer flow gets its share sooner.
    s.w_max = t.cwnd < s.w_max ? std::uint32_t(t.cwnd * (1 + cubic::beta) / 2) : t.cwnd;
    s.epoch_start = instant{};
    static_assert(cubic::beta == 0.7);
    t.ssthresh = std::max(std::uint32_t(std::uint64_t(base) * 7 / 10), 2u * t.snd_mss);
}

} // namespace tern::tcp
