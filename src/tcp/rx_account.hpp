// RCV.USER of RFC 1122 §4.2.3.3 for one connection: the received bytes its application keeps
// beyond on_data (rx_buffer). They count against the receive window, so an application that
// stops consuming closes the window instead of the engine's mbufs running out and packets
// being dropped. Shared by the connection and those buffers, which may be released on another
// thread and may outlive the connection: counted owners, the last one deletes it.
#pragma once

#include <atomic>
#include <cstdint>

namespace tern::tcp {

struct rx_account {
    std::atomic<std::uint32_t> held{0};
    std::atomic<std::uint32_t> owners{1}; // the connection's own reference

    // A buffer of n bytes kept: one more owner.
    void take(std::uint32_t n) {
        held.fetch_add(n, std::memory_order_relaxed);
        owners.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint32_t bytes() const { return held.load(std::memory_order_relaxed); }

    // That buffer released (any thread).
    static void give_back(rx_account* a, std::uint32_t n) {
        a->held.fetch_sub(n, std::memory_order_relaxed);
        unref(a);
    }
    static void unref(rx_account* a) {
        if (a->owners.fetch_sub(1, std::memory_order_acq_rel) == 1) delete a;
    }
};

} // namespace tern::tcp
