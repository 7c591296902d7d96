// Addresses being resolved by one engine, each with the packets waiting on it and the
// timer that repeats the request: ARP's for IPv4, Neighbor Discovery's for IPv6 (RFC 4861
// §7.2.2: "SHOULD retain a small queue of packets waiting for address resolution"). Bounded
// both ways: resolutions at once, packets each.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/timer_wheel.hpp"
#include "tern/addr.hpp"

struct rte_mbuf;

namespace tern {

template <class Addr>
struct resolution {
    Addr ip;
    std::uint8_t requests_sent = 0;
    bool active = false;
    owned_timer_hook retry;
    std::vector<rte_mbuf*> waiting; // capacity reserved once: no allocation when queueing
};

template <class Addr>
class pending_resolutions {
public:
    using entry = resolution<Addr>;

    pending_resolutions(std::uint16_t max_resolutions, std::uint16_t max_waiting, std::uint16_t max_waiting_total)
        : entries_(new entry[max_resolutions]), max_waiting_(max_waiting), max_waiting_total_(max_waiting_total) {
        free_.reserve(max_resolutions);
        active_.reserve(max_resolutions);
        for (std::uint16_t i = max_resolutions; i > 0; --i) {
            entries_[i - 1].waiting.reserve(std::min(max_waiting, max_waiting_total));
            free_.push_back(&entries_[i - 1]);
        }
    }

    entry* find(const Addr& ip) {
        // A handful at a time in practice: the scan is cheaper than a hash here.
        for (entry* r : active_)
            if (r->ip == ip) return r;
        return nullptr;
    }
    // A fresh resolution for ip, or nullptr when all are in use.
    entry* start(const Addr& ip) {
        if (free_.empty()) return nullptr;
        entry* r = free_.back();
        free_.pop_back();
        r->ip = ip;
        r->requests_sent = 0;
        r->active = true;
        active_.push_back(r);
        return r;
    }
    // Returns the resolution to the free list; its packets must have been taken.
    void finish(entry& r) {
        assert(r.active && r.waiting.empty() && !r.retry.armed());
        r.active = false;
        auto it = std::find(active_.begin(), active_.end(), &r);
        assert(it != active_.end());
        *it = active_.back();
        active_.pop_back();
        free_.push_back(&r);
    }
    // Queues m on r when r and all resolutions together have room; false: the caller keeps m.
    bool wait(entry& r, rte_mbuf* m) {
        if (r.waiting.size() >= max_waiting_ || waiting_total_ >= max_waiting_total_) return false;
        r.waiting.push_back(m);
        ++waiting_total_;
        return true;
    }
    // Hands every packet waiting on r to f, in the order they came, and empties r.
    template <class F>
    void drain(entry& r, F f) {
        waiting_total_ -= r.waiting.size();
        for (rte_mbuf* m : r.waiting) f(m);
        r.waiting.clear();
    }
    std::uint16_t active() const { return std::uint16_t(active_.size()); }
    // The active resolutions (copy: callers finish entries while walking).
    std::vector<entry*> all_active() const { return active_; }

private:
    std::unique_ptr<entry[]> entries_;
    std::vector<entry*> free_;
    std::vector<entry*> active_;
    std::uint16_t max_waiting_;
    std::uint16_t max_waiting_total_;
    std::size_t waiting_total_ = 0;
};

using arp_resolution = resolution<ipv4_addr>;
using arp_pending = pending_resolutions<ipv4_addr>;
using nd_resolution = resolution<ipv6_addr>;
using nd_pending = pending_resolutions<ipv6_addr>;

} // namespace tern
