// A fixed-size array allocated at the first ensure() and given back by release(): for the
// bookkeeping a connection needs only under loss or reordering (SACKed ranges, what a
// recovery sent again, out-of-order blocks), so an idle connection carries one pointer
// per table instead of the table (DESIGN.md "Memory": well under 1 KiB idle). The owner
// counts the elements in use and reads none while it has none, or before ensure().
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <memory>

namespace tern {

template <typename T, std::size_t N>
class lazy_array {
public:
    std::size_t heap_bytes() const { return items_ ? sizeof(std::array<T, N>) : 0; }
    // The storage, allocated now if it was not (its elements are then unset).
    T* ensure() {
        if (!items_) items_ = std::make_unique_for_overwrite<std::array<T, N>>();
        return items_->data();
    }
    void release() { items_.reset(); }

    T* data() { return items_ ? items_->data() : nullptr; }
    const T* data() const { return items_ ? items_->data() : nullptr; }
    T* begin() { return data(); }
    T& operator[](std::size_t i) {
        assert(items_ && i < N);
        return (*items_)[i];
    }
    const T& operator[](std::size_t i) const {
        assert(items_ && i < N);
        return (*items_)[i];
    }

private:
    std::unique_ptr<std::array<T, N>> items_;
};

} // namespace tern
