"""Whether SBOMs are schema-validated by their libraries while they are read.

Schema validation through cyclonedx-python-lib and spdx-tools costs
milliseconds per component (seconds for a large SBOM), and its verdict is
advisory: it is recorded in the SBOM's metadata, never enforced. So it runs
where a person looks at one document (``gate evidence show``) and not on the
decision paths (``gate check``, admission), where it would only spend the
deadline. ``schema_validation()`` turns it on for the code inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ENABLED: ContextVar[bool] = ContextVar("gate_sbom_schema_validation", default=False)

#: The metadata a reader records when validation is off.
NOT_REQUESTED = {
    "validation": "not validated",
    "validation_detail": "schema validation runs in gate evidence show, not on decision paths",
}


def enabled() -> bool:
    """True inside ``schema_validation()``."""
    return _ENABLED.get()


@contextmanager
def schema_validation() -> Iterator[None]:
    """Validate SBOMs read inside this block against their schemas (advisory, recorded)."""
    token = _ENABLED.set(True)
    try:
        yield
    finally:
        _ENABLED.reset(token)
