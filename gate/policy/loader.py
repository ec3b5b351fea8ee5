"""Loading a policy file: size cap, YAML with positions, JSON Schema, semantic pass.

Every problem of the file is collected and raised together as one
``PolicyValidationError`` whose lines read
``policy.yaml:14:7: rules[0].signatures.anyOf[1]: unknown trust authority "relase"``.
"""

from __future__ import annotations

from pathlib import Path

from gate.errors import PolicyError
from gate.oci.digest import Digest
from gate.policy.diagnostics import Diagnostics
from gate.policy.model import Policy
from gate.policy.schema import schema_issues
from gate.policy.semantics import build_policy
from gate.policy.yamlpos import load_located

MAX_POLICY_BYTES = 1024 * 1024


def load_policy(path: Path) -> Policy:
    """Read, validate and build the policy at ``path``.

    Key files named in the policy are read relative to the policy's directory.
    Raises ``PolicyError`` when the file cannot be read or parsed at all, and
    ``PolicyValidationError`` (a ``PolicyError``) listing every problem otherwise.
    """
    file = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except FileNotFoundError as exc:
        raise PolicyError("policy file not found", file=file) from exc
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror or exc}", file=file) from exc
    return _load(data, path)


def load_policy_text(text: str | bytes, path: Path | str = "policy.yaml") -> Policy:
    """Validate and build a policy from ``text``, as if it had been read from ``path``.

    ``path`` names the file in messages and is where relative key paths start.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    return _load(data, Path(path))


def _load(data: bytes, path: Path) -> Policy:
    file = str(path)
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file is larger than {MAX_POLICY_BYTES} bytes (1 MiB)", file=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy file is not UTF-8 (byte {exc.start})", file=file) from exc
    document = load_located(text, file=file)
    diagnostics = Diagnostics(file, document.positions)
    for problem in document.problems:
        diagnostics.error_at(
            problem.path, problem.mark, problem.reason, shown_path=problem.shown_path
        )
    for issue in schema_issues(document.data):
        diagnostics.error(
            issue.path, issue.reason, at_key=issue.at_key, shown_path=issue.shown_path
        )
    policy = build_policy(
        document.data,
        diagnostics=diagnostics,
        base_dir=path.parent,
        source=path,
        digest=Digest.of(data),
    )
    diagnostics.raise_if_any()
    if policy is None:  # pragma: no cover - build_policy reports whenever it returns None
        raise PolicyError("policy could not be built", file=file)
    return policy
