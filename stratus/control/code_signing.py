"""Code signing configurations: which signing profiles a function's code must be signed by, and
what a deployment of code that is not gets (Enforce: refused; Warn: allowed).

Stratus has no counterpart of AWS Signer, so no package deployed here carries a signature: a
function whose configuration says Enforce takes no new code (CreateFunction and
UpdateFunctionCode answer CodeVerificationFailedException, as Lambda answers code that fails
the check), and one that says Warn deploys as on AWS. The records are the account's, one
document each in the metadata store, written before memory changes; which function uses which
is the registry's (`FunctionRecord.code_signing_config`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from stratus.errors import CodeSigningConfigNotFound, InvalidParameterValue
from stratus.store.sqlite import Store

KIND = "lambda.csc"
POLICIES = ("Warn", "Enforce")


@dataclass(frozen=True)
class SigningConfig:
    id: str  # csc- and 17 hex digits, as Lambda makes them
    region: str  # where it was created: its ARN's region
    signing_profiles: tuple[str, ...]  # AllowedPublishers.SigningProfileVersionArns
    untrusted_artifact: str  # CodeSigningPolicies.UntrustedArtifactOnDeployment
    description: str
    last_modified: str

    def arn(self, account: str) -> str:
        return f"arn:aws:lambda:{self.region}:{account}:code-signing-config:{self.id}"

    def shape(self, account: str) -> dict[str, object]:
        return {
            "CodeSigningConfigId": self.id,
            "CodeSigningConfigArn": self.arn(account),
            "Description": self.description,
            "AllowedPublishers": {"SigningProfileVersionArns": list(self.signing_profiles)},
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": self.untrusted_artifact},
            "LastModified": self.last_modified,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _policy(value: str | None) -> str:
    policy = value or "Warn"
    if policy not in POLICIES:
        raise InvalidParameterValue(f"UntrustedArtifactOnDeployment must be one of {', '.join(POLICIES)}.")
    return policy


class SigningConfigs:
    """The one owner of the account's code signing configurations."""

    def __init__(self, store: Store, account_id: str) -> None:
        self._store = store
        self._account = account_id
        self._configs: dict[str, SigningConfig] = {}
        for text in store.load_documents(KIND).values():
            data = json.loads(text)
            data["signing_profiles"] = tuple(data["signing_profiles"])
            config = SigningConfig(**data)
            self._configs[config.id] = config

    def create(self, region: str, profiles: list[str], policy: str | None, description: str) -> SigningConfig:
        config = SigningConfig(
            id="csc-" + secrets.token_hex(9)[:17],
            region=region,
            signing_profiles=tuple(profiles),
            untrusted_artifact=_policy(policy),
            description=description,
            last_modified=_now(),
        )
        self._save(config)
        return config

    def get(self, ref: str, region: str) -> SigningConfig:
        """A configuration of `region` by its ARN (of this account) or its id: each region is
        its own namespace, as on Lambda, so one of another region is not found."""
        config = self._configs.get(ref.rsplit(":", 1)[-1])
        if (
            config is None
            or config.region != region
            or (ref.startswith("arn:") and ref != config.arn(self._account))
        ):
            raise CodeSigningConfigNotFound(
                "The code signing configuration cannot be found. Check that the provided "
                f"configuration is not deleted: {ref}."
            )
        return config

    def by_arn(self, arn: str) -> SigningConfig:
        """The configuration a stored ARN names (in the ARN's region)."""
        parts = arn.split(":")
        return self.get(arn, parts[3] if len(parts) > 3 else "")

    def all(self, region: str) -> list[SigningConfig]:
        return sorted((c for c in self._configs.values() if c.region == region), key=lambda c: c.id)

    def update(
        self, ref: str, region: str, profiles: list[str] | None, policy: str | None, description: str | None
    ) -> SigningConfig:
        config = self.get(ref, region)
        changed = replace(
            config,
            signing_profiles=tuple(profiles) if profiles is not None else config.signing_profiles,
            untrusted_artifact=_policy(policy) if policy is not None else config.untrusted_artifact,
            description=description if description is not None else config.description,
            last_modified=_now(),
        )
        self._save(changed)
        return changed

    def delete(self, ref: str, region: str) -> None:
        config = self.get(ref, region)
        self._store.delete_document(KIND, config.id)
        del self._configs[config.id]

    def _save(self, config: SigningConfig) -> None:
        data = asdict(config)
        data["signing_profiles"] = list(config.signing_profiles)
        self._store.put_document(KIND, config.id, json.dumps(data))
        self._configs[config.id] = config
