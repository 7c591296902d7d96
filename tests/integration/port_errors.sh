#!/usr/bin/env bash
# A port that cannot start says why in its last line, without an abort: exit 2 when the cause
# is a value given (a --huge-dir, a --vdev string its driver refuses), 1 when it is the
# machine's (hugepages, a memif socket or a runtime folder another process holds, a TAP made
# without CAP_NET_ADMIN). TAP devices and memif sockets are made inside a namespace made for
# this test; the hugepage checks ask for more than there is and take none.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
WORK=$(mktemp -d)
XDG=$(mktemp -d) # the runtime folder of the unprivileged run (the EAL's, for a user not root)
NS=tern-it-porterr-$$
trap 'cleanup_ns; rm -rf "$WORK" "$XDG"' EXIT
make_ns "$NS"
EAL=(--no-pci --no-telemetry -l 0)
NOHUGE=(--no-huge -m 256 "${EAL[@]}")
APP=(-- --ip 198.18.0.2/24 --duration 0.3 --interval 0)
SERVER=$BUILD/apps/tern-server

# fails NAME EXIT_CODE PATTERN -- command...: the command exits EXIT_CODE, its last line
# matches PATTERN, and nothing aborted (no sanitizer report, no core, no DPDK panic).
fails() {
    local name=$1 want=$2 pattern=$3; shift 4
    timeout 30 "$@" >"$WORK/out" 2>&1
    local rc=$? last
    last=$(grep -v '^[[:space:]]*$' "$WORK/out" | tail -1)
    if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" <<<"$last" &&
        ! grep -Eq 'AddressSanitizer|runtime error|Aborted|core dumped|PANIC' "$WORK/out"; then
        echo "ok - $name"
    else
        echo "not ok - $name (exit $rc, wanted $want; last line: $last)"
    fi
}

# No hugepages to be had. The checks ask for what the EAL cannot have, so they pass whatever
# the machine has reserved, and take none of it.
mkdir "$WORK/plain"
fails "a --huge-dir that is no hugetlbfs mount is named, with what to do" 2 \
    "--huge-dir: $WORK/plain is not on a hugetlbfs mount \(.*\); give one, or pass --no-huge" \
    -- "$SERVER" --huge-dir "$WORK/plain" "${EAL[@]}" --vdev=net_null0 --file-prefix "tern_pe1_$$" "${APP[@]}"
fails "more memory than the free hugepages: how many there are and what to do (exit 1)" 1 \
    "(not enough hugepages: .*(free of|ask for less)|no hugepages).*(reserve|--no-huge)" \
    -- "$SERVER" -m 1048576 "${EAL[@]}" --vdev=net_null0 --file-prefix "tern_pe2_$$" "${APP[@]}"
fails "tern-load says the same" 1 "(not enough|no) hugepages" \
    -- "$BUILD/apps/tern-load" -m 1048576 "${EAL[@]}" --vdev=net_null0 --file-prefix "tern_pe3_$$" \
    -- --ip 198.18.0.1/24 --target 198.18.0.2:80 --workload http --duration 0.3

# --vdev strings DPDK rejects: the string given and the driver's own reason, not "no DPDK port".
fails "a --vdev no driver takes is named" 2 "--vdev=net_nosuchdriver0: no DPDK driver takes the name 'net_nosuchdriver0'" \
    -- "$SERVER" "${NOHUGE[@]}" --vdev=net_nosuchdriver0 --file-prefix "tern_pe4_$$" "${APP[@]}"
fails "a memif ring size its driver refuses: the string and the driver's reason" 2 \
    "--vdev=net_memif0,rsize=99: its driver refused it: .*[Ii]nvalid ring size" \
    -- ip netns exec "$NS" "$SERVER" "${NOHUGE[@]}" --vdev=net_memif0,rsize=99 --file-prefix "tern_pe5_$$" "${APP[@]}"
fails "a TAP interface name its driver refuses: the string and the driver's reason" 2 \
    "--vdev=net_tap0,iface=a b/c: its driver refused it: .*interface name" \
    -- ip netns exec "$NS" "$SERVER" "${NOHUGE[@]}" "--vdev=net_tap0,iface=a b/c" --file-prefix "tern_pe6_$$" "${APP[@]}"

# Held by another process: a memif socket in the server role, a runtime folder (--file-prefix).
SOCK=/run/tern-pe-$$.sock
ip netns exec "$NS" "$SERVER" "${NOHUGE[@]}" --vdev=net_memif0,role=server,socket="$SOCK" --file-prefix "tern_pe_hold_$$" \
    -- --ip 198.18.0.2/24 --duration 30 --interval 0 >"$WORK/holder.log" 2>&1 &
HOLDER=$!
TERN_PIDS+=("$HOLDER")
for _ in $(seq 100); do grep -q "^tern-server: port 0" "$WORK/holder.log" && break; sleep 0.1; done
check "a memif server holds $SOCK" "grep -q '^tern-server: port 0: driver net_memif' '$WORK/holder.log'"
fails "a memif socket in use: the driver's reason, a machine cause (exit 1)" 1 \
    "--vdev=net_memif0,role=server,socket=$SOCK: its driver refused it: .*Address already in use" \
    -- ip netns exec "$NS" "$SERVER" "${NOHUGE[@]}" --vdev=net_memif0,role=server,socket="$SOCK" --file-prefix "tern_pe7_$$" "${APP[@]}"
fails "a runtime folder in use names the process that holds it and --file-prefix" 1 \
    "another DPDK process \(PID $HOLDER\) runs with the runtime folder .*tern_pe_hold_$$; give this one its own --file-prefix" \
    -- "$SERVER" "${NOHUGE[@]}" --vdev=net_null0 --file-prefix "tern_pe_hold_$$" "${APP[@]}"
kill -INT "$HOLDER"
wait "$HOLDER"
check "the holder was not disturbed (exit 0)" "[ $? -eq 0 ]"
TERN_PIDS=()

# A TAP made without CAP_NET_ADMIN: the user nobody, inside the namespace.
chown nobody "$XDG"
fails "a TAP without CAP_NET_ADMIN says so (exit 1)" 1 \
    "--vdev=net_tap0,iface=tern9: making a TAP interface needs CAP_NET_ADMIN; run as root or grant it" \
    -- ip netns exec "$NS" env XDG_RUNTIME_DIR="$XDG" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
    "$SERVER" "${NOHUGE[@]}" --vdev=net_tap0,iface=tern9 --file-prefix "tern_pe8_$$" "${APP[@]}"
check "no TAP was left in the namespace" "! ip netns exec $NS ip link show tern9 >/dev/null 2>&1"
exit 0
