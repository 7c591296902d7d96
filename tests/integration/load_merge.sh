#!/usr/bin/env bash
# tern-load merge: two tern-loads at once against one tern-server, as two load hosts would,
# each writing --json; their merge must be the report of both runs' samples together: totals
# summed, each histogram bucket the sum of the two, and every percentile the one those merged
# buckets give (recomputed here, nearest rank, as src/core/histogram.hpp defines it), never an
# average. The three processes each have a TAP on one bridge, in a namespace made for this
# test, on addresses from 198.18.0.0/15, and share the machine's cores. Then reports that
# cannot be merged are refused with exit 2. --plot draws a run and the merge into PNGs.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-merge
EAL_MEM="--no-huge -m 512"
in_ns() { ip netns exec "$NS" "$@"; }
# No IPv6 on the links: the TAPs carry tern's traffic and ARP only.
in_ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
in_ns ip link add br0 type bridge
in_ns ip link set br0 up
for tap in tsrv tla tlb; do
    in_ns ip tuntap add dev $tap mode tap multi_queue
    in_ns ip link set $tap master br0
done
# net_tap takes the kernel side of its TAP down as it attaches: up again, for 3 s.
links_up() { for _ in $(seq 30); do for tap in "$@"; do in_ns ip link set "$tap" up; done; sleep 0.1; done; }
SERVER_MAC=02:00:c6:12:00:02

# Static ARP both ways: the loads' first SYNs do not wait for ARP across a link coming up.
ip netns exec "$NS" "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --file-prefix "tern_mgs_$$" --vdev=net_tap0,iface=tsrv -- \
    --ip 198.18.0.2/24 --mac $SERVER_MAC --static-arp 198.18.0.11=02:00:c6:12:00:11 \
    --static-arp 198.18.0.12=02:00:c6:12:00:12 --mode http --no-delay --duration 60 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
TERN_PIDS+=("$SERVER_PID")
links_up tsrv

# load NAME TAP HOST [tern-load args]: a tern-load on lcore 1 as 198.18.0.HOST on its TAP, in
# the background; its report in $WORK/NAME.json, its exit code in $WORK/NAME.rc.
load() {
    local name=$1 tap=$2 host=$3; shift 3
    timeout 30 ip netns exec "$NS" "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 1 --file-prefix "tern_mgc_${name}_$$" \
        --vdev=net_tap0,iface=$tap -- --ip 198.18.0.$host/24 --mac 02:00:c6:12:00:$host \
        --static-arp 198.18.0.2=$SERVER_MAC --json "$WORK/$name.json" "$@" >"$WORK/$name.log" 2>&1
    echo $? >"$WORK/$name.rc"
}
load a tla 11 --workload rps --target 198.18.0.2:80 --rate 1000 --connections 4 --warmup 1 --duration 3 \
    --plot "$WORK/a.png" &
A=$!
load b tlb 12 --workload rps --target 198.18.0.2:80 --rate 500 --connections 2 --warmup 1 --duration 3 &
B=$!
links_up tla tlb
wait $A $B
for name in a b; do
    rc=$(cat "$WORK/$name.rc")
    check "$name: tern-load exits 0 (got $rc)" "[ $rc -eq 0 ]" || tail -20 "$WORK/$name.log"
done
check "the server had both loads' connections at once" "grep -q 'conns 6 ' '$WORK/server.log'" || tail -8 "$WORK/server.log"
"$BUILD/apps/tern-load" merge "$WORK/a.json" "$WORK/b.json" --json "$WORK/merged.json" --plot "$WORK/merged.png" \
    >"$WORK/merge.log" 2>&1
rc=$?
check "merge of a and b exits 0 (got $rc)" "[ $rc -eq 0 ]" || cat "$WORK/merge.log"
# --plot: a PNG (its 8-byte signature) that is more than a signature, and its script beside it.
for png in a merged; do
    check "--plot wrote $png.png, a PNG of $(stat -c %s "$WORK/$png.png" 2>/dev/null || echo no) bytes" \
        "[ -s '$WORK/$png.png' ] && [ \$(stat -c %s '$WORK/$png.png') -gt 1000 ] && head -c 8 '$WORK/$png.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
    check "--plot kept its gnuplot script $png.gnuplot" "grep -q pngcairo '$WORK/$png.gnuplot'"
done

