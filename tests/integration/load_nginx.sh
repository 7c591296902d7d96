#!/usr/bin/env bash
# tern-load against nginx (the kernel's TCP) through a TAP in a namespace made for this
# test: http (closed loop), rps (open loop) and cps with zero errors; nginx closes each
# keep-alive connection after 50 requests, so the reconnects are exercised too; a missing
# page counts as bad_status and makes the exit non-zero.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-load
tap_in_ns "$NS" tern0 198.18.0.1/24
in_ns() { ip netns exec "$NS" "$@"; }

start_nginx "$NS" "$WORK" 198.18.0.1:8080 1024 "keepalive_requests 50;"
head -c 1000 /dev/urandom >"$WORK/www/page.bin"
check "nginx listens in the namespace" "in_ns ss -ltnH | grep -q '198.18.0.1:8080'"

n=0
# load NAME [tern-load args]: tern-load on the TAP; exit code in LOAD_RC, JSON in $WORK/NAME.json.
load() {
    local name=$1; shift
    n=$((n + 1))
    in_ns ip link set tern0 up # net_tap takes the kernel side down when it closes
    timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 0 --file-prefix "tern_itl_${n}_$$" \
        --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 \
        --target 198.18.0.1:8080 --json "$WORK/$name.json" "$@" >"$WORK/$name.log" 2>&1
    LOAD_RC=$?
    [ "$LOAD_RC" -eq 0 ] || tail -25 "$WORK/$name.log"
}
field() { python3 -c "import json; r=json.load(open('$WORK/$1.json')); print($2)" 2>/dev/null; }

load http --workload http --path /page.bin --connections 4 --duration 3
check "http: exit 0, zero errors (exit $LOAD_RC, errors $(field http "r['errors']"))" \
    "[ $LOAD_RC -eq 0 ] && [ \"\$(field http \"r['errors']\")\" = 0 ]"
check "http: more responses than nginx allows one connection: it reconnected ($(field http "r['totals']['responses']"))" \
    "[ \"\$(field http \"r['totals']['responses'] > 200 and r['totals']['connects'] > 4\")\" = True ]"

load rps --workload rps --path /page.bin --rate 300 --connections 4 --warmup 1 --duration 3
check "rps: exit 0, zero errors (exit $LOAD_RC, errors $(field rps "r['errors']"))" \
    "[ $LOAD_RC -eq 0 ] && [ \"\$(field rps \"r['errors']\")\" = 0 ]"
check "rps: the target rate is met within 10% ($(field rps "r['req_per_s']") req/s)" \
    "[ \"\$(field rps \"270 <= r['req_per_s'] <= 330\")\" = True ]" ||
    sed -n '/time_s/,/connect (us/p' "$WORK/rps.log" # each second, for whoever reads the failure

load cps --workload cps --path /page.bin --rate 100 --requests 2 --duration 3
check "cps: exit 0, zero errors (exit $LOAD_RC, errors $(field cps "r['errors']"))" \
    "[ $LOAD_RC -eq 0 ] && [ \"\$(field cps \"r['errors']\")\" = 0 ]"
check "cps: connections completed ($(field cps "r['totals']['completed']"))" \
    "[ \"\$(field cps \"r['totals']['completed'] >= 200\")\" = True ]"

# Two runs in a row from the same eight source ports: nginx closes first (after 50
# requests), so the second run's SYNs meet its TIME-WAITs for those 4-tuples. Linux takes
# such a SYN only with a newer TSval (PAWS); a clock that restarted at 0 with each process
# had them refused, the connect waiting out a 1 s SYN timeout (CI's rps stall).
load tw1 --workload rps --path /page.bin --rate 400 --connections 4 --source-ports 40000-40007 --duration 2
load tw2 --workload rps --path /page.bin --rate 400 --connections 4 --source-ports 40000-40007 --duration 2
check "a second process on the same ports: its SYNs are taken at once (connects $(field tw2 "r['totals']['connects']"), retransmits $(field tw2 "r['totals']['retransmits']"), connect max $(field tw2 "r['connect_latency']['max_us']") us)" \
    "[ \"\$(field tw2 \"r['errors'] == 0 and r['totals']['retransmits'] == 0 and r['connect_latency']['max_us'] < 500000\")\" = True ]"

load missing --workload http --path /no-such-page --connections 1 --duration 2
check "a 404 is counted as bad_status and the exit is non-zero (exit $LOAD_RC)" \
    "[ $LOAD_RC -ne 0 ] && [ \"\$(field missing \"r['totals']['bad_status'] > 0\")\" = True ]"

cleanup_ns
check "nginx is gone with the namespace" "! pgrep -f '$WORK/nginx.conf' >/dev/null"
exit 0
