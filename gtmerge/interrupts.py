"""Stop requests (Ctrl-C, SIGTERM) that cannot be lost on their way to a commit.

A signal handler's KeyboardInterrupt can be swallowed when it lands while Python runs a
weakref callback or a ``__del__`` ("Exception ignored in ..."), and the run would then go on
to commit its output. The handler therefore also raises a flag, which every destination checks
right before it makes its content visible.

Once a destination has been made visible, the run has reached its point of no return: later
stop requests are noted but no longer interrupt it, so that it ends with its outputs complete
and exit status 0 rather than with a new manifest and an "interrupted" status.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = False
_committed = False


def _request_stop(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    if not _committed:
        raise KeyboardInterrupt


def check() -> None:
    """Raise KeyboardInterrupt if a stop was requested, even one whose exception was lost."""
    if _requested and not _committed:
        raise KeyboardInterrupt


def committed() -> None:
    """A destination is now visible: from here on, finish rather than stop."""
    global _committed
    _committed = True


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Make SIGINT and SIGTERM stop the run the same way, with cleanup, for this block.

    Python's default for SIGTERM exits without running any cleanup (aborting uploads,
    removing temp files); this raises KeyboardInterrupt for it, as for Ctrl-C.
    """
    global _requested, _committed
    _requested = _committed = False
    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
