// object_pool: per-thread free lists over huge-page slabs, handed out in order.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include "core/object_pool.hpp"

namespace tern {
namespace {

struct probe {
    std::array<std::byte, 200> bytes;
};
using pool = object_pool<probe>;

// A fresh pool's first object starts a slab aligned to a huge page, the next ones follow it
// in order (memory is touched as the pool grows), and a freed object is the next one given.
TEST(object_pool, hands_out_a_huge_page_slab_in_order_and_the_last_freed_first) {
    auto* first = static_cast<std::byte*>(pool::allocate(sizeof(probe)));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % pool::slab_bytes, 0u);
    auto* second = static_cast<std::byte*>(pool::allocate(sizeof(probe)));
    EXPECT_EQ(second - first, std::ptrdiff_t(sizeof(probe)));
    pool::release(second);
    EXPECT_EQ(pool::allocate(sizeof(probe)), second);

    // Past the first slab: a second one, and every object distinct.
    const std::size_t n = 2 * pool::slab_bytes / sizeof(probe);
    std::vector<void*> all{first, second};
    for (std::size_t i = 0; i < n; ++i) all.push_back(pool::allocate(sizeof(probe)));
    EXPECT_EQ(std::set<void*>(all.begin(), all.end()).size(), all.size());
    for (void* p : all) pool::release(p);
    EXPECT_EQ(pool::allocate(sizeof(probe)), all.back()); // freed ones come back before fresh ones
    pool::release(all.back());
}

} // namespace
} // namespace tern
