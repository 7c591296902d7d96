#!/usr/bin/env bash
# tern-server and tern-load refuse bad input with a message that names the problem and a non-zero
# exit. No interface is made: the EAL starts with no device at all, or a net_null one.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
set +e

BUILD=${1:?build dir}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" /var/run/dpdk/tern_cli_"$$"_*' EXIT
n=0
APP=tern-server
# The EAL arguments every run starts with; a check that needs others sets them for itself.
EAL_FIXED=(--no-huge -m 256 --no-pci --no-telemetry -l 0)
# expect NAME EXIT_CODE PATTERN -- $APP app args...
expect() {
    local name=$1 want=$2 pattern=$3; shift 4
    n=$((n + 1))
    timeout 30 "$BUILD/apps/$APP" "${EAL_FIXED[@]}" \
        --file-prefix "tern_cli_$$_$n" "$@" >"$WORK/out" 2>&1
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" "$WORK/out"; then
        echo "ok - $name"
    else
        echo "not ok - $name (exit $rc, wanted $want; output: $(tr '\n' ' ' <"$WORK/out" | tail -c 300))"
    fi
}

expect "--help lists the options" 0 "--ip arg" -- -- --help
expect "--ip is required" 2 "ip.*required" -- --
expect "a bad address is named" 2 "--ip: '198.18.0.300/24' is not" -- -- --ip 198.18.0.300/24
expect "a prefix over 32 is refused" 2 "--ip: '198.18.0.2/33' is not" -- -- --ip 198.18.0.2/33
expect "a bad IPv6 address is named" 2 "--ip: '2001:2::g/64' is not an IPv6 address" -- -- --ip 198.18.0.2/24 --ip 2001:2::g/64
expect "an IPv6 prefix over 128 is refused" 2 "--ip: '2001:2::2/129' is not" -- -- --ip 198.18.0.2/24 --ip 2001:2::2/129
expect "a link-local --ip is refused" 2 "--ip: 'fe80::2/64' is link-local" -- -- --ip 198.18.0.2/24 --ip fe80::2/64
expect "a second IPv4 --ip is refused" 2 "--ip: '198.18.0.3/24' is a second IPv4 address" -- -- --ip 198.18.0.2/24 --ip 198.18.0.3/24
expect "IPv6 alone is refused" 2 "--ip: no IPv4 address" -- -- --ip 2001:2::2/64
expect "a gateway off the prefix is refused" 2 "--gateway: 198.19.0.1 is not on" -- -- --ip 198.18.0.2/24 --gateway 198.19.0.1
expect "an IPv6 gateway off every IPv6 prefix is refused" 2 "--gateway: 2001:2:9::1 is neither link-local nor on an IPv6 --ip prefix" -- -- --ip 198.18.0.2/24 --ip 2001:2::2/64 --gateway 2001:2:9::1
expect "an IPv6 gateway without an IPv6 --ip is refused" 2 "--gateway: fe80::1 is IPv6 and no --ip is" -- -- --ip 198.18.0.2/24 --gateway fe80::1
expect "a second IPv6 gateway is refused" 2 "--gateway: fe80::2 is a second IPv6 gateway" -- -- --ip 198.18.0.2/24 --ip 2001:2::2/64 --gateway fe80::1 --gateway fe80::2
expect "a second IPv4 gateway is refused" 2 "--gateway: 198.18.0.3 is a second IPv4 gateway" -- -- --ip 198.18.0.2/24 --gateway 198.18.0.1 --gateway 198.18.0.3
expect "a multicast MAC is refused" 2 "--mac: 01:00:5e:00:00:01 is not a unicast MAC" -- -- --ip 198.18.0.2/24 --mac 01:00:5e:00:00:01
expect "a burst out of range is refused" 2 "--burst: 0 is outside 1-512" -- -- --ip 198.18.0.2/24 --burst 0
expect "a bad static ARP entry is refused" 2 "--static-arp: '198.18.0.1' is not IP=MAC" -- -- --ip 198.18.0.2/24 --static-arp 198.18.0.1
expect "an unknown option is refused" 2 "unrecognised option|unrecognized option" -- -- --ip 198.18.0.2/24 --frobnicate
expect "an unknown mode is refused" 2 "--mode: 'ftp' is not none, echo, sink, source or http" -- -- --ip 198.18.0.2/24 --mode ftp
expect "a TCP port out of range is refused" 2 "--port: 70000 is outside 1-65535" -- -- --ip 198.18.0.2/24 --mode echo --port 70000
expect "a fault probability over 1 is refused" 2 "--fault-loss: must be within 0-1" -- -- --ip 198.18.0.2/24 --fault-loss 2
expect "no port says how to give one" 1 "no DPDK port: pass one with EAL arguments" -- -- --ip 198.18.0.2/24
expect "more engines than lcores names --engines and says which -l to pass" 2 \
    "--engines: 2 engines need 2 lcores; the EAL has 1 \(pass e.g. -l 0-1\)" -- --vdev=net_null0 -- --ip 198.18.0.2/24 --engines 2
