// A small std::expected stand-in (g++ 12 has no <expected>): a value or an error enum.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace tern {

template <class E>
struct unexpected {
    E error;
};

template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class [[nodiscard]] result {
public:
    // Forwarding, so a value built in the return statement is constructed in place.
    template <class U = T>
        requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, result>) &&
                 (!std::is_same_v<std::remove_cvref_t<U>, unexpected<E>>)
    result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}
    result(unexpected<E> err) : state_(std::in_place_index<1>, err.error) {}

    bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { assert(has_value()); return *std::get_if<0>(&state_); }
    const T& value() const& { assert(has_value()); return *std::get_if<0>(&state_); }
    T&& value() && { assert(has_value()); return std::move(*std::get_if<0>(&state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    E error() const { assert(!has_value()); return *std::get_if<1>(&state_); }

private:
    std::variant<T, E> state_;
};

// For calls that return nothing on success.
template <class E>
class [[nodiscard]] status {
public:
    status() = default;
    status(unexpected<E> err) : ok_(false), error_(err.error) {}

    bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    E error() const { assert(!ok_); return error_; }

private:
    bool ok_ = true;
    E error_{};
};

} // namespace tern
