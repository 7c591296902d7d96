#!/usr/bin/env bash
# scripts/demo --quick: the demo's every step on the test build (wrk 1 s), in a namespace of
# its own. It must print its last step and exit 0: it once exited 14 after its final
# counters, when `tcpdump | head` closed tcpdump's pipe under pipefail.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
timeout 90 bash "$TERN_ROOT/scripts/demo" --quick "$BUILD" >"$WORK/demo.log" 2>&1
rc=$?
check "demo --quick exits 0 (got $rc)" "[ $rc -eq 0 ]" || tail -30 "$WORK/demo.log"
check "demo --quick prints its last step" "grep -q '== done: namespace and processes removed' '$WORK/demo.log'"
check "demo --quick: curl got tern's page" "grep -q '^HTTP/1.1 200' '$WORK/demo.log'"
check "demo --quick: telemetry counts tern's listening port under LISTEN" "grep -q '\"LISTEN\": 1[,}]' '$WORK/demo.log'"
check "demo --quick: telemetry lists the listener" "grep -q '\"0 0.0.0.0:80 0.0.0.0:\* LISTEN\"' '$WORK/demo.log'"
check "demo --quick: the capture shows the first handshake" "grep -qE 'IP 198.18.0.1.[0-9]+ > 198.18.0.2.80: Flags \[S\]' '$WORK/demo.log'"
ns=$(grep -o 'namespace tern-demo-[0-9]*' "$WORK/demo.log" | head -1 | cut -d' ' -f2)
check "demo --quick: its namespace ${ns:-(not named)} is gone" "[ -n '$ns' ] && ! ip netns list | grep -qw '$ns'"
exit 0
