"""The zygote: forks workers on request, ready-made (pytest started, plugins
loaded), in milliseconds, for pacer's extra io workers.

pacer sends `{"t": "fork", "worker": "gw7", "env": [...]}` with three file
descriptors (channel, stdout, stderr), or `{"t": "stop"}`. These are read
here, not through the worker's message table: they carry descriptors, and
only the zygote, before any conversation, reads them.
"""

import json
import os
import socket
import sys

from . import basetemp, cov, crash, xdist
from .channel import Channel

# What pacer may send the zygote. Read here, not through the worker's
# table (`worker.MESSAGES`): `fork` carries descriptors.
MESSAGES = ("fork", "stop")


def serve(session, worker, keep_coverage=False):
    """Fork workers until pacer says stop. The zygote forks twice so that the
    worker is orphaned to pacer, which made itself a child subreaper and so
    can wait for it and see how it died. Returns True in the new worker
    (which then runs as any other), False in the zygote when pacer says stop.
    `keep_coverage`: the zygote collected the run, and what its imports ran
    is measured (pytest-cov saves it as for any worker); else it measured
    nothing worth keeping.
    """
    config = session.config
    sock = worker.channel.sock
    worker.channel.send({"t": "hello_zygote", "pid": os.getpid()})
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 3)
        if not data:
            if not keep_coverage:
                cov.forget(config)
            return False
        for line in data.decode("utf-8").splitlines():
            msg = json.loads(line)
            kind = msg.get("t")
            if kind not in MESSAGES:
                raise RuntimeError("pacer zygote: unexpected %r" % kind)
            if kind == "stop":
                if not keep_coverage:
                    cov.forget(config)
                return False
            if len(fds) != 3:
                raise RuntimeError("pacer zygote: fork with %d fds" % len(fds))
            if _fork(session, worker, msg, fds):
                return True
            fds = []


def _fork(session, worker, msg, fds):
    read_pid, write_pid = os.pipe()
    first = os.fork()
    if first == 0:
        os.close(read_pid)
        second = os.fork()
        if second:
            os.write(write_pid, str(second).encode())
            os._exit(0)
        os.close(write_pid)
        _become_worker(session, worker, msg, fds)
        return True
    os.close(write_pid)
    pid = int(os.read(read_pid, 32) or b"0")
    os.close(read_pid)
    os.waitpid(first, 0)
    for fd in fds:
        os.close(fd)
    worker.channel.send({"t": "forked", "worker": msg["worker"], "pid": pid})
    return False


def _become_worker(session, worker, msg, fds):
    config = session.config
    os.setpgid(0, 0)
    channel_fd, out_fd, err_fd = fds
    os.environ.update(dict(msg["env"]))
    os.environ.pop("PACER_ZYGOTE", None)
    crash.arm()
    crash.die_with_pacer()
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    # The zygote's channel is not ours.
    worker.channel.close()
    if capman is not None:
        capman.start_global_capturing()
        capman.suspend_global_capture(in_=False)
    env = xdist.worker_env()
    xdist.rename_worker(config, env)
    basetemp.rename(config, env["id"])
    worker.rebind(Channel(channel_fd), env)
    cov.restart(config, env["id"])
