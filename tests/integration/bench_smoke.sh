#!/usr/bin/env bash
# tern-bench --quick: a short run of every scenario (about 2 s each). Checks that the
# markdown table, results.json and results.png appear, that every kernel figure is a
# positive number with its unit and the command that measured it, that the tern column is
# either a positive figure or says tern-load is missing (never a made-up number), and that
# tern-bench leaves no namespace and no process behind, also when interrupted. Not how
# large the figures are: the machine is shared. Prints "ok - ..." / "not ok - ...".
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
want = {"cps", "rps", "throughput", "pingpong p50", "pingpong p99"}
assert {r["metric"] for r in rows} == want, [r["metric"] for r in rows]
assert os.path.exists(sys.argv[2]), "tern-load is not built: " + sys.argv[2]
for r in rows:
    k = r["kernel"]
    assert isinstance(k["value"], (int, float)) and k["value"] > 0, (r["metric"], k)
    assert r["unit"] and k["unit"] == r["unit"] and k["measured_by"] and k["command"], r
    t = r["tern"]
    assert isinstance(t["value"], (int, float)) and t["value"] > 0, (r["metric"], t)
    assert isinstance(r["ratio"], (int, float)) and r["ratio"] > 0, r
    assert "net_memif" in t["command"] and t["measured_by"], t
table = [l for l in open(os.path.join(out, "results.md")) if l.startswith("| ") and not l.startswith("| scenario")]
assert len(table) == len(want), table
for l in table:
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", l)[1:-1]]
    name, tern, kernel, ratio, how = cells
    m = re.fullmatch(r"([0-9.]+) (\S+)", kernel)
    assert m and float(m.group(1)) > 0, (name, kernel)
    assert "kernel: `" in how and "tern: `" in how, how
    assert re.fullmatch(r"[0-9.]+ \S+", tern) and float(tern.split()[0]) > 0, tern
print("rows", len(rows))
EOF
check "every figure, tern and kernel, is a positive number with unit and command, and every ratio too" \
    "python3 '$WORK/check.py' '$WORK/out' '$BUILD/apps/tern-load' >'$WORK/check.log' 2>&1"
grep -v '^rows' "$WORK/check.log" | tail -5

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

# A missing tool is an error naming the package.
PATH=/nonexistent "$BENCH" --quick --out "$WORK/missing" >/dev/null 2>"$WORK/missing.err"
rc=$?
check "a missing tool is an error naming its package" "[ $rc -ne 0 ] && grep -q 'install the Debian package' '$WORK/missing.err'"
check "bad options are refused" "! '$BENCH' --scenarios nope --out '$WORK/bad' 2>/dev/null"
exit 0
