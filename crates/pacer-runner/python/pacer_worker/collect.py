"""Collection as pacer asks for it: whole, or discovery then each worker's files.

The whole collection is pytest's own (`perform_collect` over the run's
arguments, every `pytest_collection_modifyitems` and `pytest_deselected`
hook, `pytest_collection_finish`) in one process, from which the workers
are then forked: each holds the whole `session.items` in pytest's final
order, as an xdist worker does.

Split collection is faster where it changes nothing (`whole_reason` says
when): one worker discovers the files pytest would collect without
importing any of them (`discovering` stops pytest at each `File`); then
each worker collects only the units it is given, possibly several times as
it takes files over. What follows keeps those repeated, partial
collections giving the node ids, fixtures and warnings of one full
`pytest` run.
"""

import contextlib
import os
import re
import sys
import types
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
    files it takes over later, the whole run), each time with new nodes.
    Handing the known conftests back to the fixture manager binds them to
    the new nodes too. Those of the rootdir and the folders above it are
    bound to the session once and for all, and stay; those outside the
    rootdir (an installed package's, under `--pyargs`) have Directory nodes
    like any other.
    """
    fm = getattr(session, "_fixturemanager", None)
    pending = getattr(fm, "_pending_conftests", None)
    if pending is None:
        return
    root = session.config.rootpath
    for directory, plugin in _conftests(session.config).items():
        path = Path(directory)
        if path != root and path not in root.parents:
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


def args_without(config, paths):
    """The run's arguments less those that name one of `paths` (a file, or a
    test in it): pytest collects a file named as an argument even when
    `--ignore` names it too."""
    left = []
    base = Path(str(config.invocation_params.dir))
    for arg in config.args:
        target = (base / str(arg).split("::", 1)[0]).resolve()
        if target not in paths:
            left.append(arg)
    return left


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


# -- whole or split collection ------------------------------------------------

# The hooks through which a plugin or conftest sees, reorders or filters the
# collection across files: a worker that collected only its share of the
# files would hand them a fragment.
WHOLE_HOOKS = ("pytest_collection_modifyitems", "pytest_collection_finish")

# Plugins whose implementations of those hooks act on each item by itself
# (mark, skip, deselect by name or marker) and read nothing across files:
# split collection gives them what the whole one would. Anything else,
# conftests included, is assumed to need the whole collection.
ITEM_LOCAL_PLUGINS = (
    "_pytest",
    "pacer_worker",
    # Each async test replaced in place by one per backend.
    "anyio",
    # The `hypothesis` marker added to each test using it.
    "_hypothesis_pytestplugin",
)

# A reader of `session.items` outside those hooks (pytest-django's
# `django_db_setup` chooses the test databases from it).
SESSION_ITEMS = re.compile(rb"\bsession\s*\.\s*items\b")


def _module_of(plugin):
    """The module a plugin object lives in: itself, or its class's."""
    if isinstance(plugin, types.ModuleType):
        return plugin
    return sys.modules.get(type(plugin).__module__)


def _describe(config, module):
    """A conftest by its path from the rootdir, a plugin by its module name."""
    path = getattr(module, "__file__", None) or ""
    if os.path.basename(path) == "conftest.py":
        try:
            return os.path.relpath(path, str(config.rootpath))
        except ValueError:
            return path
    return module.__name__.split(".")[0] if module is not None else "a plugin"


def _item_local(config, module):
    name = getattr(module, "__name__", "") or ""
    top = name.split(".")[0]
    if top not in ITEM_LOCAL_PLUGINS:
        return False
    # pytest's own, except where it orders across files: --nf (newest files
    # first) and --sw (deselects what ran before the last failure).
    if name == "_pytest.cacheprovider" and config.getoption("newfirst", False):
        return False
    if name == "_pytest.stepwise" and (
        config.getoption("stepwise", False) or config.getoption("stepwise_skip", False)
    ):
        return False
    return True


def whole_reason(config, test_files):
    """Why this session needs the whole collection in every worker, in a few
    words naming the conftest or plugin; None when split collection is
    known to change nothing: no implementation of `WHOLE_HOOKS` outside
    `ITEM_LOCAL_PLUGINS`, and no conftest, plugin or test file reading
    `session.items`. Called after discovery, which loaded every conftest.
    """
    sources = {}
    for hook in WHOLE_HOOKS:
        for impl in getattr(config.hook, hook).get_hookimpls():
            module = _module_of(impl.plugin)
            if not _item_local(config, module):
                return "%s implements %s" % (_describe(config, module), hook)
    for _name, plugin in config.pluginmanager.list_name_plugin():
        module = _module_of(plugin)
        if module is None or _item_local(config, module):
            continue
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py"):
            sources[path] = _describe(config, module)
    for path in test_files:
        sources.setdefault(str(path), None)
    for path, name in sources.items():
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError:
            continue
        if SESSION_ITEMS.search(text):
            if name is None:
                try:
                    name = os.path.relpath(path, str(config.rootpath))
                except ValueError:
                    name = path
            return "%s reads session.items" % name
    return None


def _file_of(nodeid):
    return nodeid.split("::", 1)[0]


def imposed_order(before, items):
    """Whether the collection hooks ordered the tests across files: a file's
    tests no longer all together, or files no longer in collection order.
    `before` is the node ids as collected, `items` the final selection.
    Inside one file any order is kept as it is, so it imposes nothing
    pacer would change."""
    first = {}
    for index, nodeid in enumerate(before):
        first.setdefault(_file_of(nodeid), index)
    seen = set()
    last = None
    previous_rank = -1
    for item in items:
        name = _file_of(item.nodeid)
        if name == last:
            continue
        if name in seen or name not in first or first[name] < previous_rank:
            return True
        seen.add(name)
        last = name
        previous_rank = first[name]
    return False


def reorderers(config):
    """The implementations of `pytest_collection_modifyitems` that are not
    pytest's own nor pacer's, named for a one-line notice."""
    names = []
    for impl in config.hook.pytest_collection_modifyitems.get_hookimpls():
        module = _module_of(impl.plugin)
        name = getattr(module, "__name__", "") or ""
        if name.split(".")[0] in ("_pytest", "pacer_worker"):
            continue
        described = _describe(config, module)
        if described not in names:
            names.append(described)
    return names
