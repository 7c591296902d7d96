#!/usr/bin/env bash
# The kernel's TCP against tern's, over a TAP device in a namespace made for this test:
# curl fetches from tern's HTTP responder (keep-alive, a 1 MB body), a bad request gets
# 400, a closed port refuses, and a kernel socket program echoes 8 MiB through tern's echo
# service with SHA-256 equal on both ends. Every loop is bounded in count and time.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}

it_begin tern-it-tcp
tap_in_ns "$NS" tern0 198.18.0.1/24

# start_tern PREFIX MODE [args]: tern-server on the TAP, bounded by --duration.
start_tern() {
    local prefix=$1 mode=$2; shift 2
    ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$prefix" \
        --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 --mode "$mode" \
        --duration "${TERN_DURATION:-120}" "$@" >"$WORK/$prefix.log" 2>&1 &
    TERN_PIDS+=($!)
    wait_telemetry "$prefix" 20
}
stop_tern() {
    kill -INT "${TERN_PIDS[-1]}"
    wait "${TERN_PIDS[-1]}"
    local rc=$?
    unset 'TERN_PIDS[-1]'
    return $rc
}
in_ns() { ip netns exec "$NS" "$@"; }

# --- HTTP ---------------------------------------------------------------------------
P1=tern_it_http_$$
check "tern-server starts in http mode" "start_tern $P1 http --body-size 1000000"
in_ns curl -sS -m 20 -o "$WORK/body" -w '%{http_code} %{size_download}\n' http://198.18.0.2/ >"$WORK/curl1" 2>&1
check "curl gets 200 and the whole 1 MB body" "grep -qx '200 1000000' '$WORK/curl1'"
check "the body is the pattern tern serves" "head -c 26 '$WORK/body' | grep -qx abcdefghijklmnopqrstuvwxyz"
in_ns curl -sS -m 20 -v -o /dev/null -o /dev/null -o /dev/null http://198.18.0.2/1 http://198.18.0.2/2 http://198.18.0.2/3 >"$WORK/curl3" 2>&1
check "three requests on one keep-alive connection" "[ \$(grep -c 'HTTP/1.1 200 OK' '$WORK/curl3') -eq 3 ] && grep -q 'Re-using existing connection' '$WORK/curl3'"
in_ns python3 - >"$WORK/bad" 2>&1 <<'PY'
import socket
s = socket.create_connection(("198.18.0.2", 80), timeout=10)
s.sendall(b"NOT A REQUEST\r\n\r\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n")[0].decode())
PY
check "a malformed request gets 400 and the connection closed" "grep -qx 'HTTP/1.1 400 Bad Request' '$WORK/bad'"
in_ns python3 - >"$WORK/refused" 2>&1 <<'PY'
import socket
try:
    socket.create_connection(("198.18.0.2", 81), timeout=10)
    print("connected")
except ConnectionRefusedError:
    print("refused")
except Exception as e:
    print("other", e)
