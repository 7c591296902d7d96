// The per-engine flow table: 4-tuple -> connection. STYLE.md #11: hashed, never scanned.
//
// Layout: one array of 24-byte slots {key (12), hash (4), value (8)}, open
// addressing with linear probing kept short by Robin Hood placement (an insert takes the
// slot of any resident that is closer to its home than the newcomer would be), and
// backward-shift deletion (the entries after a removed one slide back towards their home),
// so there are no tombstones and probe chains never break or rot under churn.
//
// Sizing: the table is sized once, at construction, for `max_flows` entries at a load factor
// of at most 3/4; it never grows and never allocates after construction. `insert` returns
// false once `max_flows` entries are held. Memory: 24 bytes per slot, 24 / (3/4) = 32 bytes
// per flow of `max_flows` (a million flows -> 1.4 M slots, 32 MB) of address space.
// Any number of slots: a slot's home is the hash scaled to the table (hash * capacity >> 32),
// not its low bits under a mask, which made the table a power of two of 7/8 at most, 27.4
// to 54.9 bytes a flow (a server of 1M connections paid 50 bytes each). Why 3/4 and not
// 7/8: a full table's probes are that much longer (bench_flow, 1M flows held, find_single:
// 906 ns a batch at 3/4, 1490 at 7/8, 422 at 1/2). Tables of
// 2 MiB or more are mapped anonymously, 2 MiB-aligned and advised for transparent huge pages
// (random probes into tens of MiB are otherwise dominated by TLB misses), and not written at
// construction: an all-zero slot is an empty one, so a page becomes resident only when a
// probe first reaches it. A table sized for 10 M flows that holds few (a server's TIME-WAIT
// index when its clients close first) then costs what it holds, not 400 MB.
//
// Hash: any 32-bit hash with well-mixed high bits will do (the home slot is `hash * capacity
// >> 32`) —
// the table's own seeded `hash(key)`, or an RSS hash under a random key. Not the RSS hash
// under tern's symmetric key (rss.hpp): with a key that repeats every 16 bits the Toeplitz
// hash depends only on the XOR of the tuple's 16-bit words, 65,536 values at most. The table stores
// the hash and never recomputes it, so EVERY operation on a key must pass the same hash
// value: a flow inserted under its RSS hash must be found and erased under its RSS hash.
//
// Values are non-null `T*` (null marks an empty slot). Single-threaded: the table belongs
// to one engine; no locks, no atomics.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "core/prefetch.hpp"
#include "tern/addr.hpp"

namespace tern {

// The 4-tuple seen from this endpoint. Fixed layout, no padding: it is hashed and compared
// as 12 raw bytes. Addresses and ports in host byte order.
struct flow_key {
    ipv4_addr local_ip;
    ipv4_addr remote_ip;
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;

    friend constexpr bool operator==(const flow_key&, const flow_key&) = default;
};
static_assert(sizeof(flow_key) == 12, "flow_key is 12 bytes: 2 addresses + 2 ports");
static_assert(std::has_unique_object_representations_v<flow_key>, "flow_key has no padding");
static_assert(std::is_trivially_copyable_v<flow_key>);

// The same for IPv6, in a table of its own so that IPv4's keys and slots stay as small as
// they are (DESIGN.md "Memory"): 36 raw bytes, addresses in network order.
struct flow_key6 {
    ipv6_addr local_ip;
    ipv6_addr remote_ip;
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;

