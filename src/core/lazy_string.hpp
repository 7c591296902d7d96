// Text that a connection holds only now and then (a response head split across segments,
// bytes send() did not take yet): one pointer while there is none, where a std::string
// costs 32 bytes in every connection (DESIGN.md "Memory"). Emptied, it gives its storage
// back, so a connection that held some once holds nothing idle.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tern {

class lazy_string {
public:
    bool empty() const { return !s_; }
    std::size_t size() const { return s_ ? s_->size() : 0; }
    std::string_view view() const { return s_ ? std::string_view(*s_) : std::string_view(); }
    void append(std::string_view more) {
        if (more.empty()) return;
        if (!s_) s_ = std::make_unique<std::string>();
        s_->append(more);
    }
    void assign(std::string_view text) {
        clear();
        append(text);
    }
    // Drops the first n bytes.
    void erase_front(std::size_t n) {
        if (!s_) return;
        s_->erase(0, n);
        if (s_->empty()) clear();
    }
    void clear() { s_.reset(); }

private:
    std::unique_ptr<std::string> s_; // never empty while it exists
};

} // namespace tern
