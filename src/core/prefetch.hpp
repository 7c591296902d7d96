// Software prefetch of a whole object: every cache line it may touch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace tern {

inline constexpr std::size_t cache_line = 64;

// The lines of a T at p: sizeof(T) / 64 + 1 of them from p's line on (the +1 for an object
// that does not start on a line), a count known at compile time so that the prefetches are
// unrolled: a loop over the lines cost ~50 instructions for 13 of them.
template <class T>
inline void prefetch_object(const T* p) {
    constexpr std::size_t lines = sizeof(T) / cache_line + 1;
    const auto first = reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(p) & ~(cache_line - 1));
    [&]<std::size_t... i>(std::index_sequence<i...>) {
        (__builtin_prefetch(first + i * cache_line, 0, 3), ...);
    }(std::make_index_sequence<lines>{});
}

} // namespace tern
