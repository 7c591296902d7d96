#!/usr/bin/env bash
# IPv6 against the kernel (issue 13; so far Neighbor Discovery and ICMPv6 echo): tern-server
# with 2001:2::2/64 on a TAP in a namespace of this test's own, the kernel at 2001:2::1/64
# on it (RFC 5180's benchmarking prefix). tern checks its addresses for duplicates at start
# and announces them (telemetry's /tern/ipv6 lists them with their state); the kernel
# resolves tern with a Neighbor Solicitation and pings both of tern's addresses; an address
# the kernel already has is found duplicate and never used; the capture shows it all.
# Prints "ok - ..." / "not ok - ..." per check.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
PREFIX=tern_it_ipv6_$$
TERN_MAC=02:00:c6:12:00:02
TERN_LINK_LOCAL=fe80::c6ff:fe12:2 # RFC 4291 Appendix A, from TERN_MAC

it_begin tern-it-ipv6
tap_in_ns "$NS" tern0 198.18.0.1/24
in_ns() { ip netns exec "$NS" "$@"; }
check "the kernel takes 2001:2::1/64 on the TAP" "in_ns ip -6 addr add 2001:2::1/64 dev tern0 nodad"

# 2001:2::1 is the kernel's: tern's detection must find it taken.
ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$PREFIX" \
    --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --ip 2001:2::2/64 --ip 2001:2::1/64 --mac "$TERN_MAC" \
    --pcap "$WORK/cap.pcapng" --duration 60 >"$WORK/out.log" 2>&1 &
TERN_PIDS+=($!)
check "tern-server answers telemetry" "wait_telemetry $PREFIX 20"
stat_of() { telemetry "$PREFIX" /tern/stats | grep -o "\"$1\": [0-9]*" | grep -o '[0-9]*$'; }
# Detection takes RetransTimer (1 s); then each usable address is announced.
for _ in $(seq 50); do [ "$(stat_of nd_advertisements_out)" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
check "tern found 2001:2::1 in use by the kernel" "[ \"\$(stat_of ipv6_duplicate_addresses)\" = 1 ]"

in_ns ping -6 -c 20 -i 0.05 -W 2 2001:2::2 >"$WORK/ping.log" 2>&1
check "the kernel pings 2001:2::2: 20 sent, 20 received" "grep -q '20 packets transmitted, 20 received' '$WORK/ping.log'"
check "the kernel resolved tern with Neighbor Discovery" "in_ns ip -6 neigh show 2001:2::2 dev tern0 | grep -qi 'lladdr $TERN_MAC'"
in_ns ping -6 -c 5 -i 0.05 -W 2 "$TERN_LINK_LOCAL%tern0" >"$WORK/ping-ll.log" 2>&1
check "the kernel pings tern's link-local address: 5 received" "grep -q '5 packets transmitted, 5 received' '$WORK/ping-ll.log'"
KERNEL_MAC=$(in_ns cat /sys/class/net/tern0/address)
telemetry "$PREFIX" /tern/ipv6 >"$WORK/ipv6.json"
check "telemetry: 2001:2::2 and the link-local address preferred, 2001:2::1 duplicate" \
    "grep -q 'address 2001:2::2/64 preferred' '$WORK/ipv6.json' && grep -q 'address $TERN_LINK_LOCAL/64 preferred' '$WORK/ipv6.json' && grep -q 'address 2001:2::1/64 duplicate' '$WORK/ipv6.json'"
check "telemetry: the kernel as a neighbor" "grep -qi 'neighbor 2001:2::1 $KERNEL_MAC learned' '$WORK/ipv6.json'"
check "telemetry counts 25 echo replies" "[ \"\$(stat_of icmpv6_echo_replies_out)\" = 25 ]"
check "telemetry shows no malformed IPv6 and no invalid ND" \
    "! telemetry $PREFIX /tern/stats | grep -Eq '\"drop_(ipv6_[a-z_]+|icmpv6_bad_checksum|icmpv6_truncated|nd_invalid|nd_bad_option)\": [1-9]'"

kill -INT "${TERN_PIDS[0]}"
for _ in $(seq 100); do kill -0 "${TERN_PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
check "SIGINT stops tern-server" "! kill -0 ${TERN_PIDS[0]} 2>/dev/null"
wait "${TERN_PIDS[0]}"; rc=$?
check "tern-server exits 0" "[ $rc -eq 0 ]"
TERN_PIDS=()

tcpdump -enr "$WORK/cap.pcapng" >"$WORK/dump.txt" 2>/dev/null
check "capture: detection's solicitation for 2001:2::2 from ::" \
    "grep -q ':: > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has 2001:2::2' '$WORK/dump.txt'"
check "capture: the kernel defends 2001:2::1" \
    "grep -Eq '> ff02::1: ICMP6, neighbor advertisement, tgt is 2001:2::1' '$WORK/dump.txt'"
check "capture: tern announces 2001:2::2 and never 2001:2::1" \
    "grep -q '2001:2::2 > ff02::1: ICMP6, neighbor advertisement, tgt is 2001:2::2' '$WORK/dump.txt' && ! grep -q '^[0-9:.]* $TERN_MAC > .*advertisement, tgt is 2001:2::1,' '$WORK/dump.txt'"
check "capture: tern answers the kernel's solicitation" \
    "grep -q '2001:2::2 > 2001:2::1: ICMP6, neighbor advertisement, tgt is 2001:2::2' '$WORK/dump.txt'"
check "capture: 20 echo replies from 2001:2::2" "[ \$(grep -c '2001:2::2 > 2001:2::1: ICMP6, echo reply' '$WORK/dump.txt') -eq 20 ]"
[ -n "${TERN_KEEP_LOGS:-}" ] && cp "$WORK"/* "$TERN_KEEP_LOGS"/ 2>/dev/null
exit 0
