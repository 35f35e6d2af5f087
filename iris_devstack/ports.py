"""Free TCP ports on 127.0.0.1 for the services the stack starts."""

import socket
from contextlib import ExitStack


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with ExitStack() as stack:
        return reserve_ports(stack, 1)[0]


def reserve_ports(stack: ExitStack, count: int) -> list[int]:
    """`count` distinct free ports, held by `stack` so later picks cannot repeat them."""
    ports = []
    for _ in range(count):
        port = _reserve_port(stack)
        if port is None:
            raise RuntimeError("no free TCP port on 127.0.0.1")
        ports.append(port)
    return ports


def reserve_port_pair(stack: ExitStack, offset: int) -> tuple[int, int]:
    """Two free ports `offset` apart, for components that derive one port from the other."""
    for _ in range(200):
        with ExitStack() as attempt:
            port = _reserve_port(attempt)
            if port is None or port + offset > 65535:
                continue
            if _reserve_port(attempt, port + offset) is None:
                continue
            stack.enter_context(attempt.pop_all())
            return port, port + offset
    raise RuntimeError(f"found no two free ports {offset} apart")


def _reserve_port(stack: ExitStack, port: int = 0) -> int | None:
    """Bind `port` (0: any) on 127.0.0.1 until `stack` closes; None if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    stack.enter_context(sock)
    return sock.getsockname()[1]
