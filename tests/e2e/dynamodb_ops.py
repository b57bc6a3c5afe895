"""Random DynamoDB operations for the differential test (test_dynamodb_differential.py): a
seeded generator of boto3 low-level requests over two tables (a hash-only one and a hash+range
one with an LSI and a GSI), made so that requests collide on few keys and attributes and so
that conditions, updates and reads meet every type DynamoDB has.

An operation is `(method, params)`: the boto3 client method's name and its keyword arguments,
the same for both implementations. Nothing here talks to a server."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

Params = dict[str, Any]
Op = tuple[str, Params]

KEY_POOLS: dict[str, list[Any]] = {
    "S": ["a", "ab", "abc", "b", "ba", "\u00e9", "z"],
    # 1E+1 and 10 are one key: DynamoDB keys by the number, not its text.
    "N": ["-10", "-1.5", "0", "1", "2", "1E+1", "10", "12345678901234567890123456789012345678"],
    "B": [b"\x00", b"\x01", b"\x01\x02", b"a", b"ab", b"\xff"],
}
GSI_HASHES = ["g1", "g2", "g3"]


@dataclass(frozen=True)
class Schema:
    """One seed's tables: `single` keyed by `id`, `ranged` by `pk` and `sk`, with the LSI
    `by_lsk` (pk, lsk N) and the GSI `by_g` (gpk S, gsk N, projecting INCLUDE n and s)."""

    single: str
    ranged: str
    id_type: str
    pk_type: str
    sk_type: str

    def create_requests(self) -> list[Params]:
        def attr(name: str, kind: str) -> dict[str, str]:
            return {"AttributeName": name, "AttributeType": kind}

        return [
            {
                "TableName": self.single,
                "AttributeDefinitions": [attr("id", self.id_type)],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
            {
                "TableName": self.ranged,
                "AttributeDefinitions": [
                    attr("pk", self.pk_type),
                    attr("sk", self.sk_type),
                    attr("lsk", "N"),
                    attr("gpk", "S"),
                    attr("gsk", "N"),
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "LocalSecondaryIndexes": [
                    {
                        "IndexName": "by_lsk",
                        "KeySchema": [
                            {"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "lsk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "by_g",
                        "KeySchema": [
                            {"AttributeName": "gpk", "KeyType": "HASH"},
                            {"AttributeName": "gsk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n", "s"]},
                    }
                ],
                "BillingMode": "PAY_PER_REQUEST",
            },
        ]


class Expr:
    """One request's expression placeholders: every attribute name goes through `#name`
    (no reserved-word surprises), every value gets its own `:vN`."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        self.names["#" + attribute] = attribute
        return "#" + attribute

    def value(self, value: Any) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = value
        return key

    def params(self, **expressions: str | None) -> Params:
        out: Params = {k: v for k, v in expressions.items() if v}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


