// The SACK scoreboard (RFC 6675 §3, §4) and the retransmit log (RFC 3708) over range_set.
#include "tcp/scoreboard.hpp"

#include <algorithm>

namespace tern::tcp {

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
        const std::uint32_t covered = ranges_.covered(left, right);
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

// A block that would need a range more than fit: the lowest range is forgotten, which is
// the block itself when it lies below all the others (that data only looks un-SACKed).
void sack_scoreboard::insert(seq32 left, seq32 right) {
    if (ranges_.insert(left, right)) return;
    if (right < ranges_.front().left) return;
    ranges_.pop_front();
    ranges_.insert(left, right); // touches nothing, and there is room now
}

void sack_scoreboard::advance(seq32 snd_una) {
    if (ranges_.empty()) return; // every ACK of a connection that sees no loss: nothing to do
    ranges_.erase_below(snd_una);
    if (ranges_.empty()) ranges_.clear(); // everything SACKed is acknowledged: the common end of a recovery
}

bool sack_scoreboard::is_lost(seq32 s, std::uint32_t smss) const {
    std::uint32_t bytes = 0;
    std::uint32_t segs = 0;
    for (const seq_range& r : ranges_.ranges()) {
        const std::uint32_t above = overlap(s + 1, r.right, r);
        bytes += above;
        segs += segments(above, smss);
    }
    return segs >= dup_thresh_ || bytes > (dup_thresh_ - 1) * smss;
}

std::optional<seq32> sack_scoreboard::lost_below(std::uint32_t smss) const {
    std::uint32_t bytes = 0;
    std::uint32_t segs = 0;
    const auto ranges = ranges_.ranges();
    for (auto r = ranges.rbegin(); r != ranges.rend(); ++r) {
        const std::uint32_t len = seq_distance(r->left, r->right);
        bytes += len;
        segs += segments(len, smss);
        if (segs >= dup_thresh_ || bytes > (dup_thresh_ - 1) * smss) return r->left;
    }
    return std::nullopt;
}

std::uint32_t sack_scoreboard::pipe(seq32 snd_una, seq32 snd_max, seq32 high_rxt,
                                    std::optional<seq32> lost_end) const {
    // Un-SACKed octets of [a, b).
    auto unsacked = [&](seq32 a, seq32 b) -> std::uint32_t {
        if (!(a < b)) return 0;
        return seq_distance(a, b) - ranges_.covered(a, b);
    };
    const std::uint32_t lost = lost_end ? unsacked(snd_una, seq_min(*lost_end, snd_max)) : 0;
    const std::uint32_t retransmitted = unsacked(snd_una, seq_min(high_rxt, snd_max));
    return unsacked(snd_una, snd_max) - lost + retransmitted;
}

// Sent twice in this episode (an overlap), or more disjoint ranges than fit: the episode
// can no longer be undone.
void retransmit_log::record(seq32 left, seq32 right) {
    if (!active_ || !(left < right)) return;
    if (ranges_.covered(left, right) != 0 || !ranges_.insert(left, right)) stop();
}

std::uint32_t retransmit_log::report(seq32 left, seq32 right) {
    if (!active_ || !(left < right)) return 0;
    if (const auto removed = ranges_.erase(left, right)) return *removed;
    // It lies inside one range, which would split, and no range more fits: all of it was
    // ours, but what is left could no longer be followed.
    stop();
    return seq_distance(left, right);
}

} // namespace tern::tcp
