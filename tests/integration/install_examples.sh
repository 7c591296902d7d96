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
for example in echo_server counter_server http_client; do
    c++ -std=c++20 "${extra[@]}" -o "$WORK/$example" "$TERN_ROOT/examples/$example.cpp" $(pc --cflags --libs) \
        >"$WORK/cc_$example.log" 2>&1
    check "examples/$example builds with pkg-config's flags alone" '[ -x "$WORK/$example" ]' || cat "$WORK/cc_$example.log"
done
check "the flags reach no header in the source tree" '! pc --cflags | grep -q -- "$TERN_ROOT/\(src\|include\)"'
ldd_out=$(LD_LIBRARY_PATH=$lib_dir ldd "$WORK/echo_server" 2>&1)
check "the example loads the installed libtern" 'grep -q "libtern.so.* => $DEST" <<<"$ldd_out"' || echo "$ldd_out"

tap_in_ns "$NS" tern0 198.18.0.1/24

# serve NAME BINARY PREFIX PORT CLIENT: the example serves 198.18.0.2:PORT (for 20 s at
# most) while CLIENT, a shell command run in the namespace, talks to it and prints "ok"
# when what came back is right; then SIGINT stops it, cleanly.
serve() {
    local name=$1 bin=$2 prefix=$3 port=$4 client=$5
    ip netns exec "$NS" env LD_LIBRARY_PATH="$lib_dir" "$bin" $EAL_MEM --no-pci -l 0 \
        --file-prefix "$prefix" --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 --port "$port" --seconds 20 \
        >"$WORK/$prefix.log" 2>&1 &
    local pid=$!
    TERN_PIDS+=($pid)
    for _ in $(seq 1 100); do grep -q "listening" "$WORK/$prefix.log" && break; sleep 0.1; done
    # net_tap takes the kernel side down as it starts: up again, addressed as before.
    ip netns exec "$NS" ip link set tern0 up
    ip netns exec "$NS" timeout 15 bash -c "$client" >"$WORK/$prefix.client" 2>&1
    check "$name: the kernel's client gets the right answers" 'grep -q "^ok$" "$WORK/$prefix.client"' ||
        { cat "$WORK/$prefix.client"; tail -5 "$WORK/$prefix.log"; }
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    local rc=$?
    unset 'TERN_PIDS[-1]'
    check "$name: stops cleanly on SIGINT" '[ "$rc" -eq 0 ] && grep -q "stopped, 0 connection(s) open" "$WORK/$prefix.log"' ||
        tail -5 "$WORK/$prefix.log"
}

# The echo client: 64 KiB and three lines out, all of it back, then the close. The
# TAP's kernel side, just up again, may refuse the first connect for a moment.
cat >"$WORK/echo_client.py" <<'PY'
import os, socket, time
deadline = time.time() + 10
while True:
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
while chunk := s.recv(65536):
    got += chunk
print("ok" if got == sent else f"different: sent {len(sent)} got {len(got)}")
PY
ECHO_CLIENT="python3 $WORK/echo_client.py"
# curl keeps its connection for both URLs: the second answer counts 2.
COUNTER_CLIENT='out=$(curl -sS --retry 20 --retry-connrefused --retry-delay 1 --max-time 10 http://198.18.0.2:8080/a http://198.18.0.2:8080/b 2>&1)
[ "$out" = "$(printf "request 1 on this connection: /a\nrequest 2 on this connection: /b")" ] && echo ok || echo "got: $out"'
for copy in installed in-tree; do
    dir=$WORK
    [ "$copy" = in-tree ] && dir=$BUILD/examples
    serve "echo_server, $copy copy" "$dir/echo_server" "tern_lib_e_${copy}_$$" 7 "$ECHO_CLIENT"
    serve "counter_server, $copy copy" "$dir/counter_server" "tern_lib_c_${copy}_$$" 8080 "$COUNTER_CLIENT"
done

# http_client against nginx on the kernel side: the body of a page whose bytes we know.
start_nginx "$NS" "$WORK/nginx" 198.18.0.1:8080 64
head -c 20000 /dev/urandom | base64 >"$WORK/nginx/www/page.txt"
for copy in installed in-tree; do
    dir=$WORK
    [ "$copy" = in-tree ] && dir=$BUILD/examples
    ip netns exec "$NS" env LD_LIBRARY_PATH="$lib_dir" timeout 20 "$dir/http_client" $EAL_MEM --no-pci -l 0 \
        --file-prefix "tern_lib_h_${copy}_$$" --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 \
        http://198.18.0.1:8080/page.txt >"$WORK/body_$copy" 2>"$WORK/http_$copy.log"
    rc=$?
    check "http_client, $copy copy: fetches the page from nginx byte for byte" \
        '[ "$rc" -eq 0 ] && cmp -s "$WORK/body_$copy" "$WORK/nginx/www/page.txt"' || tail -5 "$WORK/http_$copy.log"
    ip netns exec "$NS" env LD_LIBRARY_PATH="$lib_dir" timeout 20 "$dir/http_client" $EAL_MEM --no-pci -l 0 \
        --file-prefix "tern_lib_h404_${copy}_$$" --vdev=net_tap0,iface=tern0 -- --ip 198.18.0.2/24 \
        http://198.18.0.1:8080/missing >/dev/null 2>"$WORK/http404_$copy.log"
    rc=$?
    check "http_client, $copy copy: a 404 exits 1 and says so" '[ "$rc" -eq 1 ] && grep -q "status 404" "$WORK/http404_$copy.log"' ||
        tail -5 "$WORK/http404_$copy.log"
done
