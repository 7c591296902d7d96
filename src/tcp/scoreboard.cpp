// The SACK scoreboard (RFC 6675 §3, §4): sorted disjoint ranges, at most max_ranges.
#include "tcp/scoreboard.hpp"

#include <algorithm>

namespace tern::tcp {

namespace {

// Octets of [a, b) that [l, r) covers.
std::uint32_t overlap(seq32 a, seq32 b, seq32 l, seq32 r) {
    const seq32 lo = seq_max(a, l);
    const seq32 hi = seq_min(b, r);
    return lo < hi ? seq_distance(lo, hi) : 0;
}

} // namespace

std::uint32_t sack_scoreboard::update(seq32 snd_una, seq32 snd_max, std::span<const wire::sack_block> blocks) {
    std::uint32_t newly = 0;
    for (const auto& b : blocks) {
        seq32 left(b.left);
        const seq32 right(b.right);
        // RFC 2018 §3: a block is [left, right) with left < right. RFC 2883 §4: a D-SACK
        // block at or below SND.UNA reports a duplicate; it SACKs nothing new. A block
        // beyond SND.MAX acknowledges what we never sent: ignore it.
        if (!(left < right) || right <= snd_una || snd_max < right) continue;
        left = seq_max(left, snd_una);
        std::uint32_t covered = 0;
        for (std::size_t i = 0; i < count_; ++i) covered += overlap(left, right, ranges_[i].left, ranges_[i].right);
        newly += seq_distance(left, right) - covered;
        if (covered < seq_distance(left, right)) insert(left, right);
    }
    return newly;
}

std::optional<seq_range> sack_scoreboard::dsack_block(seq32 seg_ack, std::span<const wire::sack_block> blocks) {
    if (blocks.empty()) return std::nullopt;
    const seq32 left(blocks[0].left);
    const seq32 right(blocks[0].right);
    if (!(left < right)) return std::nullopt; // RFC 2018 §3: left < right
    if (right <= seg_ack) return seq_range{left, right};
    if (blocks.size() >= 2 && seq32(blocks[1].left) <= left && right <= seq32(blocks[1].right))
        return seq_range{left, right};
    return std::nullopt;
}

void sack_scoreboard::insert(seq32 left, seq32 right) {
    ranges_.ensure();
    std::size_t i = 0;
    while (i < count_ && ranges_[i].right < left) ++i; // wholly before, not touching
    std::size_t j = i;
    while (j < count_ && ranges_[j].left <= right) { // overlapping or adjacent: merge
        left = seq_min(left, ranges_[j].left);
        right = seq_max(right, ranges_[j].right);
        ++j;
    }
    if (i < j) { // merged into ranges_[i], the others [i+1, j) go
        ranges_[i] = {left, right};
        std::copy(ranges_.begin() + std::ptrdiff_t(j), ranges_.begin() + std::ptrdiff_t(count_),
                  ranges_.begin() + std::ptrdiff_t(i + 1));
        count_ -= j - i - 1;
        return;
    }
    if (count_ == max_ranges) { // full: forget the lowest range (it may be this one)
        if (i == 0) return;
        std::copy(ranges_.begin() + 1, ranges_.begin() + std::ptrdiff_t(count_), ranges_.begin());
        --count_;
        --i;
    }
    std::copy_backward(ranges_.begin() + std::ptrdiff_t(i), ranges_.begin() + std::ptrdiff_t(count_),
                       ranges_.begin() + std::ptrdiff_t(count_ + 1));
    ranges_[i] = {left, right};
    ++count_;
}

void sack_scoreboard::advance(seq32 snd_una) {
    if (count_ == 0) return; // every ACK of a connection that sees no loss: nothing to do
    std::size_t i = 0;
    while (i < count_ && ranges_[i].right <= snd_una) ++i;
    std::copy(ranges_.begin() + std::ptrdiff_t(i), ranges_.begin() + std::ptrdiff_t(count_), ranges_.begin());
    count_ -= i;
    if (count_ == 0) ranges_.release(); // everything SACKed is acknowledged: the common end of a recovery
    else if (ranges_[0].left < snd_una) ranges_[0].left = snd_una;
}

bool sack_scoreboard::is_sacked(seq32 s) const {
    for (std::size_t i = 0; i < count_; ++i)
        if (in_range(ranges_[i].left, s, ranges_[i].right)) return true;
    return false;
}

std::uint32_t sack_scoreboard::sacked_bytes() const {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += seq_distance(ranges_[i].left, ranges_[i].right);
    return n;
}

std::uint32_t sack_scoreboard::sacked_in(seq32 a, seq32 b) const {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += overlap(a, b, ranges_[i].left, ranges_[i].right);
    return n;
}

bool sack_scoreboard::is_lost(seq32 s, std::uint32_t smss) const {
    std::uint32_t bytes = 0;
    std::uint32_t segs = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        const std::uint32_t above = overlap(s + 1, ranges_[i].right, ranges_[i].left, ranges_[i].right);
        bytes += above;
        segs += segments(above, smss);
    }
    return segs >= dup_thresh_ || bytes > (dup_thresh_ - 1) * smss;
}

