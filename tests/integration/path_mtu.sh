#!/usr/bin/env bash
# A smaller MTU in the middle of the path (RFC 1191). tern-server sits on a TAP in one
# namespace whose kernel routes to a second namespace over a veth pair; the router's side of
# the pair has MTU 1280, the client's 1500, so the client offers MSS 1460 and tern's
# 1500-byte datagrams (DF set) meet the narrow link at the router, which answers each with
# ICMP "fragmentation needed" (not rate-limited by Linux). curl in the second namespace
# fetches 1 MB: it must arrive whole and soon, with tern having taken the ICMP. Before tern
# read ICMP errors the transfer stalled for good. Then fragments: a client that sends
# without DF through a 576-byte hop to tern, whose datagrams tern must reassemble. Then a
# black hole: the router drops large datagrams and says nothing. Last, a host the router
# cannot reach. Then IPv6 through the same router: Packet Too Big (RFC 8201).
# Addresses: 198.18.0.0/24 and 198.18.2.0/24 on the TAPs, 198.18.1.0/24 on the veth pair;
# over IPv6 2001:2::/64 on the first TAP and 2001:2:1::/64 on the veth pair.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-pmtu
CLIENT_NS=tern-it-pmtu-client-$$
make_ns "$CLIENT_NS"
tap_in_ns "$NS" tern0 198.18.0.1/24
in_ns() { ip netns exec "$NS" "$@"; }
in_client() { ip netns exec "$CLIENT_NS" "$@"; }
# start_server PREFIX LOG WHAT [options]: tern-server on tern0 behind the router, checked up.
start_server() {
    local prefix=$1 log=$2 what=$3
    shift 3
    ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$prefix" \
        --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --gateway 198.18.0.1 --mac 02:00:c6:12:00:02 \
        --duration 120 "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    TERN_PIDS+=("$SERVER_PID")
    check "tern-server comes up $what" "wait_telemetry $prefix 20 $SERVER_PID" || tail -20 "$log"
}
# stop_server LOG WHAT: SIGINT, and a clean exit checked.
stop_server() {
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    local rc=$?
    TERN_PIDS=()
    check "tern-server $2 stops with exit 0 (got $rc)" "[ $rc -eq 0 ]" || tail -20 "$1"
}
# fetch OUT: the client fetches tern-server's 1 MB body; status, size and time go to OUT.
fetch() {
    in_client curl -sS -m 20 -o "$WORK/body" -w '%{http_code} %{size_download} %{time_total}\n' \
        http://198.18.0.2/ >"$1" 2>&1
}
stat_of() { telemetry "$1" "$2" | grep -o "\"$3\": [0-9]*" | grep -o '[0-9]*$'; }

in_ns ip link add pmtu0 type veth peer name pmtu1
in_ns ip link set pmtu1 netns "$CLIENT_NS"
in_ns ip addr add 198.18.1.1/24 dev pmtu0
in_ns ip link set pmtu0 mtu 1280 up
in_client ip addr add 198.18.1.2/24 dev pmtu1
in_client ip link set pmtu1 mtu 1500 up
in_client ip route add default via 198.18.1.1
in_ns sysctl -qw net.ipv4.ip_forward=1

PREFIX=tern_it_pmtu_$$
start_server "$PREFIX" "$WORK/server.log" "behind the router" --mode http --body-size 1000000
fetch "$WORK/curl"
check "curl across the 1280-byte link gets 200 and the whole 1 MB ($(tr '\n' ' ' <"$WORK/curl"))" \
    "grep -q '^200 1000000 ' '$WORK/curl'"
SECONDS_TAKEN=$(tail -1 "$WORK/curl" | awk '{print $NF}')
check "within 5 s: no retransmission timeouts wait on the path (took ${SECONDS_TAKEN:-?} s)" \
    "awk -v t='${SECONDS_TAKEN:-99}' 'BEGIN { exit !(t < 5) }'"
USED=$(stat_of "$PREFIX" /tern/tcp/stats icmp_unreachable_used)
IN=$(stat_of "$PREFIX" /tern/stats icmp_unreachable_in)
check "tern took the router's fragmentation needed (icmp_unreachable_in ${IN:-?}, used ${USED:-?})" \
    "[ ${USED:-0} -ge 1 ] && [ ${IN:-0} -ge ${USED:-1} ]"
PMTU_RTX=$(stat_of "$PREFIX" /tern/tcp/stats path_mtu_retransmits)
RTO_RTX=$(stat_of "$PREFIX" /tern/tcp/stats rto_retransmits)
check "its resends in the smaller size count as such (path_mtu_retransmits ${PMTU_RTX:-?}, rto_retransmits ${RTO_RTX:-?})" \
    "[ ${PMTU_RTX:-0} -ge 1 ] && [ '${RTO_RTX:-x}' = 0 ]"
