#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "common/stop.hpp"

namespace {

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;
using tern::cli::stop_signal;

// Nothing asked: the wait lasts until its deadline, not less.
TEST(StopSignal, WaitEndsAtItsDeadline) {
    const stop_signal stop;
    const auto start = clk::now();
    EXPECT_FALSE(stop.wait_until(start + 30ms));
    EXPECT_GE(clk::now() - start, 30ms);
    EXPECT_FALSE(stop.requested());
}

// A stop asked from another thread wakes every sleeper at once: both were still waiting
// when it came (not started after it), and neither slept on to its deadline.
TEST(StopSignal, RequestWakesEveryWaiterAtOnce) {
    stop_signal stop;
    const auto start = clk::now(), deadline = start + 30s;
    std::atomic<int> returned{0};
    bool first = false, second = false;
    std::thread a([&] { first = stop.wait_until(deadline); ++returned; });
    std::thread b([&] { second = stop.wait_until(deadline); ++returned; });
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(returned.load(), 0);
    stop.request();
    a.join();
    b.join();
    EXPECT_TRUE(first);
    EXPECT_TRUE(second);
    EXPECT_LT(clk::now() - start, 5s);
    EXPECT_TRUE(stop.flag().load());
}

// Once asked, a stop stays asked: a later wait returns at once, a deadline in the past too.
TEST(StopSignal, StaysRequested) {
    stop_signal stop;
    stop.request();
    stop.request();
    const auto start = clk::now();
    EXPECT_TRUE(stop.wait_until(start + 30s));
    EXPECT_TRUE(stop.wait_until(start - 1s));
    EXPECT_LT(clk::now() - start, 5s);
}

// From a signal handler (SIGINT/SIGTERM in the apps): a waiter in another thread wakes.
// (request() also keeps errno, but its write never fails here, so no test can see that.)
stop_signal* handled = nullptr;
void on_signal(int) { handled->request(); }

TEST(StopSignal, RequestFromASignalHandler) {
    stop_signal stop;
    handled = &stop;
    const auto start = clk::now();
    bool woke = false;
    std::thread waiter([&] { woke = stop.wait_until(start + 30s); });
    std::this_thread::sleep_for(20ms);
    auto* previous = std::signal(SIGUSR1, on_signal);
    std::raise(SIGUSR1);
    std::signal(SIGUSR1, previous);
    waiter.join();
    EXPECT_TRUE(woke);
    EXPECT_LT(clk::now() - start, 5s);
}

} // namespace
