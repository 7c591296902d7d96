#!/usr/bin/env bash
# TCP over IPv6 against the kernel (issue 13), over a TAP in a namespace made for this test,
# every address from 2001:2::/48 (RFC 5180's benchmarking prefix): curl -6 fetches from
# tern-server's HTTP responder; 100 MiB go each way through tern's echo service over a path
# that drops and duplicates (ip6tables) with SHA-256 equal on both ends; tern-load runs rps
# and cps against nginx listening on IPv6, the cps run from eight IPv6 source addresses.
# Prints "ok - ..." / "not ok - ..." per check. Every loop is bounded in count and time.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-tcp6
tap_in_ns "$NS" tern0 198.18.0.1/24
in_ns() { ip netns exec "$NS" "$@"; }
# net_tap takes the kernel's side down when it closes, and the kernel flushes an IPv6
# address on link down: both come back before each run.
link_up() { in_ns ip link set tern0 up && in_ns ip -6 addr replace 2001:2::1/64 dev tern0 nodad; }
in_ns sysctl -qw net.ipv6.conf.tern0.keep_addr_on_down=1 # the namespace's own, for nginx's bound socket
check "the kernel takes 2001:2::1/64 on the TAP" "link_up"
TERN_IP6=(--ip 198.18.0.2/24 --ip 2001:2::2/64 --mac 02:00:c6:12:00:02)

# start_tern PREFIX MODE [args]: tern-server on the TAP, bounded by --duration; it answers
# telemetry, and its address is past duplicate detection (nd_advertisements_out: it announces
# it once detection is done).
start_tern() {
    local prefix=$1 mode=$2; shift 2
    link_up
    ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "$prefix" \
        --vdev=net_tap0,iface=tern0 -- "${TERN_IP6[@]}" --mode "$mode" \
        --duration "${TERN_DURATION:-120}" "$@" >"$WORK/$prefix.log" 2>&1 &
    TERN_PIDS+=($!)
    wait_telemetry "$prefix" 20 || return 1
    for _ in $(seq 50); do
        telemetry "$prefix" /tern/ipv6 | grep -q 'address 2001:2::2/64 preferred' && return 0
        sleep 0.1
    done
    return 1
}
stop_tern() {
    kill -INT "${TERN_PIDS[-1]}"
    wait "${TERN_PIDS[-1]}"
    local rc=$?
    unset 'TERN_PIDS[-1]'
    return $rc
}

# --- HTTP: curl -6 ---------------------------------------------------------------------
P1=tern_it6_http_$$
check "tern-server starts in http mode with 2001:2::2/64" "start_tern $P1 http --body-size 1000000"
in_ns curl -6 -gsS -m 20 -o "$WORK/body" -w '%{http_code} %{size_download}\n' 'http://[2001:2::2]/' >"$WORK/curl1" 2>&1
check "curl -6 gets 200 and the whole 1 MB body" "grep -qx '200 1000000' '$WORK/curl1'"
in_ns curl -6 -gsS -m 20 -v -o /dev/null -o /dev/null 'http://[2001:2::2]/1' 'http://[2001:2::2]/2' >"$WORK/curl2" 2>&1
check "two requests on one keep-alive connection over IPv6" \
    "[ \$(grep -c 'HTTP/1.1 200 OK' '$WORK/curl2') -eq 2 ] && grep -q 'Re-using existing connection' '$WORK/curl2'"
in_ns curl -4 -sS -m 20 -o /dev/null -w '%{http_code}\n' http://198.18.0.2/ >"$WORK/curl4" 2>&1
check "the same listener serves IPv4 beside it" "grep -qx 200 '$WORK/curl4'"
in_ns python3 - >"$WORK/refused" 2>&1 <<'PY'
import socket
try:
    socket.create_connection(("2001:2::2", 81), timeout=10)
    print("connected")
except ConnectionRefusedError:
    print("refused")
except Exception as e:
    print("other", e)
PY
check "a port tern does not listen on gives ECONNREFUSED over IPv6" "grep -qx refused '$WORK/refused'"
# A connection held open while telemetry lists it.
in_ns timeout 20 python3 -c 'import socket, time; s = socket.create_connection(("2001:2::2", 80), timeout=10); time.sleep(3)' &
HOLDER=$!
for _ in $(seq 30); do telemetry "$P1" /tern/tcp/connections | grep -q '\[2001:2::2\]:80 \[2001:2::1\]:' && break; sleep 0.1; done
check "telemetry lists an IPv6 connection as [2001:2::2]:80 [2001:2::1]:PORT" \
    "telemetry $P1 /tern/tcp/connections | grep -q '\[2001:2::2\]:80 \[2001:2::1\]:[0-9]* '"
wait $HOLDER
check "tern-server stops cleanly" "stop_tern"
check "its summary counts the four requests" "grep -q 'http_requests 4' '$WORK/$P1.log'"

