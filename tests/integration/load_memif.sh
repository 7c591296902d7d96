#!/usr/bin/env bash
# tern-load against tern-server over memif: two processes, one lcore each (-l 0 and -l 1),
# joined by a memif socket of their own. Every workload runs a few seconds and must end
# with zero errors, non-zero figures and exit 0. Both run inside a namespace made for this
# test (memif's abstract socket lives in it), on addresses from 198.18.0.0/15. An MTU of 9000
# runs with memif buffers raised to hold it (bsize), and is refused without them.
# tern-server (the memif server) used to die now and then as a tern-load client left: net_memif
# unmapped the shared rings on its interrupt thread while the engine was inside an rx burst.
# The ports' bursts now hold the unmap off (dpdk/burst_section.hpp; memif_leave.sh makes the
# race happen every time).
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
WORK=$(mktemp -d)
NS=tern-it-memif-$$
trap 'cleanup_ns; rm -rf "$WORK" /run/tern-load-'"$$"'-*.sock' EXIT
make_ns "$NS"
# No hugepages: two processes of 512 MiB each, whatever the machine has reserved.
EAL_MEM="--no-huge -m 512"
SERVER_MAC=02:00:c6:12:00:02
CLIENT_MAC=02:00:c6:12:00:01
# net_memif's ring and buffer sizes, the same on both sides (serve and load read it).
MEMIF=rsize=14
n=0

# serve MODE [tern-server args]: a tern-server on lcore 0 behind a fresh memif socket.
serve() {
    local mode=$1; shift
    n=$((n + 1))
    SOCK=/run/tern-load-$$-$n.sock
    ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "tern_lms_${n}_$$" \
        --vdev=net_memif0,role=server,socket="$SOCK",$MEMIF -- --ip 198.18.0.2/24 --mac $SERVER_MAC \
        --static-arp 198.18.0.1=$CLIENT_MAC --mode "$mode" --no-delay --duration 120 "$@" \
        >"$WORK/server-$n.log" 2>&1 &
    SERVER_PID=$!
    TERN_PIDS+=("$SERVER_PID")
    # Until it answers telemetry (its port is up then), not a fixed second: once in CI
    # tern-load found no peer and the server was gone by its stop, with no word of why.
    wait_telemetry "tern_lms_${n}_$$" 15 "$SERVER_PID" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 0 # it stopped: the caller's checks judge that
    echo "tern-server ($mode) did not come up within 15 s; its log:"
    tail -20 "$WORK/server-$n.log"
}

# load NAME [tern-load args]: tern-load on lcore 1 against the current server; the JSON
# report goes to $WORK/NAME.json.
load() {
    local name=$1; shift
    timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 1 --file-prefix "tern_lmc_${n}_$$" \
        --vdev=net_memif0,role=client,socket="$SOCK",$MEMIF -- --ip 198.18.0.1/24 --mac $CLIENT_MAC \
        --static-arp 198.18.0.2=$SERVER_MAC --json "$WORK/$name.json" "$@" >"$WORK/$name.log" 2>&1
    LOAD_RC=$?
}

stop_server() {
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    SERVER_RC=$?
    TERN_PIDS=()
}

# field NAME EXPR: a value from NAME's JSON report (EXPR in Python over `r`).
field() { python3 -c "import json,sys; r=json.load(open('$WORK/$1.json')); print($2)" 2>/dev/null; }

# expect_ok NAME FIGURE-EXPR: exit 0, zero errors, and FIGURE above zero.
expect_ok() {
    local name=$1 figure=$2
    local errors value
    errors=$(field "$name" "r['errors']")
    value=$(field "$name" "$figure")
    check "$name: exit 0 (got $LOAD_RC)" "[ $LOAD_RC -eq 0 ]"
    check "$name: zero errors (got ${errors:-none})" "[ '${errors:-x}' = 0 ]"
    check "$name: $figure > 0 (got ${value:-none})" "python3 -c 'import sys; sys.exit(0 if float(\"${value:-0}\") > 0 else 1)'"
    if [ "$LOAD_RC" -ne 0 ]; then tail -30 "$WORK/$name.log"; fi
}

serve http --ip 2001:2::2/64
load rps-open --workload rps --target 198.18.0.2:80 --rate 2000 --connections 8 --warmup 1 --duration 3
expect_ok rps-open "r['req_per_s']"
check "rps-open: latency percentiles reported" "[ \"\$(field rps-open \"r['latency']['samples'] > 0 and r['latency']['p99_99_us'] >= r['latency']['p50_us'] > 0\")\" = True ]"
check "rps-open: progress lines every second, warm-up marked" "grep -q '(warm-up)' '$WORK/rps-open.log' && [ \$(grep -cE '^ +[0-9]+\.[0-9] ' '$WORK/rps-open.log') -ge 3 ]"
load rps-closed --workload rps --closed-loop --target 198.18.0.2 --connections 4 --ramp 1 --warmup 1 --duration 3
expect_ok rps-closed "r['req_per_s']"
# A closed loop has a request out on every connection when the warm-up ends; their answers
# are not the run's (counted from the warm-up's end by the printing thread, they were: 4 more
# responses than requests here).
check "rps-closed: requests and responses agree after the warm-up ($(field rps-closed "r['totals']['responses']") of $(field rps-closed "r['totals']['requests']"))" \
    "[ \"\$(field rps-closed \"r['totals']['responses'] == r['totals']['requests'] > 0\")\" = True ]"
