// run_on_interrupt_thread (dpdk/eal.hpp): the work runs on the EAL's interrupt thread, the
// one where drivers handle their control events, and the caller waits for it. Ports stop
// and close there (port::~port), so that net_memif's handling of a peer that leaves cannot
// overlap our stop: both free the shared regions.
#include <thread>

#include <gtest/gtest.h>
#include <rte_interrupts.h>

#include "dpdk/eal.hpp"

namespace tern::test {
namespace {

struct where {
    bool ran = false;
    bool on_interrupt_thread = false;
    std::thread::id thread;
};

void note_where(void* p) {
    auto* w = static_cast<where*>(p);
    w->ran = true;
    w->on_interrupt_thread = rte_thread_is_intr() != 0;
    w->thread = std::this_thread::get_id();
}

TEST(run_on_interrupt_thread, runs_the_work_there_and_waits_for_it) {
    where w;
    EXPECT_TRUE(run_on_interrupt_thread(note_where, &w, std::chrono::seconds(2)));
    EXPECT_TRUE(w.ran); // done when it returns
    EXPECT_TRUE(w.on_interrupt_thread);
    EXPECT_NE(w.thread, std::this_thread::get_id());
}

// Work that cannot start in time is taken back, and never runs afterwards.
void hold(void* p) { std::this_thread::sleep_for(std::chrono::milliseconds(*static_cast<int*>(p))); }

TEST(run_on_interrupt_thread, work_not_started_in_time_is_withdrawn) {
    int busy_ms = 300;
    std::thread blocker([&] { run_on_interrupt_thread(hold, &busy_ms, std::chrono::seconds(2)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the interrupt thread is in hold()
    where w;
    EXPECT_FALSE(run_on_interrupt_thread(note_where, &w, std::chrono::milliseconds(20)));
    blocker.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(w.ran);
}

} // namespace
} // namespace tern::test
