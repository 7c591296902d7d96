// Addresses being resolved by one engine, each with the packets waiting on it and the
// timer that repeats the request. Bounded both ways: resolutions at once, packets each.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/timer_wheel.hpp"
#include "tern/addr.hpp"

struct rte_mbuf;

namespace tern {

struct arp_resolution {
    ipv4_addr ip;
    std::uint8_t requests_sent = 0;
    bool active = false;
    timer_hook retry;
    std::vector<rte_mbuf*> waiting; // capacity reserved once: no allocation when queueing
};

class arp_pending {
public:
    arp_pending(std::uint16_t max_resolutions, std::uint16_t max_waiting, std::uint16_t max_waiting_total);

    arp_resolution* find(ipv4_addr ip);
    // A fresh resolution for ip, or nullptr when all are in use.
    arp_resolution* start(ipv4_addr ip);
    // Returns the resolution to the free list; its packets must have been taken.
    void finish(arp_resolution& r);
    // Queues m on r when r and all resolutions together have room; false: the caller keeps m.
    bool wait(arp_resolution& r, rte_mbuf* m) {
        if (r.waiting.size() >= max_waiting_ || waiting_total_ >= max_waiting_total_) return false;
        r.waiting.push_back(m);
        ++waiting_total_;
        return true;
    }
    // Hands every packet waiting on r to f, in the order they came, and empties r.
    template <class F>
    void drain(arp_resolution& r, F f) {
        waiting_total_ -= r.waiting.size();
        for (rte_mbuf* m : r.waiting) f(m);
        r.waiting.clear();
    }
    std::uint16_t active() const { return std::uint16_t(active_.size()); }
    // The active resolutions (copy: callers finish entries while walking).
    std::vector<arp_resolution*> all_active() const { return active_; }

private:
    std::unique_ptr<arp_resolution[]> entries_;
    std::vector<arp_resolution*> free_;
    std::vector<arp_resolution*> active_;
    std::uint16_t max_waiting_;
    std::uint16_t max_waiting_total_;
    std::size_t waiting_total_ = 0;
};

} // namespace tern
