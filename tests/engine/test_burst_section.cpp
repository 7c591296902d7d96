// burst_section (dpdk/burst_section.hpp): munmap on the EAL interrupt thread waits for the
// bursts in progress on guarded queues, as net_memif's disconnect needs; anywhere else, or
// with no burst open, it does not wait. (integration/memif_leave.sh runs the driver itself.)
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "dpdk/burst_section.hpp"
#include "dpdk/eal.hpp"

namespace tern::test {
namespace {

using clk = std::chrono::steady_clock;

struct unmap_job {
    void* addr = nullptr;
    std::size_t length = 0;
    int rc = -1;
    clk::time_point done;
};

void unmap(void* p) {
    auto* job = static_cast<unmap_job*>(p);
    job->rc = munmap(job->addr, job->length);
    job->done = clk::now();
}

struct page {
    page() : addr(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) {}
    void* addr;
};

class guarded_queue {
public:
    guarded_queue() : slot_(burst_sections::acquire()) {}
    ~guarded_queue() { burst_sections::release(slot_); }
    burst_sections::slot* slot() const { return slot_; }

private:
    burst_sections::slot* slot_;
};

// A "burst" that reads the page for `hold`, then closes its section and says when.
clk::time_point read_in_section(burst_sections::slot* s, const volatile std::uint8_t* mem, std::atomic<bool>& open,
                                std::chrono::milliseconds hold) {
    burst_section in_burst(s);
    open.store(true);
    const auto until = clk::now() + hold;
    unsigned sum = 0;
    while (clk::now() < until) sum += mem[sum % 4096];
    (void)sum;
    return clk::now();
}

TEST(burst_section, unmap_on_the_interrupt_thread_waits_for_an_open_burst) {
    guarded_queue q;
    ASSERT_NE(q.slot(), nullptr);
    page p;
    ASSERT_NE(p.addr, MAP_FAILED);
    std::atomic<bool> open{false};
    clk::time_point closed;
    std::thread engine([&] {
        closed = read_in_section(q.slot(), static_cast<std::uint8_t*>(p.addr), open, std::chrono::milliseconds(100));
    });
    while (!open.load()) std::this_thread::yield();
    unmap_job job{p.addr, 4096};
    // Without the wait the page goes while the engine still reads it: a SEGV.
    ASSERT_TRUE(run_on_interrupt_thread(unmap, &job, std::chrono::seconds(5)));
    engine.join();
    EXPECT_EQ(job.rc, 0);
    EXPECT_GE(job.done, closed);
}

TEST(burst_section, unmap_elsewhere_or_with_no_open_burst_does_not_wait) {
    guarded_queue q;
    ASSERT_NE(q.slot(), nullptr);
    {
        burst_section in_burst(q.slot()); // open on this thread, which is not the interrupt thread
        page p;
        const auto t0 = clk::now();
        EXPECT_EQ(munmap(p.addr, 4096), 0);
        EXPECT_LT(clk::now() - t0, std::chrono::milliseconds(50));
    }
    page p; // the section is closed: the interrupt thread goes straight through
    unmap_job job{p.addr, 4096};
    const auto t0 = clk::now();
    ASSERT_TRUE(run_on_interrupt_thread(unmap, &job, std::chrono::seconds(5)));
    EXPECT_EQ(job.rc, 0);
    EXPECT_LT(job.done - t0, std::chrono::milliseconds(150)); // alarm and wake-up, not the 200 ms limit
}

TEST(burst_section, a_section_held_past_the_limit_is_given_up_on_and_counted) {
    guarded_queue q;
    ASSERT_NE(q.slot(), nullptr);
    const std::uint64_t before = burst_sections::waits_given_up();
    burst_section in_burst(q.slot());
    EXPECT_FALSE(burst_sections::wait_for_open_sections(std::chrono::milliseconds(5)));
    EXPECT_EQ(burst_sections::waits_given_up(), before + 1);
}

TEST(burst_section, a_null_slot_guards_nothing) {
    burst_section in_burst(nullptr);
    EXPECT_TRUE(burst_sections::wait_for_open_sections(std::chrono::milliseconds(5)));
}

TEST(burst_section, slots_are_reused_and_run_out_cleanly) {
    std::vector<burst_sections::slot*> taken;
    for (;;) {
        burst_sections::slot* s = burst_sections::acquire();
        if (s == nullptr) break;
        taken.push_back(s);
    }
    EXPECT_EQ(taken.size(), burst_sections::slots_max);
    burst_sections::release(taken.back());
    EXPECT_EQ(burst_sections::acquire(), taken.back());
    for (auto* s : taken) burst_sections::release(s);
    EXPECT_FALSE(burst_sections::any());
}

} // namespace
} // namespace tern::test
