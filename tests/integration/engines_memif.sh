#!/usr/bin/env bash
# tern-load and tern-server on two engines each, over a two-queue memif link (lcores 0 and 1
# on CPUs 0 and 1 in both processes: this checks who owns which flow, not speed). Each
# active open takes an ephemeral port whose reply hashes to its own engine (rss::port_pool
# through the endpoint's home_ports); memif pairs queue i with the peer's queue i, and the
# symmetric key makes the server's owner of a flow the engine with the client's number. So
# every connection is served by one engine on each side, both engines of each side carry
# some, and no segment is handed between engines or meets one without its connection; the
# same with ports from --source-ports, which each engine filters by the same hash.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-engmemif
SOCK=/run/tern-engines-memif-$$.sock
trap 'cleanup_ns; rm -rf "$WORK" "$SOCK"' EXIT
SPREFIX=tern_it_ems_$$
# Hugepages where the machine has them (it_begin): the exit crash below showed only with them.
EAL_BOTH=($EAL_MEM --no-pci --lcores 0@0,1@1)

# server NAME [tern-server args]: starts tern-server (SERVER_PID), logging to NAME.log.
server() {
    local name=$1; shift
    ip netns exec "$NS" "$BUILD/apps/tern-server" "${EAL_BOTH[@]}" --file-prefix "$SPREFIX" \
        --vdev=net_memif0,role=server,socket="$SOCK",rsize=14 -- --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 \
        --static-arp 198.18.0.1=02:00:c6:12:00:01 --mode http --no-delay --duration 120 "$@" \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    TERN_PIDS=("$SERVER_PID")
}
# stop_server NAME: SIGINT, and its exit status checked.
stop_server() {
    kill -INT "$SERVER_PID"; wait "$SERVER_PID"; local rc=$?; TERN_PIDS=()
    check "$1: tern-server stops with exit 0 (got $rc)" "[ $rc -eq 0 ]" || tail -20 "$WORK/$1.log"
}
server server --engines 2 --ip 2001:2::2/64
check "tern-server on two engines comes up" "wait_telemetry $SPREFIX 20 $SERVER_PID" || tail -20 "$WORK/server.log"

