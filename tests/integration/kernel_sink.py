#!/usr/bin/env python3
"""A kernel TCP sink for the integration tests: accepts one connection on ADDR PORT,
reads until the peer closes or resets it, and prints "bytes N". Bounded: 30 s to accept
and 30 s of silence at most. Usage: kernel_sink.py ADDR PORT"""
import socket
import sys

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
conn.settimeout(30)
n = 0
try:
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        n += len(b)
except ConnectionResetError:
    pass  # tern-load ends its connections with RST when its time is up
print("bytes", n)
