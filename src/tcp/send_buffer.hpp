// The send buffer: what the application handed to send() and the peer has not acknowledged
// yet, in stream order. Byte 0 is the byte at SND.UNA (or ISS+1 before our SYN is
// acknowledged). It holds two kinds of bytes:
//   - copied: send(bytes) copies into a ring that grows on demand up to the capacity
//     (2 KiB, doubling), and is given back once everything in it is acknowledged (by
//     trim(), when the ACK's processing is over), so an idle connection holds no ring at
//     all and one that sends small messages a small one
//     (DESIGN.md "Memory": buffers on demand). Rings given back are kept for reuse on free
//     lists per thread (per engine), so the give-and-take costs no malloc; a connection's
//     next ring starts at the size its last one reached, so a bulk sender, whose ring
//     empties at every ACK of the whole window, is not regrown from 2 KiB each time;
//   - handed over: a zero-copy send gives a buffer (opaque `owner`, an mbuf for the engine)
//     that is held as it is, and released through `release` once acknowledged.
// The stream is a queue of extents, each either a run of ring bytes or one handed-over
// buffer; a stream of copies only is one extent. capacity bounds both kinds together.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/fifo.hpp"
#include "core/object_pool.hpp"
#include "tcp/types.hpp"

namespace tern::tcp {

class send_buffer {
public:
    // Called once for every handed-over buffer, when it is acknowledged or the buffer dies.
    using release_fn = void (*)(void* context, void* owner);

    explicit send_buffer(std::uint32_t capacity) : capacity_(capacity) {}
    ~send_buffer() {
        if (body_) let_go();
    }
    send_buffer(const send_buffer&) = delete;
    send_buffer& operator=(const send_buffer&) = delete;

    std::uint32_t size() const { return size_; }
    std::uint32_t space() const { return capacity_ - size_; }
    std::uint32_t capacity() const { return capacity_; }

    // Copies as much of `bytes` as fits and returns how much that was.
    std::uint32_t push(std::span<const std::uint8_t> bytes) {
        const auto n = std::uint32_t(std::min<std::size_t>(bytes.size(), space()));
        if (n == 0) return 0;
        body& b = held();
        if (b.ring_size + n > b.ring_cap) grow(b, b.ring_size + n);
        const std::uint32_t tail = ring_wrap(b.ring_head + b.ring_size, b.ring_cap);
        const std::uint32_t first = std::min(n, b.ring_cap - tail);
        std::memcpy(b.storage.get() + tail, bytes.data(), first);
        if (n > first) std::memcpy(b.storage.get(), bytes.data() + first, n - first); // wrapped
        b.ring_size += n;
        size_ += n;
        if (b.extents.empty() || b.extents.back().owner) b.extents.push_back(extent{});
        b.extents.back().len += n;
        return n;
    }

    // Takes a handed-over buffer whole, or not at all (false: no room; the caller keeps it).
    // `release(context, owner)` gives it back once acknowledged; every handed-over buffer of
    // one send buffer goes back the same way.
    bool push_owned(std::span<const std::uint8_t> bytes, void* owner, release_fn release, void* context) {
        assert(owner && release);
        if (bytes.size() > space()) return false;
        if (bytes.empty()) {
            release(context, owner);
            return true;
        }
        body& b = held();
        assert(!b.release || (b.release == release && b.context == context));
        b.release = release;
        b.context = context;
        b.extents.push_back(extent{bytes.data(), std::uint32_t(bytes.size()), owner});
        size_ += std::uint32_t(bytes.size());
        return true;
    }

    // Drops the first n bytes (acknowledged by the peer), releasing handed-over buffers
    // wholly acknowledged. An emptied ring and body stay until trim(): the ACK that empties a
    // request-response stream's buffer usually comes with the answer, whose callback writes
    // the next message, and giving both back to take them again at once was ~110
    // instructions a message on each side (scripts/instructions, rps/32).
    void pop(std::uint32_t n) {
        assert(n <= size_);
        if (n == 0) return;
        body& b = *body_;
        size_ -= n;
        while (n > 0) {
            extent& e = b.extents.front();
            const std::uint32_t k = std::min(n, e.len);
            if (e.owner) {
                e.data += k;
            } else {
                b.ring_head = ring_wrap(b.ring_head + k, b.ring_cap);
                b.ring_size -= k;
            }
            e.len -= k;
            n -= k;
            if (e.len == 0) {
                if (e.owner) b.release(b.context, e.owner);
                b.extents.pop_front();
            }
        }
        if (b.ring_size == 0) b.ring_head = 0; // the next message starts at the front: no wrap
    }

