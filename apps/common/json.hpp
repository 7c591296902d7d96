// A small JSON reader for the reports the tern apps write themselves (tern-load merge reads
// tern-load's --json). Numbers keep their text, so a count reads back exactly as the
// integer it was written as, whatever its size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::json {

struct member;

struct value {
    enum class kind { null, boolean, number, string, array, object } type = kind::null;
    bool flag = false;
    std::string text;            // a number's digits, or a string
    std::vector<value> items;    // array
    std::vector<member> members; // object, in their order

    // Throw std::invalid_argument naming `where` (a file, a key path) when absent or not so.
    const value& at(const std::string& key, const std::string& where) const;
    std::uint64_t as_u64(const std::string& where) const;
    double as_double(const std::string& where) const;
    const std::string& as_string(const std::string& where) const;
    bool as_bool(const std::string& where) const;
    const std::vector<value>& as_array(const std::string& where) const;
    bool has(const std::string& key) const;
};

struct member {
    std::string key;
    value v;
};

// Parses a whole document; throws std::invalid_argument with the byte offset of what is wrong.
value parse(std::string_view text);

// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);

} // namespace tern::json
