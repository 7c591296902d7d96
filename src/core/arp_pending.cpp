#include "core/arp_pending.hpp"

#include <algorithm>
#include <cassert>

namespace tern {

arp_pending::arp_pending(std::uint16_t max_resolutions, std::uint16_t max_waiting, std::uint16_t max_waiting_total)
    : entries_(new arp_resolution[max_resolutions]), max_waiting_(max_waiting), max_waiting_total_(max_waiting_total) {
    free_.reserve(max_resolutions);
    active_.reserve(max_resolutions);
    for (std::uint16_t i = max_resolutions; i > 0; --i) {
        entries_[i - 1].waiting.reserve(std::min(max_waiting, max_waiting_total));
        free_.push_back(&entries_[i - 1]);
    }
}

arp_resolution* arp_pending::find(ipv4_addr ip) {
    // A handful at a time in practice: the scan is cheaper than a hash here.
    for (arp_resolution* r : active_) {
        if (r->ip == ip) return r;
    }
    return nullptr;
}

arp_resolution* arp_pending::start(ipv4_addr ip) {
    if (free_.empty()) return nullptr;
    arp_resolution* r = free_.back();
    free_.pop_back();
    r->ip = ip;
    r->requests_sent = 0;
    r->active = true;
    active_.push_back(r);
    return r;
}

void arp_pending::finish(arp_resolution& r) {
    assert(r.active && r.waiting.empty() && !r.retry.armed());
    r.active = false;
    auto it = std::find(active_.begin(), active_.end(), &r);
    assert(it != active_.end());
    *it = active_.back();
    active_.pop_back();
    free_.push_back(&r);
}

} // namespace tern
