"""A worker's own credentials folder: the keyring's secrets as owner-only files.

A server that runs ``pushdeck worker`` has no desktop session and often no Secret
Service. With ``PUSHDECK_CREDENTIALS_DIR`` set, secrets are read from that folder instead
of the keyring (read only: Pushdeck never writes there by itself; ``pushdeck credentials
export-to-dir`` writes it on a machine whose keyring has the secrets).

One file per credential, named after the credential's keyring reference (the workspace's
id, the app, the provider: ``<workspace id>--<app>--<provider>.json``), holding exactly
the JSON the keyring holds. The folder must be the worker's own and closed to everyone
else (``chmod 700``), each file too (``chmod 600``), as OpenSSH insists for its keys:
anything looser is refused with the ``chmod`` to run, never read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import quote

from pushdeck.core.common.errors import CredentialError

CREDENTIALS_DIR_ENV = "PUSHDECK_CREDENTIALS_DIR"
SUFFIX = ".json"


def configured_folder() -> CredentialsFolder | None:
    """The folder ``PUSHDECK_CREDENTIALS_DIR`` names, or None when it is not set."""
    value = os.environ.get(CREDENTIALS_DIR_ENV, "").strip()
    return CredentialsFolder(Path(value).expanduser()) if value else None


def file_name(reference: str) -> str:
    """The file of a keyring reference ("<workspace id>/<app>/<provider>")."""
    return "--".join(quote(part, safe=" @+") for part in reference.split("/")) + SUFFIX


def _owner_problem(st: os.stat_result, what: str, path: Path) -> CredentialError | None:
    uid = os.geteuid()
    if st.st_uid != uid:
        return CredentialError(
            f"The credentials {what} {path} belongs to user id {st.st_uid}, not to this "
            f"worker's user (id {uid}); Pushdeck reads only its own credentials.",
            hint=f"Run: chown {uid} {path}",
        )
    return None


class CredentialsFolder:
    """Reads secrets from an owner-only folder (the keyring's ``SecretBackend`` shape)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, reference: str) -> Path:
        return self.root / file_name(reference)

    def check_folder(self) -> None:
        """Raise CredentialError unless the folder exists, is ours and closed to others."""
        try:
            st = self.root.stat()
        except FileNotFoundError:
            raise CredentialError(
                f"The credentials folder {self.root} ({CREDENTIALS_DIR_ENV}) does not exist.",
                hint="Create it with 'pushdeck credentials export-to-dir "
                f"{self.root}' on a machine whose keyring has the credentials.",
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise CredentialError(f"{CREDENTIALS_DIR_ENV}={self.root} is not a folder.")
        problem = _owner_problem(st, "folder", self.root)
        if problem:
            raise problem
        if st.st_mode & 0o077:
            raise CredentialError(
                f"The credentials folder {self.root} is open to group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); Pushdeck reads credentials only "
                "from a folder that only its owner can enter.",
                hint=f"Run: chmod 700 {self.root}",
            )

    def read(self, reference: str) -> str:
        """The secret's JSON text; CredentialError naming the file when it cannot be used."""
        self.check_folder()
        path = self.path_of(reference)
        try:
            # Follows a symlink (mounted secrets often are), then judges what it opened.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
        except FileNotFoundError:
            raise CredentialError(
                f"The credentials folder {self.root} has no file {path.name} "
                f"(the secret of {reference.split('/', 1)[-1]}).",
                hint="Write it with 'pushdeck credentials export-to-dir DIR' where the "
                "keyring has it, then copy it here (mode 600).",
            ) from None
        except OSError as exc:
            raise CredentialError(f"Cannot read {path}: {exc.strerror}.") from None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            shown = path if not path.is_symlink() else f"{path} (-> {os.path.realpath(path)})"
            if not stat.S_ISREG(st.st_mode):
                raise CredentialError(f"The credential {shown} is not a regular file.")
            problem = _owner_problem(st, "file", Path(os.path.realpath(path)))
            if problem:
                raise problem
            if st.st_mode & 0o077:
                raise CredentialError(
                    f"The credential file {shown} is readable by group or others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); it was not read.",
                    hint=f"Run: chmod 600 {os.path.realpath(path)}",
                )
            data = handle.read()
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise CredentialError(f"The credential file {shown} is not UTF-8 JSON.") from None

    def has(self, reference: str) -> bool:
        """Whether the secret can be read from here (present, and permissions right)."""
        try:
            self.read(reference)
        except CredentialError:
            return False
        return True

    # The SecretBackend shape, for callers that take any backend.
    def get_password(self, service: str, username: str) -> str | None:
        return self.read(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise CredentialError(
            f"Credentials come from the read-only folder {self.root} ({CREDENTIALS_DIR_ENV}).",
            hint="Enter credentials on a machine with a keyring, then export them with "
            "'pushdeck credentials export-to-dir DIR'.",
        )

    def delete_password(self, service: str, username: str) -> None:
        self.set_password(service, username, "")


def write_secret(root: Path, reference: str, secret_json: str) -> Path:
    """Write one secret as the folder expects it (owner-only, replaced atomically)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    CredentialsFolder(root).check_folder()
    path = root / file_name(reference)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret_json)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
