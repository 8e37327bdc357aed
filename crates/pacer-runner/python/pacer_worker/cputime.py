"""A test's wall and CPU seconds, measured around its whole protocol.

pacer sizes its pool from them (issue 21): a test whose CPU is a small part
of its wall time waits (sleeps, sockets, subprocesses, locks), and more
workers than cores pay for it. The CPU is the worker process's (every
thread) plus its children's that it waited for (`RUSAGE_CHILDREN`): a test
that runs a busy subprocess and waits for it keeps a core busy, so it counts
as computing. A child still running when the test ends is not counted
(the kernel adds a child's time only once it is reaped); pacer ends such
leaked children at the session's end anyway.

On a busy machine a computing test's wall time also holds the time its
worker was ready to run but waited for a core; Linux counts it per thread
(`/proc/self/schedstat`'s second field, the main thread's, which runs the
test), and it is sent as `queued`, so that a computing suite on a loaded
machine does not look like one that waits.
"""

import os
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


# (pid, fd) of this process's schedstat, opened once: opening it twice a
# test made the measurement 21 us a test instead of 5. A worker forked from
# the zygote has another pid, and `/proc/self` was resolved at open: it
# opens its own.
_schedstat = [None, None]


def queued_seconds():
    """Seconds the main thread waited for a core; 0 where Linux does not say."""
    pid = os.getpid()
    try:
        if _schedstat[0] != pid:
            if _schedstat[1] is not None:
                os.close(_schedstat[1])
            _schedstat[:] = [pid, None]
            _schedstat[1] = os.open("/proc/self/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(_schedstat[1], 128, 0).split()[1]) / 1e9
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


class Stopwatch:
    """Started before a test's protocol, read after it."""

    def __init__(self):
        self.wall = time.perf_counter()
        self.cpu = cpu_seconds()
        self.queued = queued_seconds()

    def read(self):
        """`{"wall": s, "cpu": s, "queued": s}` since the start, as `done`
        carries them."""
        wall = max(time.perf_counter() - self.wall, 0.0)
        cpu = max(cpu_seconds() - self.cpu, 0.0)
        queued = max(queued_seconds() - self.queued, 0.0)
        return {"wall": round(wall, 6), "cpu": round(cpu, 6), "queued": round(queued, 6)}
