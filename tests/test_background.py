"""Background calls: all run, in order on one thread, errors surface in the caller."""

import threading
import time

import pytest

from geocgan.background import Background


def test_calls_run_in_order_and_waiting_is_bounded():
    done, waiting = [], []

    def slow(i):
        time.sleep(0.01)
        done.append(i)

    with Background(depth=2) as bg:
        for i in range(6):
            bg.submit(slow, i)
            waiting.append(len(bg.pending))
    assert done == list(range(6)) and max(waiting) <= 2


def test_several_threads_run_every_call():
    seen = set()
    with Background(threads=3) as bg:
        for i in range(12):
            bg.submit(lambda i: seen.add((i, threading.current_thread().name)), i)
    assert {i for i, _ in seen} == set(range(12))


def test_a_failed_call_raises_in_the_caller():
    def boom(i):
        if i == 1:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), Background(depth=1) as bg:
        for i in range(4):
            bg.submit(boom, i)
