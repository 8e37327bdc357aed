"""pacer's worker-side pytest plugin.

pacer (a Rust program) starts each worker as ``python -m pytest -p pacer_worker ...``
with one end of a socket pair on file descriptor ``PACER_FD``. The worker never
uses its stdin/stdout for the protocol, so ``-s`` and live output keep working.

Messages are JSON objects, one per line, tagged by ``"t"`` (`channel`);
``PROTOCOL`` is the version both sides check in ``hello``. The worker:

* takes over ``pytest_collection`` (it collects only what it is told to),
* takes over ``pytest_runtestloop`` (it runs only what it is handed),
* announces each test (``start``) before running it, so a crash names the test,
* asks for more work (``need``) before starting the last test it holds, so it
  always knows the real ``nextitem`` and never tears down fixtures it needs.

Standard library plus pytest only: the user's venv needs nothing else. This
file declares what pytest looks for in a plugin; the code lives in:

* `hooks`: the pytest hooks, each handing over to the modules below;
* `worker`: the conversation with pacer and all the process keeps;
* `channel`: the socket, its framing and `PROTOCOL`;
* `options`: what pytest parsed, sent in ``hello``;
* `collect`: the whole collection, or discovery and per-unit collection
  keeping a full run's ids, and which of the two a session needs;
* `reports`: each test phase's report as pacer's reporters read it;
* `zygote`: forking ready-made workers on request;
* `xdist`: looking like an xdist worker to xdist-aware plugins;
* `cov`: pytest-cov's controller step, run by pacer after the workers;
* `fixtures`: the fixtures user tests may ask for;
* `livelog`, `crash`: ``log_cli`` records and named fd-capture files.
"""

import pytest

# Directory collectors (pytest 8) are what discovery and per-file collection
# stand on; an older pytest falls back to a plain sequential run, saying why.
if int(pytest.__version__.split(".")[0]) < 8:
    raise RuntimeError("pacer needs pytest >= 8 in the workers (found %s)" % pytest.__version__)

from . import crash  # noqa: E402
from .channel import PROTOCOL  # noqa: E402,F401
from .cov import controller_main as cov_controller_main  # noqa: E402,F401
from .fixtures import (  # noqa: E402,F401
    pacer_httpx,
    pacer_requests,
    pacer_upstream,
    test_prefix,
    testrun_uid,
    worker_id,
)
from .hooks import (  # noqa: E402,F401
    pytest_addoption,
    pytest_collection,
    pytest_collection_modifyitems,
    pytest_cmdline_main,
    pytest_collectreport,
    pytest_configure,
    pytest_deselected,
    pytest_load_initial_conftests,
    pytest_make_collect_report,
    pytest_runtest_logreport,
    pytest_runtest_logstart,
    pytest_runtestloop,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_unconfigure,
    pytest_warning_recorded,
)

# Before pytest's capture starts: the plugin is imported while pytest parses
# its arguments (`-p pacer_worker`).
crash.install()
