"""`log_cli`: the records pytest would print live, kept per test phase.

pytest's live handler writes to the terminal reporter, which a worker does
not show; its `emit` is replaced so that each record, formatted by the
handler's own formatter (`log_cli_format`, `log_cli_level`), goes with its
phase's report to pacer, which prints it as pytest would.
"""


class LiveLog:
    def __init__(self):
        self.records = {}

    @classmethod
    def install(cls, config):
        """The live log's keeper, or None when `log_cli` is off."""
        plugin = config.pluginmanager.get_plugin("logging-plugin")
        handler = getattr(plugin, "log_cli_handler", None)
        if handler is None or not hasattr(handler, "set_when"):
            return None
        try:
            from _pytest.logging import _LiveLoggingStreamHandler
        except ImportError:
            return None
        if not isinstance(handler, _LiveLoggingStreamHandler):
            return None
        live = cls()

        def emit(record):
            when = getattr(handler, "_when", None)
            if when not in ("setup", "call", "teardown"):
                return
            try:
                text = handler.format(record)
            except Exception:
                return
            live.records.setdefault(when, []).append(text)

        handler.emit = emit
        return live

    def take(self, when):
        """The phase's records as one text, or None; forgotten once taken."""
        lines = self.records.pop(when, None)
        return "\n".join(lines) if lines else None
