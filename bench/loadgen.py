"""A small HTTP/1.1 load generator on loopback: keep-alive connections, raw sockets, asyncio.

Used where `wrk` is not installed (B1), and for what wrk cannot do: a paced load at a
fixed rate with each request known to the caller (B1b), and a client that retries what
was not acknowledged (the R1 and R6 fault tests). Requests are bytes built by the caller;
answers are read by Content-Length (the server always sends one).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, one per answer
    answered: list[tuple[int, int]] = field(default_factory=list)  # (request n, status)
    seconds: float = 0.0
    refused: int = 0  # the connection failed before an answer (server down)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def request_bytes(path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The answer's status, and whether the server closes the connection after it (a 503
    while the database is away is sent so): the answer counts, the next request reconnects."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status, b"connection: close" in head.lower()


async def _run(
    port: int,
    make: Callable[[int], bytes | None],
    *,
    concurrency: int,
    seconds: float | None,
    rate: float | None,
    on_answer: Callable[[int, int], None] | None,
) -> Outcome:
    """Request n = 0, 1, 2 … from `make(n)` until it answers None or `seconds` pass; each
    connection sends its next request once the last is answered (closed loop), or at
    start + n / rate (paced)."""
    outcome = Outcome()
    started = time.perf_counter()
    counter = iter(range(1 << 62))
    finished = False

    async def connection() -> None:
        nonlocal finished
        reader = writer = None
        while not finished:
            n = next(counter)
            data = make(n)
            if data is None or (seconds is not None and time.perf_counter() - started > seconds):
                finished = True
                break
            if rate is not None:
                pause = started + n / rate - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            sent = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(data)
                assert reader is not None
                status, closing = await _answer(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                outcome.refused += 1
                outcome.answered.append((n, 0))
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            outcome.latencies.append(time.perf_counter() - sent)
            outcome.statuses[status] += 1
            outcome.answered.append((n, status))
            if on_answer is not None:
                on_answer(n, status)
            if closing:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    outcome.seconds = time.perf_counter() - started
    return outcome


def load(
    port: int,
    make: Callable[[int], bytes | None],
    *,
    concurrency: int = 8,
    seconds: float | None = None,
    rate: float | None = None,
    on_answer: Callable[[int, int], None] | None = None,
) -> Outcome:
    """`on_answer(n, status)` is called as each answer comes (a test's progress)."""
    return asyncio.run(
        _run(
            port,
            make,
            concurrency=concurrency,
            seconds=seconds,
            rate=rate,
            on_answer=on_answer,
        )
    )
