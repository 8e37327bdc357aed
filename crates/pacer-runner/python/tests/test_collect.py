"""`item_entry`: the scope pacer may cut a file at, and xdist groups."""

from pacer_worker.collect import item_entry


def entries(pytester, source):
    return {item.nodeid.split("::", 1)[1]: item_entry(item)[1:] for item in pytester.getitems(source)}


def test_scope_is_the_class_or_the_module(pytester):
    pytester.makeini("[pytest]\nmarkers = slow")
    got = entries(
        pytester,
        """
        import pytest

        def test_top(): pass

        class TestBox:
            @pytest.mark.slow
            def test_in(self): pass
        """,
    )
    module = "test_scope_is_the_class_or_the_module.py"
    assert got["test_top"] == [[], {"scope": module}]
    assert got["TestBox::test_in"] == [["slow"], {"scope": module + "::TestBox"}]


def test_wide_parameters_are_part_of_the_scope_and_function_ones_are_not(pytester):
    got = entries(
        pytester,
        """
        import pytest

        @pytest.fixture(scope="module", params=["a", "b"])
        def db(request):
            return request.param

        @pytest.mark.parametrize("n", [1, 2])
        def test_q(db, n): pass

        @pytest.mark.parametrize("x", [1, 2], scope="class")
        class TestC:
            def test_c(self, x): pass
        """,
    )
    module = "test_wide_parameters_are_part_of_the_scope_and_function_ones_are_not.py"
    assert got["test_q[a-1]"][1] == {"scope": module + "[db=0]"}
    assert got["test_q[a-2]"][1] == {"scope": module + "[db=0]"}
    assert got["test_q[b-1]"][1] == {"scope": module + "[db=1]"}
    assert got["TestC::test_c[2]"] == [["parametrize"], {"scope": module + "::TestC[x=1]"}]


def test_xdist_groups_by_argument_or_keyword_joined_when_several(pytester):
    got = entries(
        pytester,
        """
        import pytest

        @pytest.mark.xdist_group("db")
        def test_one(): pass

        @pytest.mark.xdist_group(name="net")
        @pytest.mark.xdist_group("db")
        def test_two(): pass

        @pytest.mark.xdist_group
        def test_three(): pass
        """,
    )
    assert got["test_one"][1]["group"] == "db"
    assert got["test_two"][1]["group"] == "db_net"
    assert got["test_three"][1]["group"] == "default"


class Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


def test_an_order_is_imposed_only_across_files():
    from pacer_worker.collect import imposed_order

    before = ["a.py::t1", "a.py::t2", "b.py::t1", "b.py::t2", "c.py::t1"]

    def imposed(after):
        return imposed_order(before, [Item(nodeid) for nodeid in after])

    # Deselected tests, and any order inside a file, impose nothing.
    assert not imposed(["a.py::t2", "a.py::t1", "c.py::t1"])
    assert not imposed(before)
    # A file's tests apart, or files out of collection order, do.
    assert imposed(["a.py::t1", "b.py::t1", "a.py::t2"])
    assert imposed(["b.py::t1", "b.py::t2", "a.py::t1"])


def test_only_pytest_and_item_local_plugins_leave_the_collection_split(pytester):
    from pacer_worker.collect import whole_reason

    pytester.makepyfile(test_x="def test_x(): pass")
    config = pytester.parseconfigure()
    assert whole_reason(config, [pytester.path / "test_x.py"]) is None

    reader = pytester.makepyfile(
        test_y="""
        def test_y(request):
            assert request.session.items
        """
    )
    assert whole_reason(config, [reader]) == "test_y.py reads session.items"

    pytester.makeconftest("def pytest_collection_finish(session): pass")
    config = pytester.parseconfigure()
    config.pluginmanager._getconftestmodules(pytester.path)
    assert whole_reason(config, []) == "conftest.py implements pytest_collection_finish"
