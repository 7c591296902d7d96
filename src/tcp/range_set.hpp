// A set of sequence numbers held as at most N sorted, disjoint ranges, no two of them
// touching (ranges that meet are one). The interval bookkeeping the SACK scoreboard (what
// the peer SACKed), the retransmit log (what a recovery sent again) and the reassembly
// queue (what arrived out of order) share; each of them decides what to do when a range
// would not fit, which is where they differ.
//
// Ranges compare modulo 2^32 (seq.hpp), so everything in a set must lie within 2^31 of
// everything else: a window (at most 2^30, RFC 7323 §2.3) keeps it so.
//
// The ranges live in a lazy_array: nothing on the heap until the first insert, and the
// owner gives it back with clear(). Header-only: these run on every ACK and segment that
// sees loss or reordering, over a handful of ranges.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/lazy_array.hpp"
#include "tcp/seq.hpp"

namespace tern::tcp {

struct seq_range {
    seq32 left;  // first sequence number held
    seq32 right; // one past the last
};

// Octets of [a, b) that r covers.
constexpr std::uint32_t overlap(seq32 a, seq32 b, seq_range r) {
    const seq32 lo = seq_max(a, r.left);
    const seq32 hi = seq_min(b, r.right);
    return lo < hi ? seq_distance(lo, hi) : 0;
}

template <std::size_t N>
class range_set {
public:
    static constexpr std::size_t max_ranges = N;

    bool empty() const { return count_ == 0; }
    bool full() const { return count_ == N; }
    std::size_t size() const { return count_; }
    std::span<const seq_range> ranges() const { return {ranges_.data(), count_}; }
    // The lowest and the highest range; only when not empty.
    const seq_range& front() const { return ranges_[0]; }
    const seq_range& back() const { return ranges_[count_ - 1]; }
    std::size_t heap_bytes() const { return ranges_.heap_bytes(); }

    // Forgets every range and gives the storage back.
    void clear() {
        count_ = 0;
        ranges_.release();
    }

    // Adds [left, right), left < right, merged with every range it overlaps or touches.
    // False when it touches none and N ranges are held: nothing changes then.
    bool insert(seq32 left, seq32 right) {
        std::size_t i = 0;
        while (i < count_ && ranges_[i].right < left) ++i; // wholly before, not touching
        std::size_t j = i;
        while (j < count_ && ranges_[j].left <= right) { // overlapping or touching: merge
            left = seq_min(left, ranges_[j].left);
            right = seq_max(right, ranges_[j].right);
            ++j;
        }
        if (i < j) { // merged into ranges_[i]; those of [i + 1, j) go
            seq_range* r = ranges_.data();
            r[i] = {left, right};
            std::copy(r + j, r + count_, r + i + 1);
            count_ -= j - i - 1;
            return true;
        }
        if (count_ == N) return false;
        seq_range* r = ranges_.ensure();
        std::copy_backward(r + i, r + count_, r + count_ + 1);
        r[i] = {left, right};
        ++count_;
        return true;
    }

    // Takes [left, right), left < right, out of the set. Returns the octets that were in it;
    // none when that would split a range in two and N ranges are held: nothing changes then.
    std::optional<std::uint32_t> erase(seq32 left, seq32 right) {
        std::uint32_t removed = 0;
        seq_range* r = ranges_.data();
        for (std::size_t i = 0; i < count_ && r[i].left < right;) {
            const seq32 lo = seq_max(left, r[i].left);
            const seq32 hi = seq_min(right, r[i].right);
            if (!(lo < hi)) {
                ++i;
                continue;
            }
            if (r[i].left < lo && hi < r[i].right) { // [left, right) lies inside: the only range it touches
                if (count_ == N) return std::nullopt;
                std::copy_backward(r + i + 1, r + count_, r + count_ + 1);
                r[i + 1] = {hi, r[i].right};
                r[i].right = lo;
                ++count_;
                return seq_distance(lo, hi);
            }
            removed += seq_distance(lo, hi);
            if (r[i].left < lo) {
                r[i].right = lo;
                ++i;
            } else if (hi < r[i].right) {
                r[i].left = hi;
                ++i;
            } else { // wholly inside [left, right)
                std::copy(r + i + 1, r + count_, r + i);
                --count_;
            }
        }
        return removed;
    }

    // Forgets everything below s (the storage stays).
    void erase_below(seq32 s) {
        if (count_ == 0) return;
        seq_range* r = ranges_.data();
        std::size_t gone = 0;
        while (gone < count_ && r[gone].right <= s) ++gone;
        std::copy(r + gone, r + count_, r);
        count_ -= gone;
        if (count_ > 0 && r[0].left < s) r[0].left = s;
    }

    // Forgets the lowest range; only when not empty.
    void pop_front() {
        seq_range* r = ranges_.data();
        std::copy(r + 1, r + count_, r);
        --count_;
    }

    // Whether the octet s is in the set.
    bool contains(seq32 s) const {
        for (const seq_range& r : ranges())
            if (in_range(r.left, s, r.right)) return true;
        return false;
    }
    // Whether all of [left, right) is (ranges never touch, so it lies within one).
    bool contains(seq32 left, seq32 right) const {
        for (const seq_range& r : ranges())
            if (r.left <= left && right <= r.right) return true;
        return false;
    }
    // Octets in the set in total, and within [a, b).
    std::uint32_t bytes() const {
        std::uint32_t n = 0;
        for (const seq_range& r : ranges()) n += seq_distance(r.left, r.right);
        return n;
    }
    std::uint32_t covered(seq32 a, seq32 b) const {
        std::uint32_t n = 0;
        for (const seq_range& r : ranges()) n += overlap(a, b, r);
        return n;
    }

    // The first range of octets not in the set at or after `from`, below `limit`:
    // [first, end) where end is the next octet in the set, or limit. None when every octet
    // of [from, limit) is in the set.
    std::optional<seq_range> next_gap(seq32 from, seq32 limit) const {
        seq32 s = from;
        for (std::size_t i = 0; i < count_ && s < limit; ++i) {
            const seq_range& r = ranges_[i];
            if (r.right <= s) continue;
            if (r.left <= s) {
                s = r.right;
                continue;
            }
            return seq_range{s, seq_min(r.left, limit)};
        }
        if (s < limit) return seq_range{s, limit};
        return std::nullopt;
    }

private:
    lazy_array<seq_range, N> ranges_; // sorted, disjoint, not touching; allocated at the first insert
    std::size_t count_ = 0;
};

} // namespace tern::tcp
