// Out-of-order data waiting for the hole before it to fill (RFC 9293 §3.10.7.4 seventh:
// segments beyond RCV.NXT are held). Bounded memory: the bytes live in a ring as large as
// the receive window, at the position given by their sequence number, and at most
// max_blocks disjoint ranges are tracked; a segment that would need more is dropped (the
// peer retransmits it). Overlaps and duplicates merge into the existing ranges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "tcp/range_set.hpp"
#include "tcp/seq.hpp"

namespace tern::tcp {

class reassembly_queue {
public:
    static constexpr std::size_t max_blocks = 8;

    // capacity: a power of two, at least the receive window.
    explicit reassembly_queue(std::uint32_t capacity);

    bool empty() const { return blocks_.empty(); }
    // Whether [left, right) is all held already (a duplicate of out-of-order data).
    bool holds(seq32 left, seq32 right) const { return blocks_.contains(left, right); }
    std::span<const seq_range> blocks() const { return blocks_.ranges(); }
    // What the ring and the block table take on the heap (nothing while nothing is held).
    std::size_t heap_bytes() const { return (storage_ ? capacity_ : 0) + blocks_.heap_bytes(); }

    // Holds `bytes` starting at `seq`; the caller has trimmed them to the receive window
    // [rcv_nxt, rcv_nxt + capacity) with seq > rcv_nxt. False: no room for another range.
    bool insert(seq32 rcv_nxt, seq32 seq, std::span<const std::uint8_t> bytes);

    // Forgets everything before rcv_nxt, then returns the bytes held from rcv_nxt onwards
    // that are contiguous with it (in up to two pieces, valid until the next insert) and
    // removes them from the queue.
    struct contiguous {
        std::span<const std::uint8_t> head, tail;
        std::uint32_t size() const { return std::uint32_t(head.size() + tail.size()); }
    };
    contiguous take(seq32 rcv_nxt);
    // Gives the ring and the block table back when nothing is held (a filled hole), so a
    // connection that once saw loss does not keep a receive window's worth of memory. The
    // spans of earlier take() calls die with the ring.
    void release_if_empty();
    // A new capacity (a power of two), while the ring is not allocated: false otherwise.
    bool set_capacity(std::uint32_t capacity);

    // RFC 2018 §4: the block holding the most recently received segment comes first, the
    // others follow in sequence order.
    std::size_t sack_blocks(std::span<seq_range> out) const;

    // A FIN that arrived out of order: its sequence number.
    std::optional<seq32> fin;

private:
    std::uint32_t position(seq32 s) const { return s.raw() & (capacity_ - 1); }

    std::unique_ptr<std::uint8_t[]> storage_; // allocated with blocks_ at an out-of-order segment
    std::uint32_t capacity_;
    range_set<max_blocks> blocks_; // what storage_ holds
    seq32 latest_; // a sequence number of the most recent insert
};

} // namespace tern::tcp