class Generator:
    def __init__(self, seed: int, schema: Schema) -> None:
        self.rng = random.Random(seed)
        self.schema = schema

    # --- values -----------------------------------------------------------------------------

    def number(self) -> str:
        r = self.rng
        return r.choice(
            [
                lambda: str(r.randint(-100, 100)),
                lambda: f"{r.randint(-999, 999)}.{r.randint(0, 99):02d}",  # "1.50" comes back "1.5"
                lambda: ("-" if r.random() < 0.3 else "") + str(r.randint(10**37, 10**38 - 1)),
                lambda: f"{r.randint(1, 99)}E{r.randint(-30, 30)}",
                lambda: r.choice(["007", "-0.000", "0.5", "1e3", "-1E-130", "9.9E125", "100.00"]),
            ]
        )()

    def string(self) -> str:
        return self.rng.choice(["", "x", "ab", "abc", "hello", "\u00e9t\u00e9", "z"])

    def binary(self) -> bytes:
        return self.rng.choice([b"", b"\x00\xff", b"ab", b"a", b"\x01"])

    def number_set(self) -> list[str]:
        return sorted(
            {self.rng.choice(["1", "2", "3", "-4.5", "1E+2", "0.25"]) for _ in range(self.rng.randint(1, 3))}
        )

    def string_set(self) -> list[str]:
        return sorted(
            {self.rng.choice(["a", "b", "c", "ab", "\u00e9"]) for _ in range(self.rng.randint(1, 3))}
        )

    def binary_set(self) -> list[bytes]:
        return sorted(
            {self.rng.choice([b"a", b"b", b"\x00", b"\xff\x01"]) for _ in range(self.rng.randint(1, 3))}
        )

    def scalar(self) -> dict[str, Any]:
        kind = self.rng.choice("NNSSB")
        if kind == "N":
            return {"N": self.number()}
        if kind == "S":
            return {"S": self.string()}
        return {"B": self.binary()}

    def any_value(self, depth: int = 0) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.45 or depth >= 2:
            return (
                self.scalar()
                if self.rng.random() < 0.85
                else self.rng.choice([{"NULL": True}, {"BOOL": True}, {"BOOL": False}])
            )
        if roll < 0.6:
            return self.rng.choice(
                [{"SS": self.string_set()}, {"NS": self.number_set()}, {"BS": self.binary_set()}]
            )
        if roll < 0.8:
            return {"L": [self.any_value(depth + 1) for _ in range(self.rng.randint(0, 3))]}
        return {
            "M": {
                k: self.any_value(depth + 1)
                for k in self.rng.sample(["k", "j", "deep"], self.rng.randint(0, 3))
            }
        }

    # --- keys and items ---------------------------------------------------------------------

    def key_value(self, kind: str) -> dict[str, Any]:
        return {kind: self.rng.choice(KEY_POOLS[kind])}

    def key(self, table: str) -> dict[str, Any]:
        s = self.schema
        if table == s.single:
            return {"id": self.key_value(s.id_type)}
        return {"pk": self.key_value(s.pk_type), "sk": self.key_value(s.sk_type)}

    def table(self) -> str:
        return self.rng.choice([self.schema.single, self.schema.ranged, self.schema.ranged])

    def item(self, table: str) -> dict[str, Any]:
        item = self.key(table)
        makers = {
            "n": lambda: {"N": self.number()},
            "s": lambda: {"S": self.string()},
            "b": lambda: {"B": self.binary()},
            "a": self.any_value,
            "l": lambda: {"L": [self.any_value(1) for _ in range(self.rng.randint(0, 3))]},
            "m": lambda: {"M": {"k": self.any_value(1), "j": {"N": self.number()}}},
            "ss": lambda: {"SS": self.string_set()},
            "ns": lambda: {"NS": self.number_set()},
            "bs": lambda: {"BS": self.binary_set()},
        }
        if table == self.schema.ranged:
            makers["lsk"] = lambda: {"N": self.rng.choice(["1", "2", "3", "2.0"])}
            makers["gpk"] = lambda: {"S": self.rng.choice(GSI_HASHES)}
            makers["gsk"] = lambda: {"N": self.rng.choice(["1", "2", "3", "-1"])}
        for name in self.rng.sample(sorted(makers), self.rng.randint(0, len(makers))):
            item[name] = makers[name]()
        return item

    # --- expressions ------------------------------------------------------------------------

    def path(self, e: Expr) -> str:
        """A document path, sometimes nested into the map or list attributes."""
        roll = self.rng.random()
        if roll < 0.15:
            return f"{e.name('m')}.{e.name(self.rng.choice(['k', 'j']))}"
        if roll < 0.25:
            return f"{e.name('l')}[{self.rng.randint(0, 2)}]"
        return e.name(self.rng.choice(["n", "s", "b", "a", "l", "m", "ss", "ns", "bs", "lsk", "gsk"]))

    def condition(self, e: Expr, depth: int = 0) -> str:
        r = self.rng
        roll = r.random()
        if depth < 2 and roll < 0.2:
            op = r.choice(["AND", "OR"])
            return f"({self.condition(e, depth + 1)}) {op} ({self.condition(e, depth + 1)})"
        if depth < 2 and roll < 0.25:
            return f"NOT {self.condition(e, depth + 1)}"
        choice = r.randrange(10)
        if choice == 0:
            return f"attribute_exists({self.path(e)})"
        if choice == 1:
            return f"attribute_not_exists({self.path(e)})"
        if choice == 2:
            return f"{self.path(e)} {r.choice(['=', '<>', '<', '<=', '>', '>='])} {e.value(self.scalar())}"
        if choice == 3:
            low, high = sorted([self.number(), self.number()], key=float)
            return f"{e.name('n')} BETWEEN {e.value({'N': low})} AND {e.value({'N': high})}"
        if choice == 4:
            prefix = r.choice([{"S": r.choice(["a", "h", ""])}, {"B": b"a"}])
            return f"begins_with({self.path(e)}, {e.value(prefix)})"
        if choice == 5:
            operand = r.choice([{"S": "a"}, {"N": "1"}, {"S": "ab"}, {"B": b"a"}])
            return f"contains({self.path(e)}, {e.value(operand)})"
        if choice == 6:
            return f"size({self.path(e)}) {r.choice(['=', '>', '<='])} {e.value({'N': str(r.randint(0, 3))})}"
        if choice == 7:
            kind = r.choice(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"])
            return f"attribute_type({self.path(e)}, {e.value({'S': kind})})"
        if choice == 8:
            options = ", ".join(e.value(self.scalar()) for _ in range(r.randint(1, 3)))
            return f"{self.path(e)} IN ({options})"
        return f"{e.name('n')} {r.choice(['<', '>='])} {e.name('gsk')}"

    def update(self, e: Expr) -> str:
        r = self.rng
        clauses: list[str] = []
        for clause in r.sample(["SET", "REMOVE", "ADD", "DELETE"], r.randint(1, 3)):
            actions: list[str] = []
            for _ in range(r.randint(1, 2)):
                actions.append(self.action(e, clause))
            clauses.append(f"{clause} " + ", ".join(actions))
        return " ".join(clauses)

    def action(self, e: Expr, clause: str) -> str:
        r = self.rng
        if clause == "SET":
            choice = r.randrange(8)
            if choice == 0:
                return f"{e.name('n')} = {e.name('n')} {r.choice('+-')} {e.value({'N': self.number()})}"
            if choice == 1:
                start, step = e.value({"N": "0"}), e.value({"N": self.number()})
                return f"{e.name('n')} = if_not_exists({e.name('n')}, {start}) + {step}"
            if choice == 2:
                items = e.value({"L": [self.any_value(1)]})
                if r.random() < 0.5:
                    empty = e.value({"L": []})
                    return f"{e.name('l')} = list_append(if_not_exists({e.name('l')}, {empty}), {items})"
                return f"{e.name('l')} = list_append({items}, {e.name('l')})"
            if choice == 3:
                return f"{self.path(e)} = {e.value(self.any_value())}"
            if choice == 4:
                return f"{e.name('m')}.{e.name(r.choice(['k', 'j', 'new']))} = {e.value(self.scalar())}"
            if choice == 5:
                return f"{e.name('gsk')} = {e.value({'N': r.choice(['1', '2', '3'])})}"
            if choice == 6:
                return f"{e.name('s')} = if_not_exists({e.name('s')}, {e.value({'S': self.string()})})"
            return f"{e.name('a')} = {e.name(r.choice(['n', 's', 'm']))}"
        if clause == "REMOVE":
            return self.path(e)
        if clause == "ADD":
            choice = r.randrange(4)
            if choice == 0:
                return f"{e.name('n')} {e.value({'N': self.number()})}"
            if choice == 1:
                return f"{e.name('ss')} {e.value({'SS': self.string_set()})}"
            if choice == 2:
                return f"{e.name('ns')} {e.value({'NS': self.number_set()})}"
            return f"{e.name(r.choice(['a', 's', 'bs']))} {e.value(self.any_value())}"
        choice = r.randrange(3)
        if choice == 0:
            return f"{e.name('ss')} {e.value({'SS': self.string_set()})}"
        if choice == 1:
            return f"{e.name('ns')} {e.value({'NS': self.number_set()})}"
        return f"{e.name('bs')} {e.value({'BS': self.binary_set()})}"

    def projection(self, e: Expr) -> str:
        paths = {self.path(e) for _ in range(self.rng.randint(1, 3))}
        if self.rng.random() < 0.5:
            paths.add(e.name("pk") if self.rng.random() < 0.5 else e.name("id"))
        return ", ".join(sorted(paths))

    # --- operations -------------------------------------------------------------------------

    def operation(self) -> Op:
        roll = self.rng.random()
        for limit, make in [
            (0.20, self.put),
            (0.42, self.update_item),
            (0.50, self.delete),
            (0.60, self.get),
            (0.75, self.query),
            (0.81, self.scan),
            (0.86, self.batch_write),
            (0.91, self.batch_get),
        ]:
            if roll < limit:
                return make()
        return self.transact()

    def maybe_condition(self, e: Expr, chance: float = 0.5) -> str | None:
        return self.condition(e) if self.rng.random() < chance else None

    def put(self) -> Op:
        table = self.table()
        e = Expr()
        condition = self.maybe_condition(e)
        params = {"TableName": table, "Item": self.item(table), **e.params(ConditionExpression=condition)}
        params["ReturnValues"] = self.rng.choice(["NONE", "ALL_OLD"])
        return "put_item", params

    def update_item(self) -> Op:
        table = self.table()
        e = Expr()
        update = self.update(e)
        condition = self.maybe_condition(e, 0.4)
        params = {
            "TableName": table,
            "Key": self.key(table),
            **e.params(UpdateExpression=update, ConditionExpression=condition),
        }
        params["ReturnValues"] = self.rng.choice(["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"])
        return "update_item", params

    def delete(self) -> Op:
        table = self.table()
        e = Expr()
        condition = self.maybe_condition(e)
        params = {"TableName": table, "Key": self.key(table), **e.params(ConditionExpression=condition)}
        params["ReturnValues"] = self.rng.choice(["NONE", "ALL_OLD"])
        return "delete_item", params

    def get(self) -> Op:
        table = self.table()
        e = Expr()
        projection = self.projection(e) if self.rng.random() < 0.4 else None
        params = {"TableName": table, "Key": self.key(table), **e.params(ProjectionExpression=projection)}
        params["ConsistentRead"] = self.rng.random() < 0.5
        return "get_item", params

    def query(self) -> Op:
        r = self.rng
        s = self.schema
        e = Expr()
        index = r.choice([None, None, "by_lsk", "by_g"])
        if index == "by_g":
            hash_cond = f"{e.name('gpk')} = {e.value({'S': r.choice(GSI_HASHES)})}"
            range_name, range_type = "gsk", "N"
        else:
            hash_cond = f"{e.name('pk')} = {e.value(self.key_value(s.pk_type))}"
            range_name, range_type = ("lsk", "N") if index else ("sk", s.sk_type)
        key_condition = hash_cond
        roll = r.random()
        if roll < 0.6:
            op = r.choice(["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"])
            if op == "begins_with" and range_type == "N":
                op = "<="
            rng_name = e.name(range_name)
            if op == "BETWEEN":
                low, high = self.key_value(range_type), self.key_value(range_type)
                key_condition += f" AND {rng_name} BETWEEN {e.value(low)} AND {e.value(high)}"
            elif op == "begins_with":
                key_condition += f" AND begins_with({rng_name}, {e.value(self.key_value(range_type))})"
            else:
                key_condition += f" AND {rng_name} {op} {e.value(self.key_value(range_type))}"
        filter_expression = self.condition(e) if r.random() < 0.3 else None
        projection = self.projection(e) if index is None and r.random() < 0.2 else None
        params: Params = {
            "TableName": s.ranged,
            **e.params(
                KeyConditionExpression=key_condition,
                FilterExpression=filter_expression,
                ProjectionExpression=projection,
            ),
        }
        if index:
            params["IndexName"] = index
        params["ScanIndexForward"] = r.random() < 0.5
        if r.random() < 0.5:
            params["Limit"] = r.randint(1, 4)
        if r.random() < 0.1 and projection is None:
            params["Select"] = "COUNT"
        return "query", params

    def scan(self) -> Op:
        e = Expr()
        filter_expression = self.condition(e) if self.rng.random() < 0.7 else None
        params: Params = {"TableName": self.table(), **e.params(FilterExpression=filter_expression)}
        if self.rng.random() < 0.4:
            params["Limit"] = self.rng.randint(1, 5)
        return "scan", params

    def distinct_keys(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        seen: dict[str, tuple[str, dict[str, Any]]] = {}
        for _ in range(count * 3):
            table = self.table()
            key = self.key(table)
            seen.setdefault(repr((table, sorted(key.items()))), (table, key))
        return list(seen.values())[:count]

    def batch_write(self) -> Op:
        requests: dict[str, list[Params]] = {}
        for table, key in self.distinct_keys(self.rng.randint(1, 6)):
            if self.rng.random() < 0.6:
                item = {**self.item(table), **key}
                requests.setdefault(table, []).append({"PutRequest": {"Item": item}})
            else:
                requests.setdefault(table, []).append({"DeleteRequest": {"Key": key}})
        return "batch_write_item", {"RequestItems": requests}

    def batch_get(self) -> Op:
        requests: dict[str, Params] = {}
        for table, key in self.distinct_keys(self.rng.randint(1, 6)):
            requests.setdefault(table, {"Keys": []})["Keys"].append(key)
        return "batch_get_item", {"RequestItems": requests}

    def transact(self) -> Op:
        actions: list[Params] = []
        for table, key in self.distinct_keys(self.rng.randint(1, 4)):
            e = Expr()
            kind = self.rng.choice(["Put", "Update", "Delete", "ConditionCheck"])
            if kind == "Put":
                body = {
                    "TableName": table,
                    "Item": {**self.item(table), **key},
                    **e.params(ConditionExpression=self.maybe_condition(e, 0.6)),
                }
            elif kind == "Update":
                update = self.update(e)
                body = {
                    "TableName": table,
                    "Key": key,
                    **e.params(UpdateExpression=update, ConditionExpression=self.maybe_condition(e, 0.6)),
                }
            elif kind == "Delete":
                body = {
                    "TableName": table,
                    "Key": key,
                    **e.params(ConditionExpression=self.maybe_condition(e, 0.6)),
                }
            else:
                body = {"TableName": table, "Key": key, **e.params(ConditionExpression=self.condition(e))}
            actions.append({kind: body})
        return "transact_write_items", {"TransactItems": actions}
