#!/usr/bin/env bash
# The kernel and tern meet over a TAP device in a namespace made for this test:
# the kernel resolves tern and pings it 100 times, tern resolves the kernel, the
# capture written with --pcap reads back in tcpdump and tshark, and SIGINT stops tern
# cleanly with its counters. Prints "ok - ..." / "not ok - ..." per check.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
PREFIX=tern_it_arp_$$
TERN_MAC=02:00:c6:12:00:02

it_begin tern-it-arp
tap_in_ns "$NS" tern0 198.18.0.1/24

ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$PREFIX" \
    --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --mac "$TERN_MAC" --resolve 198.18.0.1 \
    --pcap "$WORK/cap.pcapng" --duration 60 >"$WORK/out.log" 2>&1 &
TERN_PIDS+=($!)
check "tern-server answers telemetry" "wait_telemetry $PREFIX 20"
# Read after tern is up: the net_tap PMD sets the kernel side's MAC when it attaches.
KERNEL_MAC=$(ip netns exec "$NS" cat /sys/class/net/tern0/address)

# tern asked for the kernel's address itself (--resolve) and holds the answer.
for _ in $(seq 30); do telemetry "$PREFIX" /tern/arp | grep -qi "198.18.0.1 $KERNEL_MAC" && break; sleep 0.1; done
check "tern resolved the kernel's address" "telemetry $PREFIX /tern/arp | grep -qi '198.18.0.1 $KERNEL_MAC learned'"

# The kernel learned tern from tern's own requests; forget it so that it has to ask.
ip netns exec "$NS" ip neigh flush dev tern0
ip netns exec "$NS" ping -c 100 -i 0.01 -W 2 198.18.0.2 >"$WORK/ping.log" 2>&1
check "kernel pings tern: 100 sent, 100 received" "grep -q '100 packets transmitted, 100 received' '$WORK/ping.log'"
check "kernel resolved tern with ARP" "ip netns exec $NS ip neigh show 198.18.0.2 dev tern0 | grep -qi 'lladdr $TERN_MAC'"
STATS=$(telemetry "$PREFIX" /tern/stats)
check "telemetry counts 100 echo replies" "echo '$STATS' | grep -q '\"icmp_echo_replies_out\": 100[,}]'"
check "telemetry shows no bad-packet drops" "! echo '$STATS' | grep -Eq '\"drop_(ipv4|icmp|arp)_[a-z_]+\": [1-9]'"

kill -INT "${TERN_PIDS[0]}"
for _ in $(seq 100); do kill -0 "${TERN_PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
check "SIGINT stops tern-server" "! kill -0 ${TERN_PIDS[0]} 2>/dev/null"
wait "${TERN_PIDS[0]}"; rc=$?
check "tern-server exits 0" "[ $rc -eq 0 ]"
check "final counters printed" "grep -q 'icmp_echo_replies_out 100' '$WORK/out.log'"
TERN_PIDS=()

tcpdump -nr "$WORK/cap.pcapng" >"$WORK/dump.txt" 2>/dev/null
check "tcpdump reads the capture" "[ -s '$WORK/dump.txt' ]"
check "capture: tern's ARP request for the kernel" "grep -q 'ARP, Request who-has 198.18.0.1 tell 198.18.0.2' '$WORK/dump.txt'"
check "capture: the kernel's ARP reply" "grep -Eq 'ARP, Reply 198.18.0.1 is-at $KERNEL_MAC' '$WORK/dump.txt'"
check "capture: the kernel's ARP request and tern's reply" "grep -q 'ARP, Reply 198.18.0.2 is-at $TERN_MAC' '$WORK/dump.txt'"
check "capture: 100 echo requests and 100 replies" \
    "[ \$(grep -c '198.18.0.1 > 198.18.0.2: ICMP echo request' '$WORK/dump.txt') -eq 100 ] && [ \$(grep -c '198.18.0.2 > 198.18.0.1: ICMP echo reply' '$WORK/dump.txt') -eq 100 ]"
FIRST=$(tcpdump -tt -nr "$WORK/cap.pcapng" 2>/dev/null | head -1 | cut -d. -f1)
check "capture timestamps are wall time (first $FIRST, now $(date +%s))" "[ -n '$FIRST' ] && [ \$(( \$(date +%s) - ${FIRST:-0} )) -lt 300 ] && [ \$(( \$(date +%s) - ${FIRST:-0} )) -ge 0 ]"
check "tshark reads the capture" "tshark -r '$WORK/cap.pcapng' -Y icmp 2>/dev/null | grep -c 'Echo (ping) reply' | grep -qx 100"
[ -n "${TERN_KEEP_LOGS:-}" ] && cp "$WORK"/* "$TERN_KEEP_LOGS"/ 2>/dev/null
exit 0
