// Software prefetch: one cache line, or a whole object (every line it may touch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace tern {

inline constexpr std::size_t cache_line = 64;

// Starts loading the line at p for reading. The empty volatile asm is there for the
// optimiser: GCC's interprocedural analysis counts __builtin_prefetch as no side effect, so
// a void function that only reads memory and prefetches is found pure, and a call to it is
// deleted as having no effect. With LTO that removed every IPv6 prepare_connect from
// tern-load (its IPv4 twin survived only because it may fill a map): the next open's slot
// was never loaded ahead, and its load was 69% of open_one's cycles.
inline void prefetch_line(const void* p) {
    __builtin_prefetch(p, 0, 3);
    asm volatile("" : : "r"(p));
}

// How many lines an object of `size` bytes may touch: those of its first and last byte and
// all between, when it starts on a line's last byte. (sizeof / 64 + 1 fell one short for a
// size that is not a multiple of 64: a 48-byte TIME-WAIT record across two lines got one.)
constexpr std::size_t lines_spanned(std::size_t size) { return size == 0 ? 0 : (size + cache_line - 2) / cache_line + 1; }

// The lines of a T at p, from p's line on: a count known at compile time so that the
// prefetches are unrolled (a loop over the lines cost ~50 instructions for 13 of them).
template <class T>
inline void prefetch_object(const T* p) {
    constexpr std::size_t lines = lines_spanned(sizeof(T));
    const auto first = reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(p) & ~(cache_line - 1));
    [&]<std::size_t... i>(std::index_sequence<i...>) {
        (prefetch_line(first + i * cache_line), ...);
    }(std::make_index_sequence<lines>{});
}

} // namespace tern
