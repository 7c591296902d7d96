// The send buffer: a bounded byte ring holding what the application handed to send() and
// the peer has not acknowledged yet. Byte 0 of the ring is the byte at SND.UNA (or ISS+1
// before our SYN is acknowledged). send() copies into it; a zero-copy send would instead
// append references to the application's buffers (mbufs) to a chain with the same
// interface (push / pop / view).
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "tcp/types.hpp"

namespace tern::tcp {

class send_buffer {
public:
    explicit send_buffer(std::uint32_t capacity) : capacity_(capacity) {}

    std::uint32_t size() const { return size_; }
    std::uint32_t space() const { return capacity_ - size_; }
    std::uint32_t capacity() const { return capacity_; }

    // Copies as much of `bytes` as fits and returns how much that was.
    std::uint32_t push(std::span<const std::uint8_t> bytes) {
        const auto n = std::uint32_t(std::min<std::size_t>(bytes.size(), space()));
        if (n == 0) return 0;
        if (!storage_) storage_ = std::make_unique<std::uint8_t[]>(capacity_); // first send only
        const std::uint32_t tail = (head_ + size_) % capacity_;
        const std::uint32_t first = std::min(n, capacity_ - tail);
        std::memcpy(storage_.get() + tail, bytes.data(), first);
        std::memcpy(storage_.get(), bytes.data() + first, n - first);
        size_ += n;
        return n;
    }

    // Drops the first n bytes (acknowledged by the peer).
    void pop(std::uint32_t n) {
        assert(n <= size_);
        head_ = (head_ + n) % capacity_;
        size_ -= n;
    }

    // The bytes [offset, offset + len) from the front, in at most two pieces.
    tx_payload view(std::uint32_t offset, std::uint32_t len) const {
        assert(offset + len <= size_);
        if (len == 0) return {};
        const std::uint32_t start = (head_ + offset) % capacity_;
        const std::uint32_t first = std::min(len, capacity_ - start);
        return {{storage_.get() + start, first}, {storage_.get(), len - first}};
    }

private:
    std::unique_ptr<std::uint8_t[]> storage_;
    std::uint32_t capacity_;
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
};

} // namespace tern::tcp