expect "an initial window out of range is refused" 2 "--initial-window: 65 is outside 0-64" -- -- --ip 198.18.0.2/24 --initial-window 65
expect "an unknown congestion control is refused" 2 "--congestion: 'vegas' is neither cubic nor reno" -- -- --ip 198.18.0.2/24 --congestion vegas
expect "an unknown ECN mode is refused" 2 "--ecn: 'yes' is not off, passive or on" -- -- --ip 198.18.0.2/24 --ecn yes
expect "a queue count out of range is refused" 2 "--queues: 200 is outside 0-128" -- -- --ip 198.18.0.2/24 --queues 200
EAL_FIXED=(--no-huge -m 256 --no-pci --no-telemetry -l 0-1)
expect "fewer queue pairs than engines names --queues" 2 \
    "--queues: 1 is fewer than the 2 engines: each engine needs a queue pair of its own" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24 --engines 2 --queues 1
EAL_FIXED=(--no-huge -m 256 --no-pci --no-telemetry -l 0)
expect "bad EAL arguments are a bad value (exit 2), said as such" 2 "the EAL arguments \(before --\) are wrong: .*above its usage text" \
    -- --no-such-eal-flag -- --ip 198.18.0.2/24
EAL_FIXED=(--no-huge -m 256 --no-pci --no-telemetry -l 99)
expect "an lcore the machine lacks: DPDK's own reason is quoted" 2 "the EAL arguments \(before --\) are wrong: EAL: lcore 99 unavailable" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24
EAL_FIXED=(--huge-dir "$WORK" --no-pci --no-telemetry -l 0)
expect "--help is read before the EAL starts (needs no hugepages)" 0 "--ip arg" -- -- --help
EAL_FIXED=(--no-huge -m 256 --no-pci --no-telemetry -l 0)
expect "tern's options without -- are pointed after it" 2 "'--ip' is required.*tern's options go after --" -- --ip 198.18.0.2/24
expect "a port id DPDK does not have names --port-id and the ids it has" 2 "--port-id: port 5 does not exist \(DPDK has 0\)" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24 --port-id 5
expect "a port id over 65535 is refused, not wrapped" 2 "--port-id: 70000 is outside 0-65535" -- -- --ip 198.18.0.2/24 --port-id 70000
expect "a negative number for an unsigned option is refused, not wrapped" 2 "--port-id: '-1' is negative" -- -- --ip 198.18.0.2/24 --port-id -1
expect "a negative fault delay is refused (it wrapped to 71 minutes)" 2 "--fault-delay-us: '-1' is negative" -- -- --ip 198.18.0.2/24 --fault-delay-us -1
expect "a capture file that cannot be written names --pcap" 2 "--pcap: cannot write /nonexistent/x.pcapng: No such file" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24 --pcap /nonexistent/x.pcapng
expect "pools beyond the EAL's memory name --pool-size, a machine cause" 1 "--pool-size: mbuf pool .*; ask for fewer mbufs, or give the EAL more memory" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24 --pool-size 200000
expect "a word that is no option's value is refused, not dropped" 2 "'8080' is no option's value" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24 --mode http --port 80 8080 --duration 0.3
expect "a duration that is not a number is refused" 2 "--duration: must be 0 or more seconds" -- -- --ip 198.18.0.2/24 --duration nan
expect "a TCP port without a mode is refused (nothing would listen)" 2 "--port: needs --mode" -- -- --ip 198.18.0.2/24 --port 8080
expect "a port that is not a number is named" 2 "--port: 'http' is not a port number" -- -- --ip 198.18.0.2/24 --mode http --port http
expect "a port in a list out of range is refused" 2 "--port: 0 is outside 1-65535" -- -- --ip 198.18.0.2/24 --mode http --port 80,0
expect "a port given twice is refused" 2 "--port: 80 is given twice" -- -- --ip 198.18.0.2/24 --mode http --port 80 --port 8080,80
expect "a send buffer too small is refused" 2 "--send-buffer: 100 is outside 1024-1073741824" -- -- --ip 198.18.0.2/24 --send-buffer 100
expect "a receive buffer not a power of two is refused" 2 "--receive-buffer: 100000 is not a power of two" -- -- --ip 198.18.0.2/24 --receive-buffer 100000
expect "a big window without window scaling is refused" 2 "--receive-buffer: 131072 needs window scaling" -- -- --ip 198.18.0.2/24 --receive-buffer 131072 --no-window-scaling
expect "an auto-tuning maximum not a power of two is refused" 2 "--receive-buffer-max: 300000 is not a power of two" -- -- --ip 198.18.0.2/24 --receive-buffer-max 300000
expect "an auto-tuning maximum not above the buffer is refused" 2 "--receive-buffer-max: 65536 is not above --receive-buffer" -- -- --ip 198.18.0.2/24 --receive-buffer-max 65536
expect "an auto-tuning maximum beyond 64 KiB without window scaling is refused" 2 "--receive-buffer-max: 131072 needs window scaling" -- -- --ip 198.18.0.2/24 --receive-buffer 16384 --receive-buffer-max 131072 --no-window-scaling
expect "keep-alive values without --keepalive are refused" 2 "--keepalive-idle: needs --keepalive" -- -- --ip 198.18.0.2/24 --keepalive-idle 10
expect "a keep-alive count of 0 is refused" 2 "--keepalive-count: 0 is outside 1-255" -- -- --ip 198.18.0.2/24 --keepalive --keepalive-count 0
expect "a negative MSL is refused" 2 "--msl: -1 is outside 0-600 seconds" -- -- --ip 198.18.0.2/24 --msl -1
expect "a delayed ACK of 0.5 s or more is refused" 2 "--delayed-ack-ms: 500 is outside 0-499" -- -- --ip 198.18.0.2/24 --delayed-ack-ms 500
expect "--help gives the delayed-ACK range that is taken" 0 "delayed-ACK time \(0-499 ms" -- -- --help
expect "no challenge-ACK budget is refused (0: none on Linux, no limit to the library)" 2 "--challenge-acks: 0 is outside 1-2147483647" -- -- --ip 198.18.0.2/24 --challenge-acks 0
expect "a negative challenge-ACK budget is refused" 2 "--challenge-acks: .-1. is negative" -- -- --ip 198.18.0.2/24 --challenge-acks -1
expect "an initial RTO below the minimum is refused" 2 "--initial-rto-ms: is outside --min-rto-ms to --max-rto-ms" -- -- --ip 198.18.0.2/24 --initial-rto-ms 100
expect "a retry count that is not a number is named" 2 "syn-retries.*invalid" -- -- --ip 198.18.0.2/24 --syn-retries many
expect "a tiny request limit is refused" 2 "--max-request: 10 is outside 64-16777216" -- -- --ip 198.18.0.2/24 --mode http --max-request 10
expect "too few connections are refused" 2 "--max-connections: 1 is outside 16-16777216" -- -- --ip 198.18.0.2/24 --max-connections 1
expect "a zero SYN backlog is refused" 2 "--syn-backlog: 0 is outside 1-16777216" -- -- --ip 198.18.0.2/24 --syn-backlog 0
expect "an accept backlog over --max-connections is refused" 2 "--accept-backlog: 5000 is outside 1 to --max-connections \\(4096\\)" -- -- --ip 198.18.0.2/24 --accept-backlog 5000
expect "a missing config file is named" 2 "--config: cannot open '/nonexistent/tern.ini'" -- -- --config /nonexistent/tern.ini
printf 'ip = 198.18.0.2/24\nfrobnicate = 1\n' >"$WORK/unknown.ini"
expect "an unknown key in the config file is refused" 2 "--config $WORK/unknown.ini: .*frobnicate" -- -- --config "$WORK/unknown.ini"
printf 'ip = 198.18.0.2/24\nsend-buffer = 12\n' >"$WORK/badvalue.ini"
expect "a bad value in the config file names the option" 2 "--send-buffer: 12 is outside 1024-1073741824" -- -- --config "$WORK/badvalue.ini"
printf 'ip = 198.18.0.2/24\nmode = banana\n' >"$WORK/badmode.ini"
expect "a bad mode in the config file is refused" 2 "--mode: 'banana' is not" -- -- --config "$WORK/badmode.ini"
expect "a folder given as the config file is refused, not read as empty" 2 "--config: '$WORK' is a folder, not a file" \
    -- --vdev=net_null0 -- --ip 198.18.0.2/24 --config "$WORK" --duration 0.3
