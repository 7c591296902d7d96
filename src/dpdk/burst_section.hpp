// Bursts on queues whose driver unmaps their memory from the EAL interrupt thread.
//
// net_memif (DPDK 22.11, and unchanged through 25.11) handles its peer's leaving on the
// interrupt thread: memif_disconnect clears the port's "connected" flag and then unmaps the
// rings and buffers the two processes share. Its rx and tx bursts test that flag on entry
// only, and nothing orders the two threads: an engine already past the test goes on reading
// memory that is no longer mapped, and the process dies (a SEGV in eth_memif_rx as a
// tern-load client left, seen in integration/load_memif).
//
// tern closes that window from outside the driver. Every burst on such a queue runs inside a
// burst_section (a per-queue count, odd while a burst is in progress), and munmap, called on
// the interrupt thread, first waits for each section open at that moment to close. A burst
// that opens later finds the flag already clear, since the driver cleared it before it
// unmapped, and touches nothing: the section's entry is a full barrier, and so is the wait's
// first step, so either the waiter sees the section open or the burst sees the flag clear.
//
// The wait is bounded (burst_sections::wait_limit): a burst takes microseconds, but an engine
// thread the kernel has descheduled holds its section until it runs again; past the limit the
// unmap goes ahead as it would have without tern, and the times that happened are counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tern {

class burst_sections {
public:
    // One queue's count. Written by the one thread that bursts on the queue, read by the
    // waiter: a line of its own so the reads do not slow the bursts.
    struct alignas(64) slot {
        std::atomic<std::uint64_t> count{0};
        std::atomic<bool> taken{false};
    };

    static constexpr std::size_t slots_max = 1024;
    static constexpr std::chrono::milliseconds wait_limit{200};

    // A slot for one queue; nullptr when all slots_max are taken (the queue's bursts then
    // go unguarded, as they would without tern). Control path.
    static slot* acquire();
    static void release(slot* s);

    // Waits until every section open on entry has closed, or wait_limit has passed. Returns
    // false when it gave up on one.
    static bool wait_for_open_sections(std::chrono::nanoseconds limit = wait_limit);

    // Whether any slot is taken: munmap off the hot path in processes without such queues.
    static bool any() { return taken_count_.load(std::memory_order_relaxed) > 0; }
    // How many waits gave up at the limit since the process started.
    static std::uint64_t waits_given_up() { return given_up_.load(std::memory_order_relaxed); }

private:
    static inline std::atomic<std::uint32_t> taken_count_{0};
    static inline std::atomic<std::uint64_t> given_up_{0};
};

// Open for the lifetime of one burst call; a null slot makes it a no-op.
class burst_section {
public:
    explicit burst_section(burst_sections::slot* s) : slot_(s) {
        // A locked add: a full barrier, so that the driver's read of its flag comes after
        // the waiter can see this section open. Tried without it (2026-12-06: a plain store
        // here, membarrier(2) in the waiter instead): perf put the lock at 1-5% of a busy
        // server's cycles, yet rps on 32 connections over memif ran 15-20% slower without
        // it, in 6 of 6 alternating pairs. Measure the pair, not the profile, before again.
        if (slot_ != nullptr) count_ = slot_->count.fetch_add(1, std::memory_order_seq_cst) + 1;
    }
    ~burst_section() {
        if (slot_ != nullptr) slot_->count.store(count_ + 1, std::memory_order_release);
    }
    burst_section(const burst_section&) = delete;
    burst_section& operator=(const burst_section&) = delete;

private:
    burst_sections::slot* slot_;
    std::uint64_t count_ = 0;
};

// From now on tern's munmap unmaps nothing and says it did: for a process about to end, whose
// mappings go with it (eal::~eal says why). For the last steps of a process only.
void hold_unmaps_until_exit();

} // namespace tern
