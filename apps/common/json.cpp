#include "common/json.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace tern::json {

namespace {

class reader {
public:
    explicit reader(std::string_view text) : text_(text) {}

    value document() {
        value v = any(0);
        skip_space();
        if (at_ != text_.size()) fail("text after the document");
        return v;
    }

private:
    // Deeper than this is no report of ours, and would only exhaust the stack.
    static constexpr int max_depth = 64;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::invalid_argument("not JSON at byte " + std::to_string(at_) + ": " + what);
    }
    void skip_space() {
        while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
    }
    bool take(char c) {
        skip_space();
        if (at_ < text_.size() && text_[at_] == c) return ++at_, true;
        return false;
    }
    void expect(char c) {
        if (!take(c)) fail(std::string("'") + c + "' expected");
    }
    bool take_word(std::string_view w) {
        if (text_.substr(at_, w.size()) != w) return false;
        at_ += w.size();
        return true;
    }

    value any(int depth) {
        if (depth > max_depth) fail("nested too deep");
        skip_space();
        if (at_ >= text_.size()) fail("unexpected end");
        value v;
        const char c = text_[at_];
        if (c == '{') object(v, depth);
        else if (c == '[') array(v, depth);
        else if (c == '"') v.type = value::kind::string, v.text = string();
        else if (take_word("true")) v.type = value::kind::boolean, v.flag = true;
        else if (take_word("false")) v.type = value::kind::boolean;
        else if (take_word("null")) v.type = value::kind::null;
        else v.type = value::kind::number, v.text = number();
        return v;
    }

    void object(value& v, int depth) {
        v.type = value::kind::object;
        expect('{');
        if (take('}')) return;
        do {
            skip_space();
            if (at_ >= text_.size() || text_[at_] != '"') fail("a key expected");
            std::string key = string();
            expect(':');
            v.members.push_back({std::move(key), any(depth + 1)});
        } while (take(','));
        expect('}');
    }

    void array(value& v, int depth) {
        v.type = value::kind::array;
        expect('[');
        if (take(']')) return;
        do v.items.push_back(any(depth + 1));
        while (take(','));
        expect(']');
    }

    // The escapes quote() writes, and \/; others (\uXXXX beyond ASCII) are refused rather
    // than misread.
    std::string string() {
        ++at_; // the opening quote
        std::string s;
        while (at_ < text_.size() && text_[at_] != '"') {
            const char c = text_[at_++];
            s += c == '\\' ? escaped() : c;
        }
        if (at_ >= text_.size()) fail("unterminated string");
        ++at_;
        return s;
    }

    char escaped() {
        if (at_ >= text_.size()) fail("unterminated string");
        const char c = text_[at_++];
        if (c == '"' || c == '\\' || c == '/') return c;
        if (c == 'n') return '\n';
        unsigned code = 0;
        if (c == 'u' && at_ + 4 <= text_.size()) {
            auto [end, ec] = std::from_chars(text_.data() + at_, text_.data() + at_ + 4, code, 16);
            if (ec == std::errc{} && end == text_.data() + at_ + 4 && code < 0x80) {
                at_ += 4;
                return char(code);
            }
        }
        fail("an escape other than \\\" \\\\ \\/ \\n \\u00XX");
    }

    std::string number() {
        const std::size_t from = at_;
        while (at_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[at_])) ||
                                      std::string_view("+-.eE").find(text_[at_]) != std::string_view::npos))
            ++at_;
        if (at_ == from) fail("a value expected");
        return std::string(text_.substr(from, at_ - from));
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

// `where` is a key path ("histograms.latency"), or empty for the document itself.
std::string in(const std::string& where) { return where.empty() ? "" : where + ": "; }

[[noreturn]] void wrong(const std::string& where, const char* expected) {
    throw std::invalid_argument(in(where) + "not " + expected);
}

} // namespace

value parse(std::string_view text) { return reader(text).document(); }

bool value::has(const std::string& key) const {
    for (auto& [k, v] : members)
        if (k == key) return true;
    return false;
}

const value& value::at(const std::string& key, const std::string& where) const {
    if (type != kind::object) wrong(where, "an object");
    for (auto& [k, v] : members)
        if (k == key) return v;
    throw std::invalid_argument(in(where) + "no \"" + key + "\"");
}

std::uint64_t value::as_u64(const std::string& where) const {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (type != kind::number || ec != std::errc{} || end != text.data() + text.size())
        wrong(where, "an unsigned integer");
    return n;
}

double value::as_double(const std::string& where) const {
    if (type != kind::number) wrong(where, "a number");
    std::size_t used = 0;
    double d = 0;
    try {
        d = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size()) wrong(where, "a number");
    return d;
}

const std::string& value::as_string(const std::string& where) const {
    if (type != kind::string) wrong(where, "a string");
    return text;
}

bool value::as_bool(const std::string& where) const {
    if (type != kind::boolean) wrong(where, "true or false");
    return flag;
}

const std::vector<value>& value::as_array(const std::string& where) const {
    if (type != kind::array) wrong(where, "an array");
    return items;
}

std::string quote(std::string_view s) {
    std::string q = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') q += '\\', q += char(c);
        else if (c == '\n') q += "\\n";
        else if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            q += b;
        } else q += char(c);
    }
    return q + "\"";
}

} // namespace tern::json