printf 'ip = 198.18.0.2/24\nburst = -5\n' >"$WORK/negative.ini"
expect "a negative number in the config file names the option" 2 "--config $WORK/negative.ini: --burst: '-5' is negative" \
    -- -- --config "$WORK/negative.ini"
printf 'ip = 198.18.0.2/24\nsyn-retries = lots\n' >"$WORK/syntax.ini"
expect "a value of the wrong type in the config file is refused" 2 "--config $WORK/syntax.ini: .*syn-retries" -- -- --config "$WORK/syntax.ini"
printf '# tern-server settings\nip = 198.18.0.2/24\nmode = sink\nport = 5000\nduration = 0.5\nno-delay = true\n' >"$WORK/good.ini"
expect "the config file's values are used" 0 "sink on TCP port 5000" -- --vdev=net_null0 -- --config "$WORK/good.ini"
expect "the command line wins over the config file" 0 "http on TCP port 6000,6001" -- --vdev=net_null0 -- --config "$WORK/good.ini" --mode http --port 6000 --port 6001
printf 'ip = 198.18.0.2/24\nchallenge-acks = 5\n' >"$WORK/challenge.ini"
expect "net_null runs and stops after --duration" 0 "stopped. counters" -- --vdev=net_null0 -- --ip 198.18.0.2/24 --duration 0.5
expect "a challenge-ACK budget in the config file is accepted" 0 "stopped. counters" -- --vdev=net_null0 -- --config "$WORK/challenge.ini" --duration 0.3

