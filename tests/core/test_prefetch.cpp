// prefetch_object loads every line an object may touch, wherever it starts.
#include <gtest/gtest.h>

#include "core/prefetch.hpp"

namespace tern {
namespace {

// The lines bytes [offset, offset + size) touch, offset taken within a line.
std::size_t lines_touched(std::size_t offset, std::size_t size) {
    return (offset + size - 1) / cache_line - offset / cache_line + 1;
}

TEST(Prefetch, LinesSpannedCoverEveryStart) {
    for (std::size_t size = 1; size <= 4 * cache_line + 1; ++size) {
        std::size_t most = 0;
        for (std::size_t offset = 0; offset < cache_line; ++offset) most = std::max(most, lines_touched(offset, size));
        EXPECT_EQ(lines_spanned(size), most) << size << " bytes";
    }
    EXPECT_EQ(lines_spanned(0), 0u);
}

TEST(Prefetch, A48ByteRecordMaySpanTwoLines) {
    EXPECT_EQ(lines_touched(32, 48), 2u);
    EXPECT_EQ(lines_spanned(48), 2u);
    EXPECT_EQ(lines_spanned(64), 2u);
    EXPECT_EQ(lines_spanned(1), 1u);
}

} // namespace
} // namespace tern