    friend constexpr bool operator==(const flow_key6&, const flow_key6&) = default;
};
static_assert(sizeof(flow_key6) == 36, "flow_key6 is 36 bytes: 2 addresses + 2 ports");
static_assert(std::has_unique_object_representations_v<flow_key6>, "flow_key6 has no padding");
static_assert(std::is_trivially_copyable_v<flow_key6>);

namespace detail {

// The key's words made from its fields, not read from its bytes: a key is mostly built
// field by field just before it is hashed, and a 64-bit load of what two 32-bit stores (or
// a 32-bit load of two 16-bit ones) just wrote cannot take the bytes from the stores. That
// store-forwarding stall was a quarter of tern-load's load_generator::open_one and a fifth
// of endpoint_core::prepare (perf annotate, cps at 850k conn/s); made from the fields, a
// connection costs tern-load 6% less time (bench_life cps, 668 -> 628 ns, five
// alternations). On a little-endian machine the words are the bytes' all the same.
inline std::uint64_t flow_key_lo(const flow_key& k) {
    return std::uint64_t(k.local_ip.value) | std::uint64_t(k.remote_ip.value) << 32;
}

inline std::uint32_t flow_key_hi(const flow_key& k) {
    return std::uint32_t(k.local_port) | std::uint32_t(k.remote_port) << 16;
}

inline bool flow_key_equal(const flow_key& a, const flow_key& b) {
    return ((flow_key_lo(a) ^ flow_key_lo(b)) | (flow_key_hi(a) ^ flow_key_hi(b))) == 0;
}

inline std::uint64_t flow_key_word(const flow_key6& k, std::size_t i) {
    std::uint64_t v;
    std::memcpy(&v, reinterpret_cast<const unsigned char*>(&k) + 8 * i, 8);
    return v;
}

inline std::uint32_t flow_key_tail(const flow_key6& k) {
    std::uint32_t v;
    std::memcpy(&v, reinterpret_cast<const unsigned char*>(&k) + 32, 4);
    return v;
}

inline bool flow_key_equal(const flow_key6& a, const flow_key6& b) {
    std::uint64_t diff = flow_key_tail(a) ^ flow_key_tail(b);
    for (std::size_t i = 0; i < 4; ++i) diff |= flow_key_word(a, i) ^ flow_key_word(b, i);
    return diff == 0;
}

} // namespace detail

// A fast seeded 32-bit hash of the 12 key bytes. Each step (xor with a constant, multiply
// by an odd constant, xor-shift) is a bijection of 64 bits, so keys that agree in the
// address words and differ in the ports (or the reverse) never collide before the final
// truncation; the last multiply/xor-shift pair (murmur3's finaliser) spreads every input bit
// over the low bits, which are the ones that pick the slot. Seed it per engine so that a
// remote peer cannot precompute colliding 4-tuples.
inline std::uint32_t flow_hash(const flow_key& key, std::uint64_t seed) {
    std::uint64_t h = (detail::flow_key_lo(key) ^ seed) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 32;
    h = (h ^ detail::flow_key_hi(key)) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    return std::uint32_t(h);
}

// The same steps over IPv6's 36 bytes: each word is folded in by an xor and a bijective
// multiply/xor-shift, and the last pair spreads every bit over the low ones.
inline std::uint32_t flow_hash(const flow_key6& key, std::uint64_t seed) {
    std::uint64_t h = seed;
    for (std::size_t i = 0; i < 4; ++i) {
        h = (h ^ detail::flow_key_word(key, i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 32;
    }
    h = (h ^ detail::flow_key_tail(key)) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    return std::uint32_t(h);
}

template <class T, class Key = flow_key>
class flow_table {
public:
    static constexpr std::uint64_t default_seed = 0x7465726e666c6f77ull; // "ternflow"

    struct slot {
        Key key;
        std::uint32_t hash = 0;
        T* value = nullptr; // nullptr: the slot is empty
    };
    static_assert(sizeof(slot) == (sizeof(Key) == 12 ? 24 : 48) || sizeof(void*) != 8, "24 bytes per IPv4 slot");

    // The slots for `max_flows` entries: enough (at least 16) to keep the load factor at or
    // below 3/4; a mapped table has as many as its whole huge pages hold.
    static constexpr std::size_t capacity_for(std::size_t max_flows) {
        const std::size_t want = std::max<std::size_t>(16, max_flows + (max_flows + 2) / 3); // ceil(max_flows * 4 / 3)
        if (want * sizeof(slot) < huge_page) return want;
        return mapped_bytes_for(want) / sizeof(slot);
    }
    // What a table for `max_flows` entries takes (memory_bytes() of one).
    static constexpr std::size_t memory_for(std::size_t max_flows) { return capacity_for(max_flows) * sizeof(slot); }

    explicit flow_table(std::size_t max_flows, std::uint64_t seed = default_seed)
        : max_flows_(max_flows), seed_(seed) {
        capacity_ = capacity_for(max_flows);
        assert(capacity_ > max_flows_ && capacity_ <= (std::size_t(1) << 32));
        slots_.reset(allocate(capacity_));
    }

    flow_table(const flow_table&) = delete;
    flow_table& operator=(const flow_table&) = delete;
    flow_table(flow_table&&) noexcept = default;
    flow_table& operator=(flow_table&&) noexcept = default;

    std::uint32_t hash(const Key& key) const { return flow_hash(key, seed_); }

    // Adds key -> value. False, and nothing changes, if the key is present, the table holds
    // max_flows() entries already, or value is null.
    bool insert(const Key& key, T* value) { return insert(key, hash(key), value); }

    bool insert(const Key& key, std::uint32_t h, T* value) {
        if (value == nullptr || size_ == max_flows_) return false;
        std::size_t i = home(h);
        std::size_t dist = 0;
        // Look for the key until the Robin Hood invariant says it cannot be further on.
        for (;; i = next(i), ++dist) {
            slot& s = slots_[i];
            if (s.value == nullptr) {
                s = slot{key, h, value};
                ++size_;
                return true;
            }
            if (s.hash == h && detail::flow_key_equal(s.key, key)) return false;
            if (displacement(s, i) < dist) break;
        }
        // Absent: take slot i and push the residents along, each richer one giving way.
        slot carry{key, h, value};
        for (;; i = next(i), ++dist) {
            slot& s = slots_[i];
            if (s.value == nullptr) {
                s = carry;
                ++size_;
                return true;
            }
            std::size_t d = displacement(s, i);
            if (d < dist) {
                std::swap(s, carry);
                dist = d;
            }
        }
    }

    // Removes key; false if it was not present.
    bool erase(const Key& key) { return erase(key, hash(key)); }

    bool erase(const Key& key, std::uint32_t h) {
        std::size_t i = locate(key, h);
        if (i == npos) return false;
        // Backward shift: slide the following entries back by one until an empty slot or
        // an entry already at its home; this leaves exactly the table the inserts would
        // have built without the erased key, so no tombstone is needed.
        std::size_t j = next(i);
        while (slots_[j].value != nullptr && displacement(slots_[j], j) != 0) {
            slots_[i] = slots_[j];
            i = j;
            j = next(j);
        }
        slots_[i] = slot{};
        --size_;
        return true;
    }

    // Gives a held key another value in place (non-null); false when the key is not held.
    bool replace(const Key& key, T* value) {
        const std::size_t i = locate(key, hash(key));
        if (i == npos) return false;
        slots_[i].value = value;
        return true;
    }
    T* find(const Key& key) const { return find(key, hash(key)); }

    T* find(const Key& key, std::uint32_t h) const {
        std::size_t i = locate(key, h);
        return i == npos ? nullptr : slots_[i].value;
    }

    // Looks up a burst: out[i] = find(keys[i], hashes[i]). The first pass prefetches the
    // home slot of every key, the second probes, so the cache misses of the whole burst
    // overlap instead of being paid one after another. Returns the number of hits.
    // (The pointer-and-count shape follows rte_hash_lookup_bulk.) The endpoint does not
    // call it: it prefetches a burst's slots (look_ahead, prefetch) and then finds each
    // segment's flow as that segment is received.
    std::size_t find_burst(const Key* keys, const std::uint32_t* hashes, std::size_t n, T** out) const {
        for (std::size_t k = 0; k < n; ++k) prefetch(hashes[k]);
        std::size_t hits = 0;
        for (std::size_t k = 0; k < n; ++k) {
            out[k] = find(keys[k], hashes[k]);
            hits += out[k] != nullptr;
        }
        return hits;
    }

    // The same, hashing with hash(key).
    std::size_t find_burst(const Key* keys, std::size_t n, T** out) const {
        constexpr std::size_t chunk = 64;
        std::uint32_t hashes[chunk];
        std::size_t hits = 0;
        for (std::size_t base = 0; base < n; base += chunk) {
            std::size_t m = std::min(chunk, n - base);
            for (std::size_t k = 0; k < m; ++k) hashes[k] = hash(keys[base + k]);
            hits += find_burst(keys + base, hashes, m, out + base);
        }
        return hits;
    }

    // Starts loading the slot a hash leads to (for callers that pipeline their own lookups),
    // and the value of the slot after it, which an erase reads to end its backward shift
    // (a flow that closes: in a sparse table that read missed the cache on 1 erase in 3).
    void prefetch(std::uint32_t h) const {
        const std::size_t i = home(h);
        const char* p = reinterpret_cast<const char*>(&slots_[i]);
        prefetch_line(p);
        prefetch_line(p + sizeof(slot) - 1); // a slot may straddle two lines
        prefetch_line(&slots_[next(i)].value);
    }

    void clear() {
        std::fill_n(slots_.get(), capacity_, slot{});
        size_ = 0;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::size_t max_flows() const { return max_flows_; }
    std::size_t capacity() const { return capacity_; }
    std::size_t memory_bytes() const { return capacity_ * sizeof(slot); }
    // Makes every page of the table resident now (a small table is already): for a table
    // that the first segment of every connection reaches, so that the page faults of a ramp
    // to millions of flows come before its traffic, not in its first seconds.
    void populate() {
        const std::size_t bytes = slots_.get_deleter().mapped_bytes;
        if (bytes == 0 || ::madvise(slots_.get(), bytes, MADV_POPULATE_WRITE) == 0) return;
        // A kernel before 5.14: a write to each page. The bytes are zero, and stay so.
        const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
        auto* first = reinterpret_cast<volatile unsigned char*>(slots_.get());
        for (std::size_t i = 0; i < bytes; i += page) first[i] = 0;
    }

    // How much of memory_bytes() is resident (mincore, in pages): what the table has
    // touched so far.
    std::size_t resident_bytes() const {
        const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
        const auto start = reinterpret_cast<std::uintptr_t>(slots_.get()) & ~(page - 1);
        const std::size_t span = reinterpret_cast<std::uintptr_t>(slots_.get()) + memory_bytes() - start;
        std::vector<unsigned char> in((span + page - 1) / page);
        if (::mincore(reinterpret_cast<void*>(start), span, in.data()) != 0) return memory_bytes();
        std::size_t pages = 0;
        for (unsigned char c : in) pages += c & 1;
        return std::min(pages * page, memory_bytes());
    }
    std::uint64_t seed() const { return seed_; }

    // Control path only (shutdown, listings, diagnostics): visits every entry as
    // f(const Key&, T*). The data path never scans.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i < capacity_; ++i)
            if (slots_[i].value != nullptr) f(slots_[i].key, slots_[i].value);
    }

    // Diagnostics: the longest distance of any entry from its home slot (a scan).
    std::size_t max_displacement() const {
        std::size_t worst = 0;
        for (std::size_t i = 0; i < capacity_; ++i)
            if (slots_[i].value != nullptr) worst = std::max(worst, displacement(slots_[i], i));
        return worst;
    }

private:
    static constexpr std::size_t npos = ~std::size_t(0);
    static constexpr std::size_t huge_page = std::size_t(2) << 20;

    // Small tables come from operator new and are written once; large ones are an anonymous
    // mapping, whose pages the kernel zeroes when first touched.
    struct slot_deleter {
        std::size_t mapped_bytes = 0; // 0: from operator new
        void operator()(slot* p) const {
            if (mapped_bytes != 0) ::munmap(p, mapped_bytes);
            else ::operator delete(p, std::align_val_t{64});
        }
    };

    // Where a hash's probe starts: the hash scaled to [0, capacity) (Lemire's multiply-shift).
    std::size_t home(std::uint32_t h) const { return std::size_t((std::uint64_t(h) * capacity_) >> 32); }
    std::size_t next(std::size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }

    // Distance of the entry in slot i from its home slot.
    std::size_t displacement(const slot& s, std::size_t i) const {
        const std::size_t at = home(s.hash);
        return i >= at ? i - at : i + capacity_ - at;
    }

    // A table this large, mapped: whole huge pages.
    static constexpr std::size_t mapped_bytes_for(std::size_t slots) {
        return (slots * sizeof(slot) + huge_page - 1) / huge_page * huge_page;
    }

    std::size_t locate(const Key& key, std::uint32_t h) const {
        std::size_t i = home(h);
        // Terminates: the table is never full (capacity_ > max_flows_), and the Robin Hood
        // invariant ends a miss as soon as it meets an entry closer to home than we are.
        for (std::size_t dist = 0;; i = next(i), ++dist) {
            const slot& s = slots_[i];
            if (s.value == nullptr) return npos;
            if (s.hash == h && detail::flow_key_equal(s.key, key)) return i;
            if (displacement(s, i) < dist) return npos;
        }
    }

    slot* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(slot);
        if (bytes < huge_page) {
            void* p = ::operator new(bytes, std::align_val_t{64});
            slots_.get_deleter().mapped_bytes = 0;
            slot* first = static_cast<slot*>(p);
            std::uninitialized_value_construct_n(first, n);
            return first;
        }
        // Map a huge page more than needed and trim both ends, so that the table starts on a
        // huge-page boundary and ends on one (capacity_for gave it the slots its pages hold).
        const std::size_t mapped = mapped_bytes_for(n);
        void* raw = ::mmap(nullptr, mapped + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) throw std::bad_alloc();
        const auto start = reinterpret_cast<std::uintptr_t>(raw);
        const std::uintptr_t aligned = (start + huge_page - 1) & ~(huge_page - 1);
        if (aligned > start) ::munmap(raw, aligned - start);
        const std::size_t tail = huge_page - (aligned - start);
        if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + mapped), tail);
        void* p = reinterpret_cast<void*>(aligned);
        ::madvise(p, mapped, MADV_HUGEPAGE); // best effort
        slots_.get_deleter().mapped_bytes = mapped;
        // The zero pages are the empty slots: slot is an aggregate of plain values whose
        // all-zero bytes are {key 0, hash 0, value nullptr}.
        static_assert(std::is_trivially_copyable_v<slot> && std::is_trivially_destructible_v<slot>);
        return static_cast<slot*>(p);
    }

    std::unique_ptr<slot[], slot_deleter> slots_{nullptr, slot_deleter{}};
    std::size_t size_ = 0;
    std::size_t max_flows_;
    std::size_t capacity_ = 0;
    std::uint64_t seed_;
};

} // namespace tern
