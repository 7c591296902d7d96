#!/usr/bin/env bash
# tern-bench --quick: a short run of every scenario (about 2 s each, overload 4 s). Checks
# that the markdown table, results.json and results.png appear, with the machine's own
# pauses measured on both cores and the bare memif link's round trips and rate (JSON and
# under the table), that every kernel figure is a positive number with its unit and the
# command that measured it (overload: "n/a" with the reason), that every tern figure is positive, that the overload run stalled the
# server for about 100 ms and recovered, that a small capacity search (--find-max) tries
# the rates its rule says and reports its highest clean run, and that tern-bench leaves no
# namespace and no process behind, also when interrupted, and no hugepage file (on a machine
# with 2 GiB of hugepages free; else tern runs with --no-huge). Not how large the figures are:
# the machine is shared. Prints "ok - ..." / "not ok - ...".
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
BENCH=$BUILD/apps/tern-bench
WORK=$(mktemp -d)
BENCH_PID=
trap '[ -n "$BENCH_PID" ] && kill -INT "$BENCH_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# no_leftovers PID: tern-bench (PID) left no namespace and no child process.
no_leftovers() {
    ! ip netns list | grep -q -- "tern-bench-[sc]-$1\b" && [ -z "$(pgrep -P "$1" 2>/dev/null)" ] &&
        ! ip link show | grep -q "tb[sc]$1"
}

# no_hugepage_files PID: no hugepage file of tern-bench PID's tern processes is left in any
# hugetlbfs mount (the EAL names its files after --file-prefix, tern_bench_server_PID and
# tern_bench_client_PID, and each one holds its page until it is removed).
no_hugepage_files() {
    local mnt
    for mnt in $(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts); do
        ! ls "$mnt" 2>/dev/null | grep -Eq "^tern_bench_(server|client)_$1map_" || return 1
    done
}
# hugepages_used OUT: what tern-bench's tern commands (results.json) ran on, for the check's name.
hugepages_used() {
    if [ ! -f "$1/results.json" ]; then echo "no results.json says on what tern ran"
    elif grep -q -- '--no-huge' "$1/results.json"; then echo "tern ran with --no-huge: none to leave"
    else echo "tern ran on hugepages"; fi
}

# wait_bounded PID SECONDS: its exit code; SIGINT and 124 if it runs longer.
wait_bounded() {
    for _ in $(seq $(( $2 * 10 ))); do
        kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
        sleep 0.1
    done
    kill -INT "$1"; wait "$1"; return 124
}

"$BENCH" --quick --out "$WORK/out" >"$WORK/stdout" 2>"$WORK/stderr" &
BENCH_PID=$!
wait_bounded "$BENCH_PID" 240
rc=$?
PID_RUN=$BENCH_PID
BENCH_PID=
check "tern-bench --quick exits 0" "[ $rc -eq 0 ]"
[ $rc -ne 0 ] && tail -20 "$WORK/stderr"
check "tern-bench left no namespace, veth or process" "no_leftovers $PID_RUN"
check "tern-bench left no hugepage file of its tern processes ($(hugepages_used "$WORK/out"))" "no_hugepage_files $PID_RUN"
check "the markdown table is printed and written" \
    "grep -q '^| scenario | tern | kernel | ratio' '$WORK/stdout' && grep -q '^| scenario | tern | kernel | ratio' '$WORK/out/results.md'"
check "results.png is a PNG image" "[ -s '$WORK/out/results.png' ] && head -c 8 '$WORK/out/results.png' | od -An -c | grep -q 'P   N   G'"

# Every row of the JSON and of the table: a positive kernel figure with its unit and its
# command, and a positive tern figure and ratio (the suite builds tern-load).
cat >"$WORK/check.py" <<'EOF'
import json, re, sys, os
out = sys.argv[1]
d = json.load(open(os.path.join(out, "results.json")))
rows = d["results"]
overload = {"overload peak", "overload goodput", "overload recovery"}
memory = {"memory tern-server", "memory tern-load"}
tern_only = overload | memory
want = {"cps", "cps IPv6", "rps", "rps IPv6", "throughput", "throughput MTU 9000", "pingpong RTT p50", "pingpong RTT p99", "pingpong RTT p99.9"} | tern_only
assert {r["metric"] for r in rows} == want, [r["metric"] for r in rows]
assert os.path.exists(sys.argv[2]), "tern-load is not built: " + sys.argv[2]
for r in rows:
    k = r["kernel"]
    if r["metric"] in tern_only:
        assert k["value"] is None and k["text"].startswith("n/a (tern only"), (r["metric"], k)
        assert r["ratio"] is None, r
    else:
        assert isinstance(k["value"], (int, float)) and k["value"] > 0, (r["metric"], k)
        assert r["unit"] and k["unit"] == r["unit"] and k["measured_by"] and k["command"], r
        assert isinstance(r["ratio"], (int, float)) and r["ratio"] > 0, r
    t = r["tern"]
    assert isinstance(t["value"], (int, float)) and t["value"] > 0, (r["metric"], t)
    assert "net_memif" in t["command"] and t["measured_by"], t
    if r["metric"].startswith("pingpong"):
        assert "--full-rtt" in k["command"] and "full round trip" in k["measured_by"], k
