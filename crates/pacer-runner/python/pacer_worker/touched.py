"""What each test left behind, when pacer asks (``PACER_TRACE_TOUCHED=1``:
``pacer --trace-touched``, ``pacer audit``, ``pacer bisect``).

A `Tracer` is made once per worker and brackets each test's whole protocol
(setup, call, teardown): `begin` before it, `end` after it, which returns
the test's ``touched`` record for its ``done`` message, or None when it
touched nothing:

* ``env``: variables the test left set, changed or removed;
* ``files``: paths it opened for writing, created, renamed or removed
  (``sys.addaudithook``), outside pytest's temporary folders and
  ``__pycache__``, relative to the rootdir when under it; a file created
  exclusively (``O_EXCL``, as ``tempfile`` does) and gone by the end of
  the test was private to it and is left out;
* ``ports``: ports it bound explicitly (``socket.bind`` to a port other
  than 0: an ephemeral port collides with nothing);
* ``globals``: ``module.NAME`` of the project's own modules (files under
  the rootdir, not an installed package) whose name was rebound, added,
  removed, or whose mutable value's ``repr`` changed.

Empty lists are left out. Off (the default), nothing here runs: no audit
hook is installed and no snapshot is taken. An audit hook cannot be
removed, so the one installed stays for the process and checks whether a
test is being traced first.
"""

import hashlib
import os
import sys

# Variables pytest itself sets while a test runs.
_OWN_ENV = {"PYTEST_CURRENT_TEST"}
# Values compared by identity alone: rebinding them is the change.
_IDENTITY_TYPES = (type(sys), type(len), type(lambda: None), type)
_SCALARS = (int, float, complex, str, bytes, bool, type(None), range)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def enabled(environ=None):
    return (environ if environ is not None else os.environ).get("PACER_TRACE_TOUCHED") == "1"


class Tracer:
    def __init__(self, config):
        self.config = config
        self.rootdir = str(config.rootpath)
        self.tracing = False
        self.files = set()
        self.exclusive = set()
        self.ports = set()
        self.env_before = None
        self.globals_before = None
        sys.addaudithook(self._audit)

    # -- a test -------------------------------------------------------------

    def begin(self):
        self.files = set()
        self.exclusive = set()
        self.ports = set()
        self.env_before = dict(os.environ)
        self.globals_before = self._globals()
        self.tracing = True

    def end(self):
        self.tracing = False
        record = {}
        env = changed_env(self.env_before, dict(os.environ))
        if env:
            record["env"] = env
        roots = self._skip_roots()
        gone = {p for p in self.exclusive if not os.path.lexists(p)}
        files = sorted(self._relative(p) for p in self.files - gone if not self._skipped(p, roots))
        if files:
            record["files"] = files
        if self.ports:
            record["ports"] = sorted(self.ports)
        names = changed_globals(self.globals_before, self._globals())
        if names:
            record["globals"] = names
        self.env_before = self.globals_before = None
        return record or None

    # -- what it touched ----------------------------------------------------

    def _audit(self, event, args):
        if not self.tracing:
            return
        try:
            if event == "open":
                path, mode, flags = args[0], args[1], args[2]
                if isinstance(path, int):
                    return
                if mode is not None:
                    writes = any(c in str(mode) for c in "wax+")
                else:
                    writes = bool((flags or 0) & _WRITE_FLAGS)
                # A folder opened for writing is an anonymous temporary
                # file (O_TMPFILE: pytest's capture), not a path.
                if writes and not os.path.isdir(path):
                    path = os.fsdecode(path)
                    self.files.add(path)
                    if mode is None and (flags or 0) & os.O_EXCL:
                        # Created exclusively, as `tempfile` names its files:
                        # private, unless it is still there when the test ends.
                        self.exclusive.add(path)
            elif event in ("os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree"):
                if not isinstance(args[0], int):
                    self.files.add(os.fsdecode(args[0]))
            elif event == "os.rename":
                for path in args[:2]:
                    if not isinstance(path, int):
                        self.files.add(os.fsdecode(path))
            elif event == "socket.bind":
                address = args[1]
                if isinstance(address, tuple) and len(address) >= 2:
                    port = address[1]
                    if isinstance(port, int) and port > 0:
                        self.ports.add(port)
        except Exception:
            # Never let tracing break the test it watches.
            pass

    def _skip_roots(self):
        """pytest's temporary folder of this session (each test's `tmp_path`
        is inside): `--basetemp`, or the one pytest made on first use (read
        at the end of each test, as a test may be the first to use it)."""
        roots = []
        basetemp = getattr(getattr(self.config, "option", None), "basetemp", None)
        if basetemp:
            roots.append(os.path.abspath(str(basetemp)))
        factory = getattr(self.config, "_tmp_path_factory", None)
        made = getattr(factory, "_basetemp", None)
        if made is not None:
            for path in {os.path.abspath(str(made)), os.path.realpath(str(made))}:
                roots.append(path)
                if not basetemp:
                    # pytest's own numbered folders (`pytest-of-USER`): it
                    # makes the parent and a `pytest-current` link there.
                    roots.append(os.path.dirname(path))
        return roots

    def _skipped(self, path, roots):
        absolute = os.path.abspath(path)
        if "__pycache__" in absolute.split(os.sep):
            return True
        return any(absolute == root or absolute.startswith(root + os.sep) for root in roots)

    def _relative(self, path):
        absolute = os.path.abspath(path)
        if absolute.startswith(self.rootdir + os.sep):
            return os.path.relpath(absolute, self.rootdir)
        return absolute

    def _globals(self):
        """(module name, global name) -> a fingerprint, for the project's modules."""
        prefix = self.rootdir + os.sep
        here = os.path.dirname(os.path.abspath(__file__)) + os.sep
        snapshot = {}
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if not path or not path.startswith(prefix) or path.startswith(here):
                continue
            if "site-packages" in path or "dist-packages" in path:
                continue
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for key, value in items:
                if key.startswith("__") or key.startswith("@"):
                    continue
                snapshot[(name, key)] = fingerprint(value)
        return snapshot


def fingerprint(value):
    """What changes when a global changes: the object bound, and for a
    mutable value, a digest of its repr."""
    if isinstance(value, _IDENTITY_TYPES) or isinstance(value, _SCALARS):
        return (id(value), None) if not isinstance(value, _SCALARS) else (None, repr(value))
    try:
        text = repr(value)
    except Exception:
        return (id(value), None)
    return (id(value), hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=12).digest())


def changed_env(before, after):
    names = set(before) | set(after)
    return sorted(n for n in names if n not in _OWN_ENV and before.get(n) != after.get(n))


def changed_globals(before, after):
    # A module imported during the test is new, not changed: only modules
    # known before are compared.
    modules = {m for m, _ in before}
    keys = (set(before) | {k for k in after if k[0] in modules})
    return sorted("%s.%s" % k for k in keys if before.get(k) != after.get(k))
