"""Stop requests (gtmerge.interrupts) in this process: where they raise, and where they wait."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gtmerge import interrupts


def _request_stop() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs in this thread between two bytecodes


def test_a_stop_request_raises_at_once() -> None:
    with interrupts.stop_on_signals(), pytest.raises(KeyboardInterrupt):
        _request_stop()
        pytest.fail("the stop request did not raise")


def test_a_stop_during_a_deferred_wait_stops_the_run_at_the_next_check() -> None:
    with interrupts.stop_on_signals():
        with interrupts.deferred():
            _request_stop()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()


def test_a_second_stop_request_breaks_out_of_a_deferred_wait() -> None:
    with interrupts.stop_on_signals(), pytest.raises(KeyboardInterrupt), interrupts.deferred():
        _request_stop()
        _request_stop()
        pytest.fail("the second stop request did not raise")


def test_a_stop_after_the_commit_lets_the_run_finish() -> None:
    with interrupts.stop_on_signals():
        with interrupts.commit():
            pass
        _request_stop()
        interrupts.check()


def test_a_stop_request_does_not_outlive_its_block() -> None:
    """A library user's next run in the same process starts with no stop request."""
    with interrupts.stop_on_signals(), pytest.raises(KeyboardInterrupt):
        _request_stop()
    interrupts.check()
