"""A TCP proxy in front of PostgreSQL that cuts its first connection at the first statement, as a
server restart or a failover does mid-step; every later connection passes through untouched.

It reads the client's side of PostgreSQL's wire protocol only as far as it must to find the
first statement: the untyped start-up packets (SSL and GSS requests, the start-up message), then
typed messages, of which `Q` (a simple query) and `P` (a parse, the extended protocol's first
step) start a statement. Clients must not encrypt (`sslmode=disable`), or there is nothing to read.
"""

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from psycopg.conninfo import conninfo_to_dict

_REQUEST_CODES = (80877103, 80877104)  # SSLRequest, GSSENCRequest: the server answers one byte
_STATEMENTS = (b"Q", b"P")


class DroppingProxy:
    """Listens on 127.0.0.1; the first client loses its connection when it sends a statement."""

    def __init__(self, target_url: str) -> None:
        params = conninfo_to_dict(target_url)
        host, port = str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)
        self._target: tuple[int, str | tuple[str, int]] = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
            if host.startswith("/")
            else (socket.AF_INET, (host, port))
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self.dropped = 0
        self._threads: list[threading.Thread] = []

    def url(self, target_url: str) -> str:
        """`target_url`'s user, password and database, reached through the proxy, unencrypted."""
        params = conninfo_to_dict(target_url)
        user = params.get("user", "")
        password = f":{params['password']}" if params.get("password") else ""
        return (
            f"postgresql://{user}{password}@127.0.0.1:{self.port}/{params.get('dbname', '')}"
            "?sslmode=disable"
        )

    def serve(self) -> None:
        """Accept until the listener closes."""
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            family, address = self._target
            server = socket.socket(family, socket.SOCK_STREAM)
            server.connect(address)
            drop = self.connections == 1
            for thread in (
                threading.Thread(target=self._client_to_server, args=(client, server, drop)),
                threading.Thread(target=_pump, args=(server, client)),
            ):
                thread.daemon = True
                thread.start()
                self._threads.append(thread)

    def _client_to_server(self, client: socket.socket, server: socket.socket, drop: bool) -> None:
        try:
            for message in _client_messages(client):
                if drop and message[:1] in _STATEMENTS:
                    self.dropped += 1
                    break
                server.sendall(message)
        except OSError:
            pass
        finally:
            _close(client, server)

    def close(self) -> None:
        self._listener.close()


def _client_messages(client: socket.socket) -> Iterator[bytes]:
    """The client's messages, each whole: untyped until the start-up message, typed after."""
    while True:  # untyped: length, then a code that says what the packet is
        header = _read(client, 8)
        length, code = struct.unpack("!ii", header)
        yield header + _read(client, length - 8)
        if code not in _REQUEST_CODES:
            break
    while True:  # typed: one byte of type, then the length of the rest, itself included
        header = _read(client, 5)
        (length,) = struct.unpack("!i", header[1:])
        yield header + _read(client, length - 4)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("peer closed")
        data += chunk
    return data


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(source, sink)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextmanager
def dropping_proxy(target_url: str) -> Iterator[DroppingProxy]:
    """A `DroppingProxy` to `target_url`'s server, serving until the block ends."""
    proxy = DroppingProxy(target_url)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=10)
