// Packets waiting for the NIC. Filled during a round, handed over once with
// tx_burst; what the NIC refuses stays, in order, for the next round.
//
// A ring, with each packet's length kept beside it: a flush costs what the device takes,
// not what it refuses. Under overload the backlog stays full for many rounds, and a
// flush that walked (and shifted) the whole refused backlog every time, touching each
// mbuf's header for its length, cost the engine a tenth of its cycles exactly when it
// had none to spare.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <rte_mbuf.h>

#include "dpdk/device.hpp"

namespace tern {

class tx_buffer {
public:
    explicit tx_buffer(std::uint16_t capacity) : slots_(capacity), lengths_(capacity) {}

    bool full() const { return count_ == slots_.size(); }
    std::uint16_t size() const { return count_; }
    std::uint16_t capacity() const { return std::uint16_t(slots_.size()); }
    // The caller checks full() first (and drops with a reason).
    void push(rte_mbuf* m) {
        const std::size_t i = index(count_++);
        slots_[i] = m;
        lengths_[i] = rte_pktmbuf_pkt_len(m);
    }

    struct flushed {
        std::uint16_t packets = 0;
        std::uint64_t bytes = 0;
    };
    // Hands as much as the device takes, oldest first, in at most two contiguous runs
    // (before and after the ring's wrap). Lengths come from our own copy: once the
    // device has a packet it may already be freed.
    flushed flush(device& dev) {
        flushed done;
        while (count_ > 0) {
            const auto run = std::uint16_t(std::min<std::size_t>(count_, slots_.size() - head_));
            const std::uint16_t took = dev.tx_burst(slots_.data() + head_, run);
            for (std::uint16_t i = 0; i < took; ++i) done.bytes += lengths_[head_ + i];
            done.packets = std::uint16_t(done.packets + took);
            head_ = index(took);
            count_ = std::uint16_t(count_ - took);
            if (took < run) break;
        }
        return done;
    }

    // Takes the oldest packet out (it was refused too long): the caller frees it.
    rte_mbuf* pop_front() {
        rte_mbuf* m = slots_[head_];
        head_ = index(1);
        --count_;
        return m;
    }

    // Returns what is left, oldest first (shutdown): the caller frees.
    std::vector<rte_mbuf*> take_all() {
        std::vector<rte_mbuf*> out;
        out.reserve(count_);
        while (count_ > 0) out.push_back(pop_front());
        return out;
    }

private:
    std::size_t index(std::size_t from_head) const {
        const std::size_t i = head_ + from_head;
        return i >= slots_.size() ? i - slots_.size() : i;
    }

    std::vector<rte_mbuf*> slots_;
    std::vector<std::uint32_t> lengths_;
    std::uint16_t head_ = 0;
    std::uint16_t count_ = 0;
};

} // namespace tern