stop_server "$WORK/server.log" "(http)"

# Fragments (RFC 1122 §3.3.2: a host MUST reassemble). The client now sends without DF
# (IP_PMTUDISC_DONT) and the router's hop to tern (the TAP's kernel side) carries 576 bytes,
# so each full segment the client sends (MSS 1460) reaches tern in three fragments. The veth
# is back at 1500 both ways (a veth drops what exceeds its receiver's MTU). 400 kB go to
# tern-server's echo service and must come back the same. Before tern reassembled, every
# full segment was dropped (ipv4_fragment), so the transfer could not finish.
in_ns ip link set pmtu0 mtu 1500
FPREFIX=tern_it_pmtu_frag_$$
start_server "$FPREFIX" "$WORK/echo.log" "(echo) behind the 576-byte hop" --mode echo
in_ns ip link set tern0 mtu 576 # after the start: DPDK's TAP driver sets the MTU it was given
in_client timeout 60 python3 - >"$WORK/frag.out" 2>&1 <<'PY'
import hashlib, os, socket, threading
data = os.urandom(400_000)
s = socket.socket()
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0  # <linux/in.h>; Python does not name them
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
s.settimeout(30)
s.connect(("198.18.0.2", 7))
sender = threading.Thread(target=s.sendall, args=(data,))
sender.start()
got = bytearray()
while len(got) < len(data):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sender.join()
s.close()
print("echoed", len(got), "same" if bytes(got) == data else "different")
PY
check "400 kB sent in fragments come back whole ($(tr '\n' ' ' <"$WORK/frag.out"))" \
    "grep -q '^echoed 400000 same' '$WORK/frag.out'"
FRAGMENTS=$(stat_of "$FPREFIX" /tern/stats ipv4_fragments_in)
WHOLE=$(stat_of "$FPREFIX" /tern/stats ipv4_reassembled)
BAD=$(telemetry "$FPREFIX" /tern/stats | grep -o '"drop_ipv4_fragment[a-z_]*": [1-9][0-9]*' | tr '\n' ' ')
check "tern reassembled them (fragments ${FRAGMENTS:-?}, datagrams ${WHOLE:-?}, fragment drops: ${BAD:-none})" \
    "[ ${WHOLE:-0} -ge 200 ] && [ ${FRAGMENTS:-0} -ge $((${WHOLE:-0} * 2)) ] && [ -z '$BAD' ]"
stop_server "$WORK/echo.log" "(echo)"
in_ns ip link set tern0 mtu 1500

# A black hole (RFC 4821 §7.7): the router silently drops every datagram over 1200 bytes
# toward the client (an iptables rule in its namespace; no ICMP), so tern's full-sized
# segments vanish. After three timeouts in a row tern sends in a 1024-byte MTU, which passes,
# and the 1 MB arrives: after 1.4 s of timeouts or so, well before curl's 20 s. Before,
# every retransmission was full-sized too and the transfer never finished.
BPREFIX=tern_it_pmtu_hole_$$
start_server "$BPREFIX" "$WORK/hole.log" "behind the black hole" --mode http --body-size 1000000
in_ns iptables -A FORWARD -o pmtu0 -m length --length 1201:65535 -j DROP
fetch "$WORK/curl-hole"
in_ns iptables -D FORWARD -o pmtu0 -m length --length 1201:65535 -j DROP
check "curl through the black hole gets 200 and the whole 1 MB ($(tr '\n' ' ' <"$WORK/curl-hole"))" \
    "grep -q '^200 1000000 ' '$WORK/curl-hole'"
HOLES=$(stat_of "$BPREFIX" /tern/tcp/stats path_black_holes)
check "tern took the path for a black hole (path_black_holes ${HOLES:-?})" "[ ${HOLES:-0} -ge 1 ]"
stop_server "$WORK/hole.log" "(black hole)"

# The router's other answer: host unreachable. tern-load, on a second TAP (198.18.2.0/24),
# opens connections through the router to 198.18.1.99, which no host on the veth has: the
# router's ARP for it fails after about 3 s and it answers the waiting SYNs with ICMP host
# unreachable, which ends each open at once as unreachable (RFC 1122 §4.2.3.9, as Linux's
# EHOSTUNREACH) instead of after its SYN retries (over two minutes).
tap_in_ns "$NS" tern1 198.18.2.1/24
LPREFIX=tern_it_pmtu_load_$$
timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 0 --file-prefix "$LPREFIX" \
    --vdev=net_tap1,iface=tern1 -- --ip 198.18.2.2/24 --gateway 198.18.2.1 --mac 02:00:c6:12:02:02 \
    --target 198.18.1.99:80 --workload cps --rate 2 --duration 8 --json "$WORK/load.json" >"$WORK/load.log" 2>&1
