"""Run the spool tasks inline or on a process pool, with one progress bar over both.

Only the main process reacts to a stop request; it stops the pool itself. SIGINT and SIGTERM
reach the workers too when they go to the whole process group (a terminal's Ctrl-C,
``timeout``, ``kill -- -PGID``, systemd, container runtimes), and a worker that died there
could die holding one of the pool's locks (an idle worker holds the task queue's lock while
it waits for a task): the shutdown would then wait for that lock forever. So workers ignore
both signals until the main process says it is stopping them (:data:`_stopping`), and then
end at once on the SIGTERM the pool sends. A worker also ends when the main process is gone
(killed by a second signal, say), rather than live on as an orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.pool
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from tqdm import tqdm

from gtmerge import interrupts
from gtmerge.errors import MergeError

T = TypeVar("T")
R = TypeVar("R")

_POLL_SECONDS = 0.5
_progress: Any = None  # a shared byte counter in each worker (set by the pool initializer)
_stopping: Any = None  # a shared flag in each worker: the main process is stopping the pool
_PR_SET_PDEATHSIG = 1
_PIPES = os.path.join("multiprocessing", "connection.py")
_RETRY_EXIT_SECONDS = 0.02


def _init_worker(counter: Any, stopping: Any, creator: int) -> None:
    global _progress, _stopping
    _progress, _stopping = counter, stopping
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # The kernel's "parent death" is the death of the thread that forked: for a worker the
    # pool forks again from its own thread (to replace one that died), that thread ends
    # with the pool's shutdown and would kill the worker in the middle of it.
    if threading.get_ident() == creator:
        _end_with_parent()


def _on_sigterm(signum: int, frame: Any) -> None:
    """Once the main process is stopping the pool, SIGTERM ends the worker, quietly; before,
    one sent to the whole group is left to the main process."""
    if _stopping.value:
        _exit_when_safe(signum, frame)


def _exit_when_safe(signum: int, frame: Any) -> None:
    """End the worker, unless it is reading or writing one of the pool's pipes or counting
    progress: it then holds that queue's (or the counter's) lock, which the shutdown needs
    (a group SIGTERM can land there as the shutdown starts). Then look again shortly, until
    it is out."""
    while frame is not None:
        # the progress counter's lock, too: a worker gone with it would block the others
        if frame.f_code.co_filename.endswith(_PIPES) or frame.f_code is count_bytes.__code__:
            signal.signal(signal.SIGALRM, _exit_when_safe)
            signal.setitimer(signal.ITIMER_REAL, _RETRY_EXIT_SECONDS)
            return
        frame = frame.f_back
    os._exit(1)


def _end_with_parent() -> None:
    """Have the kernel kill this worker when the main process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def count_bytes(n: int) -> None:
    """Progress callback inside a worker: add ``n`` stored bytes to the shared counter."""
    with _progress.get_lock():
        _progress.value += n


class Runner:
    """Maps task functions over task lists, in order, in this process or on a pool."""

    def __init__(self, pool: multiprocessing.pool.Pool | None, counter: Any, bar: tqdm[Any]):
        self._pool = pool
        self._counter = counter
        self._bar = bar
        self._seen = 0
        self._pids = self._worker_pids()

    @property
    def parallel(self) -> bool:
        return self._pool is not None

    @property
    def workers(self) -> int:
        return len(self._pids) or 1

    def map(self, function: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Results in task order; the first failing task (in order) raises its exception."""
        if self._pool is None:
            yield from map(function, tasks)
            return
        yield from self._pool_map(function, tasks)

    def map_reading(self, function: Callable[..., R], tasks: Sequence[T]) -> Iterator[R]:
        """Like :meth:`map` for ``function(task, on_bytes=...)``, which reads inputs and
        reports the bytes it read to the progress bar."""
        if self._pool is None:
            yield from (function(task, on_bytes=self._bar.update) for task in tasks)
            return
        yield from self._pool_map(partial(function, on_bytes=count_bytes), tasks)

    def map_stream(self, function: Callable[[T], R], tasks: Iterable[T], ahead: int) -> Iterator[R]:
        """Like :meth:`map` over a stream of tasks, made only as results are taken: at most
        ``ahead`` tasks are out at once (a pool's own ``imap`` would drain the stream into
        memory)."""
        if self._pool is None:
            yield from map(function, tasks)
            return
        pending: deque[multiprocessing.pool.AsyncResult[R]] = deque()
        for task in tasks:
            pending.append(self._pool.apply_async(function, (task,)))
            if len(pending) >= ahead:
                yield self._wait(pending.popleft())
        while pending:
            yield self._wait(pending.popleft())

    def _wait(self, result: multiprocessing.pool.AsyncResult[R]) -> R:
        while not result.ready():
            with interrupts.deferred():
                result.wait(_POLL_SECONDS)
            self._poll()
        return result.get()

    def _pool_map(self, function: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        assert self._pool is not None
        results = self._pool.imap(function, tasks)
        while True:
            try:
                with interrupts.deferred():
                    result = results.next(_POLL_SECONDS)
            except multiprocessing.TimeoutError:
                self._poll()
                continue
            except StopIteration:
                self._poll()
                return
            self._poll()
            yield result

    def _poll(self) -> None:
        interrupts.check()
        self._check_workers()
        self._update()

    def _check_workers(self) -> None:
        """A pool replaces a worker that died (killed, out of memory) but loses its task, and
        the result it waits for never comes: notice the replacement and fail instead."""
        if self._worker_pids() != self._pids:
            raise MergeError(
                "a worker process ended unexpectedly (killed, or out of memory?); "
                "try a smaller --memory or fewer --workers"
            )

    def _worker_pids(self) -> set[int]:
        # Pool keeps its processes in a private list; there is no public way to see them.
        processes = self._pool._pool if self._pool is not None else []  # type: ignore[attr-defined]
        return {process.pid for process in processes}

    def _update(self) -> None:
        value = int(self._counter.value)
        if value > self._seen:
            self._bar.update(value - self._seen)
            self._seen = value


@contextmanager
def runner(workers: int, bar: tqdm[Any]) -> Iterator[Runner]:
    """A :class:`Runner` with ``workers`` processes (none for 1); the pool is terminated,
    not drained, when the block fails, so an interrupted run stops at once."""
    if workers <= 1:
        yield Runner(None, None, bar)
        return
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counter = context.Value("Q", 0)
    stopping = context.Value("b", 0, lock=False)
    # Deferred while the pool starts and stops: a worker forked before its initializer runs
    # has this process's handlers, and a pool torn down halfway would not finish its shutdown.
    with interrupts.deferred():
        pool = context.Pool(
            workers,
            initializer=_init_worker,
            initargs=(counter, stopping, threading.get_ident()),
        )
    try:
        interrupts.check()
        yield Runner(pool, counter, bar)
    except BaseException:
        stopping.value = 1
        try:
            with interrupts.deferred():
                pool.terminate()
                pool.join()
        except BaseException:
            # A second stop request broke off the shutdown: abandon the pool, but leave no
            # worker behind that would write on into the spool directory being removed.
            for process in pool._pool:  # type: ignore[attr-defined]
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGKILL)
                process.join(5)
            raise
        raise
    with interrupts.deferred():
        pool.close()
        pool.join()
    interrupts.check()