APP=tern-load
L=(--ip 198.18.0.1/24 --target 198.18.0.2:80)
expect "tern-load: --help lists the workloads" 0 "cps, rps, http, ping-pong or throughput" -- -- --help
expect "tern-load: --workload is required" 2 "workload.*required" -- -- "${L[@]}"
expect "tern-load: --target is required" 2 "target.*required" -- -- --ip 198.18.0.1/24 --workload http
expect "tern-load: an unknown workload is named" 2 "--workload: 'udp' is not cps, rps" -- -- "${L[@]}" --workload udp
expect "tern-load: a bad target is named" 2 "--target: '198.18.0.300' is not IP" -- -- --ip 198.18.0.1/24 --target 198.18.0.300 --workload http
expect "tern-load: a target port out of range" 2 "--target: '0' is not a port in 1-65535" -- -- --ip 198.18.0.1/24 --target 198.18.0.2:0 --workload http
expect "tern-load: cps needs a rate" 2 "--rate: cps needs a rate" -- -- "${L[@]}" --workload cps
expect "tern-load: rps needs a rate or --closed-loop" 2 "--rate: rps needs a rate" -- -- "${L[@]}" --workload rps
expect "tern-load: a negative rate is refused" 2 "--rate: must be above 0" -- -- "${L[@]}" --workload rps --rate -5
expect "tern-load: --closed-loop with --rate conflicts" 2 "--closed-loop: conflicts with --rate" -- -- "${L[@]}" --workload rps --rate 5 --closed-loop
expect "tern-load: zero connections are refused" 2 "--connections: 0 is outside" -- -- "${L[@]}" --workload http --connections 0
expect "tern-load: an open grace past 10 s is refused" 2 "--open-grace: must be within 0-10000 ms" -- -- "${L[@]}" --workload cps --rate 5 --open-grace 20000
expect "tern-load: who closes must be client or server" 2 "--close: 'both' is not client or server" -- -- "${L[@]}" --workload cps --rate 5 --close both
expect "tern-load: --zero-copy is for sending bulk data only" 2 "--zero-copy: only for --workload throughput that sends" -- -- "${L[@]}" --workload http --zero-copy
expect "tern-load: --zero-copy does not download" 2 "--zero-copy: only for --workload throughput that sends" -- -- --ip 198.18.0.1/24 --target 198.18.0.2:9 --workload throughput --direction download --zero-copy
expect "tern-load: a bad direction is named" 2 "--direction: 'up' is not upload" -- -- --ip 198.18.0.1/24 --target 198.18.0.2:9 --workload throughput --direction up
expect "tern-load: source addresses off the prefix" 2 "--source-ip: '198.19.0.1-198.19.0.9' is not within" -- -- "${L[@]}" --workload http --source-ip 198.19.0.1-198.19.0.9
expect "tern-load: source addresses holding our own" 2 "--source-ip: '198.18.0.1-198.18.0.9' holds --ip" -- -- "${L[@]}" --workload http --source-ip 198.18.0.1-198.18.0.9
expect "tern-load: more connections than source 4-tuples are refused" 2 "--connections: 2000 asked, 1 source address\\(es\\) x 1000 ports = 1000" -- -- "${L[@]}" --workload http --connections 2000 --source-ports 1000-1999
expect "tern-load: a descending port range" 2 "--source-ports: '2000-1000' is not ascending" -- -- "${L[@]}" --workload http --source-ports 2000-1000
expect "tern-load: a port range smaller than the engines is refused" 2 "--source-ports: fewer ports than engines" -- -- "${L[@]}" --workload http --engines 2 --source-ports 20000-20000
expect "tern-load: a target off-link without gateway" 2 "--target: 198.19.0.2 is off --ip's prefix" -- -- --ip 198.18.0.1/24 --target 198.19.0.2 --workload http
expect "tern-load: an IPv6 target off-link without an IPv6 gateway" 2 "--target: 2001:2:9::1 is off every IPv6 --ip's prefix and there is no IPv6 --gateway" -- -- --ip 198.18.0.1/24 --ip 2001:2::1/64 --target '[2001:2:9::1]:80' --workload http
expect "tern-load: a progress interval under 0.1 s is refused" 2 "--interval: must be within 0.1-10" -- -- "${L[@]}" --workload http --interval 0.05
expect "tern-load: TCP options are checked as tern-server's" 2 "--initial-rto-ms: 0 is outside 1-60000" -- -- "${L[@]}" --workload http --initial-rto-ms 0
expect "tern-load: --park-after below 10 ms is refused" 2 "--park-after: 0 is outside 0.01-3600 seconds" -- -- "${L[@]}" --workload http --park-after 0
expect "tern-load: --park-after with --no-park conflicts" 2 "--park-after: not with --no-park" -- -- "${L[@]}" --workload http --no-park --park-after 2
expect "tern-load: a challenge-ACK budget of 0 is refused as tern-server's" 2 "--challenge-acks: 0 is outside 1-2147483647" -- -- "${L[@]}" --workload http --challenge-acks 0
expect "tern-load: --no-delay is not an option (Nagle is off unless --nagle)" 2 "no-delay" -- -- "${L[@]}" --workload http --no-delay
expect "tern-load: a non-numeric rate is named" 2 "rate" -- -- "${L[@]}" --workload rps --rate fast
expect "tern-load: a path without / is refused" 2 "--path: 'index.html' is not an absolute path" -- -- "${L[@]}" --workload http --path index.html
expect "tern-load: a report file that cannot be written is refused before the run" 2 "--json: cannot write /nonexistent/r.json" \
    -- --vdev=net_null0 -- "${L[@]}" --workload http --json /nonexistent/r.json --duration 0.5
