"""Work done on one background thread, so that the generator does not wait for the disk."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor


class Background:
    """Runs calls on one background thread, in the order given.

    At most ``depth`` calls wait, so the memory they hold is bounded; the caller waits only
    when the thread falls that far behind. A call that failed raises its error at a later
    ``submit`` or when the ``with`` block ends (which waits for every call).

    Examples
    --------
    >>> with Background() as bg:  # doctest: +SKIP
    ...     for start, fields in batches:
    ...         bg.submit(write_region, store, start, fields)
    """

    def __init__(self, depth: int = 2):
        self.depth = depth
        self.pool = ThreadPoolExecutor(1)
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
