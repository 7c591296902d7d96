#!/usr/bin/env python3
"""A kernel TCP client for the integration tests: sends MIB mebibytes of seeded random
bytes to ADDR port 7 (tern's echo service) while reading the echo back, half-closes, and
prints the SHA-256 of what it sent and of what came back, whether the peer then closed
("eof True") and the seconds it took. Bounded: 30 s of silence at most.
Usage: kernel_echo.py ADDR MIB (ADDR of either family)"""
import hashlib, random, selectors, socket, sys, time
rng = random.Random(7)
addr, mib = sys.argv[1], int(sys.argv[2])
data = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * (16 * mib)
start = time.time()
s = socket.create_connection((addr, 7), timeout=30)
s.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
sent, got = 0, bytearray()
while len(got) < len(data):
    events = sel.select(timeout=30)
    if not events:
        break
    for _, mask in events:
        if mask & selectors.EVENT_WRITE and sent < len(data):
            sent += s.send(data[sent:sent + 65536])
            if sent == len(data):
                sel.modify(s, selectors.EVENT_READ)
        if mask & selectors.EVENT_READ:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise SystemExit("closed early after %d bytes" % len(got))
            got += chunk
s.shutdown(socket.SHUT_WR)
s.settimeout(30)
tail = s.recv(1)   # tern closes after our FIN: read returns 0
print("sent", hashlib.sha256(data).hexdigest())
print("got ", hashlib.sha256(bytes(got)).hexdigest())
print("eof", tail == b"")
print("seconds %.1f" % (time.time() - start))
