// A count with one writer (an engine's thread) that any thread may read: relaxed atomics,
// so the writer pays no locked instruction and a reader sees some recent value.
#pragma once

#include <atomic>
#include <cstdint>

namespace tern {

class counter {
public:
    void add(std::uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    counter& operator++() {
        add();
        return *this;
    }
    std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }
    operator std::uint64_t() const { return get(); } // reads like the number it counts

private:
    std::atomic<std::uint64_t> value_{0};
};

} // namespace tern
