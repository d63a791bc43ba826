"""A listener's bootstrap address on 127.0.0.1: what Strimzi's `<cluster>-kafka-<listener>-bootstrap` Service
(and kube-proxy behind it) does for the brokers of a cluster.

Each broker node listens on its own loopback address (broker.py); `status.listeners[].bootstrapServers` must
be one address the host reaches whatever broker is up. A `BootstrapProxy` accepts on 127.0.0.1:<port> and
pipes each connection to one of the listener's live endpoints (tried in turn, starting with the next one
each time, as a Service spreads connections). With no endpoint at all it stops listening, as a Service
without ready endpoints refuses connections. Clients only bootstrap through it: the metadata they get names
every broker's own address, and they talk to the brokers directly from then on. TLS passes through untouched
(the brokers' certificates carry 127.0.0.1).
"""

from __future__ import annotations

import logging
import socket
import threading

__all__ = ["BootstrapProxy"]

log = logging.getLogger("standin.bootstrap")

CONNECT_TIMEOUT = 2.0
BUFFER = 65536


class BootstrapProxy:
    """127.0.0.1:`port` forwarding to `endpoints` ((host, port) pairs), set with `set_endpoints`."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self._endpoints: list[tuple[str, int]] = []
        self._next = 0
        self._server: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def set_endpoints(self, endpoints: list[tuple[str, int]]) -> None:
        """Forward to these from now on; open the port when there is one, close it when there is none."""
        with self._lock:
            self._endpoints = list(endpoints)
            if self._endpoints and self._server is None:
                self._server = self._listen()
                threading.Thread(
                    target=self._accept_loop, args=(self._server,), name=f"proxy-{self.name}", daemon=True
                ).start()
            elif not self._endpoints and self._server is not None:
                self._close_server()

    def close(self) -> None:
        self.set_endpoints([])

    def _listen(self) -> socket.socket:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", self.port))
        except OSError as e:
            server.close()
            raise OSError(f"bootstrap {self.name}: cannot listen on 127.0.0.1:{self.port}: {e}") from e
        server.listen(64)
        return server

    def _close_server(self) -> None:
        server, self._server = self._server, None
        try:
            server.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in its thread
        except OSError:
            pass
        server.close()

    def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed by set_endpoints([])
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = self._connect()
        if upstream is None:
            client.close()  # nothing answers: the client sees the connection closed and tries again
            return
        up = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
        up.start()
        _pipe(upstream, client)
        up.join()
        client.close()
        upstream.close()

    def _connect(self) -> socket.socket | None:
        with self._lock:
            endpoints = self._endpoints[self._next :] + self._endpoints[: self._next]
            self._next = (self._next + 1) % max(1, len(self._endpoints))
        for host, port in endpoints:
            try:
                return socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
            except OSError:
                continue
        return None


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until src ends (or fails), then end dst's writing side so its peer sees the end."""
    try:
        src.settimeout(None)
        while data := src.recv(BUFFER):
            dst.sendall(data)
    except OSError:
        pass
    for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            sock.shutdown(how)
        except OSError:
            pass
