from __future__ import annotations

import pytest

from stratus.httpapi.routing import (
    GREEDY,
    LITERAL,
    VARIABLE,
    BadRouteKey,
    RouteKey,
    Segment,
    match_one,
    parse,
    select,
    split_path,
)


def routes(*keys: str) -> list[tuple[RouteKey, str]]:
    return [(parse(key), key) for key in keys]


def chosen(keys: tuple[str, ...] | list[str], method: str, path: str) -> str | None:
    result = select(routes(*keys), method, path)
    return None if result is None else result[1]


# -- parse ------------------------------------------------------------------------------------


def test_parse_default() -> None:
    key = parse("$default")
    assert key.is_default
    assert key.method == ""
    assert key.segments == ()


def test_parse_literal_and_variable() -> None:
    key = parse("GET /items/{id}")
    assert not key.is_default
    assert key.method == "GET"
    assert key.segments == (Segment(LITERAL, "items"), Segment(VARIABLE, "id"))


def test_parse_greedy_any() -> None:
    key = parse("ANY /{proxy+}")
    assert key.method == "ANY"
    assert key.segments == (Segment(GREEDY, "proxy"),)


def test_parse_root() -> None:
    key = parse("GET /")
    assert key.method == "GET"
    assert key.segments == ()
    assert key.path() == "/"


@pytest.mark.parametrize(
    "route_key",
    [
        "GET /",
        "POST /items",
        "PUT /items/{id}",
        "PATCH /a/b/c",
        "DELETE /users/{userId}/posts/{postId}",
        "HEAD /x",
        "OPTIONS /x",
        "ANY /{proxy+}",
        "GET /pets/{proxy+}",
        "GET /v1.0/items_list/some-thing~x",
        "GET /files/{file.name}",
        "GET /a:b@c",
    ],
)
def test_parse_round_trips_path(route_key: str) -> None:
    key = parse(route_key)
    assert f"{key.method} {key.path()}" == route_key


@pytest.mark.parametrize(
    "route_key",
    [
        "",
        "GET",
        "/items",
        " /items",
        "FETCH /x",
        "CONNECT /x",
        "$DEFAULT",
        "default",
        "GET items",
        "GET items/{id}",
        "GET //",
        "GET /a//b",
        "GET //a",
        "GET /{a+}/b",
        "ANY /{proxy+}/{more+}",
        "GET /{a}/{a}",
        "GET /{a}/x/{a+}",
        "GET /a{b}",
        "GET /{b}c",
        "GET /{}",
        "GET /{+}",
        "GET /{a b}",
        "GET /a b",
        "GET /a?b",
        "GET /a#b",
        "GET /{a",
        "GET /a}",
        "GET  /x",
    ],
)
def test_parse_rejects(route_key: str) -> None:
    with pytest.raises(BadRouteKey):
        parse(route_key)


def test_bad_route_key_is_a_value_error_with_message() -> None:
    with pytest.raises(ValueError, match="FETCH /x"):
        parse("FETCH /x")


# -- shape / path -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "conflict"),
    [
        ("GET /items/{id}", "GET /items/{name}", True),
        ("ANY /{proxy+}", "ANY /{path+}", True),
        ("GET /items/{id}", "GET /items/{id}", True),
        ("GET /items/{id}", "POST /items/{id}", False),
        ("GET /items/{id}", "ANY /items/{id}", False),
        ("GET /items/{id}", "GET /items/id", False),
        ("GET /items/{id}", "GET /items/{id+}", False),
        ("GET /items/{id}", "GET /things/{id}", False),
        ("GET /a", "GET /a/b", False),
        ("$default", "$default", True),
    ],
)
def test_shape(a: str, b: str, conflict: bool) -> None:
    assert (parse(a).shape() == parse(b).shape()) is conflict


def test_path_renders_variables() -> None:
    assert parse("GET /users/{id}/files/{rest+}").path() == "/users/{id}/files/{rest+}"
    assert parse("$default").path() == "/"