# The IPv6 rows run both pairs over IPv6 (issue 13).
cps6 = next(r for r in rows if r["metric"] == "cps IPv6")
assert "--target [2001:2::1]:8080" in cps6["tern"]["command"] and "--source-ip 2001:2::10-2001:2::17" in cps6["tern"]["command"], cps6["tern"]
assert "http://[2001:2:1::1]:8080/" in cps6["kernel"]["command"] and "Connection: close" in cps6["kernel"]["command"], cps6["kernel"]
assert "fixed offered rate 3000" in cps6["tern"]["note"], cps6["tern"]
rps6 = next(r for r in rows if r["metric"] == "rps IPv6")
assert "--target [2001:2::1]:8080" in rps6["tern"]["command"] and "--ip 2001:2::1/64" in rps6["tern"]["command"], rps6["tern"]
assert "http://[2001:2:1::1]:8080/" in rps6["kernel"]["command"], rps6["kernel"]
# The jumbo row runs both links at MTU 9000, memif with buffers that hold a jumbo frame.
jumbo = next(r for r in rows if r["metric"] == "throughput MTU 9000")
assert "--mtu 9000" in jumbo["tern"]["command"] and "bsize=9024" in jumbo["tern"]["command"], jumbo["tern"]
assert "veth MTU 9000" in jumbo["kernel"]["measured_by"], jumbo["kernel"]
# Both senders zero-copy in the jumbo row; the MTU 1500 row copies on both sides.
assert "--zero-copy" in jumbo["tern"]["command"] and " -Z" in jumbo["kernel"]["command"], jumbo
thr = next(r for r in rows if r["metric"] == "throughput")
assert "--zero-copy" not in thr["tern"]["command"] and " -Z" not in thr["kernel"]["command"], thr
# Every tern command of the run on the same memory, and tern_memory says which (with why
# and what to reserve, when not on hugepages).
tern_commands = [r["tern"]["command"] for r in rows]
no_huge = ["--no-huge" in c for c in tern_commands]
assert all(no_huge) or not any(no_huge), no_huge
if no_huge[0]:
    assert d["tern_memory"].startswith("tern's processes on --no-huge") and "nr_hugepages" in d["tern_memory"], d["tern_memory"]
else:
    assert d["tern_memory"].startswith("tern's processes on hugepages") and all("--huge-unlink" in c for c in tern_commands), d["tern_memory"]
# --quick offers cps a fixed rate and says so; overload offers twice that.
cps = next(r for r in rows if r["metric"] == "cps")
assert "fixed offered rate 3000" in cps["tern"]["note"] and "find_max" not in d, cps["tern"]
o = d["overload"]
assert o["offered"] == 2 * o["base_rate"] == 6000, o
assert 0.09 <= o["resume_at_s"] - o["stall_at_s"] <= 0.5, o  # SIGSTOP for 100 ms
assert len(o["per_second"]) >= 3 and all(c > 0 for _, c in o["per_second"]), o["per_second"]
assert len(o["per_tenth"]) >= 30, o["per_tenth"]
# The machine's own pauses, measured on both cores before the scenarios (1 s with --quick),
# are in the JSON and under the table.
pauses = d["machine_pauses"]
assert [p["core"] for p in pauses] == [0, 1], pauses
for p in pauses:
    assert 0.99 <= p["seconds"] < 5, p
    assert 0 <= p["over_100us_per_s"] <= p["over_20us_per_s"] <= p["over_10us_per_s"], p
    assert p["longest_us"] > 0, p
assert any(l.startswith("Machine pauses (a thread spinning alone on each core") for l in open(os.path.join(out, "results.md"))), "no pauses line"
# The bare link (link_floor on the same memif pair and cores), just before the rows it
# bounds: its round trips before pingpong (100,000 with --quick), its round trips a second
# with a frame in flight a connection before rps, its one-way rates before throughput and
# jumbo; in the JSON and under the table.
f = d["link_floor"]
assert f["missing"] == [], f
# A pair that gave nothing is run once more; what its first try printed is kept.
assert isinstance(f["measured_again"], list), f
for again in f["measured_again"]:
    print("note: link_floor measured again:", again)
