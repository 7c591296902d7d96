#!/usr/bin/env bash
# tern's TCP against the kernel's, for what tern-server does not play: tern as a client
# (a page from nginx in the namespace, "refused" from a closed kernel port), and closing
# from either side first and simultaneously, with the kernel's `ss` and tern's own
# connection listing showing the expected states; abort gives the kernel ECONNRESET.
# Every loop is bounded in count and time.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
PEER=$BUILD/tests/integration/tern-peer

it_begin tern-it-states
tap_in_ns "$NS" tern0 198.18.0.1/24
in_ns() { ip netns exec "$NS" "$@"; }

# run_peer PREFIX LOG [args]: tern-peer on the TAP in the background, bounded by --duration.
run_peer() {
    local prefix=$1 logfile=$2; shift 2
    in_ns ip link set tern0 up # net_tap takes the kernel side down when it closes
    ip netns exec "$NS" "$PEER" $EAL_MEM --no-pci -l 0 --file-prefix "$prefix" --vdev=net_tap0,iface=tern0 -- \
        --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 "$@" >"$logfile" 2>&1 &
    TERN_PIDS+=($!)
}
# wait_pid PID SECONDS: until the process has exited; its exit code, or 124 on timeout.
wait_pid() {
    local pid=$1
    for _ in $(seq $(( $2 * 10 ))); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
        sleep 0.1
    done
    return 124
}

# --- tern as a client ----------------------------------------------------------------
start_nginx "$NS" "$WORK" 198.18.0.1:8080 64
head -c 300000 /dev/urandom >"$WORK/www/page.bin"
check "nginx listens in the namespace" "in_ns ss -ltnH | grep -q '198.18.0.1:8080'"

P1=tern_it_fetch_$$
run_peer $P1 "$WORK/fetch.log" --connect 198.18.0.1:8080 --duration 30 \
    --request 'GET /page.bin HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: close\r\n\r\n'
wait_pid "${TERN_PIDS[-1]}" 40
FETCH_RC=$?
WANT=$(sha256sum "$WORK/www/page.bin" | cut -d' ' -f1)
check "tern fetches a page from nginx: 200, and the body's SHA-256 is the file's" \
    "[ $FETCH_RC -eq 0 ] && grep -q 'status HTTP/1.1 200 OK' '$WORK/fetch.log' && grep -q 'body 300000 bytes sha256 $WANT' '$WORK/fetch.log'"
check "the connection to nginx ends normally" "grep -q 'closed: normal' '$WORK/fetch.log'"

P2=tern_it_refused_$$
run_peer $P2 "$WORK/refused.log" --connect 198.18.0.1:9 --duration 30
wait_pid "${TERN_PIDS[-1]}" 40
REFUSED_RC=$?
check "tern connecting to a closed kernel port reports refused" \
    "[ $REFUSED_RC -eq 3 ] && grep -q 'closed: refused' '$WORK/refused.log'"

# --- who closes first -------------------------------------------------------------------
# 20 ms of delay each way in tern's fault wrapper, so that on port 5004 both FINs are in
# flight at once (simultaneous close).
P3=tern_it_close_$$
run_peer $P3 "$WORK/close.log" --duration 120 --fault-delay-us 20000 \
    --listen 5001:close-first --listen 5002:hold --listen 5003:abort --listen 5004:close-on-data
wait_telemetry $P3 20
# Telemetry is up before tern-peer's listeners are: it starts with the EAL, and the
# "listening on" lines come after (once in a suite run of 2026-12-05 the check read the log
# in between and failed, though every listener was up).
for _ in $(seq 100); do grep -q 'listening on 5004' "$WORK/close.log" && break; sleep 0.1; done
check "tern-peer listens with four behaviours" "grep -q 'listening on 5004' '$WORK/close.log'"

cat >"$WORK/states.py" <<'PY'
# Drives the kernel side of each close scenario and checks both sides' states: the
# kernel's with ss, tern's with its telemetry listing. Prints ok / not ok lines.
import json, os, signal, socket, subprocess, sys, time

prefix, peer_pid = sys.argv[1], int(sys.argv[2])
TERN = "198.18.0.2"

def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name, flush=True)

def kernel_state(local_port):
    out = subprocess.run(["ss", "-tanH", "sport", "= :%d" % local_port], capture_output=True, text=True).stdout
    return out.split()[0] if out.split() else "gone"

def tern_state(tern_port, kernel_port):
    """tern's state of the connection (tern_port, kernel_port), from /tern/tcp/connections:
    one line per connection, "<engine> <local> <remote> <STATE> <info...>"."""
    out = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input="/tern/tcp/connections\n",
                         capture_output=True, text=True).stdout
    start = out.find("{")
    if start < 0:
        return "no answer"
    try:
        lines = json.loads(out[start:out.rfind("}") + 1])["/tern/tcp/connections"]["connections"]
    except (ValueError, KeyError, TypeError):
        return "bad answer"
    for line in lines:
        f = line.split()
        if len(f) >= 4 and f[1].endswith(":%d" % tern_port) and f[2].endswith(":%d" % kernel_port):
            return f[3].upper().replace("-", "_")
    return "gone"

