#!/usr/bin/env bash
# tern-server's modes against the kernel's TCP, over a TAP device in a namespace made for
# this test: sink counts exactly the bytes a kernel client sends; source streams its
# pattern to a kernel client; http closes after "Connection: close", listens on two ports
# from an INI file (whose msl sets how long TIME_WAIT lasts), parks a keep-alive connection
# left idle and answers its next request, and serves wrk for a few
# seconds with no error. The per-second line and the summary are checked from
# tern-server's log. Every loop is bounded.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}

it_begin tern-it-modes
tap_in_ns "$NS" tern0 198.18.0.1/24

# start_tern PREFIX [args]: tern-server on the TAP, bounded by --duration. The net_tap PMD
# takes the kernel side down when it closes: it is brought up for each run.
start_tern() {
    local prefix=$1; shift
    ip netns exec "$NS" ip link set tern0 up
    ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$prefix" \
        --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 \
        --duration 120 "$@" >"$WORK/$prefix.log" 2>&1 &
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
# summary PREFIX NAME: the value of one counter in tern-server's final summary.
summary() { awk -v n="$2" '$1 == n {print $2}' "$WORK/$1.log"; }

# --- an MTU the TAP cannot carry -----------------------------------------------------
# DPDK 22.11's net_tap receives frames of at most 1522 bytes: --mtu 9000 is refused at start,
# with exit 2 and the option named, before any memory is taken.
P0=tern_it_mtu_$$
in_ns timeout 30 "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$P0" --vdev=net_tap0,iface=tern0 \
    -- --ip 198.18.0.2/24 --mtu 9000 >"$WORK/$P0.log" 2>&1
rc=$?
rm -rf "/var/run/dpdk/$P0"
check "--mtu 9000 on net_tap: exit 2 (got $rc)" "[ $rc -eq 2 ]"
check "--mtu 9000 on net_tap: the option and the port's limit named" \
    "grep -q -- '--mtu: 9000 is more than port 0 (net_tap) takes: it receives frames of at most 1522 bytes, an MTU of at most 1504' '$WORK/$P0.log'"

# --- sink ---------------------------------------------------------------------------
P1=tern_it_sink_$$
check "tern-server starts in sink mode" "start_tern $P1 --mode sink --interval 0.5"
in_ns timeout 60 python3 - >"$WORK/sink" 2>&1 <<'PY'
import socket
total = 20 * 1024 * 1024 + 12345   # not a multiple of any segment size
s = socket.create_connection(("198.18.0.2", 9), timeout=30)
chunk = bytes(range(256)) * 256
sent = 0
while sent < total:
    sent += s.send(chunk[: min(len(chunk), total - sent)])
s.shutdown(socket.SHUT_WR)
print("sent", sent)
print("eof", s.recv(1) == b"")      # the sink answers nothing and closes after our FIN
PY
check "the kernel client sent to the sink and saw its close" "grep -qx 'eof True' '$WORK/sink'"
sleep 1.2 # one progress line after the transfer
check "tern-server (sink) stops cleanly" "stop_tern"
check "sink counted exactly the bytes the kernel sent ($(summary $P1 bytes_in))" \
    "[ \"\$(summary $P1 bytes_in)\" = 20983865 ] && [ \"\$(summary $P1 bytes_out)\" = 0 ]"
check "the progress lines show the connection and the inbound rate" \
    "grep -Eq 'tern-server: +[0-9.]+s conns [0-9]+ accepted 1 .* in [1-9][0-9.]* Mbit/s' '$WORK/$P1.log'"
check "the summary counts the connection opened and closed" \
    "[ \"\$(summary $P1 connections_opened)\" = 1 ] && [ \"\$(summary $P1 connections_closed)\" = 1 ] && [ \"\$(summary $P1 tcp_accepted)\" = 1 ]"

# --- source -------------------------------------------------------------------------
P2=tern_it_source_$$
check "tern-server starts in source mode" "start_tern $P2 --mode source --port 1900"
in_ns timeout 60 python3 - >"$WORK/source" 2>&1 <<'PY'
import socket
want = 32 * 1024 * 1024
s = socket.create_connection(("198.18.0.2", 1900), timeout=30)
got = bytearray()
while len(got) < want:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += chunk
expected = bytes(ord('a') + i % 26 for i in range(26)) * (len(got) // 26 + 1)
print("got", len(got))
print("enough", len(got) >= want)
print("pattern", got == expected[: len(got)])
s.close()
PY
check "a kernel client read 32 MiB from source, all in the pattern ($(grep got "$WORK/source"))" \
    "grep -qx 'enough True' '$WORK/source' && grep -qx 'pattern True' '$WORK/source'"
for _ in $(seq 50); do [ "$(telemetry "$P2" /tern/tcp/stats | grep -o '"connections": [0-9]*')" = '"connections": 0' ] && break; sleep 0.1; done
check "tern-server (source) stops cleanly" "stop_tern"
check "source sent at least what the client read" "[ \"\$(summary $P2 bytes_out)\" -ge 33554432 ]"

# --- http: Connection: close, two ports from an INI file, wrk -----------------------
P3=tern_it_http_$$
printf 'mode = http\nport = 80,8080\nbody-size = 100\nmsl = 1\n' >"$WORK/http.ini"
check "tern-server starts in http mode from an INI file" "start_tern $P3 --config '$WORK/http.ini'"
check "it listens on both ports of the INI file" "grep -q 'http on TCP port 80,8080' '$WORK/$P3.log'"
in_ns timeout 30 python3 - >"$WORK/close" 2>&1 <<'PY'
import socket
s = socket.create_connection(("198.18.0.2", 8080), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: tern\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(4096)   # times out (an exception) if tern does not close
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
print(lines[0])
print("close", "Connection: close" in lines)
print("length", [l for l in lines if l.startswith("Content-Length:")][0].split(": ")[1], len(body))
PY
check "Connection: close gets 200 on port 8080" "grep -qx 'HTTP/1.1 200 OK' '$WORK/close'"
check "and the response says Connection: close, then tern closes" "grep -qx 'close True' '$WORK/close'"
check "Content-Length is the body's length" "grep -qx 'length 100 100' '$WORK/close'"
# tern closed first, so its side waits in TIME_WAIT for 2·MSL: 2 s with the INI file's
# "msl = 1" (60 s by default).
tw() { telemetry "$P3" /tern/tcp/states | grep -o '"TIME_WAIT": [0-9]*' | grep -o '[0-9]*$'; }
for _ in $(seq 20); do [ "$(tw)" = 1 ] && break; sleep 0.1; done
TW_SEEN=$(tw)
for _ in $(seq 50); do [ "$(tw)" = 0 ] && break; sleep 0.1; done
check "tern's TIME_WAIT lasts 2·MSL of the INI file's msl (seen: $TW_SEEN, then: $(tw))" "[ '$TW_SEEN' = 1 ] && [ \"\$(tw)\" = 0 ]"
# A keep-alive connection idle for a second is parked (a compact record instead of its
# stream) and made again by the kernel client's next request, which is answered as the first.
tcp_stat() { telemetry "$P3" /tern/tcp/stats | grep -o "\"$1\": [0-9]*" | grep -o '[0-9]*$'; }
in_ns timeout 30 python3 - >"$WORK/idle" 2>&1 <<'PY' &
import socket, time
s = socket.create_connection(("198.18.0.2", 80), timeout=10)
def ask():
    s.sendall(b"GET / HTTP/1.1\r\nHost: tern\r\n\r\n")
    data = b""
    while not (b"\r\n\r\n" in data and len(data.partition(b"\r\n\r\n")[2]) >= 100):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n")[0].decode()
print("first", ask(), flush=True)
time.sleep(3)
print("after idle", ask(), flush=True)
s.close()
PY
IDLE_PID=$!
PARKED=0
for _ in $(seq 40); do [ "$(tcp_stat parked)" = 1 ] && PARKED=1 && break; sleep 0.1; done
wait $IDLE_PID
check "an idle keep-alive connection is parked (seen: $PARKED)" "[ $PARKED = 1 ]"
check "and answered after its idle time as before ($(tr '\n' ' ' <"$WORK/idle"))" \
    "grep -qx 'first HTTP/1.1 200 OK' '$WORK/idle' && grep -qx 'after idle HTTP/1.1 200 OK' '$WORK/idle'"
check "made again by its next segment (unparks: $(tcp_stat unparks))" "[ \"\$(tcp_stat unparks)\" -ge 1 ]"
in_ns timeout 60 wrk -t1 -c16 -d3s --latency http://198.18.0.2/ >"$WORK/wrk" 2>&1
check "wrk ran against tern-server for 3 s ($(grep -E 'Requests/sec' "$WORK/wrk" | tr -s ' '))" \
    "grep -Eq 'Requests/sec: +[1-9]' '$WORK/wrk'"
# Nagle is on (the default): a response held for the client's delayed ACK would show as a
# median of 40 ms or more.
check "wrk's median latency is under 10 ms ($(awk '$1 == "50%" {print $2}' "$WORK/wrk"))" \
    "awk '\$1 == \"50%\" { v = \$2; if (v ~ /us\$/) ok = 1; else if (v ~ /ms\$/ && v + 0 < 10) ok = 1 } END { exit !ok }' '$WORK/wrk'"
check "wrk saw no socket error and no non-2xx answer" \
    "! grep -Eq 'Socket errors|Non-2xx' '$WORK/wrk'"
check "tern-server (http) stops cleanly" "stop_tern"
WRK_REQ=$(awk '/requests in/ {print $1}' "$WORK/wrk")
check "tern answered at least the $WRK_REQ requests wrk counted, and none was bad" \
    "[ \"\$(summary $P3 http_requests)\" -ge \"${WRK_REQ:-1000000000}\" ] && [ \"\$(summary $P3 http_bad_requests)\" = 0 ]"
check "the progress lines show req/s" "grep -Eq 'req/s [1-9][0-9]* bad 0' '$WORK/$P3.log'"
[ -n "${TERN_KEEP_LOGS:-}" ] && cp "$WORK"/* "$TERN_KEEP_LOGS"/ 2>/dev/null
exit 0
