"""Run the spool tasks inline or on worker processes, with one progress bar over both.

The workers are a small pool of our own rather than :class:`multiprocessing.pool.Pool`: each
worker has a pipe of its own to the main process, and the workers share no lock with it or
with each other (progress is one counter per worker, written by that worker only). A stop
therefore never has to wait for a lock a worker took: SIGINT and SIGTERM sent to the whole
process group (a terminal's Ctrl-C, ``timeout``, ``kill -- -PGID``, systemd, container
runtimes) are ignored by the workers, and the main process, which alone reacts to them, kills
them outright. ``Pool.terminate`` has to take the task queue's lock, which an idle worker
holds while it waits for a task; a worker killed there left the shutdown waiting forever.

A worker also ends when the main process is gone (killed by a second signal, say): the kernel
kills it on Linux, and elsewhere it ends when it finds its pipe closed.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from tqdm import tqdm

from gtmerge import interrupts
from gtmerge.errors import MergeError

T = TypeVar("T")
R = TypeVar("R")

_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1
_progress: Any = None  # in a worker: the shared per-worker byte counters
_slot = 0  # in a worker: its own counter's index


def count_bytes(n: int) -> None:
    """Progress callback inside a worker: add ``n`` stored bytes to its own counter."""
    _progress[_slot] += n


def _serve(connection: multiprocessing.connection.Connection, counters: Any, slot: int) -> None:
    """A worker's life: run ``(function, argument)`` tasks until told to stop (``None``) or
    until the main process is gone; answer each with ``(True, result)`` or
    ``(False, exception)``."""
    global _progress, _slot
    _progress, _slot = counters, slot
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _end_with_parent()
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        function, argument = task
        try:
            answer: tuple[bool, Any] = (True, function(argument))
        except BaseException as exc:  # handed to the main process, raised there
            answer = (False, exc)
        try:
            connection.send(answer)
        except (BrokenPipeError, EOFError):
            return
        except Exception as exc:  # a result that cannot be pickled
            connection.send((False, MergeError(f"a worker could not return its result: {exc}")))


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


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: multiprocessing.connection.Connection
    task: int = -1  # the index of the task it runs, or -1 when idle


class _Pool:
    """Worker processes that each run one task at a time, sent down their own pipe."""

    def __init__(self, workers: int) -> None:
        context = (
            multiprocessing.get_context("fork")
            if sys.platform == "linux"
            else multiprocessing.get_context("spawn")
        )
        self.counters = context.Array("Q", workers, lock=False)
        self.workers: list[_Worker] = []
        for slot in range(workers):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_serve, args=(theirs, self.counters, slot), daemon=True
            )
            process.start()
            theirs.close()
            self.workers.append(_Worker(process, mine))

    def kill(self) -> None:
        """End every worker at once, whatever it is doing."""
        for worker in self.workers:
            with contextlib.suppress(OSError, ValueError):
                worker.process.kill()
        for worker in self.workers:
            worker.process.join()
            worker.connection.close()

    def close(self) -> None:
        """Let every worker finish and end."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self.workers:
            worker.process.join()
            worker.connection.close()


class Runner:
    """Maps task functions over task lists, in order, in this process or on a pool."""

    def __init__(self, pool: _Pool | None, bar: tqdm[Any]):
        self._pool = pool
        self._bar = bar
        self._seen = 0

    @property
    def parallel(self) -> bool:
        return self._pool is not None

    @property
    def workers(self) -> int:
        return len(self._pool.workers) if self._pool is not None else 1

    def map(self, function: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Results in task order; the first failing task (in order) raises its exception."""
        if self._pool is None:
            yield from map(function, tasks)
            return
        yield from self._ordered(function, tasks, ahead=len(tasks))

    def map_reading(self, function: Callable[..., R], tasks: Sequence[T]) -> Iterator[R]:
        """Like :meth:`map` for ``function(task, on_bytes=...)``, which reads inputs and
        reports the bytes it read to the progress bar."""
        if self._pool is None:
            yield from (function(task, on_bytes=self._bar.update) for task in tasks)
            return
        yield from self._ordered(partial(function, on_bytes=count_bytes), tasks, len(tasks))

    def map_stream(self, function: Callable[[T], R], tasks: Iterable[T], ahead: int) -> Iterator[R]:
        """Like :meth:`map` over a stream of tasks, made only as results are taken: at most
        ``ahead`` tasks are out at once."""
        if self._pool is None:
            yield from map(function, tasks)
            return
        yield from self._ordered(function, tasks, ahead)

    def _ordered(self, function: Callable[[T], R], tasks: Iterable[T], ahead: int) -> Iterator[R]:
        """Hand tasks to idle workers, at most ``ahead`` beyond the next result to yield,
        and yield the results in task order."""
        assert self._pool is not None
        workers = self._pool.workers
        pending = iter(tasks)
        exhausted = False
        sent = taken = 0
        done: dict[int, tuple[bool, Any]] = {}
        idle = deque(workers)
        while True:
            while idle and not exhausted and sent - taken < max(ahead, 1):
                task = next(pending, _END)
                if task is _END:
                    exhausted = True
                    break
                worker = idle.popleft()
                worker.connection.send((function, task))
                worker.task, sent = sent, sent + 1
            if taken in done:
                ok, value = done.pop(taken)
                taken += 1
                if not ok:
                    raise value
                yield value
                continue
            if exhausted and taken == sent:
                self._poll()
                return
            busy = [worker for worker in workers if worker.task >= 0]
            ready = multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in workers],
                _POLL_SECONDS,
            )
            for worker in busy:
                if worker.connection in ready:
                    try:
                        done[worker.task] = worker.connection.recv()
                    except (EOFError, OSError):
                        raise _died() from None
                    worker.task = -1
                    idle.append(worker)
            self._poll()

    def _poll(self) -> None:
        interrupts.check()
        assert self._pool is not None
        if any(not worker.process.is_alive() for worker in self._pool.workers):
            raise _died()
        value = sum(self._pool.counters)
        if value > self._seen:
            self._bar.update(value - self._seen)
            self._seen = value


_END: Any = object()


def _died() -> MergeError:
    return MergeError(
        "a worker process ended unexpectedly (killed, or out of memory?); "
        "try a smaller --memory or fewer --workers"
    )


@contextmanager
def runner(workers: int, bar: tqdm[Any]) -> Iterator[Runner]:
    """A :class:`Runner` with ``workers`` processes (none for 1); the workers are killed,
    not drained, when the block fails, so an interrupted run stops at once."""
    if workers <= 1:
        yield Runner(None, bar)
        return
    # Deferred while the workers start: one forked before it ignores the stop signals would
    # run this process's handlers.
    with interrupts.deferred():
        pool = _Pool(workers)
    try:
        interrupts.check()
        yield Runner(pool, bar)
    except BaseException:
        pool.kill()
        raise
    pool.close()
    interrupts.check()
