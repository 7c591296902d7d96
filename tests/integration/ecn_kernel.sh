#!/usr/bin/env bash
# ECN (RFC 3168) against the kernel's, over a TAP in a namespace of this test's own, with
# net.ipv4.tcp_ecn=1 there. tern's fault wrapper plays the router that marks: it sets CE on
# 2% of the ECN-capable packets (this kernel has no qdisc that marks). tern's own capture
# (--pcap, outside the fault wrapper) shows what tern sent and what reached it.
#   1. The kernel sends to tern's sink: tern agrees to ECN, sees CE, echoes ECE, and the
#      kernel answers with CWR.
#   2. tern-load (--ecn on) sends to a kernel sink: its data is ECT(0), the kernel echoes
#      the CE marks with ECE, and tern answers with CWR.
#   ecn_kernel.sh BUILD
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}
command -v tcpdump >/dev/null || { need_root; TERN_PACKAGES=(tcpdump); install_deps; }

it_begin tern-it-ecn
tap_in_ns "$NS" tern0 198.18.0.1/24
in_ns() { ip netns exec "$NS" "$@"; }
check "the namespace's kernel asks for ECN" "in_ns sysctl -qw net.ipv4.tcp_ecn=1"
EAL=($EAL_MEM --no-pci -l 0 --vdev=net_tap0,iface=tern0)
FAULTS=(--fault-ce 0.02 --fault-seed 3)
# count FILE FILTER: packets of the capture that match.
count() { tcpdump -nr "$1" "$2" 2>/dev/null | wc -l; }

# --- the kernel sends ----------------------------------------------------------------------
P1=tern_it_ecn_sink_$$
in_ns "$BUILD/apps/tern-server" "${EAL[@]}" --file-prefix "$P1" -- --ip 198.18.0.2/24 \
    --mac 02:00:c6:12:00:02 --mode sink --duration 60 --interval 0 --pcap "$WORK/sink.pcapng" \
    "${FAULTS[@]}" >"$WORK/sink.log" 2>&1 &
SINK=$!
TERN_PIDS+=($SINK)
check "tern-server starts as a sink" "wait_telemetry $P1 20 $SINK"
in_ns timeout 30 python3 - >"$WORK/kernel_send" 2>&1 <<'PY'
import socket, time
s = socket.create_connection(("198.18.0.2", 9), timeout=10)
chunk = b"k" * 65536
end = time.monotonic() + 3
while time.monotonic() < end:
    s.send(chunk)
s.close()
print("sent")
PY
check "the kernel sent for 3 s" "grep -qx sent '$WORK/kernel_send'"
sleep 0.5
kill -INT $SINK
wait $SINK
unset 'TERN_PIDS[-1]'
S=$WORK/sink.pcapng
check "tern's SYN,ACK agreed to ECN (ECE, not CWR)" \
    "[ \$(count $S 'src 198.18.0.2 and tcp[13] & 0xd2 == 0x52') -ge 1 ]"
check "marks reached tern: CE on the kernel's data" "[ \$(count $S 'src 198.18.0.1 and ip[1] & 3 == 3') -ge 1 ]"
check "tern echoed them: ACKs with ECE (tcp[13] & 64)" \
    "[ \$(count $S 'src 198.18.0.2 and tcp[13] & 64 != 0 and tcp[13] & 2 == 0') -ge 1 ]"
check "the kernel answered with CWR" "[ \$(count $S 'src 198.18.0.1 and tcp[13] & 128 != 0 and tcp[13] & 2 == 0') -ge 1 ]"
check "tern counted the CE marks (tcp_ecn_ce_in)" "awk '\$1 == \"tcp_ecn_ce_in\" && \$2 > 0 {f=1} END {exit !f}' '$WORK/sink.log'"

# --- tern sends --------------------------------------------------------------------------
in_ns timeout 40 python3 "$(dirname "$0")/kernel_sink.py" 198.18.0.1 5001 >"$WORK/kernel_sink" 2>&1 &
KSINK=$!
sleep 0.5
P2=tern_it_ecn_load_$$
in_ns timeout 30 "$BUILD/apps/tern-load" "${EAL[@]}" --file-prefix "$P2" -- \
    --ip 198.18.0.2/24 --mac 02:00:c6:12:00:02 --workload throughput --direction upload \
    --target 198.18.0.1:5001 --connections 1 --duration 3 --ecn on --pcap "$WORK/load.pcapng" \
    "${FAULTS[@]}" >"$WORK/load.log" 2>&1
check "tern-load sent for 3 s (exit 0)" "[ $? -eq 0 ]" || tail -20 "$WORK/load.log"
wait $KSINK
check "the kernel's sink received it" "awk '\$1 == \"bytes\" && \$2 > 0 {f=1} END {exit !f}' '$WORK/kernel_sink'"
L=$WORK/load.pcapng
check "tern's SYN asked for ECN (ECE and CWR)" "[ \$(count $L 'src 198.18.0.2 and tcp[13] & 0xc2 == 0xc2') -ge 1 ]"
check "tern's data went ECT(0)" "[ \$(count $L 'src 198.18.0.2 and ip[1] & 3 == 2 and len > 200') -ge 1 ]"
check "the kernel echoed the marks with ECE" \
    "[ \$(count $L 'src 198.18.0.1 and tcp[13] & 64 != 0 and tcp[13] & 2 == 0') -ge 1 ]"
check "tern counted its reductions (tcp_ecn_reductions)" \
    "awk '\$1 == \"tcp_ecn_reductions\" && \$2 > 0 {f=1} END {exit !f}' '$WORK/load.log'"
check "tern answered with CWR" "[ \$(count $L 'src 198.18.0.2 and tcp[13] & 128 != 0 and tcp[13] & 2 == 0') -ge 1 ]"
# Segments without payload (SYN, pure ACKs): IPv4 total length minus both headers is 0.
NO_DATA='(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) == 0'
check "tern's SYN and pure ACKs are not ECT" \
    "[ \$(count $L 'src 198.18.0.2 and ip[1] & 3 != 0 and $NO_DATA') -eq 0 ]" ||
    tcpdump -nvr "$L" "src 198.18.0.2 and ip[1] & 3 != 0 and $NO_DATA" 2>/dev/null | head -6
check "(and that filter finds tern's SYN)" "[ \$(count $L 'src 198.18.0.2 and $NO_DATA') -ge 1 ]"
