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
        if (!model.empty()) ASSERT_EQ(q.back(), model.back());
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

} // namespace
} // namespace tern
