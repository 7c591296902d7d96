#include <gtest/gtest.h>

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

// A stop asked from another thread wakes the sleeper at once: it does not sleep on to its
// deadline, nor poll (the reason this exists: polling threads take the engines' cores).
TEST(StopSignal, RequestWakesEveryWaiterAtOnce) {
    stop_signal stop;
    const auto start = clk::now(), deadline = start + 30s;
    bool first = false, second = false;
    std::thread a([&] { first = stop.wait_until(deadline); });
    std::thread b([&] { second = stop.wait_until(deadline); });
    std::this_thread::sleep_for(20ms);
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

// From a signal handler (SIGINT/SIGTERM in the apps), with errno left as it was.
stop_signal* handled = nullptr;
void on_signal(int) { handled->request(); }

TEST(StopSignal, RequestFromASignalHandler) {
    stop_signal stop;
    handled = &stop;
    auto* previous = std::signal(SIGUSR1, on_signal);
    errno = 1234;
    std::raise(SIGUSR1);
    EXPECT_EQ(errno, 1234);
    std::signal(SIGUSR1, previous);
    EXPECT_TRUE(stop.wait_until(clk::now() + 30s));
}

} // namespace
