// Why the EAL, a port or the runtime around it could not be set up: one line for the operator.
#pragma once

#include <string>

namespace tern {

struct setup_error {
    // The setting the cause lies in, for the apps to name its option (--mtu, --engines, ...).
    // `none` when the message names what it is about itself (an EAL argument, a device).
    enum class setting { none, port_id, engines, queues, mtu, pool_size, pcap };

    std::string message;
    setting about = setting::none;
    // The value is wrong as given (the apps exit 2, as for any bad option); false when the
    // machine cannot do what was asked (exit 1): no hugepages, a device in use, a permission.
    bool bad_value = false;
};

} // namespace tern
