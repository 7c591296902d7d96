#include "notation.hpp"

#include <charconv>
#include <sstream>
#include <vector>

namespace tern::tcp::test {

namespace f = wire::tcp_flags;

namespace {

constexpr std::pair<char, std::uint8_t> flag_letters[] = {
    {'S', f::syn}, {'F', f::fin}, {'R', f::rst}, {'P', f::psh}, {'U', f::urg}, {'E', f::ece}, {'W', f::cwr}, {'.', f::ack},
};

// A cursor over the text with small, failing-soft readers.
struct reader {
    std::string_view rest;
    std::string error;

    void skip_spaces() {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
    bool eat(char c) {
        skip_spaces();
        if (rest.empty() || rest.front() != c) return false;
        rest.remove_prefix(1);
        return true;
    }
    bool eat_word(std::string_view w) {
        skip_spaces();
        if (rest.substr(0, w.size()) != w) return false;
        rest.remove_prefix(w.size());
        return true;
    }
    std::optional<std::uint32_t> number() {
        skip_spaces();
        std::uint32_t v = 0;
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
        if (ec != std::errc{}) return std::nullopt;
        rest.remove_prefix(std::size_t(end - rest.data()));
        return v;
    }
    bool fail(std::string why) {
        if (error.empty()) error = std::move(why) + " at \"" + std::string(rest) + "\"";
        return false;
    }
};

bool parse_flags(reader& r, std::uint8_t& flags) {
    r.skip_spaces();
    while (!r.rest.empty() && r.rest.front() != ' ') {
        bool known = false;
        for (auto [letter, bit] : flag_letters)
            if (r.rest.front() == letter) {
                flags |= bit;
                known = true;
            }
        if (!known) return r.fail("unknown flag");
        r.rest.remove_prefix(1);
    }
    return flags != 0 || r.fail("no flags");
}

bool parse_option(reader& r, wire::tcp_options& o) {
    if (r.eat_word("mss")) {
        auto v = r.number();
        if (!v) return r.fail("mss value");
        o.mss = std::uint16_t(*v);
    } else if (r.eat_word("sackOK")) {
        o.sack_permitted = true;
    } else if (r.eat_word("sack")) {
        while (true) {
            r.skip_spaces();
            if (r.rest.empty() || r.rest.front() == ',' || r.rest.front() == '>') break;
            auto left = r.number();
            if (!left || !r.eat(':')) return r.fail("sack block");
            auto right = r.number();
            if (!right) return r.fail("sack block end");
            if (o.sack_block_count == wire::tcp_max_sack_blocks) return r.fail("more than 4 sack blocks");
            o.sack_blocks[o.sack_block_count++] = {*left, *right};
        }
    } else if (r.eat_word("TS")) {
        if (!r.eat_word("val")) return r.fail("TS val");
        auto val = r.number();
        if (!val || !r.eat_word("ecr")) return r.fail("TS ecr");
        auto ecr = r.number();
        if (!ecr) return r.fail("TS ecr value");
        o.timestamp = std::pair{*val, *ecr};
    } else if (r.eat_word("nop") || r.eat_word("eol")) {
        // layout only: the comparison is by meaning
    } else if (r.eat_word("wscale")) {
        auto v = r.number();
        if (!v) return r.fail("wscale value");
        o.window_scale = std::uint8_t(*v);
    } else {
        return r.fail("unknown option");
    }
    return true;
}

bool parse_options(reader& r, wire::tcp_options& o) {
    if (r.eat('>')) return true;
    do {
        if (!parse_option(r, o)) return false;
    } while (r.eat(','));
    return r.eat('>') || r.fail("expected '>'");
}

} // namespace

result<notation_segment, std::string> parse_segment(std::string_view text) {
    reader r{text, {}};
    notation_segment s;
    auto bad = [&] { return unexpected{r.error.empty() ? std::string("bad segment") : r.error}; };
    if (!parse_flags(r, s.flags)) return bad();
    auto seq = r.number();
    if (!seq || !r.eat(':')) return r.fail("expected seq:end(len)"), bad();
    auto end = r.number();
    if (!end || !r.eat('(')) return r.fail("expected end(len)"), bad();
    auto len = r.number();
    if (!len || !r.eat(')')) return r.fail("expected len)"), bad();
    if (*end - *seq != *len) return r.fail("end - seq differs from len"), bad();
    s.seq = *seq;
    s.len = *len;
    while (true) {
        r.skip_spaces();
        if (r.rest.empty()) break;
        if (r.eat_word("ack")) {
            auto v = r.number();
            if (!v) return r.fail("ack value"), bad();
            s.ack = *v;
        } else if (r.eat_word("win")) {
            auto v = r.number();
            if (!v || *v > 0xffff) return r.fail("win value"), bad();
            s.win = std::uint16_t(*v);
        } else if (r.eat('<')) {
            s.options.emplace();
            if (!parse_options(r, *s.options)) return bad();
        } else {
            return r.fail("unexpected text"), bad();
        }
    }
    return s;
}

// In Linux's layout (tcp_options_write), which is also wire::tcp_repr's.
std::string format_options(const wire::tcp_options& o) {
    std::vector<std::string> parts;
    if (o.mss) parts.push_back("mss " + std::to_string(*o.mss));
    if (o.sack_permitted && o.timestamp) {
        parts.push_back("sackOK");
    } else if (o.sack_permitted || o.timestamp) {
        parts.push_back("nop");
        parts.push_back("nop");
        if (o.sack_permitted) parts.push_back("sackOK");
    }
    if (o.timestamp)
        parts.push_back("TS val " + std::to_string(o.timestamp->first) + " ecr " + std::to_string(o.timestamp->second));
    if (o.window_scale) {
        parts.push_back("nop");
        parts.push_back("wscale " + std::to_string(*o.window_scale));
    }
    if (o.sack_block_count > 0) {
        std::string sack = "sack";
        for (const auto& b : o.sacks()) sack += " " + std::to_string(b.left) + ":" + std::to_string(b.right);
        parts.push_back("nop");
        parts.push_back("nop");
        parts.push_back(sack);
    }
    std::string out = "<";
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
    return out + ">";
}

std::string format_segment(const notation_segment& s) {
    // Appends rather than "a" + b: g++ 12 warns falsely (-Wrestrict) on the latter.
    std::string out;
    for (auto [letter, bit] : flag_letters)
        if (s.flags & bit) out += letter;
    out.append(" ").append(std::to_string(s.seq)).append(":").append(std::to_string(s.seq + s.len));
    out.append("(").append(std::to_string(s.len)).append(")");
    if (s.ack) out.append(" ack ").append(std::to_string(*s.ack));
    if (s.win) out.append(" win ").append(std::to_string(*s.win));
    if (s.options && *s.options != wire::tcp_options{}) out.append(" ").append(format_options(*s.options));
    return out;
}

wire::tcp_repr to_repr(const notation_segment& s, std::uint32_t sender_isn, std::uint32_t receiver_isn) {
    wire::tcp_repr r;
    r.seq = sender_isn + s.seq;
    r.ack = s.ack ? receiver_isn + *s.ack : 0;
    r.flags = s.flags;
    r.window = s.win.value_or(65535);
    if (s.options) {
        r.options = *s.options;
        for (std::size_t i = 0; i < r.options.sack_block_count; ++i) {
            r.options.sack_blocks[i].left += receiver_isn;
            r.options.sack_blocks[i].right += receiver_isn;
        }
    }
    return r;
}

notation_segment from_repr(const wire::tcp_repr& r, std::size_t payload_len, std::uint32_t sender_isn,
                           std::uint32_t receiver_isn) {
    notation_segment s;
    s.flags = r.flags;
    s.seq = r.seq - sender_isn;
    s.len = std::uint32_t(payload_len);
    if (r.flags & f::ack) s.ack = r.ack - receiver_isn;
    s.win = r.window;
    s.options = r.options;
    for (std::size_t i = 0; i < s.options->sack_block_count; ++i) {
        s.options->sack_blocks[i].left -= receiver_isn;
        s.options->sack_blocks[i].right -= receiver_isn;
    }
    return s;
}

} // namespace tern::tcp::test
