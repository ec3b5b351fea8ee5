"""Reading the files users name on the command line, with one-line errors."""

from __future__ import annotations

from pathlib import Path

from gate.errors import InputError


def read_input_file(path: Path, what: str, *, limit: int) -> bytes:
    """The bytes of ``path``, a ``what`` (e.g. "scan report") of at most ``limit`` bytes.

    Every failure is an ``InputError`` naming the file and why: missing, a
    directory, unreadable, too large.
    """
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(
                f"{what} is {size} bytes, more than the limit of {limit}", source=str(path)
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{what} file not found", source=str(path)) from exc
    except IsADirectoryError as exc:
        raise InputError(f"{what} is a directory, not a file", source=str(path)) from exc
    except PermissionError as exc:
        raise InputError(
            f"{what} file is not readable (permission denied)", source=str(path)
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", source=str(path)) from exc
