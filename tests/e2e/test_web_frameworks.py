"""Web frameworks behind function URLs and HTTP APIs, each with its own Lambda adapter from the
package registry as a user would package it: Flask through serverless-wsgi and apig-wsgi,
FastAPI through Mangum, Express through serverless-http. Each asserts what the framework
answered (path and query parameters, JSON bodies, headers, cookies both ways, status codes and
binary bodies base64-encoded both ways), so an event or response shape the adapter misreads
fails here."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.frameworks import deploy, function_url, http_api
from tests.e2e.http_client import Reply, call
from tests.e2e.vendored import node_modules, site_packages, vendored_zip, zip_folder

# Every byte value, so a body that went through text (or was not decoded) cannot pass.
BINARY = bytes(range(256)) * 4
JSON = {"Content-Type": "application/json"}
OCTETS = {"Content-Type": "application/octet-stream"}


def set_cookies(reply: Reply) -> list[str]:
    return reply.headers.get_all("Set-Cookie") or []


# -- Flask through serverless-wsgi 3.1 ---------------------------------------------------------
# serverless-wsgi reads the event's requestContext with `.get()`, and so failed on a key AWS
# omits but the event carried as null.

WSGI_APP = """
import serverless_wsgi
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/hello/<name>", methods=["GET", "POST"])
def hello(name):
    return jsonify(greeting=f"hello {name}", query=request.args.get("q"), body=request.get_data(as_text=True))


def handler(event, context):
    return serverless_wsgi.handle_request(app, event, context)
"""


@pytest.fixture(scope="module")
def flask_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return vendored_zip(tmp_path_factory.mktemp("wsgi"), WSGI_APP, "serverless-wsgi==3.1.0", "Flask")


def _check_wsgi(url: str) -> None:
    reply = call(url + "/hello/world?q=1", "POST", b"posted", {"Content-Type": "text/plain"})
    assert reply.status == 200, reply.body
    assert reply.json() == {"greeting": "hello world", "query": "1", "body": "posted"}


def test_flask_through_serverless_wsgi_behind_a_function_url(
    server: Server, flask_zip: bytes, fn_name: str
) -> None:
    deploy(server, fn_name, flask_zip)
    _check_wsgi(function_url(server, fn_name))


@pytest.mark.parametrize("payload", ["2.0", "1.0"])
def test_flask_through_serverless_wsgi_behind_an_http_api(
    server: Server, flask_zip: bytes, fn_name: str, payload: str
) -> None:
    name = f"{fn_name}-{payload[0]}"
    arn = deploy(server, name, flask_zip)
    with http_api(server, name, arn, payload, ("ANY /hello/{name}",)) as endpoint:
        _check_wsgi(endpoint)


# -- FastAPI through Mangum ---------------------------------------------------------------------

FASTAPI_APP = """
from fastapi import Cookie, FastAPI, Header, HTTPException, Query, Request, Response
from mangum import Mangum
from pydantic import BaseModel, Field

app = FastAPI()


class Order(BaseModel):
    item: str
    quantity: int = Field(gt=0)


@app.get("/items/{item_id}")
def read_item(
    item_id: int,
    tag: list[str] = Query(default=[]),
    x_client: str | None = Header(default=None),
    session: str | None = Cookie(default=None),
):
    if item_id == 404:
        raise HTTPException(status_code=404, detail="no item 404")
    return {"item_id": item_id, "tags": tag, "client": x_client, "session": session}


@app.post("/orders", status_code=201)
def place_order(order: Order, response: Response):
    response.set_cookie("last_order", order.item)
    response.headers["X-Units"] = str(order.quantity)
    return {"item": order.item, "quantity": order.quantity}


@app.post("/reverse")
async def reverse(request: Request):
    return Response(content=(await request.body())[::-1], media_type="application/octet-stream")


