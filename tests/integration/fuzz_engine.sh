#!/usr/bin/env bash
# The engine under libFuzzer (tests/fuzz, issue 11): the clang fuzz build, then every kept
# crashing input (tests/fuzz/regressions, a check each) and the seed corpus replayed, then
# 60 s of fuzzing from a copy of the corpus. No interface and no namespace: the harness
# feeds one engine on a scripted device. A crash found while fuzzing is a bug in tern (or in
# the harness): its input is kept under build-fuzz/crashes/ to be fixed and added to
# tests/fuzz/regressions. Prints "ok - ..." / "not ok - ..." per check.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
set +e

FUZZ_SECONDS=${TERN_FUZZ_SECONDS:-60}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ok() { echo "ok - $1"; }
# not_ok NAME LOG: the failure, then the end of its log.
not_ok() { echo "not ok - $1"; tail -40 "$2"; }

if ! build_fuzz >"$WORK/build.log" 2>&1; then
    not_ok "fuzz build (clang, -fsanitize=fuzzer,address,undefined)" "$WORK/build.log"
    exit 1
fi
ok "fuzz build (clang, -fsanitize=fuzzer,address,undefined)"
FUZZER=$TERN_FUZZ_BUILD/tests/fuzz/fuzz_engine

# DPDK's EAL keeps mappings of its own, but LeakSanitizer sees them as reachable: leaks stay on.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_fuzzer LOG ARGS...: the fuzzer in the foreground of this script; its EAL runtime
# folder (named after its pid) goes afterwards, even when it crashed.
run_fuzzer() {
    local log=$1; shift
    "$FUZZER" "$@" >"$log" 2>&1 &
    local pid=$! rc=0
    wait "$pid" || rc=$?
    rm -rf "/var/run/dpdk/tern_fuzz_$pid"
    return "$rc"
}

for input in "$TERN_ROOT"/tests/fuzz/regressions/*; do
    [ -f "$input" ] || continue
    name=$(basename "$input")
    if run_fuzzer "$WORK/$name.log" "$input"; then ok "regression input $name runs clean"
    else not_ok "regression input $name runs clean" "$WORK/$name.log"; fi
done

corpus=("$TERN_ROOT"/tests/fuzz/corpus/*)
if run_fuzzer "$WORK/corpus.log" "${corpus[@]}"; then ok "seed corpus runs clean (${#corpus[@]} inputs)"
else not_ok "seed corpus runs clean" "$WORK/corpus.log"; fi

mkdir -p "$WORK/corpus" "$WORK/artifacts"
cp "${corpus[@]}" "$WORK/corpus/"
t0=$SECONDS
if run_fuzzer "$WORK/fuzz.log" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=30 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$WORK/artifacts/" "$WORK/corpus"; then
    last=$(grep -a -E '^#[0-9]+' "$WORK/fuzz.log" | tail -1)
    # A run that executed nothing found nothing either.
    if [ -n "$last" ]; then ok "fuzzing for ${FUZZ_SECONDS} s finds no failure ($((SECONDS - t0)) s: ${last%% lim:*})"
    else not_ok "fuzzing for ${FUZZ_SECONDS} s ran inputs (libFuzzer printed no progress)" "$WORK/fuzz.log"; fi
else
    mkdir -p "$TERN_FUZZ_BUILD/crashes"
    cp "$WORK"/artifacts/* "$TERN_FUZZ_BUILD/crashes/" 2>/dev/null
    not_ok "fuzzing for ${FUZZ_SECONDS} s finds no failure (inputs kept in $TERN_FUZZ_BUILD/crashes; replay: $FUZZER FILE)" \
        "$WORK/fuzz.log"
fi
