#!/usr/bin/env bash
# A SYN flood (tern-load --flood-rate 0: spoofed SYNs as fast as the port takes them, from
# 198.19.0.0/16, off the link, answered through the server's gateway, tern-load, which
# drops the answers as not its own) beside real connections at a steady rate (cps, one GET
# each), first against tern-server over memif, then against the kernel (nginx) over a TAP.
# tern-server must keep serving: no real connection fails (refused, reset, timed out) and
# all but those still in their exchange at the end complete; past the full SYN backlog
# the flood is answered with SYN cookies, keeping no state (RFC 4987 §3.6), and the
# server's memory does not grow with it. For the kernel the same figures are printed beside ours (the note
# compares them); its check is only that the run took place. Both in namespaces of their
# own, on 198.18.0.0/15 addresses (the flood's sources are 198.19.0.0/16, inside it).
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-flood
EAL_MEM="--no-huge -m 512"
SOCK=/run/tern-flood-$$.sock
trap 'cleanup_ns; rm -rf "$WORK" "$SOCK"' EXIT
SERVER_MAC=02:00:c6:12:00:02
CLIENT_MAC=02:00:c6:12:00:01
FLOOD="--flood-rate 0 --flood-sources 198.19.0.0/16"
RATE=500
REAL="--workload cps --rate $RATE --requests 1 --duration 4"
field() { python3 -c "import json; r=json.load(open('$WORK/$1.json')); print($2)" 2>/dev/null; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# ---- tern-server over memif ----
ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "tern_fls_$$" \
    --vdev=net_memif0,role=server,socket="$SOCK",rsize=14 -- --ip 198.18.0.2/24 --mac $SERVER_MAC \
    --static-arp 198.18.0.1=$CLIENT_MAC --gateway 198.18.0.1 --mode http --port 8080 --duration 120 \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
TERN_PIDS+=("$SERVER_PID")
wait_for_socket "$SOCK"
sleep 1
rss_before=$(rss_kb "$SERVER_PID")
timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 1 --file-prefix "tern_flc_$$" \
    --vdev=net_memif0,role=client,socket="$SOCK",rsize=14 -- --ip 198.18.0.1/24 --mac $CLIENT_MAC \
    --static-arp 198.18.0.2=$SERVER_MAC --target 198.18.0.2:8080 $REAL $FLOOD --json "$WORK/tern.json" \
    >"$WORK/tern.log" 2>&1
LOAD_RC=$?
rss_after=$(rss_kb "$SERVER_PID")
kill -INT "$SERVER_PID"; wait "$SERVER_PID"; SERVER_RC=$?
TERN_PIDS=()
server_counter() { awk -v k="$1" '$1 == k {print $2}' "$WORK/server.log" | tail -1; }
cookies=$(server_counter tcp_syn_cookies_sent)
connects=$(field tern "r['totals']['connects']")
completed=$(field tern "r['totals']['completed']")
echo "# tern: $(field tern "r['flood_syns']") flood SYNs; real connects $connects, completed $completed, errors $(field tern "r['errors']"), opens missed $(field tern "r['totals']['opens_missed']"); server cookies $cookies, RSS $rss_before -> $rss_after kB"
check "tern: tern-load exit 0 ($LOAD_RC)" "[ $LOAD_RC -eq 0 ]"
check "tern: the flood went out (over 10000 spoofed SYNs: $(field tern "r['flood_syns']"))" \
    "[ \"\$(field tern \"r['flood_syns'] > 10000\")\" = True ]"
# A connection opened in the run's last moments may still be in its exchange when tern-load
# stops (and resets it): neither success nor failure. How many that is depends on how long
# an exchange takes behind the flood's queues: its SYN, its GET and its FIN each wait one
# round trip behind up to a memif ring of spoofed SYNs or cookies (~100 ms each in the
# sanitizer build on a slow day: 120-145 of 2000 connections, where a fixed 5% failed runs
# of code that had passed). So the allowance is measured, not guessed: the connections
# opened in the last connect p99 + 2 request p99 of the run, plus 2%. None may fail
# (refused, reset, timed out), and a connect p99 of a second or more (RTOs) fails too.
late=$(field tern "int($RATE * (r['connect_latency']['p99_us'] + 2 * r['latency']['p99_us']) / 1e6 + 0.02 * r['totals']['connects'])")
check "tern: the real connections complete: zero errors, all but the $late opened in the last exchange time ($completed of $connects)" \
    "[ \"\$(field tern \"r['errors'] == 0 and r['totals']['connects'] > 100 and r['connect_latency']['p99_us'] < 1e6 and r['totals']['completed'] >= r['totals']['connects'] - $late\")\" = True ]" ||
    tail -30 "$WORK/tern.log"
check "tern: the flood is answered with SYN cookies ($cookies)" "[ \"\${cookies:-0}\" -gt 10000 ]"
check "tern: the server's memory did not grow with the flood ($rss_before -> $rss_after kB, at most +32 MiB)" \
    "[ -n '$rss_before' ] && [ -n '$rss_after' ] && [ $((rss_after - rss_before)) -lt 32768 ]"
check "tern: tern-server stops with exit 0 ($SERVER_RC)" "[ $SERVER_RC -eq 0 ]" || tail -20 "$WORK/server.log"

# ---- the kernel (nginx) over a TAP ----
tap_in_ns "$NS" tern0 198.18.0.1/24
ip netns exec "$NS" ip route add 198.19.0.0/16 via 198.18.0.2
start_nginx "$NS" "$WORK" 198.18.0.1:8080 4096
echo hello >"$WORK/www/index.html"
ip netns exec "$NS" nstat -n >/dev/null 2>&1 # from here on nstat shows what the run added
timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 1 --file-prefix "tern_flk_$$" \
    --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --mac $CLIENT_MAC \
    --target 198.18.0.1:8080 $REAL $FLOOD --json "$WORK/kernel.json" >"$WORK/kernel.log" 2>&1
KLOAD_RC=$?
kcookies=$(ip netns exec "$NS" nstat -az TcpExtSyncookiesSent 2>/dev/null | awk '/SyncookiesSent/ {print $2}')
echo "# kernel: $(field kernel "r['flood_syns']") flood SYNs; real connects $(field kernel "r['totals']['connects']"), completed $(field kernel "r['totals']['completed']"), errors $(field kernel "r['errors']"), opens missed $(field kernel "r['totals']['opens_missed']"); cookies sent $kcookies"
check "kernel: the run took place (tern-load exit $KLOAD_RC, a report with flood and real connections)" \
    "[ \"\$(field kernel \"r['flood_syns'] > 0 and r['totals']['connects'] > 0\")\" = True ]" || tail -20 "$WORK/kernel.log"

# Sources on our own link would be ARPed for by the target: refused, naming the option.
timeout 30 "$BUILD/apps/tern-load" --no-huge -m 256 --no-pci --no-telemetry -l 0 --file-prefix "tern_flr_$$" \
    --vdev=net_null0 -- --ip 198.18.0.1/24 --target 198.18.0.2:80 --workload cps --rate 10 \
    --flood-rate 0 --flood-sources 198.18.0.0/25 >"$WORK/refuse.log" 2>&1
rc=$?
check "flood sources on --ip's prefix are refused with exit 2, naming --flood-sources (exit $rc)" \
    "[ $rc -eq 2 ] && grep -q -- '--flood-sources: 198.18.0.0/25 overlaps' '$WORK/refuse.log'" || cat "$WORK/refuse.log"
timeout 30 "$BUILD/apps/tern-load" --no-huge -m 256 --no-pci --no-telemetry -l 0 --file-prefix "tern_flr_$$" \
    --vdev=net_null0 -- --ip 198.18.0.1/24 --target 198.18.0.2:80 --workload cps --rate 10 \
    --flood-rate 0 >"$WORK/refuse2.log" 2>&1
rc=$?
check "a flood rate without sources is refused with exit 2 (exit $rc)" \
    "[ $rc -eq 2 ] && grep -q -- '--flood-rate: needs --flood-sources' '$WORK/refuse2.log'"

cleanup_ns
exit 0
