"""A TCP proxy in a process of its own: `python tcp_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT`.

Killing it drops every connection through it at once, as a restarted server does; starting it again on the
same port lets clients reconnect. The fault tests put it between a worker and PostgreSQL, so the worker meets
a database restart while the shared server (and everyone else's tests on it) carries on.
"""

import contextlib
import socket
import sys
import threading


def pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def main(listen_port: int, host: str, port: int) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection((host, port))
        except OSError:
            client.close()
            continue
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(source, sink), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
