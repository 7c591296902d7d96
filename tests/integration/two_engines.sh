#!/usr/bin/env bash
# Two engines on two lcores, one queue pair each, on a multi-queue TAP in a namespace
# made for this test: the kernel's pings are answered whichever queue they land on, each
# engine's counters are readable on their own and summed at the end. (The shared neighbor
# cache across engines is tested in tests/engine.)
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
PREFIX=tern_it_two_$$

it_begin tern-it-two
tap_in_ns "$NS" tern0 198.18.0.1/24

ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0-1 --file-prefix "$PREFIX" \
    --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 --engines 2 \
    --duration 60 >"$WORK/out.log" 2>&1 &
TERN_PIDS+=($!)
check "two engines start" "wait_telemetry $PREFIX 20"
check "the port has two queues" "telemetry $PREFIX /tern/port | grep -q '2 queue(s)'"

ip netns exec "$NS" ping -c 50 -i 0.01 -W 2 198.18.0.2 >"$WORK/ping.log" 2>&1
check "kernel pings tern: 50 sent, 50 received" "grep -q '50 packets transmitted, 50 received' '$WORK/ping.log'"
E0=$(telemetry "$PREFIX" /tern/stats,0 | grep -o '"icmp_echo_replies_out": [0-9]*' | grep -o '[0-9]*$')
E1=$(telemetry "$PREFIX" /tern/stats,1 | grep -o '"icmp_echo_replies_out": [0-9]*' | grep -o '[0-9]*$')
check "the engines' replies add up to 50 (engine 0: ${E0:-?}, engine 1: ${E1:-?})" "[ $(( ${E0:-0} + ${E1:-0} )) -eq 50 ]"
check "telemetry rejects an engine that does not exist" "! telemetry $PREFIX /tern/stats,7 | grep -q rx_packets"

kill -TERM "${TERN_PIDS[0]}"
wait "${TERN_PIDS[0]}"; rc=$?
TERN_PIDS=()
check "SIGTERM stops both engines, exit 0" "[ $rc -eq 0 ]"
check "final counters summed over engines" "grep -q 'icmp_echo_replies_out 50' '$WORK/out.log'"
exit 0
