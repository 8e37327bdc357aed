"""The socket channel to pacer: one JSON object per line, tagged by ``"t"``.

The messages are described once in ``pacer-runner/protocol.json``, which
both the serde enums of ``pacer-runner/src/protocol.rs`` (``FromWorker``,
``ToWorker``) and this package are tested against (``tests/test_protocol.py``);
``PROTOCOL`` is the version both sides check in ``hello``, bumped on any
incompatible change on either side.
"""

import json
import re
import socket

PROTOCOL = 1

# A lone surrogate: what Python makes of bytes that are not UTF-8 in a file
# name (`os.listdir`), and so in a message, a reason or a warning.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def wire(text):
    """`text` as it arrives at pacer (see `dumps`): the id pacer names a
    test or file by when it answers."""
    return _LONE_SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), text)


_ESCAPED_SURROGATE = re.compile(r"\\u(d[89a-f][0-9a-f]{2})")


def unwire(text):
    """A path or id pacer sent back, as Python named it (the inverse of `wire`)."""
    if "\\u" not in text:
        return text
    return _ESCAPED_SURROGATE.sub(lambda m: chr(int(m.group(1), 16)), text)


def dumps(value):
    """Compact JSON in UTF-8's reach; anything JSON does not know (a Path,
    an enum) as its str. Any Python string arrives: a lone surrogate, which
    JSON cannot carry to a strict reader, is sent as the text of its escape
    (`\\udc80`), as pytest's own reports show it."""
    text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Only inside strings: JSON has no other place for such a character.
        text = _LONE_SURROGATE.sub(lambda m: "\\\\u%04x" % ord(m.group()), text)
    return text


class Channel:
    """Line-delimited JSON over the inherited socket.

    `hold` keeps a message back so that it leaves with the next one (a test's
    `done` with the next test's `start`): half the system calls per test.
    Anything that waits for pacer, or may be the last word, flushes first.
    """

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        # Our own buffer rather than a buffered file: `poll` must see what
        # has arrived without ever blocking.
        self.buffer = bytearray()
        self.held = []

    def hold(self, msg):
        self.held.append(dumps(msg))

    def send(self, msg):
        self.held.append(dumps(msg))
        self.flush()

    def flush(self):
        if self.held:
            data = "\n".join(self.held) + "\n"
            self.held = []
            self.sock.sendall(data.encode("utf-8", "replace"))

    def recv(self):
        self.flush()
        while True:
            msg = self._line()
            if msg is not None:
                return msg
            self._fill(self.sock.recv(65536))

    def poll(self):
        """The next message if one has arrived, else None, without waiting."""
        msg = self._line()
        if msg is not None:
            return msg
        try:
            data = self.sock.recv(65536, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None
        self._fill(data)
        return self._line()

    def _fill(self, data):
        if not data:
            raise EOFError("pacer closed the channel")
        self.buffer += data

    def _line(self):
        end = self.buffer.find(b"\n")
        if end < 0:
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return json.loads(line)

    def close(self):
        """Close through the socket object, so that nothing closes the file
        descriptor a second time once its number is reused."""
        self.sock.close()
