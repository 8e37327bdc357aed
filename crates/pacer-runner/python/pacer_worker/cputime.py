"""A test's wall and CPU seconds, measured around its whole protocol.

pacer sizes its pool from them (issue 21): a test whose CPU is a small part
of its wall time waits (sleeps, sockets, subprocesses, locks), and more
workers than cores pay for it. The CPU is the worker process's (every
thread) plus its children's that it waited for (`RUSAGE_CHILDREN`): a test
that runs a busy subprocess and waits for it keeps a core busy, so it counts
as computing. A child still running when the test ends is not counted
(the kernel adds a child's time only once it is reaped); pacer ends such
leaked children at the session's end anyway.
"""

import time

try:
    import resource
except ImportError:  # not on this platform: the process's own CPU alone
    resource = None


def cpu_seconds():
    if resource is None:
        return time.process_time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Stopwatch:
    """Started before a test's protocol, read after it."""

    def __init__(self):
        self.wall = time.perf_counter()
        self.cpu = cpu_seconds()

    def read(self):
        """`{"wall": s, "cpu": s}` since the start, as `done` carries them."""
        wall = max(time.perf_counter() - self.wall, 0.0)
        cpu = max(cpu_seconds() - self.cpu, 0.0)
        return {"wall": round(wall, 6), "cpu": round(cpu, 6)}
