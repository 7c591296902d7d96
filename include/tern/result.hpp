// A small std::expected stand-in (g++ 12 has no <expected>): a value or an error enum.
#pragma once

#include <cassert>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <variant>

namespace tern {

// With a constructor, not an aggregate: `unexpected(e)` needs C++20's parenthesised
// aggregate initialisation otherwise, which clang 14 lacks.
template <class E>
struct unexpected {
    constexpr explicit unexpected(E e) : error(std::move(e)) {}
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

// A value and an error that are both small and trivially copyable (result<std::size_t,
// send_error>, returned by every send): kept as a union and a word-wide flag. With
// std::variant's one-byte index GCC builds the result on the stack with a byte store and
// returns it with a word load of the same bytes, a store-forwarding stall that was half
// of stream::send's cycles (perf annotate, tern-load at 3.8 M req/s).
template <class T, class E>
    requires(std::is_trivially_copyable_v<T> && std::is_trivially_copyable_v<E> && sizeof(T) <= sizeof(void*) &&
             sizeof(E) <= sizeof(void*))
class [[nodiscard]] result<T, E> {
public:
    template <class U = T>
        requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, result>) &&
                 (!std::is_same_v<std::remove_cvref_t<U>, unexpected<E>>)
    result(U&& value) : value_(std::forward<U>(value)), ok_(1) {}
    result(unexpected<E> err) : error_(err.error), ok_(0) {}

    bool has_value() const noexcept { return ok_ != 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { assert(has_value()); return value_; }
    const T& value() const& { assert(has_value()); return value_; }
    T&& value() && { assert(has_value()); return std::move(value_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    E error() const { assert(!has_value()); return error_; }

private:
    union {
        T value_;
        E error_;
    };
    std::uintptr_t ok_;
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
