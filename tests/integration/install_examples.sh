#!/usr/bin/env bash
# libtern as another program uses it: `meson install --destdir` into a scratch prefix, then
# examples/echo_server built from its source with nothing but `pkg-config --cflags --libs
# tern` against that copy (no path into the source tree), and run against the kernel's TCP
# over a TAP in a namespace made for this test, as is the copy meson built in the tree.
# Sanitized builds install sanitized libraries: the example is then built with the same
# -fsanitize, so that the sanitizer runtime comes first.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
source "$TERN_ROOT/scripts/netns.sh"
set +e

BUILD=${1:?build dir}

it_begin tern-it-lib
DEST=$WORK/dest
meson install -C "$BUILD" --destdir "$DEST" --no-rebuild --quiet >"$WORK/install.log" 2>&1
check "meson install puts the library, its headers and tern.pc in the prefix" \
    '[ -n "$(find "$DEST" -name tern.pc)" ] && [ -n "$(find "$DEST" -name "libtern.so*")" ] && [ -n "$(find "$DEST" -name "libtern.a")" ] && [ -f "$(find "$DEST" -path "*include/tern/tcp.hpp" | head -1)" ] && [ -f "$(find "$DEST" -path "*include/tern/stack.hpp" | head -1)" ]' ||
    cat "$WORK/install.log"

# tern.pc names the prefix meson was configured with; the copy under DEST is given that
# prefix under DEST, as if installed there. (pkg-config --define-prefix guesses wrong with
# Debian's lib/x86_64-linux-gnu, for libdpdk.pc too.)
pc_dir=$WORK/pkgconfig
mkdir -p "$pc_dir"
installed_pc=$(find "$DEST" -name tern.pc | head -1)
sed "s|^prefix=|prefix=$DEST|" "$installed_pc" >"$pc_dir/tern.pc"
lib_dir=$(dirname "$(find "$DEST" -name 'libtern.so' | head -1)")
pc() { PKG_CONFIG_PATH=$pc_dir pkg-config "$@" tern; }
check "pkg-config finds tern in the prefix (and libdpdk through it)" 'pc --exists && pc --cflags | grep -q -- "-I$DEST"'

sanitize=$(meson introspect --buildoptions "$BUILD" | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"))')
extra=()
[ "$sanitize" != "none" ] && extra=("-fsanitize=$sanitize")
c++ -std=c++20 "${extra[@]}" -o "$WORK/echo_server" "$TERN_ROOT/examples/echo_server.cpp" $(pc --cflags --libs) \
    >"$WORK/cc.log" 2>&1
check "examples/echo_server builds with pkg-config's flags alone" '[ -x "$WORK/echo_server" ]' || cat "$WORK/cc.log"
check "the flags reach no header in the source tree" '! pc --cflags | grep -q -- "$TERN_ROOT/\(src\|include\)"'
ldd_out=$(LD_LIBRARY_PATH=$lib_dir ldd "$WORK/echo_server" 2>&1)
check "the example loads the installed libtern" 'grep -q "libtern.so.* => $DEST" <<<"$ldd_out"' || echo "$ldd_out"

tap_in_ns "$NS" tern0 198.18.0.1/24

# echo_round NAME BINARY PREFIX: the example serves 198.18.0.2:7 for at most 20 s; three
# lines and 64 KiB from the kernel come back whole, and it stops by itself.
echo_round() {
    local name=$1 bin=$2 prefix=$3
    ip netns exec "$NS" ip link set tern0 up
    LD_LIBRARY_PATH=$lib_dir ip netns exec "$NS" env LD_LIBRARY_PATH="$lib_dir" "$bin" $EAL_MEM --no-pci -l 0 \
        --file-prefix "$prefix" --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --port 7 --seconds 20 \
        >"$WORK/$prefix.log" 2>&1 &
    local pid=$!
    TERN_PIDS+=($pid)
    for _ in $(seq 1 100); do grep -q "listening" "$WORK/$prefix.log" && break; sleep 0.1; done
    ip netns exec "$NS" ip link set tern0 up
    ip netns exec "$NS" timeout 15 python3 - >"$WORK/$prefix.client" 2>&1 <<'PY'
import os, socket, time
deadline = time.time() + 10
while True:  # the TAP's kernel side comes up with tern: retry the first connect briefly
    try:
        s = socket.create_connection(("198.18.0.2", 7), timeout=2)
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.2)
sent = b"one\ntwo\nthree\n" + os.urandom(64 * 1024)
s.sendall(sent)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
print("echoed" if got == sent else f"different: sent {len(sent)} got {len(got)}")
PY
    check "$name: the kernel's bytes come back whole, then the close" 'grep -q "^echoed$" "$WORK/$prefix.client"' ||
        { cat "$WORK/$prefix.client"; tail -5 "$WORK/$prefix.log"; }
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    local rc=$?
    unset 'TERN_PIDS[-1]'
    check "$name: stops cleanly on SIGINT" '[ "$rc" -eq 0 ] && grep -q "stopped, 0 connection(s) open" "$WORK/$prefix.log"' ||
        tail -5 "$WORK/$prefix.log"
}
echo_round "installed copy" "$WORK/echo_server" "tern_lib_i_$$"
echo_round "in-tree copy" "$BUILD/examples/echo_server" "tern_lib_t_$$"