load http --workload http --target 198.18.0.2:80 --connections 4 --duration 3
expect_ok http "r['totals']['responses']"
# Idle connections park: 400 connections at 800 requests/s wait half a second between
# requests, past tern-load's --park-after (0.2 s; by default a second, and then none would
# park, as none does in tern-server here); tern-load makes each again for its next request,
# and every request is answered.
load rps-parked --workload rps --target 198.18.0.2:80 --rate 800 --connections 400 --pipeline 1 --duration 5 \
    --park-after 0.2
expect_ok rps-parked "r['totals']['responses']"
check "rps-parked: tern-load parked connections and made them again to send" \
    "awk '/^ +tcp_parks /{p=\$2} /^ +tcp_unparks /{u=\$2} END{exit !(p > 100 && u > 100)}' '$WORK/rps-parked.log'"
check "rps-parked: every request answered ($(field rps-parked "r['totals']['responses']") of $(field rps-parked "r['totals']['requests']"))" \
    "[ \"\$(field rps-parked \"r['totals']['responses'] >= r['totals']['requests'] - 1\")\" = True ]"
# cps from four source addresses and a port range (the server learns them by ARP).
load cps-client-closes --workload cps --target 198.18.0.2:80 --rate 300 --requests 2 --msl 0.5 \
    --source-ip 198.18.0.100-198.18.0.103 --source-ports 20000-29999 --duration 3
expect_ok cps-client-closes "r['totals']['completed']"
check "cps-client-closes: the missed opens by cause add up to opens_missed" \
    "[ \"\$(field cps-client-closes \"sum(r['totals']['missed_' + c] for c in ('late', 'behind', 'capped', 'round', 'paused')) == r['totals']['opens_missed']\")\" = True ]"
check "cps-client-closes: each progress line says what was missed and how long the engine stalled" \
    "grep -qE 'errors +missed +stall_ms' '$WORK/cps-client-closes.log' && grep -E '^ +2\.0 ' '$WORK/cps-client-closes.log' | awk '{exit !(NF >= 12)}'"
load cps-server-closes --workload cps --target 198.18.0.2:80 --rate 300 --close server --duration 3
expect_ok cps-server-closes "r['totals']['completed']"
# Over IPv6 tern-load's addresses are tentative for a second (duplicate detection, RFC
# 4862): the run, its clock and its first progress line start once they are usable. Its
# clock once started first, and a 2 s run at 300/s reported 55% of the rate, nothing missed.
load cps6 --workload cps --ip 2001:2::1/64 --target [2001:2::2]:80 --rate 300 --close server \
    --source-ip 2001:2::100-2001:2::103 --duration 2
expect_ok cps6 "r['totals']['completed']"
check "cps6: the first line names the IPv6 sources" "grep -q 'cps from 2001:2::100-2001:2::103 on 1 engine' '$WORK/cps6.log'"
# A first second in which the machine held tern-load's thread off its CPU for 50 ms or
# more (its stall_ms column, the 12th) is excused: this VM does that for ~100 ms at times,
# and then misses opens for it (278 of 300 with 105.8 ms stalled). The bug this checks for
# (the clock started before the addresses were usable) showed 55% with no stall and nothing
# missed. The first line is the first after the header whatever its time: the thread that
# prints it can be held off too, and a line at 1.1 s was once taken for a missing one.
FIRST_LINE="grep -m1 -E '^ +[0-9]+\.[0-9] +[0-9]' '$WORK/cps6.log'"
check "cps6: the run carried its rate from the first second (>= 95% of 300/s: $(field cps6 "r['conn_per_s']"); first line: $(eval "$FIRST_LINE"))" \
    "[ \"\$(field cps6 \"r['conn_per_s'] >= 285\")\" = True ] && $FIRST_LINE | awk '{exit !(\$2 >= 285 || \$12 >= 50)}'"
stop_server
check "tern-server (http) stops with exit 0" "[ $SERVER_RC -eq 0 ]" || tail -20 "$WORK/server-$n.log"
check "tern-server saw the source addresses" "grep -q 'arp 198.18.0.103' '$WORK/server-$n.log'"
check "tern-server answered no request with 400" "grep -q 'http_bad_requests 0' '$WORK/server-$n.log'"

serve echo
load ping-pong --workload ping-pong --target 198.18.0.2:7 --connections 2 --size 100 --duration 3
expect_ok ping-pong "r['totals']['responses']"
load throughput --workload throughput --target 198.18.0.2:7 --direction both --connections 2 --duration 3
expect_ok throughput "r['mbit_in_per_s']"
stop_server
check "tern-server (echo) stops with exit 0" "[ $SERVER_RC -eq 0 ]"