rt = f["round_trip_us"]
assert rt["samples"] == 100000 and 0 < rt["p50"] <= rt["p99"] <= rt["p99_9"], f
assert f["one_way_1514_gbit_per_s"] > 0 and f["one_way_9014_gbit_per_s"] > 0, f
# Before rps: as many frames in flight as the row has connections (32 by default).
assert f["rounds"]["in_flight"] == 32 and f["rounds"]["round_trips_per_s"] > 0, f
floor_line = [l for l in open(os.path.join(out, "results.md")) if l.startswith("The bare link (link_floor")]
assert floor_line and "p50 " in floor_line[0] and "9014-byte frames" in floor_line[0], floor_line
assert "rps, 32 118-byte frames in flight" in floor_line[0] and "round trips/s" in floor_line[0], floor_line
assert "not measured" not in floor_line[0], floor_line
# Memory: 20,000 idle connections with --quick against 5,000, each side's growth a
# connection plus its flow table's share; more than a connection's record and flow-table
# slot, less than a few kilobytes.
m = d["memory"]
assert m["connections"] == 20000 and m["fewer"] == 5000, m
assert m["server_kb"][1] > m["server_kb"][0] and m["load_kb"][1] > m["load_kb"][0], m
for name in memory:
    v = next(r for r in rows if r["metric"] == name)["tern"]["value"]
    assert 100 < v < 4000, (name, v)
goodput = next(r for r in rows if r["metric"] == "overload goodput")["tern"]["value"]
assert 0 < goodput <= 100, goodput
table = [l for l in open(os.path.join(out, "results.md")) if l.startswith("| ") and not l.startswith("| scenario")]
assert len(table) == len(want), table
for l in table:
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", l)[1:-1]]
    name, tern, kernel, ratio, how = cells
    if name in tern_only:
        assert kernel.startswith("n/a (tern only") and ratio == "n/a" and "kernel: `" not in how, (name, kernel, how)
    else:
        m = re.fullmatch(r"([0-9.]+) (\S+)", kernel)
        assert m and float(m.group(1)) > 0, (name, kernel)
        assert "kernel: `" in how, how
    assert "tern: `" in how, how
    assert re.fullmatch(r"[0-9.]+ \S+( of peak)?", tern) and float(tern.split()[0]) > 0, tern
print("rows", len(rows))
EOF
check "every figure is a positive number with unit and command (overload's kernel side: n/a), the overload run stalled the server 100 ms, --quick offers cps a fixed rate" \
    "python3 '$WORK/check.py' '$WORK/out' '$BUILD/apps/tern-load' >'$WORK/check.log' 2>&1"
grep -v '^rows' "$WORK/check.log" | tail -5

# A capacity search cut to three runs of 3 s from 1000 conn/s, for each family: the rates
# follow the plan (x1.5 while clean, halved while the first is unclean, then bisections),
# the figure is the highest clean run's conn/s, and the rule is in the table and in
# results.json ("find_max" for IPv4, "find_max6" for IPv6, each from its own runs).
# On memif rings of 4096 slots (--memif-rsize 12), the --quick run's being the default 16384.
"$BENCH" --scenarios cps,cps6 --find-max --start-rate 1000 --max-runs 3 --duration 3 --memif-rsize 12 --out "$WORK/fm" \
    >"$WORK/fm.stdout" 2>"$WORK/fm.stderr" &
BENCH_PID=$!
wait_bounded "$BENCH_PID" 200
rc=$?
PID_FM=$BENCH_PID
BENCH_PID=
check "tern-bench --find-max exits 0" "[ $rc -eq 0 ]"
[ $rc -ne 0 ] && tail -20 "$WORK/fm.stderr"
check "after the search's runs no hugepage file is left ($(hugepages_used "$WORK/fm"))" "no_hugepage_files $PID_FM"
check "--memif-rsize sets both sides' rings, and results.json says which (the default: 14)" \
    "grep -q '\"tern_link\": \"net_memif (rsize=12)' '$WORK/fm/results.json' && grep -q 'role=server,[^ ]*,rsize=12,' '$WORK/fm/results.json' && grep -q 'role=client,[^ ]*,rsize=12,' '$WORK/fm/results.json' && ! grep -q 'rsize=14' '$WORK/fm/results.json' && grep -q '\"tern_link\": \"net_memif (rsize=14)' '$WORK/out/results.json'"