def wait_for(fn, want, seconds=5.0):
    end = time.time() + seconds
    got = fn()
    while got != want and time.time() < end:
        time.sleep(0.05)
        got = fn()
    return got

def connect(port):
    s = socket.create_connection((TERN, port), timeout=10)
    return s, s.getsockname()[1]

# tern closes first: the kernel sits in CLOSE_WAIT, tern in FIN_WAIT_2; then the kernel
# closes and tern, which closed first, waits out TIME_WAIT.
s, kp = connect(5001)
check("tern closes first: the kernel reads end of stream", s.recv(1) == b"")
check("tern closes first: kernel CLOSE-WAIT (ss)", wait_for(lambda: kernel_state(kp), "CLOSE-WAIT") == "CLOSE-WAIT")
check("tern closes first: tern FIN_WAIT_2 (listing)", wait_for(lambda: tern_state(5001, kp), "FIN_WAIT_2") == "FIN_WAIT_2")
s.close()
check("tern closes first: tern TIME_WAIT after the kernel's FIN (listing)",
      wait_for(lambda: tern_state(5001, kp), "TIME_WAIT") == "TIME_WAIT")
check("tern closes first: the kernel's socket is gone (LAST_ACK acknowledged)",
      wait_for(lambda: kernel_state(kp), "gone") == "gone")

# The kernel closes first; tern's app does not close: CLOSE_WAIT is held, the kernel
# waits in FIN-WAIT-2. When tern's app closes (SIGUSR1), the kernel goes to TIME_WAIT.
s, kp = connect(5002)
s.sendall(b"x")
time.sleep(0.1)
s.shutdown(socket.SHUT_WR)
check("kernel closes first: tern CLOSE_WAIT (listing)", wait_for(lambda: tern_state(5002, kp), "CLOSE_WAIT") == "CLOSE_WAIT")
check("kernel closes first: kernel FIN-WAIT-2 (ss)", wait_for(lambda: kernel_state(kp), "FIN-WAIT-2") == "FIN-WAIT-2")
time.sleep(1.0)
check("kernel closes first: tern still holds CLOSE_WAIT a second later, its app has not closed",
      tern_state(5002, kp) == "CLOSE_WAIT")
os.kill(peer_pid, signal.SIGUSR1)
check("kernel closes first: after tern's app closes, the kernel reads end of stream", s.recv(1) == b"")
check("kernel closes first: the kernel, which closed first, is in TIME-WAIT (ss)",
      wait_for(lambda: kernel_state(kp), "TIME-WAIT") == "TIME-WAIT")
check("kernel closes first: tern's connection is gone (LAST_ACK acknowledged)",
      wait_for(lambda: tern_state(5002, kp), "gone") == "gone")
s.close()

# abort: the kernel's next read fails with ECONNRESET.
s, kp = connect(5003)
s.sendall(b"x")
try:
    s.settimeout(10)
    s.recv(1)
    got = "no error"
except ConnectionResetError:
    got = "ECONNRESET"
except Exception as e:
    got = repr(e)
check("abort gives the kernel ECONNRESET (got %s)" % got, got == "ECONNRESET")
check("abort: nothing left on either side",
      kernel_state(kp) == "gone" and wait_for(lambda: tern_state(5003, kp), "gone") == "gone")
s.close()

# Simultaneous close: tern closes when the byte arrives (20 ms later), the kernel right
# after sending it; both FINs cross, both sides pass through CLOSING to TIME_WAIT.
s, kp = connect(5004)
s.sendall(b"x")
time.sleep(0.005)
s.close()
check("simultaneous close: kernel TIME-WAIT (ss)", wait_for(lambda: kernel_state(kp), "TIME-WAIT") == "TIME-WAIT")
check("simultaneous close: tern TIME_WAIT (listing)", wait_for(lambda: tern_state(5004, kp), "TIME_WAIT") == "TIME_WAIT")
PY
in_ns timeout 90 python3 "$WORK/states.py" $P3 "${TERN_PIDS[-1]}" 2>&1 | tee "$WORK/states.out" | grep -E '^(not )?ok - '
check "tern-peer stops cleanly" "kill -INT ${TERN_PIDS[-1]} && wait_pid ${TERN_PIDS[-1]} 20"
[ -n "${TERN_KEEP_LOGS:-}" ] && cp "$WORK"/*.log "$WORK"/states.out "$TERN_KEEP_LOGS"/ 2>/dev/null
exit 0
