"""Request parameter encoding: ids as one URL path segment, Rails-style form flattening and
form scalars, and ``ImportTarget``'s JSON and form renderings."""

from __future__ import annotations

import pytest

from gitlab_ferry.gitlab.params import (
    encode_id,
    flatten_form,
    form_fields,
    form_value,
)
from gitlab_ferry.reconcile.imports import ImportTarget


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (1, "1"),
        (123456789, "123456789"),
        ("123", "123"),
        ("group", "group"),
        ("group/project", "group%2Fproject"),
        ("group/sub/deeper/project", "group%2Fsub%2Fdeeper%2Fproject"),
        ("  group/project  ", "group%2Fproject"),
        ("/group/project/", "group%2Fproject"),
        ("g.r-o_u~p/p", "g.r-o_u~p%2Fp"),
        ("a b/c", "a%20b%2Fc"),
        ("a+b/c&d=e", "a%2Bb%2Fc%26d%3De"),
        ("a/%2F", "a%2F%252F"),
        ("\u00e9quipe/projet", "%C3%A9quipe%2Fprojet"),
    ],
)
def test_encode_id(ref, expected):
    assert encode_id(ref) == expected


@pytest.mark.parametrize("ref", ["", " ", "/", "//", " / "])
def test_encode_id_refuses_empty_references(ref):
    with pytest.raises(ValueError, match="empty project reference"):
        encode_id(ref)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (False, "false"), (None, ""), (0, "0"), (12, "12"), (1.5, "1.5"), ("x", "x")],
)
def test_form_value(value, expected):
    assert form_value(value) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("path", "p", [("path", "p")]),
        ("overwrite", True, [("overwrite", "true")]),
        ("namespace_id", 7, [("namespace_id", "7")]),
        ("override_params", {}, []),
        (
            "override_params",
            {"description": "d", "lfs_enabled": False},
            [("override_params[description]", "d"), ("override_params[lfs_enabled]", "false")],
        ),
        (
            "override_params",
            {"a": {"b": {"c": 1}}},
            [("override_params[a][b][c]", "1")],
        ),
        ("topics", ["x", "y"], [("topics[]", "x"), ("topics[]", "y")]),
        ("topics", ("x",), [("topics[]", "x")]),
        (
            "override_params",
            {"topics": ["x", True], "n": None},
            [
                ("override_params[topics][]", "x"),
                ("override_params[topics][]", "true"),
                ("override_params[n]", ""),
            ],
        ),
    ],
)
def test_flatten_form(name, value, expected):
    assert list(flatten_form(name, value)) == expected


# -- ImportTarget -----------------------------------------------------------------------------


def test_import_target_json_keeps_types_and_nesting():
    target = ImportTarget(
        path="proj",
        name="Proj",
        namespace_id=5,
        overwrite=True,
        override_params={"lfs_enabled": False, "nested": {"k": [1, 2]}},
    )
    assert target.as_json() == {
        "path": "proj",
        "name": "Proj",
        "namespace_id": 5,
        "overwrite": True,
        "override_params": {"lfs_enabled": False, "nested": {"k": [1, 2]}},
    }


def test_import_target_json_omits_defaults():
    assert ImportTarget(path="proj").as_json() == {"path": "proj"}


def test_import_target_form_is_flat_strings():
    target = ImportTarget(
        path="proj",
        namespace="group/sub",
        overwrite=True,
        override_params={"visibility": "private", "lfs_enabled": False},
    )
    assert form_fields(target.as_json()) == [
        ("path", "proj"),
        ("namespace", "group/sub"),
        ("overwrite", "true"),
        ("override_params[visibility]", "private"),
        ("override_params[lfs_enabled]", "false"),
    ]


def test_import_target_json_does_not_share_override_params():
    params = {"description": "a"}
    target = ImportTarget(path="p", override_params=params)
    target.as_json()["override_params"]["description"] = "changed"
    assert target.override_params["description"] == "a"
