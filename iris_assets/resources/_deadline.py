"""A bound on a block's wall time that holds even inside a blocking read."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class DeadlineExceeded(BaseException):
    """The block ran past its deadline. A BaseException, so that no `except Exception` on the
    way (MLflow's, urllib3's, a check's) takes it for an ordinary error and carries on."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise DeadlineExceeded in this thread once `seconds` have passed: SIGALRM interrupts even
    a blocking read. Only the main thread can take the signal (Dagster runs steps there);
    elsewhere, and inside a block that already has a deadline, the caller's own timeouts remain
    the bound."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0]
    ):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise DeadlineExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
