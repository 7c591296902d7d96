# Network namespace helpers for the demo and the integration tests. Every namespace is
# made here and removed by the caller's trap; addresses come from 198.18.0.0/15 only.
# Sourced after common.sh.

TERN_NS_LIST=()
TERN_PIDS=()

# make_ns NAME: a fresh namespace with loopback up.
make_ns() {
    local ns=$1
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    TERN_NS_LIST+=("$ns")
}

# tap_in_ns NS IFACE ADDR/PREFIX: a multi-queue TAP the DPDK net_tap PMD attaches to,
# made beforehand so the kernel side is addressed and up before tern starts.
tap_in_ns() {
    local ns=$1 iface=$2 addr=$3
    ip netns exec "$ns" ip tuntap add dev "$iface" mode tap multi_queue
    ip netns exec "$ns" ip addr add "$addr" dev "$iface"
    ip netns exec "$ns" ip link set "$iface" up
}

# start_nginx NS DIR LISTEN WORKER_CONNECTIONS [HTTP_LINE]: nginx in namespace NS, in the
# foreground of its own process (its PID joins TERN_PIDS), serving DIR/www on LISTEN
# (ADDR:PORT) with its pid, log and temporary files in DIR; waits until it listens.
start_nginx() {
    local ns=$1 dir=$2 listen=$3 conns=$4 extra=${5:-}
    mkdir -p "$dir/www" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections $conns; }
http {
    access_log off;
    $extra
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server { listen $listen; root $dir/www; }
}
EOF
    # `ip netns exec` itself, so that $! is nginx's own PID (ip execs it).
    ip netns exec "$ns" nginx -c "$dir/nginx.conf" >/dev/null 2>&1 &
    TERN_PIDS+=($!)
    for _ in $(seq 50); do ip netns exec "$ns" ss -ltnH | grep -qF "$listen" && return 0; sleep 0.1; done
    return 1
}

# wait_for_socket PATH: until a memif server side has made its socket, at most 10 s; false
# if it never did (the server failed: its log says why).
wait_for_socket() {
    local _
    for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
    return 1
}

# Kills the processes we started (by PID) and removes our namespaces.
cleanup_ns() {
    local pid
    for pid in "${TERN_PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    for pid in "${TERN_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    local ns
    # Anything still running inside our own namespaces was started by us (a server a
    # wrapper left behind): it goes with them.
    for ns in "${TERN_NS_LIST[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    # The EAL leaves its runtime folder (telemetry socket, config) behind: our prefixes
    # all end in this script's PID.
    rm -rf /var/run/dpdk/tern_*_"$$"
    # A process killed with SIGKILL leaves its hugepage files behind, and they hold the
    # pages until removed: every later run would fall back to --no-huge.
    rm -f /dev/hugepages/tern_*_"$$"map_*
    TERN_PIDS=()
    TERN_NS_LIST=()
}

# telemetry PREFIX COMMAND: one telemetry command's JSON answer.
telemetry() {
    echo "$2" | dpdk-telemetry.py -f "$1" 2>/dev/null | grep -F "\"${2%%,*}\""
}

# wait_telemetry PREFIX SECONDS [PID]: until the app answers /tern/port (0), or the time is
# up or the process PID has exited (1): no waiting out the time for an app that is gone.
wait_telemetry() {
    local prefix=$1 tries=$(( $2 * 10 )) pid=${3:-}
    for _ in $(seq "$tries"); do
        telemetry "$prefix" /tern/port >/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
    return 1
}

# For the integration tests: one "ok - NAME" or "not ok - NAME" line per check, which
# scripts/test counts. check NAME 'shell condition'
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; return 1; fi; }

# it_begin NAME: a namespace NAME-PID and a scratch folder $WORK, both removed on exit,
# and EAL_MEM set (hugepages or --no-huge).
it_begin() {
    NS=$1-$$
    WORK=$(mktemp -d)
    trap 'cleanup_ns; rm -rf "$WORK"' EXIT
    setup_hugepages >/dev/null 2>&1
    make_ns "$NS"
}