handler = Mangum(app, lifespan="off")
"""


@pytest.fixture(scope="module")
def fastapi_zip() -> bytes:
    return zip_folder({"app.py": FASTAPI_APP}, site_packages("fastapi<1", "mangum>=0.17,<1"))


def _check_fastapi(base: str) -> None:
    read = call(
        base + "/items/42?tag=a&tag=b%20c",
        headers=[("X-Client", "e2e"), ("Cookie", "session=s-1; theme=dark")],
    )
    assert read.status == 200, read.body
    assert read.json() == {"item_id": 42, "tags": ["a", "b c"], "client": "e2e", "session": "s-1"}

    missing = call(base + "/items/404")
    assert (missing.status, missing.json()) == (404, {"detail": "no item 404"})
    not_an_int = call(base + "/items/forty-two")
    assert not_an_int.status == 422, not_an_int.body
    assert [e["loc"] for e in not_an_int.json()["detail"]] == [["path", "item_id"]]
    assert call(base + "/nowhere").json() == {"detail": "Not Found"}

    placed = call(base + "/orders", "POST", b'{"item": "tea", "quantity": 3}', JSON)
    assert placed.status == 201, placed.body
    assert placed.json() == {"item": "tea", "quantity": 3}
    assert placed.headers["X-Units"] == "3"
    assert [c.split(";")[0] for c in set_cookies(placed)] == ["last_order=tea"]
    refused = call(base + "/orders", "POST", b'{"item": "tea", "quantity": 0}', JSON)
    assert refused.status == 422, refused.body
    assert [e["loc"] for e in refused.json()["detail"]] == [["body", "quantity"]]

    reversed_ = call(base + "/reverse", "POST", BINARY, OCTETS)
    assert reversed_.status == 200, reversed_.body[:200]
    assert reversed_.headers["Content-Type"] == "application/octet-stream"
    assert reversed_.body == BINARY[::-1]


def test_fastapi_through_mangum_behind_a_function_url(
    server: Server, fastapi_zip: bytes, fn_name: str
) -> None:
    deploy(server, fn_name, fastapi_zip)
    _check_fastapi(function_url(server, fn_name))


def test_fastapi_through_mangum_behind_an_http_api(server: Server, fastapi_zip: bytes, fn_name: str) -> None:
    arn = deploy(server, fn_name, fastapi_zip)
    with http_api(server, fn_name, arn, "2.0") as endpoint:
        _check_fastapi(endpoint)


# -- Flask through apig-wsgi ----------------------------------------------------------------------

APIG_WSGI_APP = """
from apig_wsgi import make_lambda_handler
from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/users/<int:user_id>")
def user(user_id):
    if user_id == 404:
        return jsonify(error="no user 404"), 404
    return jsonify(
        user_id=user_id,
        tags=request.args.getlist("tag"),
        client=request.headers.get("X-Client"),
        theme=request.cookies.get("theme"),
        path=request.path,
    )


@app.post("/users")
def create_user():
    body = request.get_json()
    reply = jsonify(created=body["name"], admin=body.get("admin", False))
    reply.status_code = 201
    reply.set_cookie("user", body["name"])
    reply.set_cookie("seen", "1")
    return reply


@app.post("/reverse")
def reverse():
    return Response(request.get_data()[::-1], mimetype="application/octet-stream")


