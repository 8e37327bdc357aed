"""The wire's one description (`crates/pacer-runner/protocol.json`) as the
plugin's tests read it. The fake pacer (`conftest.py`) checks every message
the real plugin sends it against it, and every message it sends; the plugin
reading a field pacer never sends is noted (`Received`). Rust's side:
`src/protocol/spec.rs`.
"""

import json
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "protocol.json"
SPEC = json.loads(PATH.read_text(encoding="utf-8"))
TAG = SPEC["tag"]
FROM_WORKER = "from_worker"
TO_WORKER = "to_worker"

# The tags that went over the wire in this session's conversations, each
# way, and the conversation tests collected and finished: with all of them
# run, `test_protocol.py` wants every described message among those tags.
SEEN = {FROM_WORKER: set(), TO_WORKER: set()}
CONVERSATIONS = {"collected": set(), "finished": set()}


def fields(direction, tag):
    """The described fields of a message, or None for an undescribed tag."""
    message = SPEC[direction].get(tag)
    return None if message is None else message["fields"]


def problems(direction, msg):
    """What is wrong with `msg` (as it came off the wire) going that way:
    an undescribed message or field, a required field missing, a value of
    the wrong type. Empty when it is as described."""
    if not isinstance(msg, dict):
        return ["%r is not an object" % (msg,)]
    tag = msg.get(TAG)
    described = fields(direction, tag)
    if described is None:
        return ["%r is not a %s message" % (tag, direction)]
    errors = []
    _check_fields(described, {k: v for k, v in msg.items() if k != TAG}, tag, errors)
    return errors


def _check_fields(described, value, at, errors):
    for name, field_value in value.items():
        field = described.get(name)
        if field is None:
            errors.append("%s.%s is not described" % (at, name))
        else:
            _check(field["type"], field_value, "%s.%s" % (at, name), errors)
    for name, field in described.items():
        if field["required"] and name not in value:
            errors.append("%s.%s is required and missing" % (at, name))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


SCALARS = {
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "uint": lambda v: _is_int(v) and v >= 0,
    "float": lambda v: _is_int(v) or isinstance(v, float),
    "bool": lambda v: isinstance(v, bool),
}


def _check(t, value, at, errors):
    if isinstance(t, str):
        if t in SCALARS:
            ok = SCALARS[t](value)
        else:
            named = SPEC["types"][t]
            if "type" in named:
                return _check(named["type"], value, at, errors)
            if isinstance(value, dict):
                return _check_fields(named["fields"], value, at, errors)
            ok = False
    else:
        kind, rest = t[0], t[1:]
        if kind == "nullable":
            return None if value is None else _check(rest[0], value, at, errors)
        if kind == "enum":
            ok = isinstance(value, str) and value in rest
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                _check(rest[0], item, "%s[%d]" % (at, i), errors)
            return None
        elif kind == "tuple" and isinstance(value, list) and len(value) == len(rest):
            for i, (item_type, item) in enumerate(zip(rest, value)):
                _check(item_type, item, "%s[%d]" % (at, i), errors)
            return None
        else:
            ok = False
    if not ok:
        errors.append("%s: %r is not a %s" % (at, value, json.dumps(t)))
    return None


class Received(dict):
    """A message from pacer as the plugin reads it: each field read that
    its description lacks is noted in `unknown`."""

    def __init__(self, msg, unknown):
        super().__init__(msg)
        self._unknown = unknown

    def _note(self, key):
        if key == TAG:
            return
        tag = dict.get(self, TAG)
        described = fields(TO_WORKER, tag)
        if described is None or key not in described:
            self._unknown.append("%s.%s" % (tag, key))

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)