# -- split_path / match_one -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [("/", []), ("", []), ("/a", ["a"]), ("/a/b/", ["a", "b"]), ("/a%2Fb/c", ["a%2Fb", "c"])],
)
def test_split_path(path: str, parts: list[str]) -> None:
    assert split_path(path) == parts


def test_match_one_default_matches_anything() -> None:
    default = parse("$default")
    assert match_one(default, "DELETE", ["x", "y"]) == {}
    assert match_one(default, "GET", []) == {}


def test_match_one_method() -> None:
    key = parse("GET /a")
    assert match_one(key, "GET", ["a"]) == {}
    assert match_one(key, "POST", ["a"]) is None
    assert match_one(parse("ANY /a"), "PATCH", ["a"]) == {}


def test_match_one_variables() -> None:
    key = parse("GET /users/{user}/posts/{post}")
    assert match_one(key, "GET", ["users", "u1", "posts", "p%20q"]) == {"user": "u1", "post": "p q"}
    assert match_one(key, "GET", ["users", "u1", "posts"]) is None
    assert match_one(key, "GET", ["users", "u1", "posts", "p", "extra"]) is None
    assert match_one(key, "GET", ["people", "u1", "posts", "p"]) is None


def test_match_one_greedy() -> None:
    key = parse("ANY /static/{path+}")
    assert match_one(key, "GET", ["static", "css", "site.css"]) == {"path": "css/site.css"}
    assert match_one(key, "GET", ["static"]) is None
    assert match_one(key, "GET", []) is None
    assert match_one(key, "GET", ["other", "x"]) is None


def test_match_one_literal_compares_decoded() -> None:
    assert match_one(parse("GET /a%20b"), "GET", ["a b"]) == {}
    assert match_one(parse("GET /caf%C3%A9"), "GET", ["café"]) == {}


def test_match_one_root() -> None:
    assert match_one(parse("GET /"), "GET", []) == {}
    assert match_one(parse("GET /"), "GET", ["a"]) is None


# -- select -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "method", "path", "expected"),
    [
        # literal beats {var}, in either declaration order
        (["GET /pets/dog/{id}", "GET /pets/dog/1"], "GET", "/pets/dog/1", "GET /pets/dog/1"),
        (["GET /pets/dog/1", "GET /pets/dog/{id}"], "GET", "/pets/dog/1", "GET /pets/dog/1"),
        (["GET /pets/dog/{id}", "GET /pets/dog/1"], "GET", "/pets/dog/2", "GET /pets/dog/{id}"),
        # {var} beats greedy
        (["GET /pets/{proxy+}", "GET /pets/{id}"], "GET", "/pets/7", "GET /pets/{id}"),
        (["GET /pets/{id}", "GET /pets/{proxy+}"], "GET", "/pets/7/toys", "GET /pets/{proxy+}"),
        # a longer literal prefix beats a shorter greedy
        (["ANY /{proxy+}", "ANY /pets/{proxy+}"], "GET", "/pets/a/b", "ANY /pets/{proxy+}"),
        (["ANY /pets/{proxy+}", "ANY /{proxy+}"], "GET", "/pets/a/b", "ANY /pets/{proxy+}"),
        (["ANY /{proxy+}", "ANY /pets/{proxy+}"], "GET", "/cats/a", "ANY /{proxy+}"),
        (["ANY /a/{p+}", "ANY /a/b/{p+}"], "GET", "/a/b/c", "ANY /a/b/{p+}"),
        # a named method beats ANY for the same path
        (["ANY /pets", "GET /pets"], "GET", "/pets", "GET /pets"),
        (["GET /pets", "ANY /pets"], "GET", "/pets", "GET /pets"),
        (["GET /pets", "ANY /pets"], "POST", "/pets", "ANY /pets"),
        (["ANY /{proxy+}", "GET /{proxy+}"], "GET", "/x", "GET /{proxy+}"),
        # $default is last and catches anything
        (["$default", "GET /pets"], "GET", "/pets", "GET /pets"),
        (["$default", "ANY /{proxy+}"], "GET", "/anything", "ANY /{proxy+}"),
        (["GET /pets", "$default"], "DELETE", "/pets", "$default"),
        (["GET /pets", "$default"], "GET", "/", "$default"),
        (["$default"], "PATCH", "/a/b/c", "$default"),
        # greedy never matches the root nor the bare prefix
        (["ANY /{proxy+}"], "GET", "/", None),
        (["ANY /{proxy+}", "$default"], "GET", "/", "$default"),
        (["GET /pets/{proxy+}"], "GET", "/pets", None),
        (["GET /pets/{proxy+}", "GET /pets"], "GET", "/pets", "GET /pets"),
        # root route
        (["GET /", "GET /{id}"], "GET", "/", "GET /"),
        (["GET /", "GET /{id}"], "GET", "/x", "GET /{id}"),
        # trailing slashes
        (["GET /items/{id}"], "GET", "/items/1/", "GET /items/{id}"),
        (["GET /items"], "GET", "/items/", "GET /items"),
        # no match
        (["GET /pets"], "POST", "/pets", None),
        (["GET /pets"], "GET", "/pets/1", None),
        (["GET /pets/{id}"], "GET", "/pets", None),
        ([], "GET", "/", None),
    ],
)
def test_select(keys: list[str], method: str, path: str, expected: str | None) -> None:
    assert chosen(keys, method, path) == expected


