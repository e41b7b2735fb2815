"""The salt that turns user principal names into pseudonyms.

A salted SHA-256 of the lower-cased UPN lets the two Microsoft 365 files (user export and
usage report) join on the user without the warehouse holding who the user is. The salt is
random per installation and kept in ``$MOATMETRICS_HOME/secrets/``, never beside the data
(warehouse, snapshots, upload archive); without it the hashes cannot be recomputed from a
list of guessed addresses.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SALT_FILE = "pseudonym.salt"


def pseudonym_salt(home: Path) -> str:
    """The installation's salt, created (owner-readable only) on first use."""
    folder = home / "secrets"
    path = folder / SALT_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    salt = secrets.token_hex(32)
    tmp = path.with_name(f".{SALT_FILE}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(salt)
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's salt
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip()