# The merged report against what both runs' buckets give; prints one line per mismatch.
cat >"$WORK/verify.py" <<'PY'
import json, sys
from fractions import Fraction
a, b, m = (json.load(open(f)) for f in sys.argv[1:4])
bad = []
def buckets(h): return {v: n for v, n in h["buckets"]}
def nearest_rank(h, p):  # src/core/histogram.hpp: the value of rank ceil(p/100 * count), capped at max
    count = h["count"]
    rank = max(1, -(-Fraction(p) * count // 100))
    seen = 0
    for v, n in sorted(h["buckets"]):
        seen += n
        if seen >= rank: return min(v, h["max_ns"])
for key in a["totals"]:
    if m["totals"][key] != a["totals"][key] + b["totals"][key]: bad.append(f"totals.{key}")
for name in ("latency", "connect_latency"):
    ha, hb, hm = (r["histograms"][name] for r in (a, b, m))
    both = buckets(ha)
    for v, n in buckets(hb).items(): both[v] = both.get(v, 0) + n
    if buckets(hm) != both: bad.append(f"{name}: buckets are not the sums")
    if hm["count"] != ha["count"] + hb["count"] or hm["sum_ns"] != ha["sum_ns"] + hb["sum_ns"]: bad.append(f"{name}: count or sum")
    runs = [h for h in (ha, hb) if h["count"]]  # an empty histogram's min and max are 0
    if hm["max_ns"] != max([h["max_ns"] for h in runs], default=0) or hm["min_ns"] != min([h["min_ns"] for h in runs], default=0):
        bad.append(f"{name}: min or max")
lat, h = m["latency"], m["histograms"]["latency"]
for key, p in (("p50_us", "50"), ("p90_us", "90"), ("p99_us", "99"), ("p99_9_us", "99.9"), ("p99_99_us", "99.99")):
    want = nearest_rank(h, p) / 1000
    if abs(lat[key] - want) > 0.0005: bad.append(f"{key} {lat[key]} != {want}")
if lat["samples"] != a["latency"]["samples"] + b["latency"]["samples"]: bad.append("samples")
if not a["latency"]["samples"] or not b["latency"]["samples"]: bad.append("a run without samples")
for r, name in ((a, "a"), (b, "b"), (m, "merged")):
    if sum(s["count"] for s in r["latency_by_second"]) != r["histograms"]["latency"]["count"]: bad.append(f"{name}: series")
if len(m["latency_by_second"]) != max(len(a["latency_by_second"]), len(b["latency_by_second"])): bad.append("series length")
if m["hosts"] != 2 or m["connections"] != 6 or m["measured_s"] != max(a["measured_s"], b["measured_s"]): bad.append("hosts/connections/measured_s")
print("\n".join(bad))
PY
mismatch=$(python3 "$WORK/verify.py" "$WORK/a.json" "$WORK/b.json" "$WORK/merged.json" 2>&1)
check "merged report = both runs' samples together (totals, buckets, exact percentiles, series)" "[ -z \"\$mismatch\" ]" ||
    echo "$mismatch"

# merge_refused NAME PATTERN FILES...: exit 2 and a message matching PATTERN.
merge_refused() {
    local name=$1 pattern=$2; shift 2
    "$BUILD/apps/tern-load" merge "$@" >"$WORK/refused.log" 2>&1
    local rc=$?
    check "merge refuses $name with exit 2 (got $rc)" "[ $rc -eq 2 ] && grep -q -- '$pattern' '$WORK/refused.log'" ||
        cat "$WORK/refused.log"
}
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r['workload']='cps'; json.dump(r, open(sys.argv[2],'w'))" \
    "$WORK/a.json" "$WORK/cps.json"
merge_refused "another workload" "cps.json differs from .*a.json in its workload (cps, rps)" "$WORK/a.json" "$WORK/cps.json"
head -c 200 "$WORK/a.json" >"$WORK/cut.json"
merge_refused "a cut report" "cut.json: not JSON at byte" "$WORK/a.json" "$WORK/cut.json"
merge_refused "a missing file" "nothing.json: cannot read" "$WORK/a.json" "$WORK/nothing.json"
merge_refused "one report alone" "needs two reports or more" "$WORK/a.json"

kill -INT "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
TERN_PIDS=()
check "tern-server stops with exit 0 (got $rc)" "[ $rc -eq 0 ]"

exit 0
