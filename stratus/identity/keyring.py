"""Who holds an access key, and its secret: the root pair from the config, an IAM user's key
from the directory, or an STS session (its token opened by `sessions`).

The gateway's signature check asks this for the secret to verify with; what it returns with
the secret (the caller) is what policies are evaluated for."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from stratus.config import Credentials
from stratus.errors import UnrecognizedClient
from stratus.identity.directory import Directory
from stratus.identity.evaluate import Principal
from stratus.identity.iam_entities import User
from stratus.identity.sessions import ACCESS_KEY_PREFIX, Session, Sessions

INVALID = "The security token included in the request is invalid."
MAX_OPENED = 4096


@dataclass(frozen=True)
class Caller:
    """The signer of a request, as policies see it."""

    principal: Principal
    access_key_id: str
    # aws:userid: the account for root, AIDA... for a user, AROA...:SESSION for a role session.
    user_id: str
    # The IAM user whose policies apply (a user's key or its GetSessionToken session), if any.
    user_name: str | None = None
    # The role whose policies apply (an assumed-role session), by name.
    role_name: str | None = None
    session: Session | None = None

    @property
    def is_root(self) -> bool:
        return self.principal.kind == "root"


def root_caller(account_id: str, access_key_id: str = "") -> Caller:
    return Caller(Principal(f"arn:aws:iam::{account_id}:root", "root", account_id), access_key_id, account_id)


class Keyring:
    """Contract: `resolve` answers the secret and the caller of an access key (and, for a
    session, its token), or raises UnrecognizedClient / ExpiredToken as AWS does. It reads the
    directory (the owner of users, keys and roles) and never writes."""

    def __init__(
        self,
        root: Credentials,
        account_id: str,
        directory: Directory,
        sessions: Sessions,
        *,
        strict: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._root = root
        self._root_caller = root_caller(account_id, root.access_key_id)
        self.account_id = account_id
        self._directory = directory
        self.sessions = sessions
        self._clock = clock
        # Tokens already opened (their seal checked, their claims decoded), with their secret
        # and caller, at the directory revision that caller was found at: a session signs many
        # requests, and opening one costs two HMACs and a JSON decode. Any IAM change (a role
        # deleted, say) makes the next request open its token again; expiry is checked always.
        self._opened: dict[tuple[str, str], tuple[Session, str, Caller, int]] = {}
        # STRATUS_IAM=off: a role session stays valid when its role does not exist (functions'
        # roles need not), since no policy is evaluated anyway.
        self._strict = strict

    def resolve(self, access_key_id: str, session_token: str | None) -> tuple[str, Caller]:
        if access_key_id == self._root.access_key_id:
            return self._root.secret_access_key, self._root_caller
        if access_key_id.startswith(ACCESS_KEY_PREFIX):
            now = self._clock()
            slot = (access_key_id, session_token or "")
            opened = self._opened.get(slot)
            if opened is not None and now >= opened[0].expires:
                del self._opened[slot]
                opened = None
            if opened is None or opened[3] != self._directory.revision:
                # First use, or IAM changed since: open (or re-check) the token and its holder.
                session = self.sessions.open(access_key_id, session_token, now)
                caller = self._session_caller(session)
                opened = (session, self.sessions.secret(access_key_id), caller, self._directory.revision)
                if len(self._opened) >= MAX_OPENED:
                    self._opened.clear()
                self._opened[slot] = opened
            return opened[1], opened[2]
        key = self._directory.access_key(access_key_id)
        if key is None or key.status != "Active":
            raise UnrecognizedClient(INVALID)
        user = self._directory.user(key.user_name)
        if user is None:
            raise UnrecognizedClient(INVALID)
        return key.secret, self._user_caller(user, access_key_id)

    def _user_caller(self, user: User, access_key_id: str, session: Session | None = None) -> Caller:
        principal = Principal(user.arn, "user", self.account_id)
        return Caller(principal, access_key_id, user.user_id, user_name=user.name, session=session)

    def _session_caller(self, session: Session) -> Caller:
        if session.holder == "root":
            return Caller(
                self._root_caller.principal, session.access_key_id, self.account_id, session=session
            )
        if session.holder == "user":
            user = self._directory.user(session.subject_arn.rpartition("/")[2])
            if user is None or user.user_id != session.subject_id:
                raise UnrecognizedClient(INVALID)  # the user was deleted (or replaced)
            return self._user_caller(user, session.access_key_id, session)
        role = self._directory.role_by_arn(session.subject_arn)
        if role is not None and role.role_id == session.subject_id:
            role_arn, role_name, role_id = role.arn, role.name, role.role_id
        elif not self._strict:
            role_arn, role_name, role_id = (
                session.subject_arn,
                session.subject_arn.rpartition("/")[2],
                session.subject_id,
            )
        else:
            raise UnrecognizedClient(INVALID)  # the role was deleted (or replaced)
        principal = Principal(
            assumed_role_arn(self.account_id, role_name, session.session_name),
            "assumed-role",
            self.account_id,
            role_arn=role_arn,
        )
        return Caller(
            principal,
            session.access_key_id,
            f"{role_id}:{session.session_name}",
            role_name=role_name,
            session=session,
        )


def assumed_role_arn(account_id: str, role_name: str, session_name: str) -> str:
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"
