"""Collection as pacer asks for it: discovery, then each worker's own files.

pacer collects a suite in two steps. One worker discovers the files pytest
would collect without importing any of them (`discovering` stops pytest at
each `File`); then each worker collects only the units it is given, possibly
several times as it takes files over. What follows keeps those repeated,
partial collections giving the node ids, fixtures and warnings of one full
`pytest` run.
"""

import contextlib
import os
from pathlib import Path

import pytest


def discovered_units(files):
    """The `discovered` message's units for the `File` collectors found, in
    pytest's order.

    One file may yield several collectors (a Module and, with
    --doctest-modules, a DoctestModule): collecting its path gives them all,
    so it is one unit. Listed twice, two workers would collect and report
    its tests.
    """
    units = []
    seen = set()
    for node in files:
        if node.path in seen:
            continue
        seen.add(node.path)
        try:
            size = os.path.getsize(str(node.path))
        except OSError:
            size = 0
        units.append({"arg": str(node.path), "id": node.nodeid, "size": size})
    return units


def item_entry(item):
    """`[node id, marker names, {"scope": ..., "group": ...}]` for `collected`.

    `scope` names what a module- or class-scoped fixture is set up for: the
    class (or module) plus the values of parameters of a wider scope than
    the function. pacer cuts big files only where it changes, so that such a
    fixture is not set up again on another worker without need. `group` is
    the name of an `xdist_group` mark, as pytest-xdist's loadgroup reads it.
    """
    holder = item.getparent(pytest.Class) or item.getparent(pytest.Module) or item.parent
    scope = holder.nodeid if holder is not None else item.nodeid
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        wide = []
        for name, arg_scope in getattr(callspec, "_arg2scope", {}).items():
            if getattr(arg_scope, "value", "function") != "function":
                wide.append("%s=%s" % (name, callspec.indices.get(name)))
        if wide:
            scope = "%s[%s]" % (scope, ",".join(sorted(wide)))
    names = set()
    for mark in item.iter_markers("xdist_group"):
        name = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
        names.add(str(name))
    extra = {"scope": scope}
    if names:
        extra["group"] = "_".join(sorted(names))
    return [item.nodeid, [m.name for m in item.iter_markers()], extra]


def repend_conftests(session):
    """Let a second collection in this process see conftest fixtures again.

    pytest >= 9.1 binds a conftest's fixtures to the Directory node that first
    collected it, and a worker collects more than once (discovery, its share,
    files it takes over later), each time with new nodes. Handing the known
    conftests back to the fixture manager binds them to the new nodes too.
    """
    fm = getattr(session, "_fixturemanager", None)
    pending = getattr(fm, "_pending_conftests", None)
    if pending is None:
        return
    root = session.config.rootpath
    for directory, plugin in _conftests(session.config).items():
        path = Path(directory)
        if path != root and root in path.parents:
            pending[path] = plugin


def _conftests(config):
    """Every conftest module loaded so far, by folder: pytest registers
    each under its own path."""
    found = {}
    for name, plugin in config.pluginmanager.list_name_plugin():
        if name and str(name).endswith("conftest.py"):
            found[os.path.dirname(str(name))] = plugin
    return found


def invocation_paths(config):
    """The paths pytest resolves the run's own arguments to (`--pyargs` names
    become their package's folder), as a full `pytest ARGS` would see them."""
    try:
        from _pytest.main import resolve_collection_argument
    except ImportError:  # pragma: no cover - a pytest without it
        return frozenset()
    paths = []
    namespace = config.getini("consider_namespace_packages")
    for index, arg in enumerate(config.args):
        try:
            resolved = resolve_collection_argument(
                config.invocation_params.dir,
                str(arg),
                index,
                as_pypath=config.option.pyargs,
                consider_namespace_packages=namespace,
            )
        except Exception:
            continue
        paths.append(Path(resolved.path))
    return frozenset(paths)


def keep_invocation_relative_ids(config):
    """Give files outside the rootdir the node ids a full run gives them.

    pytest names a file outside the rootdir relative to the collection
    argument it came from (`--pyargs pkg.tests` gives `numeric/test_join.py`).
    A worker collects each file by its own path, which would name it `""`
    (so `::TestJoin::test_x`); looking at the run's arguments first keeps
    pytest's ids, the same on every worker. Patched once per process (a
    worker is one pytest session).
    """
    from _pytest import nodes

    original = getattr(nodes, "_check_initialpaths_for_relpath", None)
    if original is None or getattr(original, "_pacer", False):
        return
    invocation = invocation_paths(config)

    def relpath(initial_paths, path):
        found = original(invocation, path)
        if found is None:
            found = original(initial_paths, path)
        return found

    relpath._pacer = True
    nodes._check_initialpaths_for_relpath = relpath


def collect_warnings(config):
    """Warnings raised while collecting, recorded as pytest records them.

    pytest catches them in its warnings plugin's `pytest_collection`
    wrapper, around the collection this plugin replaces; a worker collects
    later, in its run loop, so it opens the same catcher itself (not under
    `-p no:warnings`, where pytest records none).
    """
    if not config.pluginmanager.has_plugin("warnings"):
        return contextlib.nullcontext()
    try:
        from _pytest.warnings import catch_warnings_for_item
    except ImportError:
        return contextlib.nullcontext()
    return catch_warnings_for_item(config=config, ihook=config.hook, when="collect", item=None)
