#!/usr/bin/env bash
# Two engines on two lcores, one queue pair each, on a multi-queue TAP in a namespace
# made for this test: the kernel's pings are answered whichever queue they land on, each
# engine's counters are readable on their own and summed at the end. (The shared neighbor
# cache across engines is tested in tests/engine.)
#
# Then 10,000 HTTP connections from the kernel. The kernel picks a TAP queue by its own flow
# hash, not tern's, so many segments land on the engine that does not own their flow; the
# engines hand those to the owner (core/steering.hpp). Every connection must be served, by
# one engine, with no segment answered as if its connection did not exist.
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
    --mode http --duration 180 >"$WORK/out.log" 2>&1 &
TERN_PIDS+=($!)
check "two engines start" "wait_telemetry $PREFIX 20"
check "the port has two queues" "telemetry $PREFIX /tern/port | grep -q '2 queue(s)'"

ip netns exec "$NS" ping -c 50 -i 0.01 -W 2 198.18.0.2 >"$WORK/ping.log" 2>&1
check "kernel pings tern: 50 sent, 50 received" "grep -q '50 packets transmitted, 50 received' '$WORK/ping.log'"
E0=$(telemetry "$PREFIX" /tern/stats,0 | grep -o '"icmp_echo_replies_out": [0-9]*' | grep -o '[0-9]*$')
E1=$(telemetry "$PREFIX" /tern/stats,1 | grep -o '"icmp_echo_replies_out": [0-9]*' | grep -o '[0-9]*$')
check "the engines' replies add up to 50 (engine 0: ${E0:-?}, engine 1: ${E1:-?})" "[ $(( ${E0:-0} + ${E1:-0} )) -eq 50 ]"
check "telemetry rejects an engine that does not exist" "! telemetry $PREFIX /tern/stats,7 | grep -q rx_packets"

# 20 threads of 500 connections each, one request a connection; bounded at 120 s.
ip netns exec "$NS" timeout 150 python3 - >"$WORK/http.log" 2>&1 <<'PY'
import socket, threading, time
ok = bad = 0
lock = threading.Lock()
deadline = time.time() + 120
def worker():
    global ok, bad
    for _ in range(500):
        if time.time() > deadline:
            break
        good = False
        try:
            s = socket.create_connection(("198.18.0.2", 80), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            good = data.startswith(b"HTTP/1.1 200")
        except OSError:
            pass
        with lock:
            if good: ok += 1
            else: bad += 1
threads = [threading.Thread(target=worker) for _ in range(20)]
for t in threads: t.start()
for t in threads: t.join()
print(f"connections ok {ok} failed {bad}")
PY
cat "$WORK/http.log"
check "10000 connections from the kernel, each answered 200" "grep -q 'connections ok 10000 failed 0' '$WORK/http.log'"
tcp_stat() { telemetry "$PREFIX" "/tern/tcp/stats,$1" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'; }
eng_stat() { telemetry "$PREFIX" "/tern/stats,$1" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'; }
O0=$(tcp_stat 0 accepted); O1=$(tcp_stat 1 accepted)
check "both engines served connections, 10000 in all (engine 0: ${O0:-?}, engine 1: ${O1:-?})" \
    "[ ${O0:-0} -gt 0 ] && [ ${O1:-0} -gt 0 ] && [ $(( ${O0:-0} + ${O1:-0} )) -eq 10000 ]"
# The four counters are read one telemetry call at a time, and the kernel keeps sending now
# and then (IPv6 router solicitations, MLD reports) after the connections are done: a segment
# handed over between two reads shows as one more in than out. Counters only grow, so read
# again until the sums meet (a segment lost between engines never lets them meet).
for _ in $(seq 10); do
    SO0=$(eng_stat 0 steered_out); SO1=$(eng_stat 1 steered_out)
    SI0=$(eng_stat 0 steered_in); SI1=$(eng_stat 1 steered_in)
    [ $(( ${SO0:-0} + ${SO1:-0} )) -eq $(( ${SI0:-0} + ${SI1:-0} )) ] && break
    sleep 0.3
done
check "segments on the wrong queue were handed over (out ${SO0:-?}/${SO1:-?}, in ${SI0:-?}/${SI1:-?})" \
    "[ $(( ${SO0:-0} + ${SO1:-0} )) -gt 0 ] && [ $(( ${SO0:-0} + ${SO1:-0} )) -eq $(( ${SI0:-0} + ${SI1:-0} )) ]"
F0=$(eng_stat 0 drop_steer_ring_full); F1=$(eng_stat 1 drop_steer_ring_full)
check "no segment lost to a full steering ring (${F0:-?}, ${F1:-?})" "[ \"${F0:-x}\" = 0 ] && [ \"${F1:-x}\" = 0 ]"
C0=$(tcp_stat 0 no_connection); C1=$(tcp_stat 1 no_connection)
telemetry "$PREFIX" /tern/tcp/stats >"$WORK/tcp.json"
check "no segment met an engine without its connection (${C0:-?}, ${C1:-?})" "[ \"${C0:-x}\" = 0 ] && [ \"${C1:-x}\" = 0 ]"

kill -TERM "${TERN_PIDS[0]}"
wait "${TERN_PIDS[0]}"; rc=$?
TERN_PIDS=()
check "SIGTERM stops both engines, exit 0" "[ $rc -eq 0 ]"
check "final counters summed over engines" "grep -q 'icmp_echo_replies_out 50' '$WORK/out.log'"
exit 0
