"""Processes that end with their parent, by Linux's parent-death signal."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A call that has the kernel send `signum` to the calling process when its parent dies,
    even by SIGKILL, so no orphaned gunicorn keeps the port and no orphaned worker keeps
    working; None off Linux. Made before a fork (as subprocess's preexec_fn): between fork
    and exec only the call itself is safe."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signum)

    return hook
