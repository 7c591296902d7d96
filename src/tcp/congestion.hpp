// Congestion control: how far cwnd grows on an ACK and what a congestion event leaves of
// cwnd and ssthresh. Which segments go when (loss detection, fast retransmit, recovery)
// stays in the connection; this decides only the window's size, so that another algorithm
// is another file here (reno.cpp, cubic.cpp) and one more case in the dispatch below.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "tcp/hystart.hpp"
#include "tcp/tcb.hpp"
#include "tern/tcp.hpp"

namespace tern::tcp {

// RFC 9438 §4.1's state. Windows in bytes.
struct cubic_state {
    double w_est = 0;             // the Reno-friendly estimate (§4.3), growing by fractions of a byte
    instant epoch_start{};        // start of this congestion avoidance stage; instant{}: none yet
    std::uint32_t w_max = 0;      // window before the last reduction (fast convergence may lower it); 0: none known
    std::uint32_t cwnd_prior = 0; // cwnd when ssthresh was last set (§4.6): where alpha becomes 1
    std::uint32_t k_us = 0;       // K (Figure 2) in microseconds: from the epoch's start to w_max
    float carry = 0;              // growth of less than a byte, not yet added to cwnd
    friend bool operator==(const cubic_state&, const cubic_state&) = default;
};

// RFC 9438's constants (§5.1: C = 0.4; §4.6: beta 0.7) and the curve, in segments and
// seconds as the RFC writes them.
namespace cubic {
inline constexpr double c = 0.4;
inline constexpr double beta = 0.7;
inline constexpr double alpha = 3 * (1 - beta) / (1 + beta); // §4.3, about 0.53
// Figure 2: K = cbrt((W_max - cwnd_epoch) / C), 0 when the epoch starts at or above W_max.
double k_seconds(double w_max_segments, double cwnd_epoch_segments);
// Figure 1: W_cubic(t) = C * (t - K)^3 + W_max.
double window_segments(double t_seconds, double k_seconds, double w_max_segments);
} // namespace cubic

// The algorithm is the connection's choice, kept in its tcb (tcb::cc_algorithm, tcb::hystart):
// the control itself is one pointer while it has no state (a connection is counted in bytes).
class congestion_control {
public:
    // HyStart++ from a window of this many segments on, as Linux's hystart_low_window: a
    // smaller one has too few segments a round for N_RTT_SAMPLE samples, and the memory
    // for the probes is only taken by connections that get this far.
    static constexpr std::uint32_t hystart_low_window = 16;

    const cubic_state& cubic() const { return state_ ? state_->cubic : no_cubic; }
    // HyStart++ runs: the first slow start, from hystart_low_window segments on.
    const hystart* slow_start_probe() const { return state_ && state_->probe ? &*state_->probe : nullptr; }
    // Slow start was ended by HyStart++ (a delay increase), not by a loss.
    bool hystart_exited() const { return state_ && state_->hystart_exited; }

    // New data ending at `end` leaves now (HyStart++ times some of it).
    void on_send(const tcb& t, seq32 end, instant now) {
        if (state_ && state_->probe) state_->probe->on_send(end, now, t.cwnd);
    }
    // Something was sent again: no segment sent before gives an RTT sample (Karn).
    void on_retransmit() {
        if (state_ && state_->probe) state_->probe->on_retransmit();
    }

    // A new ACK of `acked` data bytes outside recovery; `flight` is what was in flight
    // before it. Slow start below ssthresh (RFC 5681 §3.1), the algorithm's congestion
    // avoidance above; neither grows a window the sender did not fill (RFC 7661 §4.2,
    // RFC 9438 §5.8): a request-response connection would otherwise grow cwnd by a
    // segment on every ACK without end.
    void on_ack(tcb& t, std::uint32_t acked, std::uint32_t flight, instant now);
    // A loss found by ACKs (fast retransmit) or an ECN echo: sets ssthresh; the recovery
    // that follows sets cwnd from it.
    void on_congestion(tcb& t, std::uint32_t flight);
    // A retransmission timeout: ssthresh as for a loss, cwnd one segment (RFC 5681 §3.1).
    void on_timeout(tcb& t, std::uint32_t flight);
    // The episode that reduced the window was spurious (D-SACK): back to `before`, the
    // state saved when it began (RFC 9438 §4.9.2), if cwnd is still below what it was then.
    void undo(tcb& t, const cubic_state& before, std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh);

private:
    // What only a connection that met congestion, or got far into its first slow start,
    // needs. Most (a request, a response) never do and keep only the pointer: a connection
    // is counted in bytes when there are millions of them.
    struct state {
        cubic_state cubic;
        std::optional<hystart> probe; // HyStart++, while it runs
        bool hystart_exited = false;
    };
    static const cubic_state no_cubic;

    state& ensure_state() {
        if (!state_) state_ = std::make_unique<state>();
        return *state_;
    }
    std::uint32_t slow_start(tcb& t, std::uint32_t acked, instant now);
    void end_hystart() {
        if (state_) state_->probe.reset();
    }
    void cubic_avoid(tcb& t, std::uint32_t acked, instant now);
    void cubic_reduce(tcb& t, std::uint32_t flight);

    std::unique_ptr<state> state_;
};

} // namespace tern::tcp