cat >"$WORK/check_fm.py" <<'EOF'
import json, sys, os
out = sys.argv[1]
d = json.load(open(os.path.join(out, "results.json")))
md = open(os.path.join(out, "results.md")).read()
def check(section, metric, target, row):
    fm = d[section]
    runs = fm["runs"]
    assert 1 <= len(runs) <= 3, runs
    assert "opens_missed <= 0.50%" in fm["rule"] and "retransmissions <= 0.10%" in fm["rule"], fm["rule"]
    # The rates the plan picks, given which runs were clean.
    clean, unclean, climbing = None, None, True
    for i, r in enumerate(runs):
        if i == 0: want = 1000
        elif climbing: want = round(runs[i - 1]["offered"] * 1.5)
        elif clean is None: want = round(unclean / 2)
        else: want = round((clean + unclean) / 2)
        assert r["offered"] == want, (i, r["offered"], want, runs)
        assert r["clean"] == (r["unclean"] == ""), r
        if r["clean"]: clean = r["offered"]
        else: unclean, climbing = r["offered"], False
    assert clean is not None, runs  # 1000 conn/s is clean on any build that works
    best = max((r for r in runs if r["clean"]), key=lambda r: r["offered"])
    assert fm["best_offered"] == best["offered"], fm
    cps = d["results"][row]
    assert cps["metric"] == metric and cps["tern"]["value"] == best["achieved"] > 0, (cps, best)
    assert "--rate %d " % best["offered"] in cps["tern"]["measured_by"], cps["tern"]
    assert "--target " + target in cps["tern"]["measured_by"], cps["tern"]
    # Not --quick: tern-load measures after the default 2 s warm-up.
    assert " --warmup 2 " in cps["tern"]["measured_by"], cps["tern"]
    assert "highest clean offered rate %d conn/s of %d runs" % (best["offered"], len(runs)) in md, md
    return runs
runs = check("find_max", "cps", "198.18.2.1:8080", 0) + check("find_max6", "cps IPv6", "[2001:2::1]:8080", 1)
assert "opens_missed <= 0.50% of opens" in md, md
print("runs", [(r["offered"], r["clean"]) for r in runs])
EOF
check "the capacity search of each family (cps, cps6) tries the planned rates and reports its highest clean run" \
    "python3 '$WORK/check_fm.py' '$WORK/fm' >'$WORK/check_fm.log' 2>&1"
tail -3 "$WORK/check_fm.log"

# Interrupted in the middle of a scenario: peers stopped, namespaces removed, exit 130.
"$BENCH" --scenarios rps --duration 20 --out "$WORK/int" >"$WORK/int.stdout" 2>"$WORK/int.stderr" &
BENCH_PID=$!
for _ in $(seq 100); do pgrep -P "$BENCH_PID" -x wrk >/dev/null && break; sleep 0.1; done
kill -INT "$BENCH_PID"
wait_bounded "$BENCH_PID" 15
rc=$?
PID_INT=$BENCH_PID
BENCH_PID=
check "SIGINT stops tern-bench with 130" "[ $rc -eq 130 ]"
check "after SIGINT no namespace, veth or process is left" "no_leftovers $PID_INT"

# More frames in flight than the ring has slots: the bare link's rps figure is not measured
# (the reflecting side would lose frames rounds does not replace) and the line says why.
"$BENCH" --quick --scenarios rps --memif-rsize 8 --connections 300 --out "$WORK/ring" >/dev/null 2>&1
check "the bare link's rounds are not measured with more in flight than a ring holds, and that is said" \
    "grep -q '\"missing\": \[\"rps: 300 frames in flight do not fit a ring of 256 slots\"\]' '$WORK/ring/results.json' && ! grep -q '\"rounds\"' '$WORK/ring/results.json'"

# A missing tool is an error naming the package.
PATH=/nonexistent "$BENCH" --quick --out "$WORK/missing" >/dev/null 2>"$WORK/missing.err"
rc=$?
check "a missing tool is an error naming its package" "[ $rc -ne 0 ] && grep -q 'install the Debian package' '$WORK/missing.err'"
check "bad options are refused" "! '$BENCH' --scenarios nope --out '$WORK/bad' 2>/dev/null"
check "a warm-up beyond 10 s is refused, named" "! '$BENCH' --warmup 11 --out '$WORK/bad' 2>'$WORK/bad.err' && grep -q -- '--warmup: must be within 0-10' '$WORK/bad.err'"
check "more than 10 bisections are refused, named" "! '$BENCH' --bisections 11 --out '$WORK/bad' 2>'$WORK/bad.err' && grep -q -- '--bisections: must be within 0-10' '$WORK/bad.err'"
check "a memif ring beyond 2^14 slots is refused, named" "! '$BENCH' --memif-rsize 15 --out '$WORK/bad' 2>'$WORK/bad.err' && grep -q -- '--memif-rsize: must be within 8-14' '$WORK/bad.err'"
check "a memory run beyond 6 M connections is refused, named" "! '$BENCH' --memory-connections 7000000 --out '$WORK/bad' 2>'$WORK/bad.err' && grep -q -- '--memory-connections: must be within 10000-6000000' '$WORK/bad.err'"
exit 0