    // Gives back what pop() left unused: the body once nothing is held, an empty ring while
    // handed-over bytes still are. The owner calls it at the end of each call that may have
    // popped, after the application's callbacks; idle buffers then hold nothing.
    void trim() {
        if (!body_) return;
        if (size_ == 0) return let_go();
        if (body_->ring_size == 0) give_back_ring(*body_);
    }

    // The bytes [offset, offset + len) from the front, as pieces in order (ring bytes that
    // wrap make two). Valid until the next call on the buffer, or the next view() of any
    // buffer of this thread: a segment is emitted before the next is cut. The bytes of one
    // extent (a segment of copied bytes, nearly every one) are listed in the body, which
    // holds them while they are unacknowledged; more go to one list per thread (a list per
    // buffer cost every connection an allocation).
    tx_payload view(std::uint32_t offset, std::uint32_t len) const {
        assert(offset + len <= size_);
        if (len == 0) return {};
        const body& b = *body_;
        if (const extent& e = b.extents.front(); offset + len <= e.len)
            return {{b.shown.data(), cut(b, e, b.ring_head, offset, len, b.shown.data())}, len};
        return view_across(offset, len);
    }

    // Bytes the ring has allocated (for tests and the memory figures).
    std::uint32_t ring_allocated() const { return body_ ? body_->ring_cap : 0; }
    // Whether the buffer holds its body (the ring's bookkeeping and the extents): only
    // while it holds bytes.
    bool has_body() const { return body_ != nullptr; }
    // What it allocated beside itself: the body and the ring (extents past the first aside).
    std::size_t heap_bytes() const { return body_ ? body_bytes() + body_->ring_cap : 0; }
    static constexpr std::size_t body_bytes() { return sizeof(body); }

private:
    static constexpr std::uint32_t min_ring = 2048;
    static constexpr std::size_t small_rings_kept = 4096;          // 8 MiB per thread at most
    static constexpr std::size_t large_ring_bytes_kept = 64u << 20; // per thread
    static constexpr std::size_t large_rings_kept = 256;            // a short search

    using ring_ptr = std::unique_ptr<std::uint8_t[]>;
    struct extent {
        const std::uint8_t* data = nullptr; // handed over: where its unacknowledged bytes start
        std::uint32_t len = 0;
        void* owner = nullptr;              // null: `len` bytes of the ring
    };
    // What the buffer needs only while it holds bytes, apart from it (DESIGN.md "Memory":
    // buffers on demand): an idle connection carries a pointer instead of ~90 bytes, and
    // the body of a request's buffer comes warm off this thread's pool and goes back to it
    // once the response to it is acknowledged.
    struct body {
        static void* operator new(std::size_t size) { return object_pool<body>::allocate(size); }
        static void operator delete(void* p) { object_pool<body>::release(p); }

        ring_ptr storage;
        std::uint32_t ring_cap = 0;  // bytes allocated in storage
        std::uint32_t ring_head = 0; // ring position of the first ring byte still held
        std::uint32_t ring_size = 0;
        fifo<extent, 1> extents; // copied bytes are one extent: one inline covers a plain stream
        // How handed-over buffers go back (push_owned): here rather than in every idle
        // connection's send buffer, 16 bytes each.
        release_fn release = nullptr;
        void* context = nullptr;
        mutable std::array<tx_piece, 2> shown; // the pieces of a view within the first extent
    };

    // view() of bytes in more than one extent: their pieces in the thread's list.
    tx_payload view_across(std::uint32_t offset, std::uint32_t len) const {
        const body& b = *body_;
        const std::uint32_t total = len;
        std::vector<tx_piece>& pieces = view_pieces();
        pieces.clear();
        std::uint32_t ring_at = b.ring_head; // ring position of the current ring extent
        for (const extent& e : b.extents) {
            if (offset < e.len) {
                const std::uint32_t k = std::min(len, e.len - offset);
                std::array<tx_piece, 2> cut_out;
                const std::size_t n = cut(b, e, ring_at, offset, k, cut_out.data());
                pieces.insert(pieces.end(), cut_out.begin(), cut_out.begin() + std::ptrdiff_t(n));
                len -= k;
                offset = 0;
            } else {
                offset -= e.len;
            }
            if (len == 0) break;
            if (!e.owner) ring_at = ring_wrap(ring_at + e.len, b.ring_cap);
        }
        assert(len == 0);
        return {pieces, total};
    }

    // The pieces of the k bytes at `offset` in extent e, whose ring bytes (if it holds any)
    // start at ring position ring_at: one, or two where they wrap. Returns how many it wrote.
    std::size_t cut(const body& b, const extent& e, std::uint32_t ring_at, std::uint32_t offset, std::uint32_t k,
                    tx_piece* out) const {
        if (e.owner) {
            out[0] = {{e.data + offset, k}, e.owner};
            return 1;
        }
        const std::uint32_t start = ring_wrap(ring_at + offset, b.ring_cap);
        const std::uint32_t first = std::min(k, b.ring_cap - start);
        out[0] = {{b.storage.get() + start, first}, nullptr};
        if (first == k) return 1;
        out[1] = {{b.storage.get(), k - first}, nullptr};
        return 2;
    }

