#include "dpdk/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

namespace tern {

result<eal, std::string> eal::start(int argc, char** argv) {
    int consumed = rte_eal_init(argc, argv);
    if (consumed < 0) return unexpected{std::string("EAL initialisation failed: ") + rte_strerror(rte_errno)};
    // rte_eal_init consumed `consumed` arguments after argv[0], including the "--".
    std::vector<std::string> rest{argv[0]};
    for (int i = consumed + 1; i < argc; ++i) rest.emplace_back(argv[i]);
    return eal(std::move(rest));
}

eal::~eal() {
    if (active_) rte_eal_cleanup();
}

} // namespace tern
