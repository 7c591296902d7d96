# Shared by scripts/demo, scripts/test and the integration tests: install what tern
# needs, build it, and set up hugepages. Every step is idempotent.
set -euo pipefail

TERN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TERN_BUILD=${TERN_BUILD:-$TERN_ROOT/build}

TERN_PACKAGES=(
    build-essential meson ninja-build pkg-config
    libdpdk-dev dpdk dpdk-dev
    libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev
    iproute2 iputils-ping iptables tcpdump tshark python3 curl nginx-light
    wrk iperf3 sockperf gnuplot-nox
    # tests/integration/deploy.sh reads deploy/'s Kubernetes manifests with PyYAML.
    python3-yaml
    # The engine fuzz build (tests/integration/fuzz_engine.sh): clang and its libFuzzer,
    # which Debian ships in the compiler-rt package (libclang_rt.fuzzer-x86_64.a).
    clang libclang-rt-dev
)

log() { printf '[tern] %s\n' "$*" >&2; }

# --help (or -h) as a script's first argument prints its opening comment and exits: the
# scripts that run something long (the suite, the demo) used to start on any argument.
handle_help() {
    case "${1:-}" in
    -h | --help)
        sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "$0"
        exit 0
        ;;
    esac
}
# For the scripts that take no argument: any is refused, with exit 2.
no_arguments() {
    [ $# -eq 0 ] && return 0
    echo "$(basename "$0"): unexpected argument '$1' (--help says how to run it)" >&2
    exit 2
}

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "run as root: it installs packages, reserves hugepages and makes network namespaces" >&2
        exit 1
    fi
}

install_deps() {
    local missing=()
    for p in "${TERN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer once, no prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    # nginx is a test peer run inside our namespaces only: keep the package's service
    # from starting on the machine (policy-rc.d 101 = "do not start").
    local own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    [ $own_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# build DIR [meson options...]: configure once, then ninja.
build_tern() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        log "configuring $dir"
        meson setup "$dir" "$TERN_ROOT" "$@" >/dev/null
    fi
    log "building $dir"
    ninja -C "$dir" >/dev/null
}

# The libFuzzer build of tests/fuzz: clang, ASan and UBSan, and libFuzzer's coverage
# instrumentation on every object. Configures once, then ninja; the compiler's messages go
# to standard output (unlike build_tern's), for the fuzz test to show.
TERN_FUZZ_BUILD=${TERN_FUZZ_BUILD:-$TERN_ROOT/build-fuzz}
build_fuzz() {
    if [ ! -f "$TERN_FUZZ_BUILD/build.ninja" ]; then
        log "configuring $TERN_FUZZ_BUILD"
        CC=clang CXX=clang++ meson setup "$TERN_FUZZ_BUILD" "$TERN_ROOT" -Dfuzz=true -Dbuildtype=debug \
            -Doptimization=1 -Dcpp_args=-g1 -Db_sanitize=address,undefined -Db_lundef=false -Db_lto=false \
            -Dbenchmarks=false || return 1
    fi
    log "building $TERN_FUZZ_BUILD"
    ninja -C "$TERN_FUZZ_BUILD"
}

# Sets EAL_MEM to the EAL memory arguments: hugepages where the kernel gives them,
# --no-huge otherwise.
setup_hugepages() {
    local want=${TERN_HUGEPAGES:-512}
    EAL_MEM="--no-huge -m 1024"
    if [ -w /proc/sys/vm/nr_hugepages ]; then
        local have; have=$(cat /proc/sys/vm/nr_hugepages)
        if [ "$have" -lt "$want" ]; then echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true; fi
        mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null; } || true
        local free; free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
        if [ "${free:-0}" -ge 256 ] && mountpoint -q /dev/hugepages; then
            EAL_MEM="-m 512"
        fi
    fi
    if [ "$EAL_MEM" = "--no-huge -m 1024" ]; then log "no hugepages: using --no-huge"; else log "using hugepages"; fi
    export EAL_MEM
}