    body& held() {
        if (!body_) body_ = new body;
        return *body_;
    }
    // Nothing is held any more, or the buffer dies: handed-over buffers are released, the
    // ring given back and the body freed.
    void let_go() {
        for (const extent& e : body_->extents)
            if (e.owner) body_->release(body_->context, e.owner);
        give_back_ring(*body_);
        delete body_;
        body_ = nullptr;
    }

    // Rings given back, per thread: 2 KiB ones (most connections), and larger ones with
    // their sizes. A large ring freed to the allocator each time a bulk sender's window was
    // acknowledged went back to the kernel (glibc maps rings of this size apart), and
    // faulting a 1 MiB ring in again on every window held a 1 MiB sender at 9 Gbit/s.
    struct spare_rings {
        std::vector<ring_ptr> small;
        std::vector<std::pair<std::uint32_t, ring_ptr>> large;
        std::size_t large_bytes = 0;
    };
    static spare_rings& spares() {
        thread_local spare_rings pool;
        return pool;
    }
    static std::vector<tx_piece>& view_pieces() {
        thread_local std::vector<tx_piece> pieces;
        return pieces;
    }
    static ring_ptr new_ring(std::uint32_t cap) {
        spare_rings& pool = spares();
        if (cap == min_ring && !pool.small.empty()) {
            ring_ptr r = std::move(pool.small.back());
            pool.small.pop_back();
            return r;
        }
        for (auto it = pool.large.rbegin(); it != pool.large.rend(); ++it) {
            if (it->first != cap) continue;
            ring_ptr r = std::move(it->second);
            pool.large.erase(std::next(it).base());
            pool.large_bytes -= cap;
            return r;
        }
        // for_overwrite: every byte is written by push() before view() reads it.
        return std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    }
    // The ring holds nothing more we need (all acknowledged, or the buffer dies): it goes
    // to the spares while they have room.
    void give_back_ring(body& b) {
        if (b.storage) {
            spare_rings& pool = spares();
            if (b.ring_cap == min_ring) {
                if (pool.small.size() < small_rings_kept) pool.small.push_back(std::move(b.storage));
            } else if (pool.large.size() < large_rings_kept &&
                       pool.large_bytes + b.ring_cap <= large_ring_bytes_kept) {
                pool.large.emplace_back(b.ring_cap, std::move(b.storage));
                pool.large_bytes += b.ring_cap;
            }
            last_ring_ = b.ring_cap;
        }
        b.storage.reset();
        b.ring_cap = 0;
        b.ring_head = 0;
    }

    // A ring position plus at most a ring's length (what it holds, an extent, an offset in
    // one), brought back into the ring. Not `%`: its division was a third of the time an
    // ACK of new data took (bench_tcp, perf annotate of on_ack_of_new_data).
    static std::uint32_t ring_wrap(std::uint32_t at, std::uint32_t cap) {
        assert(at < 2 * std::uint64_t(cap));
        return at >= cap ? at - cap : at;
    }

    // Makes the ring hold at least `need` bytes: doubles it (at most to the capacity) and
    // moves what it holds, in order, to the start of the new one. A first ring starts at
    // the size of the last one this buffer had.
    void grow(body& b, std::uint32_t need) {
        assert(need <= capacity_);
        // (Not std::max: GCC made it a vector max of a stack copy written by scalar stores,
        // a store-forwarding stall on every request of a keep-alive stream, whose ring is
        // given back once acknowledged: 2% of tern-load's cycles at 3.8 M req/s.)
        std::uint32_t cap = b.ring_cap != 0 ? b.ring_cap : last_ring_;
        while (cap < need) cap *= 2;
        cap = std::min(cap, capacity_);
        ring_ptr bigger = new_ring(cap);
        const std::uint32_t first = std::min(b.ring_size, b.ring_cap - b.ring_head);
        if (b.ring_size > 0) {
            std::memcpy(bigger.get(), b.storage.get() + b.ring_head, first);
            std::memcpy(bigger.get() + first, b.storage.get(), b.ring_size - first);
        }
        b.storage = std::move(bigger);
        b.ring_cap = cap;
        b.ring_head = 0;
    }

    body* body_ = nullptr; // while size_ > 0
    std::uint32_t capacity_;
    std::uint32_t size_ = 0;             // ring bytes and handed-over bytes
    std::uint32_t last_ring_ = min_ring; // bytes of the last ring given back
};

} // namespace tern::tcp
