// tern/stack.hpp: the public start-up, over the EAL (src/dpdk/eal) and the runtime.
#include "tern/stack.hpp"

#include <cassert>
#include <optional>
#include <utility>

#include "core/engine.hpp"
#include "core/runtime.hpp"
#include "dpdk/eal.hpp"

namespace tern {

struct stack::parts {
    explicit parts(eal e) : dpdk(std::move(e)) {}
    eal dpdk;
    std::unique_ptr<runtime> rt; // before dpdk goes: declared after it
};

namespace {

stack::error from(const setup_error& e) { return stack::error{e.message, e.bad_value}; }

} // namespace

stack::stack(std::unique_ptr<parts> p) : parts_(std::move(p)) {}
stack::~stack() = default;

result<std::unique_ptr<stack>, stack::error> stack::start(int argc, char** argv) {
    auto e = eal::start(argc, argv);
    if (!e) return unexpected{from(e.error())};
    return std::unique_ptr<stack>(new stack(std::make_unique<parts>(std::move(*e))));
}

const std::vector<std::string>& stack::app_args() const { return parts_->dpdk.app_args(); }

status<stack::error> stack::create(const engine_config& config) {
    if (parts_->rt) return unexpected{error{"tern::stack::create: called twice", true}};
    runtime_options options;
    options.engine = config;
    auto rt = runtime::create(options);
    if (!rt) return unexpected{from(rt.error())};
    parts_->rt = std::move(*rt);
    return {};
}

std::size_t stack::engine_count() const { return parts_->rt ? parts_->rt->engine_count() : 0; }

engine& stack::engine_at(std::size_t i) {
    assert(parts_->rt && i < parts_->rt->engine_count());
    return parts_->rt->engine_at(i);
}

void stack::add_poller(std::size_t i, std::function<void(instant)> f) { engine_at(i).add_poller(std::move(f)); }

instant stack::now() const {
    assert(parts_->rt);
    return parts_->rt->now();
}

void stack::run(const std::atomic<bool>& stop) {
    assert(parts_->rt);
    parts_->rt->run(stop);
}

std::vector<std::pair<std::string, std::uint64_t>> stack::counters() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    if (!parts_->rt) return out;
    for (const auto& [name, value] : parts_->rt->totals()) out.emplace_back(std::string(name), value);
    return out;
}

} // namespace tern