handler = make_lambda_handler(app, binary_support=True)
"""


@pytest.fixture(scope="module")
def apig_wsgi_zip() -> bytes:
    return zip_folder({"app.py": APIG_WSGI_APP}, site_packages("Flask>=3,<4", "apig-wsgi>=2,<3"))


@pytest.mark.parametrize("payload", ["2.0", "1.0"])
def test_flask_through_apig_wsgi_behind_an_http_api(
    server: Server, apig_wsgi_zip: bytes, fn_name: str, payload: str
) -> None:
    name = f"{fn_name}-{payload[0]}"
    arn = deploy(server, name, apig_wsgi_zip)
    with http_api(server, name, arn, payload) as base:
        read = call(
            base + "/users/7?tag=x&tag=y",
            headers=[("X-Client", "e2e"), ("Cookie", "theme=dark; lang=en")],
        )
        assert read.status == 200, read.body
        assert read.json() == {
            "user_id": 7,
            "tags": ["x", "y"],
            "client": "e2e",
            "theme": "dark",
            "path": "/users/7",
        }
        missing = call(base + "/users/404")
        assert (missing.status, missing.json()) == (404, {"error": "no user 404"})
        assert call(base + "/nowhere").status == 404  # Flask's own page, not the gateway's

        made = call(base + "/users", "POST", b'{"name": "ana", "admin": true}', JSON)
        assert made.status == 201, made.body
        assert made.json() == {"created": "ana", "admin": True}
        # Two Set-Cookie headers: format 2.0 returns them in `cookies`, 1.0 in multiValueHeaders.
        assert sorted(c.split(";")[0] for c in set_cookies(made)) == ["seen=1", "user=ana"]

        reversed_ = call(base + "/reverse", "POST", BINARY, OCTETS)
        assert reversed_.status == 200, reversed_.body[:200]
        assert reversed_.body == BINARY[::-1]


# -- Express through serverless-http, on the Node runtime ----------------------------------------

EXPRESS_APP = """
const express = require("express");
const serverless = require("serverless-http");

const app = express();
app.use(express.json());

app.get("/pets/:id", (req, res) => {
  if (req.params.id === "404") {
    return res.status(404).json({ error: "no pet 404" });
  }
  const { id } = req.params;
  res.json({ id, tags: req.query.tag, client: req.get("x-client"), cookie: req.get("cookie") });
});

app.post("/pets", (req, res) => {
  res.cookie("pet", req.body.name);
  res.set("X-Legs", String(req.body.legs));
  res.status(201).json({ created: req.body.name, legs: req.body.legs });
});

app.post("/reverse", express.raw({ type: "*/*", limit: "1mb" }), (req, res) => {
  res.type("application/octet-stream").send(Buffer.from(req.body).reverse());
});

module.exports.handler = serverless(app, { binary: ["application/octet-stream"] });
"""


@pytest.fixture(scope="module")
def express_zip() -> bytes:
    installed = node_modules("express@4", "serverless-http@3")
    return zip_folder({"index.js": EXPRESS_APP}, installed / "node_modules", prefix="node_modules/")


def test_express_through_serverless_http_behind_a_function_url(
    server: Server, express_zip: bytes, fn_name: str
) -> None:
    deploy(server, fn_name, express_zip, Runtime="nodejs20.x", Handler="index.handler")
    base = function_url(server, fn_name)
    read = call(
        base + "/pets/9?tag=a&tag=b", headers=[("X-Client", "e2e"), ("Cookie", "theme=dark; lang=en")]
    )
    assert read.status == 200, read.body
    assert read.json() == {"id": "9", "tags": ["a", "b"], "client": "e2e", "cookie": "theme=dark; lang=en"}
    missing = call(base + "/pets/404")
    assert (missing.status, missing.json()) == (404, {"error": "no pet 404"})
    assert call(base + "/nowhere").status == 404  # Express's own "Cannot GET"
    assert b"Cannot GET /nowhere" in call(base + "/nowhere").body

    made = call(base + "/pets", "POST", b'{"name": "rex", "legs": 4}', JSON)
    assert made.status == 201, made.body
    assert made.json() == {"created": "rex", "legs": 4}
    assert made.headers["X-Legs"] == "4"
    assert [c.split(";")[0] for c in set_cookies(made)] == ["pet=rex"]

    reversed_ = call(base + "/reverse", "POST", BINARY, OCTETS)
    assert reversed_.status == 200, reversed_.body[:200]
    assert reversed_.body == BINARY[::-1]