expect "tern-load: a picture file that cannot be written is refused before the run" 2 "--plot: cannot write /nonexistent/r.png" \
    -- -- "${L[@]}" --workload http --plot /nonexistent/r.png
expect "tern-load: a negative request count is refused, not wrapped" 2 "--requests: '-1' is negative" -- -- "${L[@]}" --workload cps --rate 5 --requests -1
expect "tern-load: a Host header with a line break is refused" 2 "--host: holds spaces or line breaks" -- -- "${L[@]}" --workload http --host $'a\r\nX: y'

# tern-bench checks its options before it runs anything. Each check gives an --out that cannot
# be made, so that a tern-bench that let the fault through stops there too, before any
# namespace or peer is started (a stray word once started a full run of many minutes).
bench_expect() {
    local name=$1 want=$2 pattern=$3; shift 4
    timeout 30 "$BUILD/apps/tern-bench" "$@" >"$WORK/out" 2>&1
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" "$WORK/out"; then
        echo "ok - $name"
    else
        echo "not ok - $name (exit $rc, wanted $want; output: $(tr '\n' ' ' <"$WORK/out" | tail -c 300))"
    fi
}
bench_expect "tern-bench: a word that is no option's value is refused, not dropped" 2 "'quick' is no option's value" \
    -- --out /proc/tern-no-such-dir quick
