#!/usr/bin/env python3
"""The server's bound for `just bench-ingest`: log in over TLS, pipeline
`RETR 1..N`, read every response to its terminator and throw it away. No
parsing, no storage: no POP3 client can fetch the mailbox faster than this.

usage: bare-reader.py HOST PORT CA_FILE USER PASSWORD_FILE COUNT
"""
import socket
import ssl
import sys

host, port, ca, user, pw_file, count = sys.argv[1:7]
count = int(count)
password = open(pw_file).read().strip()
ctx = ssl.create_default_context(cafile=ca)
sock = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname="localhost")
buf = b""


def line():
    global buf
    while b"\r\n" not in buf:
        buf += sock.recv(65536)
    out, buf = buf.split(b"\r\n", 1)
    return out


assert line().startswith(b"+OK")
sock.sendall(f"USER {user}\r\nPASS {password}\r\n".encode())
assert line().startswith(b"+OK") and line().startswith(b"+OK"), "login failed"
sock.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, count + 1)))
done = 0
total = 0
tail = b""
# Each response ends in CRLF . CRLF; count terminators across chunk borders.
while done < count:
    chunk = buf or sock.recv(1 << 20)
    buf = b""
    if not chunk:
        sys.exit(f"connection closed after {done} of {count} messages")
    total += len(chunk)
    data = tail + chunk
    done += data.count(b"\r\n.\r\n")
    tail = data[-4:]
sock.sendall(b"QUIT\r\n")
print(f"{done} messages, {total} bytes")
