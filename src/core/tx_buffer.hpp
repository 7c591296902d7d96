// Packets waiting for the NIC. Filled during a round, handed over once with
// tx_burst; what the NIC refuses stays, in order, for the next round.
#pragma once

#include <cstdint>
#include <vector>

#include <rte_mbuf.h>

#include "dpdk/device.hpp"

namespace tern {

class tx_buffer {
public:
    explicit tx_buffer(std::uint16_t capacity) : slots_(capacity) {}

    bool full() const { return count_ == slots_.size(); }
    std::uint16_t size() const { return count_; }
    // The caller checks full() first (and flushes or drops with a reason).
    void push(rte_mbuf* m) { slots_[count_++] = m; }

    struct flushed {
        std::uint16_t packets = 0;
        std::uint64_t bytes = 0;
    };
    // Hands as much as the device takes. Lengths are read before the hand-over: once
    // the device has a packet it may already be freed.
    flushed flush(device& dev) {
        if (count_ == 0) return {};
        std::uint64_t bytes = 0;
        for (std::uint16_t i = 0; i < count_; ++i) bytes += rte_pktmbuf_pkt_len(slots_[i]);
        std::uint16_t took = dev.tx_burst(slots_.data(), count_);
        for (std::uint16_t i = took; i < count_; ++i) {
            bytes -= rte_pktmbuf_pkt_len(slots_[i]);
            slots_[i - took] = slots_[i];
        }
        count_ -= took;
        return {took, bytes};
    }

    // Takes the oldest packet out (it was refused too long): the caller frees it.
    rte_mbuf* pop_front() {
        rte_mbuf* m = slots_[0];
        for (std::uint16_t i = 1; i < count_; ++i) slots_[i - 1] = slots_[i];
        --count_;
        return m;
    }

    // Returns what is left (shutdown): the caller frees.
    std::vector<rte_mbuf*> take_all() {
        std::vector<rte_mbuf*> out(slots_.begin(), slots_.begin() + count_);
        count_ = 0;
        return out;
    }

private:
    std::vector<rte_mbuf*> slots_;
    std::uint16_t count_ = 0;
};

} // namespace tern
