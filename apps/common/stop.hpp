// The stop flag of an app, and a way for its helper threads to sleep on it.
#pragma once

#include <atomic>
#include <chrono>

namespace tern::cli {

// Set once (a signal, a --duration, the end of a run) and never cleared. request() is
// async-signal-safe. A thread in wait_until() wakes when the stop is requested or at its
// deadline, and not in between.
//
// Why helper threads must not poll the flag: they inherit the main lcore's CPU affinity, so
// they share a core with an engine, and each wake-up takes the engine off its core for
// microseconds. Three threads polling every 5-20 ms (tern-load's progress line, tern-server's,
// and --duration's) held ping-pong's p99.9 round trip at 30-40 us, where a bare DPDK
// reflector on the same memif link has ~3 us.
class stop_signal {
public:
    stop_signal(); // throws std::system_error when no eventfd can be made
    ~stop_signal();
    stop_signal(const stop_signal&) = delete;
    stop_signal& operator=(const stop_signal&) = delete;

    void request() noexcept;
    bool requested() const noexcept { return flag_.load(std::memory_order_acquire); }
    // What the engines poll (runtime::run).
    const std::atomic<bool>& flag() const noexcept { return flag_; }
    // Sleeps until the stop is requested or `until` has passed; true if it was requested.
    bool wait_until(std::chrono::steady_clock::time_point until) const;

private:
    std::atomic<bool> flag_{false};
    int fd_; // an eventfd, written once by request() and never read: readable from then on
};

} // namespace tern::cli
