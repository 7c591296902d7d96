// TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
// A seq32 never converts to an integer implicitly; raw() is the only way out.
#pragma once

#include <cstdint>
#include <ostream>

namespace tern::tcp {

class seq32 {
public:
    constexpr seq32() = default;
    constexpr explicit seq32(std::uint32_t raw) : raw_(raw) {}

    constexpr std::uint32_t raw() const { return raw_; }

    // RFC 9293 §3.4: "a < b" means b lies within 2^31 after a. Two numbers exactly 2^31
    // apart are ordered by the sign of their difference, like Linux's before().
    friend constexpr bool operator==(seq32, seq32) = default;
    friend constexpr bool operator<(seq32 a, seq32 b) { return std::int32_t(a.raw_ - b.raw_) < 0; }
    friend constexpr bool operator>(seq32 a, seq32 b) { return b < a; }
    friend constexpr bool operator<=(seq32 a, seq32 b) { return !(b < a); }
    friend constexpr bool operator>=(seq32 a, seq32 b) { return !(a < b); }

    // Sizes move a sequence number; they wrap modulo 2^32.
    friend constexpr seq32 operator+(seq32 s, std::uint32_t n) { return seq32(s.raw_ + n); }
    friend constexpr seq32 operator-(seq32 s, std::uint32_t n) { return seq32(s.raw_ - n); }
    seq32& operator+=(std::uint32_t n) { raw_ += n; return *this; }
    seq32& operator-=(std::uint32_t n) { raw_ -= n; return *this; }

    // The distance from b to a, as a signed count: (a - b) > 0 when a is after b.
    friend constexpr std::int32_t operator-(seq32 a, seq32 b) { return std::int32_t(a.raw_ - b.raw_); }

    friend std::ostream& operator<<(std::ostream& os, seq32 s) { return os << s.raw_; }

private:
    std::uint32_t raw_ = 0;
};

constexpr seq32 seq_max(seq32 a, seq32 b) { return a < b ? b : a; }
constexpr seq32 seq_min(seq32 a, seq32 b) { return a < b ? a : b; }

// lo <= s < hi, modulo 2^32 (an empty range when lo == hi).
constexpr bool in_range(seq32 lo, seq32 s, seq32 hi) { return lo <= s && s < hi; }

// The unsigned number of sequence numbers from `from` to `to` (to must not be before from).
constexpr std::uint32_t seq_distance(seq32 from, seq32 to) { return to.raw() - from.raw(); }

// RFC 9293 §3.10.7.4 first, the four cases of the acceptability test: a segment of `len`
// (SEG.LEN) at `seq` against RCV.NXT and RCV.WND.
constexpr bool segment_acceptable(seq32 rcv_nxt, std::uint32_t rcv_wnd, seq32 seq, std::uint32_t len) {
    const seq32 right = rcv_nxt + rcv_wnd;
    if (len == 0) return rcv_wnd == 0 ? seq == rcv_nxt : in_range(rcv_nxt, seq, right);
    return rcv_wnd != 0 && (in_range(rcv_nxt, seq, right) || in_range(rcv_nxt, seq + (len - 1), right));
}

} // namespace tern::tcp
