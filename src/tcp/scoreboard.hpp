// The SACK scoreboard of RFC 6675 §3: what the peer has selectively acknowledged above
// SND.UNA (RFC 2018 blocks from its ACKs), and the queries loss recovery asks of it:
// IsLost, NextSeg's choice of hole, and the octets of SetPipe.
//
// Bounded memory and no per-byte or per-segment state: at most max_ranges disjoint SACKed
// ranges, sorted (a range_set). The segments a range holds are estimated when IsLost asks,
// from its length in SMSS, rounded up (exact for full-sized segments). When a new range
// would not fit, the lowest one is forgotten: that data only looks un-SACKed again and is,
// at worst, sent twice.
//
// On an RTO the connection keeps the scoreboard (RFC 6675 §5.1 lets Update() go on), so
// the go-back-N skips SACKed data; it clears it when the same segment times out again, in
// case the receiver reneged (RFC 2018 §8). See connection::on_rto.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tcp/range_set.hpp"
#include "tcp/seq.hpp"
#include "wire/tcp.hpp"

namespace tern::tcp {

class sack_scoreboard {
public:
    static constexpr std::size_t max_ranges = 16;
    static constexpr std::uint32_t default_dup_thresh = 3; // RFC 6675 §2 DupThresh
    static constexpr std::uint32_t max_dup_thresh = 16;    // bound on what reordering raises it to

    // DupThresh: RFC 6675's 3 until reordering is seen (RFC 4653 §3: raised by the extent
    // of a reordering that caused a needless fast retransmit); never below 3.
    std::uint32_t dup_thresh() const { return dup_thresh_; }
    void raise_dup_thresh(std::uint32_t t) { dup_thresh_ = std::max(dup_thresh_, std::min(t, max_dup_thresh)); }

    bool empty() const { return ranges_.empty(); }
    std::size_t size() const { return ranges_.size(); }
    std::span<const seq_range> ranges() const { return ranges_.ranges(); }
    void clear() { ranges_.clear(); }
    std::size_t heap_bytes() const { return ranges_.heap_bytes(); }

    // RFC 6675 §3 Update(): records the blocks of one ACK. A block is used only when it
    // lies within [snd_una, snd_max] and is not empty (RFC 2018 §3 blocks are left < right);
    // a D-SACK block (RFC 2883 §4) reports data at or below SND.UNA, or data already
    // SACKed, and so adds nothing. Returns the number of octets newly SACKed: RFC 6675 §2
    // calls an ACK that SACKs new octets a duplicate acknowledgment.
    std::uint32_t update(seq32 snd_una, seq32 snd_max, std::span<const wire::sack_block> blocks);

    // The D-SACK block of an ACK, if it has one. RFC 2883 §4 puts it first; RFC 3708 §2
    // (RFC 2883 §5): the first block reports a duplicate when it lies at or below the
    // cumulative ACK of the same segment, or within the second block.
    static std::optional<seq_range> dsack_block(seq32 seg_ack, std::span<const wire::sack_block> blocks);

    // Forgets everything below a new SND.UNA (the cumulative ACK covers it).
    void advance(seq32 snd_una);

    // Whether the octet `s` was SACKed.
    bool is_sacked(seq32 s) const { return ranges_.contains(s); }
    // One past the highest SACKed octet; snd_una if none.
    seq32 highest_sacked(seq32 snd_una) const { return ranges_.empty() ? snd_una : ranges_.back().right; }
    // Octets SACKed in total, and within [a, b).
    std::uint32_t sacked_bytes() const { return ranges_.bytes(); }
    std::uint32_t sacked_in(seq32 a, seq32 b) const { return ranges_.covered(a, b); }

    // RFC 6675 §4 IsLost(SeqNum): "DupThresh discontiguous SACKed sequences have arrived
    // above 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with sequence numbers
    // greater than 'SeqNum' have been SACKed." For an un-SACKed octet, that holds exactly
    // below lost_below(smss): the sum above an octet only grows as the octet moves down.
    bool is_lost(seq32 s, std::uint32_t smss) const;
    // The point below which every un-SACKed octet is lost (the left edge of a SACKed
    // range); none when no octet is.
    std::optional<seq32> lost_below(std::uint32_t smss) const;

    // RFC 6675 §4 SetPipe(): each un-SACKed octet in [snd_una, snd_max) counts once if it
    // is not lost and once more if it was retransmitted (below high_rxt, one past the
    // highest octet retransmitted; snd_una when none was).
    std::uint32_t pipe(seq32 snd_una, seq32 snd_max, seq32 high_rxt, std::uint32_t smss) const {
        return pipe(snd_una, snd_max, high_rxt, lost_below(smss));
    }
    // The same with the lost octets given: those below lost_end (RACK may find more).
    std::uint32_t pipe(seq32 snd_una, seq32 snd_max, seq32 high_rxt, std::optional<seq32> lost_end) const;

    // The first un-SACKed range at or after `from`, below `limit`: [first, end) where end
    // is the next SACKed octet or limit. None when everything in [from, limit) is SACKed.
    std::optional<seq_range> next_hole(seq32 from, seq32 limit) const { return ranges_.next_gap(from, limit); }

private:
    void insert(seq32 left, seq32 right);
    static std::uint32_t segments(std::uint32_t bytes, std::uint32_t smss) { return (bytes + smss - 1) / smss; }

    range_set<max_ranges> ranges_; // allocated while it holds any
    std::uint32_t dup_thresh_ = default_dup_thresh;
};

// The octets retransmitted in one loss recovery episode (fast retransmit or timeout) that
// no D-SACK has reported yet. RFC 3708 §3: when every retransmission of the episode is
// reported received twice, none was needed, and the episode's congestion response can be
// undone (RFC 4015 §3). Bounded: an octet retransmitted twice in the episode (which one
// D-SACK could not tell apart from a lost first retransmission) or more disjoint ranges
// than fit, and the episode can no longer be undone.
class retransmit_log {
public:
    static constexpr std::size_t max_ranges = 8;

    void start() {
        ranges_.clear();
        active_ = true;
    }
    void stop() {
        ranges_.clear();
        active_ = false;
    }
    std::size_t heap_bytes() const { return ranges_.heap_bytes(); }
    // Whether an episode is open and still undoable.
    bool active() const { return active_; }
    // Whether every octet retransmitted in the episode has been D-SACKed.
    bool all_reported() const { return active_ && ranges_.empty(); }
    // Records [left, right) as sent again.
    void record(seq32 left, seq32 right);
    // Removes what the D-SACK block [left, right) reports; returns the octets removed (0: a
    // duplicate of data sent once, which the network made).
    std::uint32_t report(seq32 left, seq32 right);

private:
    range_set<max_ranges> ranges_; // allocated at the first record()
    bool active_ = false;
};

} // namespace tern::tcp