# --- echo over an impaired path ----------------------------------------------------------
# 1% of TCP segments dropped each way (ip6tables' statistic match), 1% duplicated each way
# (TEE on the kernel's side, tern's fault wrapper on its own).
P2=tern_it6_echo_$$
check "tern-server starts in echo mode with --fault-duplicate" \
    "TERN_DURATION=450 start_tern $P2 echo --port 7 --fault-duplicate 0.01 --fault-seed 42"
in_ns ip6tables -A INPUT -i tern0 -p tcp -m statistic --mode random --probability 0.01 -j DROP
in_ns ip6tables -A OUTPUT -o tern0 -p tcp -m statistic --mode random --probability 0.01 -j DROP
in_ns ip6tables -t mangle -A POSTROUTING -o tern0 -p tcp -m statistic --mode random --probability 0.01 \
    -j TEE --gateway 2001:2::2
in_ns timeout 400 python3 "$TERN_ROOT/tests/integration/kernel_echo.py" 2001:2::2 "${TERN_IT_MIB:-100}" >"$WORK/echo" 2>&1
DROPPED=$(in_ns ip6tables -L -v -n -x | awk '/DROP/ {n += $1} END {print n + 0}')
TEED=$(in_ns ip6tables -t mangle -L -v -n -x | awk '/TEE/ {n += $1} END {print n + 0}')
check "${TERN_IT_MIB:-100} MiB each way over IPv6 with loss and duplication: SHA-256 equal ($(grep seconds "$WORK/echo"); $DROPPED dropped, $TEED duplicated by the kernel)" \
    "[ \"\$(grep '^sent' '$WORK/echo' | cut -d' ' -f2)\" = \"\$(grep '^got' '$WORK/echo' | cut -d' ' -f3)\" ] && grep -q '^sent [0-9a-f]' '$WORK/echo' && [ $DROPPED -gt 0 ] && [ $TEED -gt 0 ]"
check "tern closes its side after the kernel's FIN" "grep -qx 'eof True' '$WORK/echo'"
in_ns ip6tables -F
in_ns ip6tables -t mangle -F
check "tern-server stops cleanly" "stop_tern"

# --- tern-load against nginx on IPv6 -----------------------------------------------------
link_up
start_nginx "$NS" "$WORK" "[2001:2::1]:8080" 1024 "keepalive_requests 50;"
check "nginx listens on [2001:2::1]:8080" "in_ns ss -ltnH | grep -qF '[2001:2::1]:8080'"
head -c 1000 /dev/urandom >"$WORK/www/page.bin"
n=0
# load NAME [tern-load args]: exit code in LOAD_RC, JSON in $WORK/NAME.json.
load() {
    local name=$1; shift
    n=$((n + 1))
    link_up
    timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 0 --file-prefix "tern_it6l_${n}_$$" \
        --vdev=net_tap0,iface=tern0 -- "${TERN_IP6[@]}" \
        --target '[2001:2::1]:8080' --json "$WORK/$name.json" "$@" >"$WORK/$name.log" 2>&1
    LOAD_RC=$?
    [ "$LOAD_RC" -eq 0 ] || tail -25 "$WORK/$name.log"
}
field() { python3 -c "import json; r=json.load(open('$WORK/$1.json')); print($2)" 2>/dev/null; }

load rps --workload rps --path /page.bin --rate 300 --connections 4 --warmup 1 --duration 3
check "rps over IPv6: exit 0, zero errors (exit $LOAD_RC, errors $(field rps "r['errors']"))" \
    "[ $LOAD_RC -eq 0 ] && [ \"\$(field rps \"r['errors']\")\" = 0 ]"
check "rps over IPv6: the target rate is met within 10% ($(field rps "r['req_per_s']") req/s)" \
    "[ \"\$(field rps \"270 <= r['req_per_s'] <= 330\")\" = True ]"
check "rps over IPv6: the report names the target [2001:2::1]:8080" "grep -qF 'against [2001:2::1]:8080' '$WORK/rps.log'"

load cps --workload cps --path /page.bin --rate 100 --requests 2 --duration 3 --source-ip 2001:2::10-2001:2::17
check "cps over IPv6 from 8 source addresses: exit 0, zero errors (exit $LOAD_RC, errors $(field cps "r['errors']"))" \
    "[ $LOAD_RC -eq 0 ] && [ \"\$(field cps \"r['errors']\")\" = 0 ]"
check "cps over IPv6: connections completed ($(field cps "r['totals']['completed']"))" \
    "[ \"\$(field cps \"r['totals']['completed'] >= 200\")\" = True ]"
# The kernel solicits each source address before it answers from it (RFC 4861 §7.2.2).
SOLICITED=$(grep -o 'nd_solicitations_in [0-9]*' "$WORK/cps.log" | grep -o '[0-9]*$')
check "the kernel resolved the 8 source addresses by Neighbor Discovery (${SOLICITED:-0} solicitations answered)" \
    "[ \"\${SOLICITED:-0}\" -ge 8 ]"

cleanup_ns
