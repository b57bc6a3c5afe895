"""The differential test of DynamoDB (issue 18, "correctness against a reference"): the same
seeded random operation sequences (tests/e2e/dynamodb_ops.py) against a real `stratus serve`
and against moto's DynamoDB (an independent implementation, run as moto's threaded server on
loopback), comparing what matters of every answer: Item, Items, Attributes, Count,
ScannedCount, LastEvaluatedKey, and for errors the error code (and a cancelled transaction's
CancellationReasons codes). At the end of each sequence both tables are compared whole.

What legitimately differs is normalised: ConsumedCapacity and ResponseMetadata are not
compared; set members are compared as sets (DynamoDB does not define their order); Scan results
as multisets (Scan order is hash order, which AWS does not define either); a query of an index
is compared as a multiset after each side is checked to be in the index's sort key order,
because items with equal index keys have no defined order between them.

Every disagreement found was decided from AWS's documentation: Stratus's were fixed, moto's are
listed in KNOWN_MOTO_DIFFERENCES with the page that says so, and exactly those cases are
normalised (the items they touched are copied from Stratus to moto so the rest of the sequence
still compares)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server
from tests.e2e.dynamodb_ops import Generator, Op, Params, Schema

OPERATIONS = 300
SEEDS = [
    # (seed, single table's key type, ranged table's hash and range key types)
    (1801, "S", "S", "N"),
    (1802, "N", "B", "S"),
    (1803, "B", "N", "B"),
]


@dataclass(frozen=True)
class Case:
    """One disagreement: the request, both compared answers, and moto's client (some cases
    are told by what moto stored)."""

    method: str
    params: Params
    mine: Any
    theirs: Any
    moto: Any


@dataclass(frozen=True)
class KnownDifference:
    """A case where moto answers otherwise than AWS documents: `matches(case)` tells the case
    exactly, `doc` is the page that decides it."""

    name: str
    doc: str
    matches: Callable[[Case], bool]


DOCS = "https://docs.aws.amazon.com/amazondynamodb/latest"
INTERNAL = {"500", "InternalServerError", "InternalFailure"}
# TransactWriteItems, Errors, TransactionCanceledException: the codes a reason may carry.
REASON_CODES = {
    "None",
    "ConditionalCheckFailed",
    "ItemCollectionSizeLimitExceeded",
    "TransactionConflict",
    "ProvisionedThroughputExceeded",
    "ThrottlingError",
    "ValidationError",
}


def error_of(answer: Any) -> str | None:
    return answer.get("error") if isinstance(answer, dict) else None


def updates_of(case: Case) -> list[Params]:
    """The request bodies of `case` that carry an UpdateExpression."""
    if case.method == "update_item":
        return [case.params]
    if case.method == "transact_write_items":
        return [a["Update"] for a in case.params["TransactItems"] if "Update" in a]
    return []


def split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def update_actions(text: str) -> list[tuple[str, str, str]]:
    """(clause, path, operand text) of each action of an update expression of dynamodb_ops."""
    pieces = re.split(r"\b(SET|REMOVE|ADD|DELETE)\b", text)
    actions = []
    for clause, body in zip(pieces[1::2], pieces[2::2], strict=True):
        for action in split_top(body):
            if clause == "SET":
                path, _, operand = action.partition("=")
            elif clause == "REMOVE":
                path, operand = action, ""
            else:
                path, _, operand = action.partition(" ")
            actions.append((clause, path.strip(), operand.strip()))
    return actions


def has_overlap(text: str) -> bool:
    paths = [path for _, path, _ in update_actions(text)]
    for i, one in enumerate(paths):
        for two in paths[i + 1 :]:
            if one == two or two.startswith((one + ".", one + "[")) or one.startswith((two + ".", two + "[")):
                return True
    return False


def overlapping_paths(case: Case) -> bool:
    return (
        error_of(case.mine) == "ValidationException"
        and error_of(case.theirs) != "ValidationException"
        and any(has_overlap(u["UpdateExpression"]) for u in updates_of(case))
    )


def add_of_wrong_type(case: Case) -> bool:
    def wrong(body: Params) -> bool:
        values = body.get("ExpressionAttributeValues", {})
        return any(
            clause == "ADD" and next(iter(values[operand])) not in ("N", "NS", "SS", "BS")
            for clause, _, operand in update_actions(body["UpdateExpression"])
        )

    return (
        error_of(case.mine) == "ValidationException"
        and error_of(case.theirs) != "ValidationException"
        and any(wrong(u) for u in updates_of(case))
    )


def reversed_between(case: Case) -> bool:
    if case.method != "query" or " BETWEEN " not in case.params["KeyConditionExpression"]:
        return False
    values = case.params["ExpressionAttributeValues"]
    low, high = (
        values[v]
        for v in re.findall(r"BETWEEN (:v\d+) AND (:v\d+)", case.params["KeyConditionExpression"])[0]
    )
    return (
        sort_value(low) > sort_value(high)
        and error_of(case.mine) == "ValidationException"
        and error_of(case.theirs) is None
    )


def indexed_projection(case: Case) -> bool:
    return (
        "[" in case.params.get("ProjectionExpression", "")
        and error_of(case.theirs) == "ValidationException"
        and error_of(case.mine) is None
    )


def size_in_filter(case: Case) -> bool:
    return (
        "size(" in case.params.get("FilterExpression", "")
        and error_of(case.theirs) == "ValidationException"
        and error_of(case.mine) is None
    )


def undocumented_reasons(case: Case) -> bool:
    mine, theirs = case.mine, case.theirs
    if error_of(mine) != "TransactionCanceledException" or error_of(theirs) != error_of(mine):
        return False
    if len(mine["reasons"]) != len(theirs["reasons"]):
        return False
    pairs = list(zip(mine["reasons"], theirs["reasons"], strict=True))
    # Where moto's code is one AWS documents, it must be Stratus's too; where moto gives a
    # Python exception's name (its evaluation failed), Stratus must give a documented code.
    return (
        all(m == t for m, t in pairs if t in REASON_CODES)
        and all(m in REASON_CODES for m, t in pairs if t not in REASON_CODES)
        and any(t not in REASON_CODES for _, t in pairs)
    )


def updated_attributes(case: Case) -> bool:
    """moto's UPDATED_OLD/UPDATED_NEW add the key attributes and leave out the attributes the
    update named but left as they were; Stratus returns exactly the attributes the update
    expression names (as AWS does: "only the updated attributes")."""
    if case.method != "update_item" or case.params.get("ReturnValues") not in ("UPDATED_OLD", "UPDATED_NEW"):
        return False
    if error_of(case.mine) or error_of(case.theirs):
        return False
    key = set(case.params["Key"])
    named = {
        case.params["ExpressionAttributeNames"][p.split(".")[0].split("[")[0]]
        for _, p, _ in update_actions(case.params["UpdateExpression"])
    }
    mine = dict(case.mine["Attributes"] or ())
    theirs = {k: v for k, v in (case.theirs["Attributes"] or ()) if k not in key}
    return set(mine) <= named and all(mine.get(k) == v for k, v in theirs.items())


def limit_on_last_item(case: Case) -> bool:
    """A table query with Limit whose last item ends a page: Stratus gives a LastEvaluatedKey
    and then an empty page, moto none."""
    if case.method != "query" or "pages" not in case.mine or "pages" not in case.theirs:
        return False
    pages = list(case.mine["pages"])
    if len(pages) < 2 or pages[-1] != ((), 0, 0, None):
        return False
    items, count, scanned, _ = pages[-2]
    return (
        "Limit" in case.params
        and scanned == case.params["Limit"]
        and [*pages[:-2], (items, count, scanned, None)] == list(case.theirs["pages"])
    )


def digits(text: str) -> int:
    return len(Decimal(text).normalize().as_tuple().digits)


def numbers_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind == "N" and isinstance(inner, str):
                yield inner
            elif kind == "NS" and isinstance(inner, list):
                yield from inner
            else:
                yield from numbers_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from numbers_in(inner)


def imprecise_number_stored(case: Case) -> bool:
    """Stratus refused an update whose result needs more than 38 significant digits (or is out
    of range), and moto stored it."""
    if error_of(case.mine) != "ValidationException" or error_of(case.theirs) is not None:
        return False
    for body in updates_of(case):
        stored = case.moto.get_item(TableName=body["TableName"], Key=body["Key"]).get("Item", {})
        for number in numbers_in(stored):
            value = Decimal(number)
            if digits(number) > 38 or (value != 0 and not Decimal("1E-130") <= abs(value) < Decimal("1E126")):
                return True
    return False


def nested_remove_on_absent_item(case: Case) -> bool:
    """DynamoDB refuses REMOVE a.b when a is missing "except when the whole item is": an update
    that creates its item ignores it; moto refuses it."""
    if error_of(case.theirs) != "ValidationException" or error_of(case.mine) == "ValidationException":
        return False
    for body in updates_of(case):
        nested = any(
            clause == "REMOVE" and ("." in path or "[" in path)
            for clause, path, _ in update_actions(body["UpdateExpression"])
        )
        if nested and "Item" not in case.moto.get_item(TableName=body["TableName"], Key=body["Key"]):
            return True
    return False


def has_arithmetic(body: Params) -> bool:
    return any(
        (
            clause == "ADD"
            and operand in body.get("ExpressionAttributeValues", {})
            and "N" in body["ExpressionAttributeValues"][operand]
        )
        or (clause == "SET" and (" + " in operand or " - " in operand))
        for clause, _, operand in update_actions(body["UpdateExpression"])
    )


def float_arithmetic(case: Case) -> bool:
    """moto adds numbers as floats (16 digits): where Stratus's exact sum and moto's differ
    only past a float's precision, or Stratus refused a sum needing more than 38 digits that
    moto rounded and stored."""
    if not any(has_arithmetic(u) for u in updates_of(case)):
        return False
    if error_of(case.mine) == "ValidationException" and error_of(case.theirs) is None:
        return True
    if error_of(case.mine) or error_of(case.theirs) or case.method != "update_item":
        return False
    mine, theirs = dict(case.mine["Attributes"] or ()), dict(case.theirs["Attributes"] or ())
    # UPDATED_*: moto also leaves out attributes left unchanged (see updated_attributes)
    extra_allowed = str(case.params.get("ReturnValues", "")).startswith("UPDATED_")
    if not set(theirs) <= set(mine) or (set(mine) != set(theirs) and not extra_allowed):
        return False
    differing = [(mine[k], theirs[k]) for k in theirs if mine[k] != theirs[k]]
    return bool(differing) and all(
        m[0] == t[0] == "N" and float(m[1]) == float(t[1]) and len(m[1].strip("-").replace(".", "")) > 15
        for m, t in differing
    )


def projection_overlap(case: Case) -> bool:
    paths = [p.strip() for p in case.params.get("ProjectionExpression", "").split(",") if p.strip()]
    overlap = any(
        one == two or two.startswith((one + ".", one + "["))
        for i, one in enumerate(paths)
        for j, two in enumerate(paths)
        if i != j
    )
    return overlap and error_of(case.mine) == "ValidationException" and error_of(case.theirs) is None


def transaction_validation(case: Case) -> bool:
    """A transaction whose update cannot apply to its item (a path into a missing map) is
    cancelled on AWS; moto answers the whole request ValidationException."""
    return (
        case.method == "transact_write_items"
        and error_of(case.theirs) == "ValidationException"
        and error_of(case.mine) == "TransactionCanceledException"
    )


PARTIAL_WRITE = "a failed update applied in part"

KNOWN_MOTO_DIFFERENCES: list[KnownDifference] = [
    KnownDifference(
        "numbers as sent",
        # "Leading and trailing zeroes are trimmed" (Number): moto returns a number's text as it
        # was sent ("007", "1.50", "1E+2"). Not a skip: every number in moto's answers is
        # rewritten by plain_number (the rule written here, not Stratus's code), and Stratus's
        # numbers are compared as they come.
        f"{DOCS}/developerguide/HowItWorks.NamingRulesDataTypes.html",
        lambda case: False,
    ),
    KnownDifference(
        "moto internal error",
        # moto's server fails with HTTP 500 on valid requests (comparing values of different
        # types, arithmetic on exponent-written numbers, a size() or path into an absent map):
        # there is no reference answer, but Stratus must still answer without an internal error.
        f"{DOCS}/APIReference/CommonErrors.html",
        lambda case: error_of(case.theirs) in INTERNAL and error_of(case.mine) not in INTERNAL,
    ),
    KnownDifference(
        "overlapping update paths",
        # An update naming one path twice (ADD #ss :a, #ss :b) or a path and its parent is a
        # ValidationException before any condition ("Invalid UpdateExpression: Two document
        # paths overlap with each other; must remove or rewrite one of these paths", AWS's
        # answer as recorded in github.com/HENNGE/aiodynamo/issues/2); moto evaluates it.
        f"{DOCS}/developerguide/Expressions.UpdateExpressions.html",
        overlapping_paths,
    ),
    KnownDifference(
        "ADD of a type other than number or set",
        # "The ADD action supports only number and set data types": an ADD of a string, list or
        # map value is refused by validating the expression (Stratus: "Incorrect operand type
        # for operator or function; operator: ADD, operand type: MAP"); moto first evaluates
        # the condition and answers ConditionalCheckFailedException.
        f"{DOCS}/developerguide/Expressions.UpdateExpressions.html#Expressions.UpdateExpressions.ADD",
        add_of_wrong_type,
    ),
    KnownDifference(
        "reversed BETWEEN in a key condition",
        # "a BETWEEN b AND c - true if a is greater than or equal to b, and less than or equal
        # to c": DynamoDB refuses b > c ("Invalid KeyConditionExpression: The BETWEEN operator
        # requires upper bound to be greater than or equal to lower bound"); moto answers an
        # empty page.
        f"{DOCS}/developerguide/Query.KeyConditionExpressions.html",
        reversed_between,
    ),
    KnownDifference(
        "list index in a projection",
        # "#l[0]" is a document path a ProjectionExpression may name; moto then reports #l as
        # "Value provided in ExpressionAttributeNames unused in expressions".
        f"{DOCS}/developerguide/Expressions.ProjectionExpressions.html",
        indexed_projection,
    ),
    KnownDifference(
        "size() in a filter",
        # size(path) is one of the functions of condition and filter expressions; moto's filter
        # parser refuses it ("Bad Filter Expression: Invalid attribute name l").
        f"{DOCS}/developerguide/Expressions.OperatorsAndFunctions.html#Expressions.OperatorsAndFunctions.Functions",
        size_in_filter,
    ),
    KnownDifference(
        "undocumented cancellation reason codes",
        # CancellationReasons codes are the ones TransactWriteItems lists (None,
        # ConditionalCheckFailed, ...); moto reports a Python exception's name ("ValueError",
        # "TypeError") when its evaluation of a condition fails.
        f"{DOCS}/APIReference/API_TransactWriteItems.html#API_TransactWriteItems_Errors",
        undocumented_reasons,
    ),
    KnownDifference(
        "UPDATED_OLD and UPDATED_NEW",
        # "UPDATED_OLD - Returns only the updated attributes, as they appeared before the
        # UpdateItem operation": moto adds the key attributes and leaves out attributes the
        # update named but did not change.
        f"{DOCS}/APIReference/API_UpdateItem.html#DDB-UpdateItem-request-ReturnValues",
        updated_attributes,
    ),
    KnownDifference(
        "LastEvaluatedKey when Limit ends on the last item",
        # DynamoDB stops when it has evaluated Limit items and returns LastEvaluatedKey; "If
        # LastEvaluatedKey is not empty, it does not necessarily mean that there is more data
        # in the result set". moto leaves it out when nothing follows.
        f"{DOCS}/developerguide/Query.Pagination.html",
        limit_on_last_item,
    ),
    KnownDifference(
        "nested REMOVE on an item the update creates",
        # DynamoDB refuses REMOVE a.b or a[0] when a is missing, but ignores it when the whole
        # item is missing (as DynamoDB answers, recorded by ScyllaDB's Alternator tests
        # test_nested_attribute_update_bad_path_dot and test_nested_attribute_remove_from_missing_item).
        f"{DOCS}/developerguide/Expressions.UpdateExpressions.html#Expressions.UpdateExpressions.REMOVE",
        nested_remove_on_absent_item,
    ),
    KnownDifference(
        PARTIAL_WRITE,
        # Both answer an error, but moto kept part of the update (ADD #ss applied before ADD #s
        # of a list failed). A refused request changes nothing on AWS. Told apart by reading
        # the written keys after every write (see the test), not by a matcher.
        f"{DOCS}/APIReference/API_UpdateItem.html",
        lambda case: False,
    ),
    KnownDifference(
        "more than 38 significant digits stored",
        # "Numbers can have up to 38 digits of precision ... Exceeding these limits causes an
        # exception": moto stores the rounded or overflowing result of an ADD or SET arithmetic.
        f"{DOCS}/developerguide/HowItWorks.NamingRulesDataTypes.html",
        imprecise_number_stored,
    ),
    KnownDifference(
        "float arithmetic",
        # "Numbers can have up to 38 digits of precision": moto's ADD and SET + / - compute in
        # binary floating point (75973332645686022190596436787416945309 + 100 came back
        # 75973332645686022190596436790000000000) and store sums DynamoDB refuses.
        f"{DOCS}/developerguide/HowItWorks.NamingRulesDataTypes.html",
        float_arithmetic,
    ),
    KnownDifference(
        "overlapping projection paths",
        # A ProjectionExpression naming a path and its parent (#m, #m.#k) is refused like an
        # update's ("Invalid ProjectionExpression: Two document paths overlap with each
        # other"); moto answers.
        f"{DOCS}/developerguide/Expressions.ProjectionExpressions.html",
        projection_overlap,
    ),
    KnownDifference(
        "an update in a transaction that cannot apply",
        # "DynamoDB cancels a TransactWriteItems request ... [when] a similar validation error
        # occurs because of changes made by the transaction" (TransactionCanceledException);
        # moto answers ValidationException for the whole request.
        f"{DOCS}/APIReference/API_TransactWriteItems.html",
        transaction_validation,
    ),
]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    moto.stop()


def dynamodb(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


# --- normalising answers ----------------------------------------------------------------------


def canon(value: Any) -> Any:
    """An attribute value in a comparable, hashable form: sets as sorted tuples."""
    ((kind, inner),) = value.items()
    if kind in ("SS", "NS", "BS"):
        return (kind, tuple(sorted(inner)))
    if kind == "M":
        return ("M", canon_item(inner))
    if kind == "L":
        return ("L", tuple(canon(v) for v in inner))
    return (kind, inner)


def canon_item(item: dict[str, Any] | None) -> Any:
    if item is None:
        return None
    return tuple(sorted((k, canon(v)) for k, v in item.items()))


def multiset(items: list[dict[str, Any]]) -> Counter[Any]:
    return Counter(canon_item(i) for i in items)


def sort_value(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        return Decimal(inner)
    return inner.encode() if kind == "S" else inner


def in_order(items: list[dict[str, Any]], key: str, forward: bool) -> bool:
    values = [sort_value(i[key]) for i in items if key in i]
    return values == sorted(values, reverse=not forward)


def plain_number(text: str) -> str:
    """DynamoDB's text of a number, written here independently of Stratus: no exponent, no
    leading or trailing zeros ("Leading and trailing zeroes are trimmed", AWS's Naming Rules
    and Data Types page, Number)."""
    number = Decimal(text)
    if number == 0:
        return "0"
    return format(number.normalize(Context(prec=50)), "f")


def canonical_numbers(answer: Any) -> Any:
    """`answer` with each N and NS member's text made plain_number."""
    if isinstance(answer, list):
        return [canonical_numbers(v) for v in answer]
    if not isinstance(answer, dict):
        return answer
    if len(answer) == 1 and isinstance(answer.get("N"), str):
        return {"N": plain_number(answer["N"])}
    if len(answer) == 1 and isinstance(answer.get("NS"), list):
        return {"NS": [plain_number(n) for n in answer["NS"]]}
    return {k: canonical_numbers(v) for k, v in answer.items()}


