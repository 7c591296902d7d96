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
    drop_front(rcv_nxt);
    const seq_range added{seq, seq + std::uint32_t(bytes.size())};

    // Merge into a sorted, disjoint list; ranges that touch or overlap become one.
    std::array<seq_range, max_blocks + 1> merged{};
    std::size_t n = 0;
    bool placed = false;
    auto append = [&](seq_range r) {
        if (n > 0 && r.left <= merged[n - 1].right) {
            merged[n - 1].right = seq_max(merged[n - 1].right, r.right);
        } else {
            merged[n++] = r;
        }
    };
    for (std::size_t i = 0; i < count_; ++i) {
        if (!placed && added.left < blocks_[i].left) {
            append(added);
            placed = true;
        }
        append(blocks_[i]);
    }
    if (!placed) append(added);
    if (n > max_blocks) return false;

    if (!storage_) storage_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_); // read only where written
    const std::uint32_t pos = position(seq);
    const std::uint32_t first = std::min<std::uint32_t>(std::uint32_t(bytes.size()), capacity_ - pos);
    std::memcpy(storage_.get() + pos, bytes.data(), first);
    std::memcpy(storage_.get(), bytes.data() + first, bytes.size() - first);

    std::copy_n(merged.begin(), n, blocks_.ensure());
    count_ = n;
    latest_ = seq;
    return true;
}

void reassembly_queue::drop_front(seq32 rcv_nxt) {
    std::size_t gone = 0;
    while (gone < count_ && blocks_[gone].right <= rcv_nxt) ++gone;
    std::copy(blocks_.begin() + gone, blocks_.begin() + count_, blocks_.begin());
    count_ -= gone;
    if (count_ > 0 && blocks_[0].left < rcv_nxt) blocks_[0].left = rcv_nxt;
}

reassembly_queue::contiguous reassembly_queue::take(seq32 rcv_nxt) {
    drop_front(rcv_nxt);
    if (count_ == 0 || blocks_[0].left != rcv_nxt) return {};
    const std::uint32_t len = seq_distance(blocks_[0].left, blocks_[0].right);
    const std::uint32_t pos = position(rcv_nxt);
    const std::uint32_t first = std::min(len, capacity_ - pos);
    std::copy(blocks_.begin() + 1, blocks_.begin() + count_, blocks_.begin());
    --count_;
    return {{storage_.get() + pos, first}, {storage_.get(), len - first}};
}

void reassembly_queue::release_if_empty() {
    if (count_ != 0) return;
    storage_.reset();
    blocks_.release();
}

std::size_t reassembly_queue::sack_blocks(std::span<seq_range> out) const {
    std::size_t n = 0;
    std::size_t latest = count_;
    for (std::size_t i = 0; i < count_; ++i)
        if (blocks_[i].left <= latest_ && latest_ < blocks_[i].right) latest = i;
    if (latest < count_ && n < out.size()) out[n++] = blocks_[latest];
    for (std::size_t i = 0; i < count_ && n < out.size(); ++i)
        if (i != latest) out[n++] = blocks_[i];
    return n;
}

bool reassembly_queue::holds(seq32 left, seq32 right) const {
    for (std::size_t i = 0; i < count_; ++i)
        if (blocks_[i].left <= left && right <= blocks_[i].right) return true;
    return false;
}

} // namespace tern::tcp
