"""A browser that reads slowly: GET a page over TLS through the proxy with a 4 KB receive
buffer and small segments, wait 2 s before reading, then read it all. Reads `host port path`
as arguments and the Authorization header's value from standard input (no password in a
command line); prints the status line and how many bytes came."""
import socket
import ssl
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
authorization = sys.stdin.readline().strip()
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
# Segments as small as a slow network's: on loopback (64 KB segments) the server's socket
# buffer grows to hold a megabyte, and the proxy never has to keep anything itself.
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
raw.connect(("127.0.0.1", port))
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
tls = context.wrap_socket(raw, server_hostname=host)
tls.sendall(
    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {authorization}\r\n"
    "Connection: close\r\n\r\n".encode()
)
time.sleep(2)
answer = b""
while chunk := tls.recv(65536):
    answer += chunk
print(answer.split(b"\r\n", 1)[0].decode())
print(len(answer))
