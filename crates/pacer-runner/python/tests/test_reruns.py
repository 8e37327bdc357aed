"""The pieces of pacer's reruns that need no session: the bound on
captured output and the naming of a flaky test's final pass."""

from pacer_worker import reports, reruns


def test_short_output_is_kept_whole():
    assert reports.bounded("abc\n", head=4, tail=4) == "abc\n"
    assert reports.bounded(None) is None


def test_long_output_keeps_its_head_and_tail_and_says_what_was_left_out():
    text = "".join("line %d\n" % i for i in range(1000))
    kept = reports.bounded(text, head=1024, tail=1024)
    assert kept.startswith("line 0\n")
    assert kept.endswith("line 999\n")
    middle = text[1024:len(text) - 1024]
    note = "pacer left out %d bytes (%d lines)" % (len(middle), middle.count("\n"))
    assert note in kept
    assert len(kept) < 2 * 1024 + 200


def entry(when, outcome, cat=None):
    return {"when": when, "outcome": outcome, "cat": outcome if cat is None else cat, "word": outcome.upper()}


def test_the_pass_after_a_rerun_is_flaky():
    entries = [entry("call", "rerun"), entry("call", "passed")]
    reruns.mark_flaky(entries)
    assert (entries[1]["cat"], entries[1]["word"]) == ("flaky", "FLAKY")
    assert entries[0]["cat"] == "rerun"


def test_a_pass_without_rerun_or_a_final_failure_is_not_flaky():
    plain = [entry("call", "passed")]
    reruns.mark_flaky(plain)
    assert plain[0]["cat"] == "passed"
    failed_teardown = [entry("call", "rerun"), entry("call", "passed"), entry("teardown", "failed", "error")]
    reruns.mark_flaky(failed_teardown)
    assert failed_teardown[1]["cat"] == "passed"
