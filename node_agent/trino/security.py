"""The files Trino's file-based security reads, as the render writes them: the access rules (only
the agent's management user may write system information, i.e. drain a node) and the password
file with a line for that user."""

from __future__ import annotations

import hashlib
import hmac
import json

from node_agent.contract import MANAGEMENT_USER


class PasswordFileError(ValueError):
    """The users' password file cannot take the management user's line."""


def access_rules() -> str:
    """File access control: only the agent's user may write system information (drain a node).

    Sections without rules (catalogs, schemas, tables, queries) stay open, so ordinary users query
    as before; system_information with rules denies whoever no rule matches, so everyone else
    gets read only.
    """
    rules = {
        "system_information": [
            {"user": MANAGEMENT_USER, "allow": ["read", "write"]},  # letters and "-": literal as a regex
            {"allow": ["read"]},
        ]
    }
    return json.dumps(rules, indent=2, sort_keys=True) + "\n"


_BCRYPT_ALPHABET = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def password_file_with_agent(user_file: str, management_password: str, salt_key: str) -> str:
    """The users' password file plus a bcrypt line for the management user.

    The salt is derived from the shared secret (HMAC), not random, so the same inputs render the
    same bytes and bootstrap stays idempotent; it is still unique per cluster and per password.
    """
    import bcrypt  # imported here: only TLS coordinators need it

    lines = []
    for line in user_file.splitlines():
        if line.strip() and line.split(":", 1)[0] == MANAGEMENT_USER:
            raise PasswordFileError(
                f"the password file already has a line for {MANAGEMENT_USER!r}; remove it, the agent's "
                "password comes from tls.management_password_secret_arn"
            )
        if line.strip():
            lines.append(line.strip())
    digest = hmac.new(salt_key.encode(), management_password.encode(), hashlib.sha256).digest()
    salt = bytes(_BCRYPT_ALPHABET[b & 63] for b in digest[:21])
    salt += bytes([_BCRYPT_ALPHABET[(digest[21] & 3) << 4]])  # the 22nd character carries 2 bits
    hashed = bcrypt.hashpw(management_password.encode(), b"$2b$10$" + salt).decode()
    lines.append(f"{MANAGEMENT_USER}:$2y{hashed[3:]}")  # Trino reads bcrypt as $2y$ only
    return "\n".join(lines) + "\n"
