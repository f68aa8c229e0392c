"""Stop requests (Ctrl-C, SIGTERM) that cannot be lost on their way to a commit.

A signal handler's KeyboardInterrupt can be swallowed when it lands while Python runs a
weakref callback or a ``__del__`` (Python then prints "Exception ignored in ..."), and the run
would go on to commit its output. The handler therefore also raises a flag, which the record
loops check as they go and every destination checks right before it makes its content visible;
the swallowed exception's report is silenced, since the flag carries the stop on.

Once a destination has been made visible, the run has reached its point of no return: later
stop requests are noted but no longer interrupt it, so that it ends with its outputs complete
and exit status 0 rather than with a new manifest and an "interrupted" status.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_requested = False
_committing = False
_committed = False
_deferring = 0
_owner = 0  # the process whose run the handlers stop


def _request_stop(signum: int, frame: FrameType | None) -> None:
    global _requested
    if os.getpid() != _owner:
        # A process forked from the run before it set handlers of its own (a pool worker
        # starting up): it holds none of the pool's locks yet, and ends here, quietly. Left
        # to the run's logic it could ignore the pool's own SIGTERM and never be joined.
        os._exit(1)
    repeated, _requested = _requested, True
    if _committing or _committed:
        return
    # The first request raises, except inside a deferred wait. A repeated one raises only
    # there, and only for SIGINT: a person's second Ctrl-C is the way out of a wait that
    # never ends. Never in the cleanup the first one started, and never for SIGTERM, which
    # machines send to the whole group, often twice, and follow up with SIGKILL themselves:
    # breaking off a wait on the pool can leave its shutdown waiting on a lock.
    escape = repeated and signum == signal.SIGINT
    if (not repeated and not _deferring) or (escape and _deferring):
        raise KeyboardInterrupt


def check() -> None:
    """Raise KeyboardInterrupt if a stop was requested, even one whose exception was lost."""
    if _requested and not _committed:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Around a wait on other threads or processes (a process pool's results, its shutdown):
    a stop requested here only raises the flag, and the caller's next :func:`check` stops the
    run. An exception raised inside such a wait can leave a lock that another thread needs in
    the wrong state, and the pool's shutdown would then wait for that thread forever. A second
    request raises all the same (a second Ctrl-C)."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1


@contextmanager
def commit() -> Iterator[None]:
    """Around the step that makes a destination visible (a rename, completing an upload).

    A stop requested before it stops the run; one that arrives during it waits, because an
    exception in the middle of a network round trip could not tell whether the upload was
    completed; once it has succeeded, the run finishes.
    """
    global _committing, _committed
    check()
    _committing = True
    try:
        yield
        _committed = True
    finally:
        _committing = False


@contextmanager
def stop_on_signals(*, restore: bool = True) -> Iterator[None]:
    """Make SIGINT and SIGTERM stop the run the same way, with cleanup, for this block.

    Python's default for SIGTERM exits without running any cleanup (aborting uploads,
    removing temp files); this raises KeyboardInterrupt for it, as for Ctrl-C. With
    ``restore=False`` the handlers stay after the block (for a process about to exit).
    """
    global _owner
    _reset()
    _owner = os.getpid()
    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(previous_hook)
    try:
        yield
    finally:
        if restore:
            sys.unraisablehook = previous_hook
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _reset()  # a later run in this process (the Python API) starts with no request


def _reset() -> None:
    global _requested, _committing, _committed, _deferring
    _requested = _committing = _committed = False
    _deferring = 0


def _unraisable(fallback: Callable[[Any], object]) -> Callable[[Any], None]:
    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            fallback(unraisable)

    return hook
