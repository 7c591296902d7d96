#!/usr/bin/env bash
# Sharing a bottleneck with the kernel (issue 10): a tern flow and a kernel flow, both with
# CUBIC, upload at once to one tern-server sink for 30 s through the same tbf (1 Gbit/s) on
# the namespace's way to the sink, with 5 ms of delay each way and 1% loss each way from the
# sink's fault wrapper: both flows see one path, a 10 ms round trip. tern-load comes in on
# a second TAP, and the namespace's kernel forwards it. A flow's goodput is what the sink
# received from it, read from the sink's telemetry near the end; each must get between half
# and twice the other's.
#   fair_share.sh BUILD [SECONDS]
# FAIR_SHARE_TERN_ARGS adds options to tern-load's (e.g. --no-rack, to compare).
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
SECONDS_EACH=${2:-30}

it_begin tern-it-fair
tap_in_ns "$NS" tern0 198.18.0.1/24
tap_in_ns "$NS" tern1 198.18.1.1/24
in_ns() { ip netns exec "$NS" "$@"; }
check "the namespace forwards between its two TAPs" "in_ns sysctl -qw net.ipv4.ip_forward=1"
check "tbf shapes the way to the sink to 1 Gbit/s" \
    "in_ns tc qdisc add dev tern0 root tbf rate 1gbit burst 256kb latency 50ms"

# Buffers of 4 MiB, as in cc_kernel.sh: the windows must not set the pace.
BUFFERS=(--send-buffer 4194304 --receive-buffer 4194304)
P1=tern_it_fair_sink_$$
in_ns "$BUILD/apps/tern-server" $EAL_MEM --no-pci -l 0 --vdev=net_tap0,iface=tern0 --file-prefix "$P1" -- \
    --ip 198.18.0.2/24 --gateway 198.18.0.1 --mac 02:00:c6:12:00:02 --mode sink \
    --duration $((SECONDS_EACH + 40)) --interval 0 \
    --fault-delay-us 5000 --fault-loss 0.01 --fault-seed 7 "${BUFFERS[@]}" >"$WORK/sink.log" 2>&1 &
SINK=$!
TERN_PIDS+=($SINK)
check "tern-server starts as a sink" "wait_telemetry $P1 20 $SINK"

# Both senders at once: the kernel from the namespace itself, tern-load through tern1.
in_ns timeout $((SECONDS_EACH + 20)) python3 "$(dirname "$0")/kernel_send.py" 198.18.0.2 9 "$SECONDS_EACH" \
    >"$WORK/kernel_send" 2>&1 &
KSEND=$!
P2=tern_it_fair_load_$$
in_ns timeout $((SECONDS_EACH + 30)) "$BUILD/apps/tern-load" $EAL_MEM --no-pci -l 1 \
    --vdev=net_tap1,iface=tern1 --file-prefix "$P2" -- \
    --ip 198.18.1.2/24 --gateway 198.18.1.1 --mac 02:00:c6:12:01:02 --workload throughput --direction upload \
    --target 198.18.0.2:9 --connections 1 --duration "$SECONDS_EACH" --congestion cubic "${BUFFERS[@]}" \
    ${FAIR_SHARE_TERN_ARGS:-} >"$WORK/load.log" 2>&1 &
LOAD=$!
TERN_PIDS+=($LOAD)

# Near the end, while both connections are up: what the sink got from each so far.
sleep $((SECONDS_EACH - 2))
telemetry "$P1" /tern/tcp/connections >"$WORK/connections" 2>&1
received_from() { grep -o "198\.18\.0\.2:9 $1:[0-9]* ESTABLISHED [^\"]* in=[0-9]*" "$WORK/connections" | sed 's/.* in=//' | head -1; }
KERNEL_BYTES=$(received_from 198.18.0.1)
TERN_BYTES=$(received_from 198.18.1.2)
wait $KSEND
wait $LOAD
LOAD_RC=$?
unset 'TERN_PIDS[-1]'
kill -INT $SINK
wait $SINK
unset 'TERN_PIDS[-1]'
check "the kernel sent for ${SECONDS_EACH} s with CUBIC" "grep -qx sent '$WORK/kernel_send'" || cat "$WORK/kernel_send"
check "tern-load sent for ${SECONDS_EACH} s (exit 0)" "[ $LOAD_RC -eq 0 ]" || tail -20 "$WORK/load.log"
check "the sink received from both flows" "[ \"\${KERNEL_BYTES:-0}\" -gt 0 ] && [ \"\${TERN_BYTES:-0}\" -gt 0 ]" ||
    cat "$WORK/connections"
SECONDS_SEEN=$((SECONDS_EACH - 2))
echo "# shared bottleneck, ${SECONDS_SEEN} s: kernel $(( ${KERNEL_BYTES:-0} * 8 / SECONDS_SEEN / 1000 )) kbit/s, tern $(( ${TERN_BYTES:-0} * 8 / SECONDS_SEEN / 1000 )) kbit/s"
grep -E "retransmits|recoveries|probes|undos" "$WORK/load.log" | sed 's/^/# /'
check "each flow gets between half and twice the other's goodput" \
    "[ \$(( \${TERN_BYTES:-0} * 2 )) -ge \${KERNEL_BYTES:-1} ] && [ \$(( \${KERNEL_BYTES:-0} * 2 )) -ge \${TERN_BYTES:-1} ]"
