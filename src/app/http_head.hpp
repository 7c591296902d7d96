// Pieces shared by the two HTTP/1.1 head parsers of src/app: the request reader of
// http_service and the response reader of tern-load. Both read a head in one pass, line by
// line, where it lies (no copy), and compare header names without a call per byte: these
// parsers run once per request at millions of requests a second.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tern::app::http {

inline constexpr std::size_t npos = std::string_view::npos;

// The first `c` in the `n` bytes at `p`, or npos. Lines of a head, and the names in them,
// are a few dozen bytes: sixteen compared at once inline (SSE2, in every x86-64) beat a call
// to memchr, or a loop a byte at a time (bench_http: tern-load's GET 22 -> 18 ns with LFs
// found so, an nginx response 55 -> 49 ns with its colons too); elsewhere memchr.
inline std::size_t find_char(const char* p, std::size_t n, char c) {
#if defined(__SSE2__)
    std::size_t i = 0;
    const __m128i wanted = _mm_set1_epi8(c);
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        if (const unsigned m = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, wanted))))
            return i + std::size_t(std::countr_zero(m));
    }
    for (; i < n; ++i)
        if (p[i] == c) return i;
    return npos;
#else
    const void* at = std::memchr(p, c, n);
    return at ? std::size_t(static_cast<const char*>(at) - p) : npos;
#endif
}

// The first `c` in `s`, or npos.
inline std::size_t find_char(std::string_view s, char c) { return find_char(s.data(), s.size(), c); }

// Where the first CRLF at or after `from` starts (the index of its CR), or npos. A LF
// without a CR before it is part of the line, as a lone CR is (RFC 9112 §2.2 lets a
// recipient take a bare LF as a line end; we do not, and never did).
inline std::size_t find_crlf(std::string_view in, std::size_t from) {
    for (std::size_t at = from + 1; at < in.size();) {
        const std::size_t lf = find_char(in.data() + at, in.size() - at, '\n');
        if (lf == npos) return npos;
        if (in[at + lf - 1] == '\r') return at + lf - 1;
        at += lf + 1;
    }
    return npos;
}

// Whether `s` is `lower` in any case (RFC 9110 §5.1: field names are case-insensitive; so
// are the Connection options, §7.6.1). `lower` is lowercase ASCII. An ASCII letter and its
// capital differ only in bit 0x20, so that bit is set in the byte of `s` where `lower` has a
// letter, and nowhere else: '-' and CR also differ only in that bit, and are not the same.
// Locale-free, like the "C" locale's tolower that this replaces.
constexpr bool iequals_lower(std::string_view s, std::string_view lower) {
    if (s.size() != lower.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char l = lower[i];
        const char fold = l >= 'a' && l <= 'z' ? 0x20 : 0;
        if (char(s[i] | fold) != l) return false;
    }
    return true;
}

// Without the optional whitespace around a field value (RFC 9110 §5.6.3: SP and HTAB).
constexpr std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// Walks the head at the front of `in` (RFC 9112 §2.1: start line, field lines, an empty
// line), calling on_line(line, first) for each line before the empty one, without its CRLF;
// `first` for the start line. Returns the size of the head with its empty line, or 0 when
// `in` holds no complete head. The head ends at the first "\r\n\r\n" of `in`: an empty line
// after the start line (an empty start line is still the start line, and bad).
template <class F>
std::size_t scan_head(std::string_view in, F&& on_line) {
    bool first = true;
    for (std::size_t start = 0;;) {
        const std::size_t cr = find_crlf(in, start);
        if (cr == npos) return 0;
        if (cr == start && !first) return cr + 2;
        on_line(in.substr(start, cr - start), first);
        first = false;
        start = cr + 2;
    }
}

// The last head read whole and without error, and what it said. A peer sends the same head
// again and again (a load generator's GET, a server's answer to it), and comparing its bytes
// costs a fraction of reading them (bench_http: tern-server's response 52 ns read, 8.7 ns
// recalled; nginx's 80 and 8.7). Input that starts with those bytes has that head and no
// other: a head ends at its first empty line, and the bytes hold exactly one, at their end.
// One memo serves all the readers of an engine.
template <class Said>
class head_memo {
public:
    static constexpr std::size_t max_bytes = 512; // longer heads are not kept

    // What the head at the front of `in` said, if it is the one kept (its size: size()).
    const Said* recall(std::string_view in) {
        if (bytes_.empty() || in.size() < bytes_.size() || in.compare(0, bytes_.size(), bytes_) != 0) return nullptr;
        ++hits_;
        return &said_;
    }
    void remember(std::string_view head, const Said& said) {
        if (head.size() > max_bytes) return;
        bytes_.assign(head);
        said_ = said;
    }
    std::size_t size() const { return bytes_.size(); }
    std::uint64_t hits() const { return hits_; }

private:
    std::string bytes_;
    Said said_{};
    std::uint64_t hits_ = 0;
};

} // namespace tern::app::http