@dataclass(frozen=True)
class Side:
    """One implementation's client; `reference` marks moto's, whose answers get the known
    differences' normalisation."""

    client: Any
    reference: bool = False


def call(side: Side, method: str, params: Params) -> dict[str, Any]:
    try:
        answer = dict(getattr(side.client, method)(**params))
        # KNOWN_MOTO_DIFFERENCES "numbers as sent": moto keeps a number's text as sent.
        return canonical_numbers(answer) if side.reference else answer
    except ClientError as e:
        answer: dict[str, Any] = {"error": e.response["Error"]["Code"]}
        if "CancellationReasons" in e.response:
            answer["reasons"] = [r.get("Code") for r in e.response["CancellationReasons"]]
        answer["message"] = e.response["Error"].get("Message", "")
        return answer


def outcome(side: Side, method: str, params: Params) -> Any:
    """What of the answer to (method, params) is compared; reads page to the end."""
    if method in ("query", "scan"):
        return read_all(side, method, params)
    answer = call(side, method, params)
    if "error" in answer:
        return {k: v for k, v in answer.items() if k != "message"}
    if method == "get_item":
        return {"Item": canon_item(answer.get("Item"))}
    if method in ("put_item", "update_item", "delete_item"):
        return {"Attributes": canon_item(answer.get("Attributes"))}
    if method == "batch_get_item":
        return {
            "Responses": {t: multiset(items) for t, items in answer.get("Responses", {}).items()},
            "UnprocessedKeys": answer.get("UnprocessedKeys", {}),
        }
    if method == "batch_write_item":
        return {"UnprocessedItems": answer.get("UnprocessedItems", {})}
    return {}