bench_expect "tern-bench: a --tern-dir without the apps is refused before the run" 2 "--tern-dir: /nonexistent has no tern-server" \
    -- --tern-dir /nonexistent --out /proc/tern-no-such-dir
bench_expect "tern-bench: an --out that cannot be made names --out" 2 "--out: cannot make /proc/tern-no-such-dir/logs" \
    -- --out /proc/tern-no-such-dir

# The scripts' --help prints their opening comment and runs nothing; those that take no
# argument refuse any (scripts/test started the whole suite on any word, scripts/demo the demo).
SCRIPTS=$(cd "$(dirname "$0")/../../scripts" && pwd)
script_expect() {
    local name=$1 want=$2 pattern=$3; shift 4
    timeout -k 1 10 bash "$@" >"$WORK/out" 2>&1
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" "$WORK/out"; then
        echo "ok - $name"
    else
        echo "not ok - $name (exit $rc, wanted $want; output: $(tr '\n' ' ' <"$WORK/out" | tail -c 300))"
    fi
}
script_expect "scripts/test --help shows how to run it" 0 "sudo scripts/test" -- "$SCRIPTS/test" --help
script_expect "scripts/demo --help shows how to run it" 0 "sudo scripts/demo --quick BUILD" -- "$SCRIPTS/demo" --help
script_expect "scripts/instructions -h shows how to run it" 0 "scripts/instructions \[--top N\]" -- "$SCRIPTS/instructions" -h
script_expect "scripts/test refuses an argument" 2 "test: unexpected argument 'now'" -- "$SCRIPTS/test" now
script_expect "scripts/demo refuses an unknown argument" 2 "demo: unexpected argument '--fast'" -- "$SCRIPTS/demo" --fast
script_expect "scripts/build-pgo --help shows how to run it" 0 "sudo scripts/build-pgo \[BUILD_DIR\]" -- "$SCRIPTS/build-pgo" --help
script_expect "scripts/build-pgo refuses an unknown option" 2 "build-pgo: unknown option '--fast'" -- "$SCRIPTS/build-pgo" --fast
script_expect "scripts/build-pgo refuses a second folder" 2 "build-pgo: one build folder at most" -- "$SCRIPTS/build-pgo" a b
exit 0
