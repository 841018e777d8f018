"""The four roles a member can have, and what each may do."""

from __future__ import annotations

import re
from enum import StrEnum

from pushdeck.core.common.errors import ConfigError


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    SENDER = "sender"
    ADMIN = "admin"


#: What each role may do (each has the rights of the ones before it).
RIGHTS = {
    Role.VIEWER: "reads everything, changes nothing",
    Role.EDITOR: "devices, segments, drafts and campaigns; cannot approve or send",
    Role.SENDER: "also approves and sends campaigns",
    Role.ADMIN: "also members, apps and credentials",
}

#: Roles (and 'owner', the workspace's creator) allowed to approve and send.
SENDERS = frozenset({"sender", "admin", "owner"})
#: Allowed to manage members.
ADMINS = frozenset({"admin", "owner"})

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise ConfigError(
            f"Unknown role {text!r}.", hint=f"Use one of: {', '.join(r.value for r in Role)}."
        ) from None


def check_member_name(name: str) -> str:
    """A login name the database will take as is (lower case, no quoting surprises)."""
    if not _NAME.fullmatch(name) or name.startswith(("pg_", "pd_")):
        raise ConfigError(
            f"The member name {name!r} is not allowed.",
            hint="Use lower-case letters, digits and _ (at most 63, not starting with pg_ or pd_).",
        )
    return name