def read_all(side: Side, method: str, params: Params) -> Any:
    pages: list[Any] = []
    items: list[dict[str, Any]] = []
    count = scanned = 0
    request = dict(params)
    for _ in range(60):
        answer = call(side, method, request)
        if "error" in answer:
            return {"error": answer["error"], "pages": pages}
        page_items = answer.get("Items", [])
        items += page_items
        count += answer["Count"]
        scanned += answer["ScannedCount"]
        last = answer.get("LastEvaluatedKey")
        pages.append(
            (
                tuple(canon_item(i) for i in page_items),
                answer["Count"],
                answer["ScannedCount"],
                canon_item(last),
            )
        )
        if not last:
            break
        request["ExclusiveStartKey"] = last
    if method == "query" and "IndexName" not in params:
        # A table's query has one defined order: compare every page as it came.
        return {"pages": pages}
    ordered = True
    if method == "query":
        key = "gsk" if params["IndexName"] == "by_g" else "lsk"
        ordered = in_order(items, key, params.get("ScanIndexForward", True))
    return {"items": multiset(items), "Count": count, "ScannedCount": scanned, "ordered": ordered}


# --- keeping moto in step after a known difference ------------------------------------------------


def touched_keys(method: str, params: Params) -> list[tuple[str, dict[str, Any]]]:
    if method in ("put_item",):
        return [(params["TableName"], params["Item"])]
    if method in ("update_item", "delete_item"):
        return [(params["TableName"], params["Key"])]
    if method == "batch_write_item":
        out = []
        for table, requests in params["RequestItems"].items():
            for r in requests:
                out.append(
                    (table, r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"])
                )
        return out
    if method == "transact_write_items":
        out = []
        for action in params["TransactItems"]:
            ((_, body),) = action.items()
            out.append((body["TableName"], body.get("Item") or body["Key"]))
        return out
    return []


def key_of(schema: Schema, table: str, item: dict[str, Any]) -> dict[str, Any]:
    names = ["id"] if table == schema.single else ["pk", "sk"]
    return {n: item[n] for n in names}


def stored(side: Side, keys: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """The items at `keys` as `side` has them now (compared form)."""
    return [
        canon_item(call(side, "get_item", {"TableName": t, "Key": k, "ConsistentRead": True}).get("Item"))
        for t, k in keys
    ]


def copy_to_moto(stratus: Side, moto: Side, schema: Schema, method: str, params: Params) -> None:
    for table, item in touched_keys(method, params):
        key = key_of(schema, table, item)
        current = stratus.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if current is None:
            moto.client.delete_item(TableName=table, Key=key)
        else:
            moto.client.put_item(TableName=table, Item=current)


# --- the test -------------------------------------------------------------------------------------


def known(case: Case) -> KnownDifference | None:
    for difference in KNOWN_MOTO_DIFFERENCES:
        if difference.matches(case):
            return difference
    return None


def describe(index: int, op: Op, mine: Any, theirs: Any) -> str:
    method, params = op
    return f"operation {index}: {method}({params!r})\n  stratus: {mine!r}\n  moto:    {theirs!r}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("seed", "id_type", "pk_type", "sk_type"), SEEDS)
def test_random_operations_agree_with_moto(
    server: Server, moto_endpoint: str, seed: int, id_type: str, pk_type: str, sk_type: str
) -> None:
    from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY

    stratus = Side(dynamodb(server.endpoint, ACCESS_KEY, SECRET_KEY))
    moto = Side(dynamodb(moto_endpoint, "testing", "testing"), reference=True)
    schema = Schema(f"diff-{seed}-single", f"diff-{seed}-ranged", id_type, pk_type, sk_type)
    for request in schema.create_requests():
        stratus.client.create_table(**request)
        moto.client.create_table(**request)
    generator = Generator(seed, schema)
    disagreements: list[str] = []
    seen_known: Counter[str] = Counter()
    for index in range(OPERATIONS):
        op = generator.operation()
        method, params = op
        written = [(t, key_of(schema, t, item)) for t, item in touched_keys(method, params)]
        before = stored(stratus, written)
        mine = outcome(stratus, method, params)
        theirs = outcome(moto, method, params)
        if mine == theirs:
            if not written:
                continue
            # The answers agree; so must the items written (and a refused write changes nothing).
            after, theirs_after = stored(stratus, written), stored(moto, written)
            if error_of(mine) and after != before:
                disagreements.append(describe(index, op, ("changed on error", before, after), theirs))
            if theirs_after == after:
                continue
            if error_of(mine) and theirs_after != before:
                seen_known[PARTIAL_WRITE] += 1
            else:
                disagreements.append(describe(index, op, ("stored", after), ("stored", theirs_after)))
            copy_to_moto(stratus, moto, schema, method, params)
            continue
        difference = known(Case(method, params, mine, theirs, moto.client))
        if difference is None:
            disagreements.append(describe(index, op, mine, theirs))
        else:
            seen_known[difference.name] += 1
        copy_to_moto(stratus, moto, schema, method, params)
    for table in (schema.single, schema.ranged):
        whole = [outcome(c, "scan", {"TableName": table}) for c in (stratus, moto)]
        if whole[0] != whole[1]:
            disagreements.append(describe(OPERATIONS, ("scan", {"TableName": table}), *whole))
    assert not disagreements, f"{len(disagreements)} disagreements with moto:\n" + "\n".join(
        disagreements[:15]
    )
