// A first-in first-out queue on one vector, for the small queues a connection holds (the
// send buffer's extents, a load generator's outstanding requests). libstdc++'s std::deque
// allocates about 600 bytes as soon as it is constructed; this allocates nothing until the
// first push, and its storage is reused once the queue has been emptied, so a million idle
// connections cost a million empty vectors (24 bytes each) and nothing on the heap.
#pragma once

#include <cassert>
#include <cstddef>
#include <vector>

namespace tern {

template <typename T>
class fifo {
public:
    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }

    T& front() { return items_[head_]; }
    const T& front() const { return items_[head_]; }
    T& back() { return items_.back(); }
    const T& back() const { return items_.back(); }

    void push_back(const T& v) { items_.push_back(v); }
    void pop_front() {
        assert(!empty());
        if (++head_ == items_.size()) clear();
        else if (head_ >= 32 && head_ * 2 >= items_.size()) compact();
    }
    void clear() {
        items_.clear();
        head_ = 0;
    }

    auto begin() const { return items_.begin() + std::ptrdiff_t(head_); }
    auto end() const { return items_.end(); }
    auto rbegin() const { return items_.rbegin(); }
    auto rend() const { return items_.rend() - std::ptrdiff_t(head_); }

private:
    // Moves the live items to the front once at least half the vector is dead, so the
    // vector never grows past twice the queue's longest length.
    void compact() {
        items_.erase(items_.begin(), items_.begin() + std::ptrdiff_t(head_));
        head_ = 0;
    }

    std::vector<T> items_;
    std::size_t head_ = 0;
};

} // namespace tern