def test_select_returns_key_value_and_params() -> None:
    table = routes("GET /items/{id}", "$default")
    result = select(table, "GET", "/items/42")
    assert result is not None
    key, value, params = result
    assert key == parse("GET /items/{id}")
    assert value == "GET /items/{id}"
    assert params == {"id": "42"}


def test_select_default_has_no_params() -> None:
    result = select(routes("$default"), "GET", "/a/b")
    assert result is not None
    assert result[2] == {}


def test_select_path_params_are_url_decoded() -> None:
    result = select(routes("GET /users/{name}/files/{file}"), "GET", "/users/J%C3%B6rg/files/a%20b%2Bc")
    assert result is not None
    assert result[2] == {"name": "Jörg", "file": "a b+c"}


def test_select_greedy_captures_rest_of_path() -> None:
    result = select(routes("ANY /{proxy+}"), "GET", "/a/b/c")
    assert result is not None
    assert result[2] == {"proxy": "a/b/c"}

    result = select(routes("GET /files/{path+}"), "GET", "/files/dir%20one/x.txt")
    assert result is not None
    assert result[2] == {"path": "dir one/x.txt"}


def test_select_encoded_slash_stays_in_one_variable() -> None:
    result = select(routes("GET /items/{id}", "GET /items/{a}/{b}"), "GET", "/items/a%2Fb")
    assert result is not None
    assert result[0] == parse("GET /items/{id}")
    assert result[2] == {"id": "a/b"}


def test_select_mixed_params_and_greedy() -> None:
    result = select(routes("GET /users/{id}/{rest+}"), "GET", "/users/7/a/b")
    assert result is not None
    assert result[2] == {"id": "7", "rest": "a/b"}


def test_select_accepts_any_iterable() -> None:
    table = iter(routes("GET /a", "GET /b"))
    result = select(table, "GET", "/b")
    assert result is not None
    assert result[1] == "GET /b"


def test_select_first_of_equal_rank_wins() -> None:
    # Conflicting shapes are rejected when routes are created; if two ever coexist the
    # first stays chosen rather than flapping.
    table = [(parse("GET /x/{a}"), "first"), (parse("GET /x/{b}"), "second")]
    result = select(table, "GET", "/x/1")
    assert result is not None
    assert result[1] == "first"
    assert result[2] == {"a": "1"}
