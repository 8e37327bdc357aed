"""Named fd-capture files, so that a crashed worker's output can be read.

When a test kills its worker (os._exit, a segfault, the OOM killer), the
output it captured so far lives only in pytest's temporary files; naming
them (in ``PACER_CAPTURE_DIR``) lets pacer read them after the crash.
"""

import os
import sys


def install():
    """Make pytest's fd capture write to named files instead of unlinked ones.

    Runs when the plugin is imported, before pytest's capture starts.
    """
    if not os.environ.get("PACER_CAPTURE_DIR"):
        return
    try:
        import _pytest.capture as capture_mod
    except ImportError:  # pragma: no cover - very old pytest
        return
    original = capture_mod.TemporaryFile
    counter = [0]

    def named_temporary_file(*args, **kwargs):
        capture_dir = os.environ.get("PACER_CAPTURE_DIR")
        if not capture_dir:
            return original(*args, **kwargs)
        try:
            targetfd = sys._getframe(1).f_locals.get("targetfd")
        except Exception:
            targetfd = None
        counter[0] += 1
        name = "fd%s-%d" % (targetfd if targetfd is not None else "x", counter[0])
        try:
            os.makedirs(capture_dir, exist_ok=True)
            return open(os.path.join(capture_dir, name), "w+b", buffering=0)
        except OSError:
            return original(*args, **kwargs)

    capture_mod.TemporaryFile = named_temporary_file
