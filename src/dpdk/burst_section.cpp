#include "dpdk/burst_section.hpp"

#include <array>
#include <mutex>
#include <thread>

#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_interrupts.h>
#include <rte_pause.h>

namespace tern {

namespace {

std::array<burst_sections::slot, burst_sections::slots_max> slots;
std::mutex slots_mutex; // acquire and release only; the waiter reads without it

std::atomic<bool> unmaps_held{false};

} // namespace

void hold_unmaps_until_exit() { unmaps_held.store(true, std::memory_order_release); }

burst_sections::slot* burst_sections::acquire() {
    std::lock_guard lock(slots_mutex);
    for (slot& s : slots) {
        if (s.taken.load(std::memory_order_relaxed)) continue;
        s.count.store(0, std::memory_order_relaxed);
        s.taken.store(true, std::memory_order_release);
        taken_count_.fetch_add(1, std::memory_order_relaxed);
        return &s;
    }
    return nullptr;
}

void burst_sections::release(slot* s) {
    if (s == nullptr) return;
    std::lock_guard lock(slots_mutex);
    s->taken.store(false, std::memory_order_release);
    taken_count_.fetch_sub(1, std::memory_order_relaxed);
}

bool burst_sections::wait_for_open_sections(std::chrono::nanoseconds limit) {
    // Pairs with the section's locked add: the driver's store to its flag, made before this
    // thread unmaps, is visible to every burst that this thread then does not wait for.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const auto give_up = std::chrono::steady_clock::now() + limit;
    bool all_closed = true;
    for (slot& s : slots) {
        if (!s.taken.load(std::memory_order_acquire)) continue;
        const std::uint64_t open = s.count.load(std::memory_order_acquire);
        if (open % 2 == 0) continue;
        for (unsigned spins = 0; s.count.load(std::memory_order_acquire) == open; ++spins) {
            if (std::chrono::steady_clock::now() >= give_up) {
                all_closed = false;
                break;
            }
            // A burst ends in microseconds unless its thread is off the CPU, maybe this one's.
            if (spins < 1000) rte_pause();
            else std::this_thread::yield();
        }
    }
    if (!all_closed) given_up_.fetch_add(1, std::memory_order_relaxed);
    return all_closed;
}

} // namespace tern

namespace {

using munmap_fn = int (*)(void*, size_t);

// The munmap this process would have called without tern's: libc's, or a sanitizer's in
// front of it. Looked up at the first call; a call made while the lookup runs (should dlsym
// ever unmap) goes straight to the kernel.
munmap_fn next_munmap() {
    static std::atomic<munmap_fn> next{nullptr};
    thread_local bool looking_up = false;
    munmap_fn f = next.load(std::memory_order_acquire);
    if (f != nullptr || looking_up) return f;
    looking_up = true;
    f = reinterpret_cast<munmap_fn>(dlsym(RTLD_NEXT, "munmap"));
    looking_up = false;
    next.store(f, std::memory_order_release);
    return f;
}

} // namespace

// Defined in the executable, this munmap is the one every shared library calls, the driver
// included (burst_section.hpp says why). Off the interrupt thread, or with no guarded queue,
// it passes straight through.
extern "C" int munmap(void* addr, size_t length) noexcept {
    if (tern::unmaps_held.load(std::memory_order_acquire)) return 0;
    if (tern::burst_sections::any() && rte_thread_is_intr()) tern::burst_sections::wait_for_open_sections();
    const munmap_fn next = next_munmap();
    if (next != nullptr) return next(addr, length);
    return int(syscall(SYS_munmap, addr, length));
}
