"""A load generator for benchmarks/serving.py, run as a process of its own (the "second process
on loopback"): keep-alive HTTP/1.1 connections, each sending one-row requests back to back.

    python benchmarks/_load.py URL --seconds 15 --connections 4

Prints one JSON object: requests, failures (and the first few reasons), seconds, the latency of
every request in milliseconds, and the X-Model-Version of the answers in the order they came.
A failure is an answer other than 200 with predictions, or no answer at all.
"""

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

ROW = {
    "dataframe_split": {
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "data": [[5.1, 3.5, 1.4, 0.2]],
    }
}
TIMEOUT_SECONDS = 30.0


class Tally:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.versions: list[str] = []
        self.failures = 0
        self.reasons: list[str] = []

    def failed(self, reason: str) -> None:
        self.failures += 1
        if len(self.reasons) < 10:
            self.reasons.append(reason)


async def _connection(host: str, port: int, request: bytes, until: float, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            writer.write(request)
            status, headers, body = await asyncio.wait_for(_answer(reader), TIMEOUT_SECONDS)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            tally.failed(f"{type(error).__name__}: {error}")
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            continue
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        tally.versions.append(headers.get("x-model-version", "-"))
        if status != 200 or b"predictions" not in body:
            tally.failed(f"HTTP {status}: {body[:200]!r}")
    writer.close()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _run(url: str, seconds: float, connections: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps(ROW).encode()
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    tally = Tally()
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(_connection(host, port, request, until, tally) for _ in range(connections))
    )
    return {
        "requests": len(tally.latencies_ms),
        "failures": tally.failures,
        "reasons": tally.reasons,
        "seconds": time.monotonic() - started,
        "latencies_ms": tally.latencies_ms,
        "versions": tally.versions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_run(args.url, args.seconds, args.connections))))


if __name__ == "__main__":
    main()