UNREACHABLE=$(python3 -c "import json; print(json.load(open('$WORK/load.json'))['totals']['unreachable'])" 2>/dev/null)
TIMED_OUT=$(python3 -c "import json; print(json.load(open('$WORK/load.json'))['totals']['timed_out'])" 2>/dev/null)
check "opens toward a host the router cannot reach end as unreachable within the run (unreachable ${UNREACHABLE:-?}, timed out ${TIMED_OUT:-?})" \
    "[ ${UNREACHABLE:-0} -ge 1 ] && [ '${TIMED_OUT:-x}' = 0 ]" || tail -20 "$WORK/load.log"

# IPv6 through the same router (RFC 8201), addresses from 2001:2::/48: tern on 2001:2::/64
# with the router's 2001:2::1 as its IPv6 gateway, the client on 2001:2:1::/64 across the
# veth, whose router side is back at 1280 bytes (IPv6's minimum link MTU). The client offers
# MSS 1440; tern's 1500-byte packets meet the narrow link and the router answers with Packet
# Too Big (MTU 1280): tern must lower its MSS to 1208 and send again. A ping from the client
# is answered through the gateway too.
in_ns sysctl -qw net.ipv6.conf.all.forwarding=1
in_ns sysctl -qw net.ipv6.conf.tern0.keep_addr_on_down=1 # net_tap takes the link down when it closes
in_ns ip link set pmtu0 mtu 1280
in_ns ip -6 addr add 2001:2:1::1/64 dev pmtu0 nodad
in_client ip -6 addr add 2001:2:1::2/64 dev pmtu1 nodad
in_client ip -6 route add default via 2001:2:1::1
in_ns ip link set tern0 up
in_ns ip -6 addr replace 2001:2::1/64 dev tern0 nodad
SPREFIX=tern_it_pmtu_v6_$$
start_server "$SPREFIX" "$WORK/v6.log" "with 2001:2::2/64 behind the router" --ip 2001:2::2/64 --gateway 2001:2::1 \
    --no-dad --mode http --body-size 1000000
# The router's kernel learns tern's MAC first: with its link-local address still in
# detection after net_tap brought the link up, it first asked only after about a second.
in_ns ping -6 -c 1 -W 3 2001:2::2 >/dev/null 2>&1
in_client curl -6 -gsS -m 20 -o "$WORK/body6" -w '%{http_code} %{size_download} %{time_total}\n' \
    'http://[2001:2::2]/' >"$WORK/curl6" 2>&1
check "curl -6 across the 1280-byte link gets 200 and the whole 1 MB ($(tr '\n' ' ' <"$WORK/curl6"))" \
    "grep -q '^200 1000000 ' '$WORK/curl6'"
SECONDS_TAKEN=$(tail -1 "$WORK/curl6" | awk '{print $NF}')
check "within 5 s over IPv6 (took ${SECONDS_TAKEN:-?} s)" "awk -v t='${SECONDS_TAKEN:-99}' 'BEGIN { exit !(t < 5) }'"
TOO_BIG=$(stat_of "$SPREFIX" /tern/stats icmpv6_packet_too_big_in)
USED=$(stat_of "$SPREFIX" /tern/tcp/stats icmp_unreachable_used)
PMTU_RTX=$(stat_of "$SPREFIX" /tern/tcp/stats path_mtu_retransmits)
RTO_RTX=$(stat_of "$SPREFIX" /tern/tcp/stats rto_retransmits)
check "tern took the router's Packet Too Big (icmpv6_packet_too_big_in ${TOO_BIG:-?}, used ${USED:-?}, path_mtu_retransmits ${PMTU_RTX:-?}, rto_retransmits ${RTO_RTX:-?})" \
    "[ ${TOO_BIG:-0} -ge 1 ] && [ ${USED:-0} -ge 1 ] && [ ${PMTU_RTX:-0} -ge 1 ] && [ '${RTO_RTX:-x}' = 0 ]"
in_client ping -6 -c 2 -W 2 2001:2::2 >"$WORK/ping6" 2>&1
check "ping -6 from across the router is answered through the gateway" "grep -q ' 0% packet loss' '$WORK/ping6'"
stop_server "$WORK/v6.log" "(IPv6)"
exit 0
