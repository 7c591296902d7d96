#!/usr/bin/env bash
# A memif peer leaves while the other side is inside an rx burst on the rings they share:
# memif-leave (memif_leave.cpp) runs the server and the client in one process, in a
# namespace made for this test (memif's abstract socket lives in it), and stops the client
# over and over as a worker lcore drains the server's ring. DPDK's net_memif unmaps the
# rings on its interrupt thread with nothing to wait for the burst (dpdk/burst_section.hpp).
#
# Everything runs on CPU 0 (taskset, and both lcores there): the interrupt thread, woken by
# the peer's leaving, then takes the CPU from the worker in the middle of a burst, as the
# kernel does to a busy engine on a shared machine. Without tern's guard this dies with a
# SEGV in the driver's rx burst within the first few cycles; with the guard every cycle ends.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
it_begin tern-it-mleave
SOCK=/run/tern-memif-leave-$$.sock
CYCLES=40

timeout 120 ip netns exec "$NS" taskset -c 0 "$BUILD/tests/integration/memif-leave" --no-huge -m 512 --no-pci --lcores 0@0,1@0 \
    --no-telemetry --file-prefix "tern_it_mleave_$$" --log-level '*:error' \
    --vdev=net_memif0,role=server,socket="$SOCK",rsize=14,id=7 \
    --vdev=net_memif1,role=client,socket="$SOCK",rsize=14,id=7 -- "$CYCLES" >"$WORK/out.log" 2>&1
rc=$?
cat "$WORK/out.log"
check "memif-leave ran $CYCLES cycles of a peer leaving mid-drain and exited 0 (rc $rc)" "[ $rc -eq 0 ]"
# The test means something only if the peer left while packets were still to be drained.
CUT=$(grep -o 'cut [0-9]*' "$WORK/out.log" | grep -o '[0-9]*$')
check "in some cycles the peer left before the drain was done (${CUT:-?} of $CYCLES)" "[ ${CUT:-0} -gt 0 ]"
rm -f "$SOCK"
exit 0
