"""Lambda layers: the owner of layer versions (the only writer), in memory and in the store.

A version's content lives in the code store like any package, by its SHA-256. A function keeps
the content keys of the layers it was configured with, so deleting a layer version, as on
Lambda, does not break the functions that use it.

Each region is its own namespace of layers, as on Lambda: the same name in two regions is two
layers, numbered from 1 each. A layer's document is keyed `REGION:NAME` (names cannot hold ':').
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from stratus.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from stratus.store.sqlite import Store

KIND = "layer"
NAME = re.compile(r"^[a-zA-Z0-9-_]{1,140}$")
VERSION_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):(\d+)$")


@dataclass(frozen=True)
class LayerVersion:
    name: str
    version: int
    code_key: str  # hex SHA-256 in the code store
    code_sha256: str  # base64, as Lambda reports it
    code_size: int
    created: str
    region: str
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None
    policy: tuple[dict[str, Any], ...] = ()

    def replace(self, **changes: Any) -> LayerVersion:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Layer:
    region: str
    name: str
    last_version: int = 0
    versions: dict[int, LayerVersion] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.region}:{self.name}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "region": self.region,
                "name": self.name,
                "last_version": self.last_version,
                "versions": [dataclasses.asdict(v) for v in self.versions.values()],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Layer:
        data = json.loads(text)
        versions = {}
        for v in data["versions"]:
            v["compatible_runtimes"] = tuple(v["compatible_runtimes"])
            v["compatible_architectures"] = tuple(v["compatible_architectures"])
            v["policy"] = tuple(v["policy"])
            versions[int(v["version"])] = LayerVersion(**v)
        return cls(data.get("region", ""), data["name"], data["last_version"], versions)


def split_by_region(legacy: Layer) -> list[Layer]:
    """A layer kept when layers were one namespace across regions, as one layer per region its
    versions were published in. Version numbers stay what they were (functions hold their
    ARNs); each region's layer continues from its own highest number. Pure."""
    regions = sorted({v.region for v in legacy.versions.values()})
    return [
        Layer(
            region,
            legacy.name,
            max(n for n, v in legacy.versions.items() if v.region == region),
            {n: v for n, v in legacy.versions.items() if v.region == region},
        )
        for region in regions
    ]


class Layers:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._layers: dict[tuple[str, str], Layer] = {}
        for key, text in store.load_documents(KIND).items():
            layer = Layer.from_json(text)
            if ":" in key:
                self._layers[(layer.region, layer.name)] = layer
                continue
            # A layer from before regions were namespaces: stored again per region, then the
            # old document goes (a crash in between repeats this at the next start).
            for regional in split_by_region(layer):
                self._commit(regional)
            store.delete_document(KIND, key)

    def names(self, region: str) -> list[str]:
        return sorted(name for (r, name), layer in self._layers.items() if r == region and layer.versions)

    def versions(self, region: str, name: str) -> list[LayerVersion]:
        layer = self._layers.get((region, name))
        return sorted(layer.versions.values(), key=lambda v: -v.version) if layer else []

    def get(self, region: str, name: str, version: int) -> LayerVersion:
        layer = self._layers.get((region, name))
        found = layer.versions.get(version) if layer else None
        if found is None:
            raise ResourceNotFound("The resource you requested does not exist.")
        return found

    def by_arn(self, arn: str) -> LayerVersion:
        """The layer version an ARN names, in the ARN's region."""
        match = VERSION_ARN.match(arn)
        if match is None:
            raise InvalidParameterValue(f"Invalid layer version ARN: {arn}")
        return self.get(match.group(1), match.group(3), int(match.group(4)))

    def publish(self, draft: LayerVersion) -> LayerVersion:
        """Store `draft` as the next version of its layer in its region (its number is assigned
        here)."""
        if not NAME.match(draft.name):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{draft.name}' at 'layerName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
            )
        layer = self._layers.get((draft.region, draft.name)) or Layer(draft.region, draft.name)
        published = draft.replace(version=layer.last_version + 1)
        versions = {**layer.versions, published.version: published}
        self._commit(Layer(layer.region, layer.name, published.version, versions))
        return published

    def delete(self, region: str, name: str, version: int) -> None:
        layer = self._layers.get((region, name))
        if layer is None or version not in layer.versions:
            return  # DeleteLayerVersion is idempotent
        kept = {k: v for k, v in layer.versions.items() if k != version}
        self._commit(Layer(layer.region, layer.name, layer.last_version, kept))

    def set_policy(
        self, region: str, name: str, version: int, statements: tuple[dict[str, Any], ...]
    ) -> None:
        found = self.get(region, name, version)
        layer = self._layers[(region, name)]
        changed = {**layer.versions, version: found.replace(policy=statements)}
        self._commit(Layer(layer.region, layer.name, layer.last_version, changed))

    def add_statement(self, region: str, name: str, version: int, statement: dict[str, Any]) -> None:
        found = self.get(region, name, version)
        if any(s["Sid"] == statement["Sid"] for s in found.policy):
            raise ResourceConflict(
                f"The statement id ({statement['Sid']}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        self.set_policy(region, name, version, (*found.policy, statement))

    def _commit(self, layer: Layer) -> None:
        self._store.put_document(KIND, layer.key, layer.to_json())
        self._layers[(layer.region, layer.name)] = layer
