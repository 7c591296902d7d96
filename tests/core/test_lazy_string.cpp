// lazy_string: text held now and then, one pointer while there is none.
#include <gtest/gtest.h>

#include "core/lazy_string.hpp"

namespace tern {
namespace {

TEST(lazy_string, costs_a_pointer_and_allocates_only_while_it_holds_text) {
    static_assert(sizeof(lazy_string) == sizeof(void*));
    lazy_string s;
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.view(), "");
    s.append(""); // nothing to hold: still nothing allocated
    EXPECT_TRUE(s.empty());
    s.append("GET / HTTP/1.1\r\n");
    s.append("Host: a\r\n");
    EXPECT_EQ(s.view(), "GET / HTTP/1.1\r\nHost: a\r\n");
    EXPECT_EQ(s.size(), 25u);
    s.erase_front(4);
    EXPECT_EQ(s.view(), "/ HTTP/1.1\r\nHost: a\r\n");
    s.erase_front(s.size()); // all taken: the storage goes
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.size(), 0u);
    s.assign("abc");
    EXPECT_EQ(s.view(), "abc");
    s.clear();
    EXPECT_TRUE(s.empty());
    s.erase_front(3); // nothing held: nothing to do
    EXPECT_TRUE(s.empty());
}

} // namespace
} // namespace tern