PY
check "a port tern does not listen on gives ECONNREFUSED" "grep -qx refused '$WORK/refused'"
# tern closes first (HTTP/1.0): the kernel's socket sits in CLOSE_WAIT until its app closes.
in_ns timeout 30 python3 - "$NS" >"$WORK/closewait" 2>&1 <<'PY'
import socket, subprocess, sys
s = socket.create_connection(("198.18.0.2", 80), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
while s.recv(65536):
    pass
port = s.getsockname()[1]
out = subprocess.run(["ss", "-tanH", "state", "close-wait", "sport", "= :%d" % port],
                     capture_output=True, text=True).stdout
print("close-wait" if "198.18.0.2:80" in out else "not in close-wait: " + out)
s.close()
PY
check "tern closed first: the kernel holds CLOSE_WAIT until its app closes" "grep -qx close-wait '$WORK/closewait'"
# The kernel's socket closed last, so tern's side waits in TIME_WAIT (2·MSL): telemetry
# counts it by state and lists it.
for _ in $(seq 30); do telemetry "$P1" /tern/tcp/states | grep -q '"TIME_WAIT": [1-9]' && break; sleep 0.1; done
check "telemetry counts tern's TIME_WAIT connections" "telemetry $P1 /tern/tcp/states | grep -q '\"TIME_WAIT\": [1-9]'"
check "telemetry lists a TIME_WAIT connection to the kernel" "telemetry $P1 /tern/tcp/connections | grep -q '198.18.0.2:80 198.18.0.1:[0-9]* TIME_WAIT '"
check "telemetry shows the TCP counters" "telemetry $P1 /tern/tcp/stats | grep -q '\"accepted\": [1-9]'"
check "tern-server stops cleanly" "stop_tern"
check "its summary counts the requests" "grep -q 'http_requests 5' '$WORK/$P1.log' && grep -q 'http_bad_requests 1' '$WORK/$P1.log'"

# --- echo ---------------------------------------------------------------------------
# The net_tap PMD takes the kernel side down when it closes; bring it up for the next run.
in_ns ip link set tern0 up
P2=tern_it_echo_$$
check "tern-server starts in echo mode" "start_tern $P2 echo --port 7"
in_ns timeout 120 python3 "$TERN_ROOT/tests/integration/kernel_echo.py" 198.18.0.2 8 >"$WORK/echo" 2>&1
check "8 MiB echoed through tern: SHA-256 equal" "[ \"\$(grep '^sent' '$WORK/echo' | cut -d' ' -f2)\" = \"\$(grep '^got' '$WORK/echo' | cut -d' ' -f3)\" ] && grep -q '^sent [0-9a-f]' '$WORK/echo'"
check "tern closes its side after the kernel's FIN" "grep -qx 'eof True' '$WORK/echo'"
# The kernel closed first, so its side of that connection waits out TIME_WAIT.
check "the kernel, which closed first, is in TIME_WAIT" \
    "in_ns ss -tanH state time-wait | grep -q '198.18.0.2:7\\b'"

check "tern-server stops cleanly" "stop_tern"

# 100 MiB each way over an impaired path: 1% of TCP segments dropped in each direction
# (iptables' statistic match) and 1% duplicated in each direction (TEE on the kernel's
# side, tern's fault wrapper on its own), plus tern's wrapper holding 5% of packets back
# behind later ones and up to 300 us of jitter each way (seeded: replayable). This
# kernel has no netem qdisc; where it has one, the same is netem's loss/duplicate/reorder.
in_ns ip link set tern0 up
P3=tern_it_faults_$$
check "tern-server starts with --fault-duplicate, --fault-reorder and --fault-jitter-us" \
    "TERN_DURATION=450 start_tern $P3 echo --port 7 --fault-duplicate 0.01 --fault-reorder 0.05 --fault-jitter-us 300 --fault-seed 42"
in_ns iptables -A INPUT -i tern0 -p tcp -m statistic --mode random --probability 0.01 -j DROP
in_ns iptables -A OUTPUT -o tern0 -p tcp -m statistic --mode random --probability 0.01 -j DROP
in_ns iptables -t mangle -A POSTROUTING -o tern0 -p tcp -m statistic --mode random --probability 0.01 \
    -j TEE --gateway 198.18.0.2
RETRANS0=$(in_ns awk '/^Tcp:/ {getline; print $13}' /proc/net/snmp)
in_ns timeout 400 python3 "$TERN_ROOT/tests/integration/kernel_echo.py" 198.18.0.2 "${TERN_IT_MIB:-100}" >"$WORK/echo_faults" 2>&1
RETRANS1=$(in_ns awk '/^Tcp:/ {getline; print $13}' /proc/net/snmp)
DROPPED=$(in_ns iptables -L -v -n -x | awk '/DROP/ {n += $1} END {print n + 0}')
TEED=$(in_ns iptables -t mangle -L -v -n -x | awk '/TEE/ {n += $1} END {print n + 0}')
check "${TERN_IT_MIB:-100} MiB each way over loss, duplication, reordering and jitter: SHA-256 equal ($(grep seconds "$WORK/echo_faults"); $DROPPED dropped, $TEED duplicated by the kernel, kernel retransmitted $((RETRANS1 - RETRANS0)))" \
    "[ \"\$(grep '^sent' '$WORK/echo_faults' | cut -d' ' -f2)\" = \"\$(grep '^got' '$WORK/echo_faults' | cut -d' ' -f3)\" ] && grep -q '^sent [0-9a-f]' '$WORK/echo_faults' && [ $DROPPED -gt 0 ] && [ $TEED -gt 0 ]"
check "tern closes its side after the kernel's FIN, over the impaired path" "grep -qx 'eof True' '$WORK/echo_faults'"
in_ns iptables -F
in_ns iptables -t mangle -F
check "tern-server stops cleanly" "stop_tern"
check "tern's fault wrapper did reorder and duplicate" \
    "grep -Eq 'fault_(rx|tx)_reordered [1-9]' '$WORK/$P3.log' && grep -Eq 'fault_(rx|tx)_duplicated [1-9]' '$WORK/$P3.log'"
[ -n "${TERN_KEEP_LOGS:-}" ] && cp "$WORK"/* "$TERN_KEEP_LOGS"/ 2>/dev/null
exit 0