# Jumbo frames: an MTU of 9000 needs memif buffers that hold tern's mbufs of a whole frame
# (9024 bytes after the headroom); with the default 2048 it is refused at start, exit 2.
serve sink --port 5201 --mtu 9000
wait "$SERVER_PID"
SERVER_RC=$?
TERN_PIDS=()
check "mtu 9000 with memif's 2048-byte buffers: refused with exit 2 (got $SERVER_RC)" "[ $SERVER_RC -eq 2 ]"
check "mtu 9000 refused: --mtu and the bsize to give named" \
    "grep -q -- '--mtu: 9000 is more than port 0 (net_memif) carries with buffers of 2048 bytes: add bsize=9024' '$WORK/server-$n.log'"
MEMIF=rsize=12,bsize=9024
serve sink --port 5201 --mtu 9000
load jumbo --workload throughput --direction upload --target 198.18.0.2:5201 --connections 1 --mtu 9000 --duration 3
expect_ok jumbo "r['mbit_out_per_s']"
# The same sending shares of one filled buffer (stream::share), chained to each segment:
# memif sends multi-segment frames. The sink's checksums pass on every frame (no drops below).
load jumbo-zc --workload throughput --direction upload --target 198.18.0.2:5201 --connections 1 --mtu 9000 \
    --zero-copy --duration 3
expect_ok jumbo-zc "r['mbit_out_per_s']"
check "jumbo-zc: the port chains (multi-seg tx on)" "grep -q 'multi-seg tx on' '$WORK/jumbo-zc.log'"
stop_server
check "tern-server (sink, mtu 9000) stops with exit 0" "[ $SERVER_RC -eq 0 ]"
check "mtu 9000: frames of 9014 bytes crossed (server rx_bytes / rx_packets > 4000)" \
    "awk '/^ +rx_packets /{p=\$2} /^ +rx_bytes /{b=\$2} END{exit !(p > 0 && b / p > 4000)}' '$WORK/server-$n.log'"
check "mtu 9000: no frame dropped for its length or chaining" \
    "! grep -Eq 'drop_(eth_multi_segment|tx_oversize|ipv4_[a-z_]+|tcp_bad_checksum) [1-9]' '$WORK/server-$n.log' '$WORK/jumbo.log' '$WORK/jumbo-zc.log'"
MEMIF=rsize=14

# Failures are counted and make the exit non-zero: nobody listens on port 81.
serve http
load refused --workload rps --target 198.18.0.2:81 --rate 100 --connections 1 --duration 2
check "refused: exit non-zero (got $LOAD_RC)" "[ $LOAD_RC -ne 0 ]"
check "refused: counted" "[ \"\$(field refused \"r['totals']['refused'] > 0\")\" = True ]"
stop_server

# A server that holds fewer connections than asked (a table of 16, for 20): the SYNs beyond
# it are dropped, tern-load says so and exits non-zero, though every request it could send
# was answered. (--accept-backlog would not show here: past it the server drops the
# handshake's last ACK, and the client counts the connection as open.)
serve http --max-connections 16
load too-few --workload rps --closed-loop --target 198.18.0.2:80 --connections 20 --duration 2
check "too-few: exit non-zero (got $LOAD_RC)" "[ $LOAD_RC -ne 0 ]"
check "too-few: 16 of 20 open at the end, and said so" \
    "[ \"\$(field too-few \"r['connections_open_at_end']\")\" = 16 ] && grep -q '16 of the 20 connections asked for' '$WORK/too-few.log'"
check "too-few: no error counted (the SYNs were only dropped)" "[ \"\$(field too-few \"r['errors']\")\" = 0 ]"
stop_server
check "too-few: the server's per-second line showed the SYNs it turned away" \
    "grep -Eq 'turned_away [1-9]' '$WORK/server-$n.log' && grep -Eq 'tcp_table_full [1-9]' '$WORK/server-$n.log'"

# A zero-copy memif client fills its rings with mbufs of its own pool: rsize=14 takes up to
# 32768, more than the default pool holds. Such a client once received nothing, not even
# ARP replies, and said nothing; it is refused at start with the size that would do.
timeout 30 ip netns exec "$NS" "$BUILD/apps/tern-load" --no-huge --single-file-segments -m 512 --no-pci -l 1 \
    --file-prefix "tern_lmz_$$" --vdev=net_memif0,role=client,socket=/run/tern-load-$$-zc.sock,rsize=14,zero-copy=yes \
    -- --ip 198.18.0.1/24 --target 198.18.0.2:80 --workload http --duration 1 >"$WORK/zero-copy.log" 2>&1
ZC_RC=$?
check "zero-copy: a pool smaller than the rings is refused (exit $ZC_RC)" \
    "[ $ZC_RC -eq 2 ] && grep -q -- '--pool-size: 8191 mbufs are too few for port 0 (net_memif) in zero-copy mode' '$WORK/zero-copy.log'"
exit 0
