// Why the EAL found no hugepage memory (hugepage_shortage), from states of the kernel's
// hugepages written here: the integration tests can reach only the states this machine is in
// (and must not change its reservation), these reach the rest.
#include <string>

#include <gtest/gtest.h>

#include "dpdk/hugepages.hpp"

namespace tern::test {
namespace {

hugepage_state state(std::uint64_t reserved, std::uint64_t free, std::vector<std::string> mounts = {"/dev/hugepages"}) {
    return hugepage_state{{hugepage_pool{2048, reserved, free}}, std::move(mounts)};
}

const std::optional<std::string> no_dir;

TEST(hugepage_shortage, none_when_pages_are_free_and_mounted) {
    EXPECT_FALSE(hugepage_shortage(state(512, 512), no_dir, false, ""));
}

TEST(hugepage_shortage, none_reserved_says_how_to_reserve_or_go_without) {
    auto why = hugepage_shortage(state(0, 0), no_dir, false, "");
    ASSERT_TRUE(why);
    EXPECT_EQ(why->message, "no hugepages: none are reserved; reserve some (echo N > /proc/sys/vm/nr_hugepages) or "
                            "pass --no-huge");
    EXPECT_FALSE(why->bad_value); // the machine's
}

TEST(hugepage_shortage, all_taken_says_how_many_and_of_what_size) {
    auto why = hugepage_shortage(state(2048, 0), no_dir, false, "");
    ASSERT_TRUE(why);
    EXPECT_EQ(why->message, "no hugepages free: 0 free of 2048 pages of 2 MiB (other processes have them); reserve more "
                            "(echo N > /proc/sys/vm/nr_hugepages) or pass --no-huge");
}

TEST(hugepage_shortage, page_sizes_without_reservation_are_left_out) {
    hugepage_state s = state(2048, 0);
    s.pools.push_back(hugepage_pool{1048576, 0, 0});
    auto why = hugepage_shortage(s, no_dir, false, "");
    ASSERT_TRUE(why);
    EXPECT_EQ(why->message.find("GiB"), std::string::npos) << why->message;
    s.pools.back() = hugepage_pool{1048576, 4, 0};
    why = hugepage_shortage(s, no_dir, false, "");
    ASSERT_TRUE(why);
    EXPECT_NE(why->message.find("0 free of 2048 pages of 2 MiB, 0 free of 4 pages of 1 GiB"), std::string::npos)
        << why->message;
}

TEST(hugepage_shortage, no_mount_says_how_to_mount) {
    auto why = hugepage_shortage(state(512, 512, {}), no_dir, false, "");
    ASSERT_TRUE(why);
    EXPECT_EQ(why->message, "no hugepages: no hugetlbfs is mounted; mount one (mount -t hugetlbfs nodev /dev/hugepages) "
                            "or pass --no-huge");
}

TEST(hugepage_shortage, a_huge_dir_off_hugetlbfs_is_the_users_value) {
    auto why = hugepage_shortage(state(512, 512), std::string("/tmp"), false, "");
    ASSERT_TRUE(why);
    EXPECT_EQ(why->message, "--huge-dir: /tmp is not on a hugetlbfs mount (hugetlbfs is at /dev/hugepages); give one, "
                            "or pass --no-huge");
    EXPECT_TRUE(why->bad_value);
}

TEST(hugepage_shortage, a_huge_dir_on_hugetlbfs_is_taken) {
    EXPECT_FALSE(hugepage_shortage(state(512, 512, {"/mnt/huge"}), std::string("/mnt/huge"), false, ""));
    EXPECT_FALSE(hugepage_shortage(state(512, 512, {"/mnt/huge"}), std::string("/mnt/huge/tern"), false, ""));
    EXPECT_TRUE(hugepage_shortage(state(512, 512, {"/mnt/huge"}), std::string("/mnt/hugepages"), false, ""));
}

TEST(hugepage_shortage, too_little_quotes_dpdk_and_says_what_is_free) {
    auto why = hugepage_shortage(state(512, 100), no_dir, true, "EAL: Not enough memory available! Requested: 1024MB, "
                                                                "available: 200MB");
    ASSERT_TRUE(why);
    EXPECT_EQ(why->message, "not enough hugepages: EAL: Not enough memory available! Requested: 1024MB, available: "
                            "200MB; 100 free of 512 pages of 2 MiB; ask for less memory (-m) or reserve more "
                            "(echo N > /proc/sys/vm/nr_hugepages)");
    EXPECT_FALSE(why->bad_value);
}

} // namespace
} // namespace tern::test
