// fifo: the vector-backed queue of src/core/fifo.hpp, against std::deque as the model.
#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "core/fifo.hpp"

namespace tern {
namespace {

TEST(fifo, keeps_order_through_random_pushes_and_pops) {
    std::mt19937 rng(7);
    fifo<int> q;
    std::deque<int> model;
    for (int i = 0; i < 100000; ++i) {
        if (rng() % 2 == 0) {
            q.push_back(i);
            model.push_back(i);
        } else if (!model.empty()) {
            ASSERT_EQ(q.front(), model.front());
            q.pop_front();
            model.pop_front();
        }
        ASSERT_EQ(q.size(), model.size());
        ASSERT_EQ(q.empty(), model.empty());
        if (!model.empty()) {
            ASSERT_EQ(q.back(), model.back());
        }
    }
    ASSERT_TRUE(std::equal(q.begin(), q.end(), model.begin(), model.end()));
    ASSERT_TRUE(std::equal(q.rbegin(), q.rend(), model.rbegin(), model.rend()));
}

TEST(fifo, emptied_queue_starts_again_at_the_front) {
    fifo<int> q;
    for (int i = 0; i < 3; ++i) q.push_back(i);
    for (int i = 0; i < 3; ++i) q.pop_front();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.begin(), q.end());
    q.push_back(9);
    EXPECT_EQ(q.front(), 9);
    EXPECT_EQ(q.size(), 1u);
}

// Across the line between the inline items and the vector, both ways, order holds: two
// inline, a third spills them to the vector, emptying returns to inline, and a queue
// that pops from the front makes inline room without spilling.
TEST(fifo, crosses_between_inline_items_and_the_vector_in_order) {
    fifo<int, 2> q;
    std::deque<int> model;
    std::mt19937 rng(11);
    int next = 0;
    for (int i = 0; i < 20000; ++i) {
        const unsigned limit = 1 + rng() % 4; // mostly around the inline size
        if (model.size() < limit) {
            q.push_back(next);
            model.push_back(next++);
        } else {
            ASSERT_EQ(q.front(), model.front());
            q.pop_front();
            model.pop_front();
        }
        ASSERT_EQ(q.size(), model.size());
        ASSERT_TRUE(std::equal(q.begin(), q.end(), model.begin(), model.end()));
        ASSERT_TRUE(std::equal(q.rbegin(), q.rend(), model.rbegin(), model.rend()));
        if (!model.empty()) {
            ASSERT_EQ(q.back(), model.back());
        }
    }
    q.push_back(5);
    q.back() = -1; // back() is the last item's place
    EXPECT_EQ(*(q.end() - 1), -1);
}

// A queue that never spilled holds its inline items and one pointer: a load generator's
// idle connection carries one of these (two instants inline).
TEST(fifo, unspilled_queue_is_its_inline_items_and_a_word) {
    static_assert(sizeof(fifo<std::uint64_t, 2>) <= 2 * 8 + 8 + 8);
    fifo<std::uint64_t, 2> q;
    for (std::uint64_t i = 0; i < 5; ++i) q.push_back(i); // spills
    for (std::uint64_t i = 0; i < 5; ++i) {
        ASSERT_EQ(q.front(), i);
        q.pop_front();
    }
    q.push_back(7); // inline again after the spill
    EXPECT_EQ(q.front(), 7u);
    EXPECT_EQ(q.size(), 1u);
}

} // namespace
} // namespace tern
