// A first-in first-out queue for the small queues a connection holds (the send buffer's
// extents, a load generator's outstanding requests). libstdc++'s std::deque allocates
// about 600 bytes as soon as it is constructed. This one keeps its first `Inline` items
// inside itself and goes to a vector only when more are queued at once: a connection that
// lives for one request and its response (a million a second in cps) never touches the
// heap for it, where a plain vector cost a malloc and a free each time (8% of a cps
// server's and client's cycles). Once spilled, the vector's storage is kept and reused.
// Items are contiguous in either place, so iteration is over plain pointers. The vector
// and its read position sit behind one pointer, made at the first spill: a queue that never
// spilled (most connections' queues) costs its inline items and a word.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

namespace tern {

template <typename T, std::size_t Inline = 2>
class fifo {
    static_assert(Inline > 0 && Inline < 256);

public:
    bool empty() const { return size() == 0; }
    std::size_t size() const {
        return spilled_ ? spill_->items.size() - spill_->head : std::size_t(local_end_ - local_head_);
    }

    T& front() { return *first(); }
    const T& front() const { return *first(); }
    T& back() { return *(last() - 1); }
    const T& back() const { return *(last() - 1); }

    void push_back(const T& v) {
        if (spilled_) return spill_->items.push_back(v);
        if (local_end_ < Inline) {
            local_[local_end_++] = v;
            return;
        }
        if (local_head_ > 0) { // room at the front: move the live items down
            for (std::uint8_t i = local_head_; i < local_end_; ++i) local_[i - local_head_] = local_[i];
            local_end_ = std::uint8_t(local_end_ - local_head_);
            local_head_ = 0;
            local_[local_end_++] = v;
            return;
        }
        spill();
        spill_->items.push_back(v);
    }
    void pop_front() {
        assert(!empty());
        if (!spilled_) {
            if (++local_head_ == local_end_) local_head_ = local_end_ = 0;
            return;
        }
        spilled_store& v = *spill_;
        if (++v.head == v.items.size()) clear();
        else if (v.head >= 32 && v.head * 2 >= v.items.size()) compact();
    }
    // Back to the inline items; a vector's storage stays for the next spill.
    void clear() {
        if (spill_) {
            spill_->items.clear();
            spill_->head = 0;
        }
        spilled_ = false;
        local_head_ = local_end_ = 0;
    }

    const T* begin() const { return first(); }
    const T* end() const { return last(); }
    auto rbegin() const { return std::reverse_iterator<const T*>(last()); }
    auto rend() const { return std::reverse_iterator<const T*>(first()); }

private:
    T* first() { return spilled_ ? spill_->items.data() + spill_->head : local_.data() + local_head_; }
    const T* first() const { return spilled_ ? spill_->items.data() + spill_->head : local_.data() + local_head_; }
    T* last() { return spilled_ ? spill_->items.data() + spill_->items.size() : local_.data() + local_end_; }
    const T* last() const {
        return spilled_ ? spill_->items.data() + spill_->items.size() : local_.data() + local_end_;
    }

    void spill() {
        if (!spill_) spill_ = std::make_unique<spilled_store>();
        spill_->items.insert(spill_->items.end(), local_.begin() + local_head_, local_.begin() + local_end_);
        local_head_ = local_end_ = 0;
        spilled_ = true;
    }
    // Moves the live items to the front once at least half the vector is dead, so the
    // vector never grows past twice the queue's longest length.
    void compact() {
        spilled_store& v = *spill_;
        v.items.erase(v.items.begin(), v.items.begin() + std::ptrdiff_t(v.head));
        v.head = 0;
    }

    struct spilled_store {
        std::vector<T> items;
        std::size_t head = 0; // the first live item
    };
    std::array<T, Inline> local_{};
    std::uint8_t local_head_ = 0, local_end_ = 0;
    bool spilled_ = false;
    std::unique_ptr<spilled_store> spill_; // made at the first spill, kept for the next
};

} // namespace tern
