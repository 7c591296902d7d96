#include "tcp/reassembly.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

namespace tern::tcp {

reassembly_queue::reassembly_queue(std::uint32_t capacity) : capacity_(capacity) {
    assert(std::has_single_bit(capacity));
}

bool reassembly_queue::insert(seq32 rcv_nxt, seq32 seq, std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return true;
    blocks_.erase_below(rcv_nxt);
    // Overlaps and duplicates merge into the ranges held; a range more than fit: dropped.
    if (!blocks_.insert(seq, seq + std::uint32_t(bytes.size()))) return false;

    if (!storage_) storage_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_); // read only where written
    const std::uint32_t pos = position(seq);
    const std::uint32_t first = std::min<std::uint32_t>(std::uint32_t(bytes.size()), capacity_ - pos);
    std::memcpy(storage_.get() + pos, bytes.data(), first);
    std::memcpy(storage_.get(), bytes.data() + first, bytes.size() - first);
    latest_ = seq;
    return true;
}

reassembly_queue::contiguous reassembly_queue::take(seq32 rcv_nxt) {
    blocks_.erase_below(rcv_nxt);
    if (blocks_.empty() || blocks_.front().left != rcv_nxt) return {};
    const std::uint32_t len = seq_distance(blocks_.front().left, blocks_.front().right);
    const std::uint32_t pos = position(rcv_nxt);
    const std::uint32_t first = std::min(len, capacity_ - pos);
    blocks_.pop_front();
    return {{storage_.get() + pos, first}, {storage_.get(), len - first}};
}

void reassembly_queue::release_if_empty() {
    if (!blocks_.empty()) return;
    storage_.reset();
    blocks_.clear();
}

bool reassembly_queue::set_capacity(std::uint32_t capacity) {
    assert(std::has_single_bit(capacity));
    if (storage_) return false;
    capacity_ = capacity;
    return true;
}

std::size_t reassembly_queue::sack_blocks(std::span<seq_range> out) const {
    const auto held = blocks_.ranges();
    std::size_t n = 0;
    std::size_t latest = held.size();
    for (std::size_t i = 0; i < held.size(); ++i)
        if (held[i].left <= latest_ && latest_ < held[i].right) latest = i;
    if (latest < held.size() && n < out.size()) out[n++] = held[latest];
    for (std::size_t i = 0; i < held.size() && n < out.size(); ++i)
        if (i != latest) out[n++] = held[i];
    return n;
}

} // namespace tern::tcp
