"""Work done on one background thread, so that the generator does not wait for the disk."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor


class Background:
    """Runs calls on ``threads`` background threads (one: in the order given).

    At most ``depth`` calls wait, so the memory they hold is bounded; the caller waits only
    when the threads fall that far behind. A call that failed raises its error at a later
    ``submit`` or when the ``with`` block ends (which waits for every call). With several
    threads the calls must not depend on each other (e.g. writes of disjoint realizations).

    Examples
    --------
    >>> with Background() as bg:  # doctest: +SKIP
    ...     for start, fields in batches:
    ...         bg.submit(write_region, store, start, fields)
    """

    def __init__(self, depth: int = 2, threads: int = 1):
        self.depth = max(depth, threads)
        self.pool = ThreadPoolExecutor(threads)
        self.pending: deque[Future] = deque()

    def submit(self, fn, *args) -> None:
        while len(self.pending) >= self.depth:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(fn, *args))

    def __enter__(self) -> Background:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.pool.shutdown(wait=True)  # every call ends (or fails)
        if exc_type is None:
            for f in self.pending:
                f.result()
