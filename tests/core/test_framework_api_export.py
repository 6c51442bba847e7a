"""core.framework.api_export: the tf_export decorator, its registry and its refusals."""

from __future__ import annotations

import functools

import pytest

from core.framework.api_export import api_export, keras_export, lookup, tf_export
from core.trace import Trace


def make_add():
    def add(a, b):
        return a + b

    return add


def test_tf_export_returns_the_function_itself_with_its_names():
    registry = {}
    add = make_add()
    result = tf_export("math.add", "add", registry=registry)(add)
    assert result is add and add(2, 3) == 5
    assert add._tf_api_names == ("math.add", "add")
    assert add._tf_api_names_v1 == ("math.add", "add")  # v1=None: the v2 names
    for version in (1, 2):
        for name in ("math.add", "add"):
            assert lookup(name, registry, version=version) is add
    assert len({id(obj) for obj in registry.values()}) == 1  # every edge to one object


def test_v1_only_export_is_absent_from_v2():
    registry = {}

    @tf_export(v1=["app.run"], registry=registry)
    def run(main=None):
        return main

    assert run._tf_api_names == () and run._tf_api_names_v1 == ("app.run",)
    assert lookup("app.run", registry, version=1) is run
    with pytest.raises(KeyError):
        lookup("app.run", registry)


def test_the_partials_fix_only_api_name():
    assert isinstance(tf_export, functools.partial) and tf_export.func is api_export
    assert tf_export.keywords == {"api_name": "tensorflow"} and tf_export.args == ()
    assert keras_export.keywords == {"api_name": "keras"}


def test_keras_export_sets_keras_attributes_and_its_own_namespace():
    registry = {}

    @keras_export("keras.layers.Dense", registry=registry)
    class Dense:
        pass

    assert Dense._keras_api_names == ("keras.layers.Dense",)
    assert not hasattr(Dense, "_tf_api_names")
    assert lookup("keras.layers.Dense", registry, api_name="keras") is Dense
    with pytest.raises(KeyError):
        lookup("keras.layers.Dense", registry)  # not in the tensorflow api
    tf_export("keras.layers.Dense", registry=registry)(Dense)  # a second api is allowed
    assert lookup("keras.layers.Dense", registry) is Dense


def unchanged(registry, obj, snapshot):
    assert registry == snapshot
    assert "_tf_api_names" not in vars(obj) and "_tf_api_names_v1" not in vars(obj)


@pytest.mark.parametrize(
    "names,v1",
    [
        ((), None),
        ((), []),
        (("math..add",), None),
        (("1add",), None),
        (("add",), ["a b"]),
        ((3,), None),
    ],
    ids=["none", "none-v1-empty", "empty-part", "digit", "space-in-v1", "not-text"],
)
def test_bad_names_are_refused(names, v1):
    registry = {}
    with pytest.raises(ValueError):
        api_export(*names, v1=v1, registry=registry)(make_add())
    assert registry == {}


def test_a_taken_name_is_refused_changing_nothing():
    registry = {}
    tf_export("math.add", registry=registry)(make_add())
    snapshot = dict(registry)
    other = make_add()
    with pytest.raises(ValueError, match=r"math\.add: already bound to add"):
        tf_export("plus", "math.add", registry=registry)(other)
    unchanged(registry, other, snapshot)


def test_exporting_twice_is_refused_but_an_inherited_attribute_is_not():
    registry = {}
    add = make_add()
    tf_export("add", registry=registry)(add)
    snapshot = dict(registry)
    with pytest.raises(ValueError, match="already exported"):
        tf_export("plus", registry=registry)(add)
    assert registry == snapshot and add._tf_api_names == ("add",)

    @tf_export("Base", registry=registry)
    class Base:
        pass

    class Child(Base):
        pass

    assert tf_export("Child", registry=registry)(Child) is Child
    assert Child._tf_api_names == ("Child",) and Base._tf_api_names == ("Base",)


def test_trace_records_init_set_and_register_in_order():
    trace = Trace()
    add = make_add()
    tf_export("math.add", "add", registry={}, trace=trace)(add)
    assert list(trace) == ["init", "set", "register"]
    assert trace["init"][0]["api_name"] == "tensorflow"
    assert trace.column("set", "attribute") == ["_tf_api_names", "_tf_api_names_v1"]
    assert len(trace["register"]) == 4