std::optional<seq32> sack_scoreboard::lost_below(std::uint32_t smss) const {
    std::uint32_t bytes = 0;
    std::uint32_t segs = 0;
    for (std::size_t i = count_; i-- > 0;) {
        const std::uint32_t len = seq_distance(ranges_[i].left, ranges_[i].right);
        bytes += len;
        segs += segments(len, smss);
        if (segs >= dup_thresh_ || bytes > (dup_thresh_ - 1) * smss) return ranges_[i].left;
    }
    return std::nullopt;
}

std::uint32_t sack_scoreboard::pipe(seq32 snd_una, seq32 snd_max, seq32 high_rxt, std::uint32_t smss) const {
    // Un-SACKed octets of [a, b).
    auto unsacked = [&](seq32 a, seq32 b) -> std::uint32_t {
        if (!(a < b)) return 0;
        std::uint32_t n = seq_distance(a, b);
        for (std::size_t i = 0; i < count_; ++i) n -= overlap(a, b, ranges_[i].left, ranges_[i].right);
        return n;
    };
    const auto lost_end = lost_below(smss);
    const std::uint32_t lost = lost_end ? unsacked(snd_una, seq_min(*lost_end, snd_max)) : 0;
    const std::uint32_t retransmitted = unsacked(snd_una, seq_min(high_rxt, snd_max));
    return unsacked(snd_una, snd_max) - lost + retransmitted;
}

std::optional<seq_range> sack_scoreboard::next_hole(seq32 from, seq32 limit) const {
    seq32 s = from;
    for (std::size_t i = 0; i < count_ && s < limit; ++i) {
        if (ranges_[i].right <= s) continue;
        if (ranges_[i].left <= s) {
            s = ranges_[i].right;
            continue;
        }
        return seq_range{s, seq_min(ranges_[i].left, limit)};
    }
    if (s < limit) return seq_range{s, limit};
    return std::nullopt;
}

void retransmit_log::record(seq32 left, seq32 right) {
    if (!active_ || !(left < right)) return;
    ranges_.ensure();
    std::size_t i = 0;
    while (i < count_ && ranges_[i].right < left) ++i;
    if (i < count_ && ranges_[i].left < right && left < ranges_[i].right) return stop(); // sent twice in this episode
    if (i < count_ && ranges_[i].right == left) { // recovery resends in order: extend
        ranges_[i].right = right;
        if (i + 1 < count_ && right == ranges_[i + 1].left) { // and now touches the next
            ranges_[i].right = ranges_[i + 1].right;
            std::copy(ranges_.begin() + std::ptrdiff_t(i + 2), ranges_.begin() + std::ptrdiff_t(count_),
                      ranges_.begin() + std::ptrdiff_t(i + 1));
            --count_;
        } else if (i + 1 < count_ && ranges_[i + 1].left < right) {
            return stop();
        }
        return;
    }
    if (i < count_ && ranges_[i].left == right) {
        ranges_[i].left = left;
        return;
    }
    if (count_ == max_ranges) return stop();
    std::copy_backward(ranges_.begin() + std::ptrdiff_t(i), ranges_.begin() + std::ptrdiff_t(count_),
                       ranges_.begin() + std::ptrdiff_t(count_ + 1));
    ranges_[i] = {left, right};
    ++count_;
}

std::uint32_t retransmit_log::report(seq32 left, seq32 right) {
    if (!active_ || !(left < right)) return 0;
    std::uint32_t removed = 0;
    for (std::size_t i = 0; i < count_;) {
        seq_range& r = ranges_[i];
        const seq32 lo = seq_max(left, r.left);
        const seq32 hi = seq_min(right, r.right);
        if (!(lo < hi)) {
            ++i;
            continue;
        }
        removed += seq_distance(lo, hi);
        if (r.left < lo && hi < r.right) { // the report splits the range
            if (count_ == max_ranges) {
                stop();
                return removed;
            }
            std::copy_backward(ranges_.begin() + std::ptrdiff_t(i + 1), ranges_.begin() + std::ptrdiff_t(count_),
                               ranges_.begin() + std::ptrdiff_t(count_ + 1));
            ranges_[i + 1] = {hi, r.right};
            r.right = lo;
            ++count_;
            i += 2;
        } else if (r.left < lo) {
            r.right = lo;
            ++i;
        } else if (hi < r.right) {
            r.left = hi;
            ++i;
        } else { // wholly reported
            std::copy(ranges_.begin() + std::ptrdiff_t(i + 1), ranges_.begin() + std::ptrdiff_t(count_),
                      ranges_.begin() + std::ptrdiff_t(i));
            --count_;
        }
    }
    return removed;
}

} // namespace tern::tcp