# load NAME [tern-load args]: on LOAD_ENGINES engines, two unless set.
load() {
    local name=$1; shift
    timeout 60 ip netns exec "$NS" "$BUILD/apps/tern-load" "${EAL_BOTH[@]}" --file-prefix "tern_it_eml_${name}_$$" \
        --vdev=net_memif0,role=client,socket="$SOCK",rsize=14 -- --ip 198.18.0.1/24 --mac 02:00:c6:12:00:01 \
        --static-arp 198.18.0.2=02:00:c6:12:00:02 --target "${TARGET:-198.18.0.2:80}" --engines "${LOAD_ENGINES:-2}" --json "$WORK/$name.json" "$@" \
        >"$WORK/$name.log" 2>&1
    LOAD_RC=$?
}
# both_answered NAME WHAT: tern-load's run NAME exited 0 with zero errors, and both its
# engines had responses (the report's per-engine parts).
both_answered() {
    local parts err
    parts=$(field "$1" "' '.join(str(p['totals']['responses']) for p in r['per_engine'])")
    err=$(field "$1" "r['errors']")
    check "$2: exit 0, zero errors, both engines answered (rc $LOAD_RC, errors ${err:-none}, responses ${parts:-none})" \
        "[ $LOAD_RC -eq 0 ] && [ '${err:-x}' = 0 ] && [ \$(echo '$parts' | wc -w) -eq 2 ] && ! echo ' $parts ' | grep -q ' 0 '" ||
        tail -20 "$WORK/$1.log"
}
field() { python3 -c "import json,sys; r=json.load(open('$WORK/$1.json')); print($2)" 2>/dev/null; }
stat_of() { telemetry "$SPREFIX" "$1" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'; }

load cps --workload cps --rate 2000 --duration 3 --close server
check "cps on two engines: exit 0 (got $LOAD_RC)" "[ $LOAD_RC -eq 0 ]" || tail -20 "$WORK/cps.log"
ERR=$(field cps "r['errors']"); EST=$(field cps "r['totals']['established']")
check "cps: zero errors (got ${ERR:-none})" "[ '${ERR:-x}' = 0 ]"
A0=$(stat_of /tern/tcp/stats,0 accepted); A1=$(stat_of /tern/tcp/stats,1 accepted)
# The report counts the measured seconds; the server counts from its start.
check "cps: both server engines accepted connections, at least those tern-load counted (${A0:-?} + ${A1:-?} >= ${EST:-?})" \
    "[ ${A0:-0} -gt 0 ] && [ ${A1:-0} -gt 0 ] && [ ${EST:-0} -gt 0 ] && [ $(( ${A0:-0} + ${A1:-0} )) -ge ${EST:-0} ]"

# --source-ports: each engine takes the ports of the range whose replies hash to it.
load ports --workload cps --rate 1000 --duration 2 --close server --source-ports 20000-24999
ERR=$(field ports "r['errors']"); EST=$(field ports "r['totals']['established']")
check "cps from --source-ports 20000-24999 on two engines: exit 0, zero errors, some established (rc $LOAD_RC, errors ${ERR:-none}, ${EST:-none})" \
    "[ $LOAD_RC -eq 0 ] && [ '${ERR:-x}' = 0 ] && [ ${EST:-0} -gt 0 ]" || tail -20 "$WORK/ports.log"

load rps --workload rps --connections 64 --closed-loop --duration 3
check "rps on two engines: exit 0 (got $LOAD_RC)" "[ $LOAD_RC -eq 0 ]" || tail -20 "$WORK/rps.log"
ERR=$(field rps "r['errors']"); REQ=$(field rps "r['totals']['responses']")
check "rps: zero errors and responses counted (errors ${ERR:-none}, responses ${REQ:-none})" "[ '${ERR:-x}' = 0 ] && [ ${REQ:-0} -gt 0 ]"

# The report's per-engine parts: both engines did work, and their counters and latency
# histograms add up to the totals exactly (merged bucket by bucket, not averaged).
PARTS=$(python3 - "$WORK/rps.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
parts = r.get("per_engine", [])
ok = len(parts) == 2 and all(p["totals"]["responses"] > 0 for p in parts)
ok = ok and all(sum(p["totals"][k] for p in parts) == v for k, v in r["totals"].items())
ok = ok and sum(p["latency"]["count"] for p in parts) == r["histograms"]["latency"]["count"]
print(("ok" if ok else "bad") + " " + " ".join(str(p["totals"]["responses"]) for p in parts))
PY
)
check "rps: the report's two engine parts add up to its totals and samples ($PARTS)" "[ '${PARTS%% *}' = ok ]"
check "rps: tern-load prints a line per engine" "[ \$(grep -c '^  engine [01]: conn/s' '$WORK/rps.log') -eq 2 ]"
# And each progress line ends with both engines' req/s, which add up to the line's own.
SHARES=$(python3 - "$WORK/rps.log" <<'PY'
import re, sys
ok = seen = 0
for line in open(sys.argv[1]):
    m = re.match(r"\s*[0-9.]+\s+[0-9]+\s+([0-9]+)\s.*per engine req/s: ([0-9]+) ([0-9]+)(\s|$)", line)
    if m:
        seen += 1
        total, a, b = (int(x) for x in m.group(1, 2, 3))
        ok += a > 0 and b > 0 and abs(a + b - total) <= 2
print(f"{ok} {seen}")
PY
)
check "rps: every progress line gives both engines' req/s, adding up to its own ($SHARES of the lines)" \
    "[ '${SHARES% *}' = '${SHARES#* }' ] && [ '${SHARES#* }' -ge 2 ]"

check "rps: tern-server's progress lines give both engines' req/s" \
    "grep -Eq 'per engine accepted [0-9]+/[0-9]+ req/s [1-9][0-9]*/[1-9][0-9]*$' '$WORK/server.log'" ||
    grep 'per engine' "$WORK/server.log" | tail -3

for e in 0 1; do
    SO=$(stat_of /tern/stats,$e steered_out); SI=$(stat_of /tern/stats,$e steered_in)
    check "server engine $e handed no segment on and took none (out ${SO:-?}, in ${SI:-?})" "[ '${SO:-x}' = 0 ] && [ '${SI:-x}' = 0 ]"
done
RST=$(stat_of /tern/tcp/stats rst_sent)
check "the server reset no connection (rst_sent ${RST:-?})" "[ '${RST:-x}' = 0 ]"

# IPv6 on both engines of both sides: the server's engine 1 takes up engine 0's duplicate
# address detection, tern-load's engines take ports whose IPv6 replies come home, and each
# engine solicits its neighbor itself while engine 0 receives the answers (engine_ipv6.cpp).
A0_BEFORE=$(stat_of /tern/tcp/stats,0 accepted); A1_BEFORE=$(stat_of /tern/tcp/stats,1 accepted)
TARGET='[2001:2::2]:80' load cps6 --workload cps --rate 2000 --duration 3 --close server --ip 2001:2::1/64 \
    --source-ip 2001:2::10-2001:2::13
ERR=$(field cps6 "r['errors']"); EST=$(field cps6 "r['totals']['established']")
check "cps over IPv6 on two engines: exit 0, zero errors, some established (rc $LOAD_RC, errors ${ERR:-none}, ${EST:-none})" \
    "[ $LOAD_RC -eq 0 ] && [ '${ERR:-x}' = 0 ] && [ ${EST:-0} -gt 0 ]" || tail -20 "$WORK/cps6.log"
A0=$(stat_of /tern/tcp/stats,0 accepted); A1=$(stat_of /tern/tcp/stats,1 accepted)
check "cps over IPv6: both server engines accepted connections (${A0_BEFORE:-?} -> ${A0:-?}, ${A1_BEFORE:-?} -> ${A1:-?})" \
    "[ ${A0:-0} -gt ${A0_BEFORE:-0} ] && [ ${A1:-0} -gt ${A1_BEFORE:-0} ]"
TARGET='[2001:2::2]:80' load rps6 --workload rps --connections 64 --closed-loop --duration 3 --ip 2001:2::1/64
both_answered rps6 "rps over IPv6 on two engines"
RST=$(stat_of /tern/tcp/stats rst_sent)
check "IPv6 on two engines: the server reset no connection (rst_sent ${RST:-?})" "[ '${RST:-x}' = 0 ]"

# Unequal engine counts. memif connects as many queue pairs as the side with fewer has, so
# the side with one engine asks for two queues (--queues 2) and reads both. Server on two
# engines, tern-load on one: every segment reaches server engine 0 (tern-load sends on queue
# 0 only), which hands half the flows to engine 1; engine 1 answers on queue 1, which
# tern-load's engine reads too.
LOAD_ENGINES=1 load one_engine --workload rps --connections 64 --closed-loop --duration 3 --queues 2
ERR=$(field one_engine "r['errors']"); REQ=$(field one_engine "r['totals']['responses']")
check "rps from one engine (--queues 2) against two: exit 0, zero errors, responses (rc $LOAD_RC, errors ${ERR:-none}, ${REQ:-none})" \
    "[ $LOAD_RC -eq 0 ] && [ '${ERR:-x}' = 0 ] && [ ${REQ:-0} -gt 0 ]" || tail -20 "$WORK/one_engine.log"
SO=$(stat_of /tern/stats,0 steered_out); SI=$(stat_of /tern/stats,1 steered_in)
check "server engine 0 handed engine 1 its flows' segments (out ${SO:-?}, in ${SI:-?})" \
    "[ ${SO:-0} -gt 0 ] && [ '${SO:-x}' = '${SI:-y}' ]"
RST=$(stat_of /tern/tcp/stats rst_sent)
check "two engines against one: the server reset no connection (rst_sent ${RST:-?})" "[ '${RST:-x}' = 0 ]"
stop_server server

# Server on one engine reading two queues, tern-load on two.
server one_server --engines 1 --queues 2
check "tern-server on one engine with two queues comes up" "wait_telemetry $SPREFIX 20 $SERVER_PID" ||
    tail -20 "$WORK/one_server.log"
load two_against_one --workload rps --connections 64 --closed-loop --duration 3
both_answered two_against_one "rps from two engines against one (--queues 2)"
RST=$(stat_of /tern/tcp/stats rst_sent)
check "one engine against two: the server reset no connection (rst_sent ${RST:-?})" "[ '${RST:-x}' = 0 ]"
stop_server one_server
exit 0
