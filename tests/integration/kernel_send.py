#!/usr/bin/env python3
"""A kernel TCP bulk sender for the integration tests: connects to ADDR PORT with the
kernel's CUBIC, sends for SECONDS, closes, and prints "sent". Bounded: 10 s to connect or
to get room in the socket buffer. Usage: kernel_send.py ADDR PORT SECONDS"""
import socket
import sys
import time

seconds = float(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
s.settimeout(10)
s.connect((sys.argv[1], int(sys.argv[2])))
chunk = b"k" * 65536
end = time.monotonic() + seconds
while time.monotonic() < end:
    s.send(chunk)
s.close()
print("sent")
