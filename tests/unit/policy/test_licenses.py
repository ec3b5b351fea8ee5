"""License expressions split into canonical SPDX ids."""

from __future__ import annotations

import pytest

from gate.policy.licenses import canonical_license_id, is_license_id, license_ids


@pytest.mark.parametrize(
    ("expression", "ids"),
    [
        ("MIT", {"mit"}),
        ("(MIT OR AGPL-3.0-only)", {"mit", "agpl-3.0-only"}),
        ("mit or Apache-2.0", {"mit", "apache-2.0"}),
        ("MIT AND (BSD-2-Clause OR ISC)", {"mit", "bsd-2-clause", "isc"}),
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            {"gpl-2.0-only", "classpath-exception-2.0"},
        ),
        ("GPL-2.0+", {"gpl-2.0-or-later", "gpl-2.0-only"}),
        ("GPL-2.0", {"gpl-2.0-only"}),
        ("AGPL-3.0-or-later", {"agpl-3.0-or-later", "agpl-3.0-only"}),
        ("MPL-1.1+", {"mpl-1.1+", "mpl-1.1"}),
        ("LicenseRef-acme-proprietary", {"licenseref-acme-proprietary"}),
        ("DocumentRef-x:LicenseRef-y OR MIT", {"documentref-x:licenseref-y", "mit"}),
        # Not expressions: the whole text and every piece between separators.
        ("Apache License 2.0", {"apache license 2.0", "apache", "license", "2.0"}),
        ("MIT OR", {"mit or", "mit"}),
        ("(MIT", {"(mit", "mit"}),
        ("", set()),
        ("   ", set()),
    ],
)
def test_license_ids(expression: str, ids: set[str]) -> None:
    assert license_ids(expression) == ids


@pytest.mark.parametrize(
    "text",
    [
        "MIT, AGPL-3.0-only",
        "MIT/AGPL-3.0-only",
        "AGPL-3.0-only;MIT",
        "(MIT OR AGPL-3.0-only",
        "MIT OR AGPL-3.0-only)",
        "MIT | AGPL-3.0-only",
        "MIT & AGPL-3.0-only",
        "MIT and/or AGPL-3.0-only",
        "MIT+AGPL-3.0-only",
        "MIT:AGPL-3.0-only",
        '"AGPL-3.0-only"',
        "MIT,AGPL-3.0",  # the deprecated id, still the same license
        "MIT; AGPL-3.0-or-later",  # or-later includes -only
        "AGPL-3.0+/MIT",
    ],
)
def test_malformed_expressions_cannot_hide_a_denied_id(text: str) -> None:
    # Treating unparsable text as one opaque id let "MIT, AGPL-3.0-only" pass
    # deniedLicenses: [AGPL-3.0-only].
    assert canonical_license_id("AGPL-3.0-only") in license_ids(text)
    assert "mit" in license_ids(text) or text.startswith('"')


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("AGPL-3.0", "agpl-3.0-only"),
        ("agpl-3.0-only", "agpl-3.0-only"),
        ("GPL-3.0+", "gpl-3.0-or-later"),
        ("SSPL-1.0", "sspl-1.0"),
    ],
)
def test_canonical_ids(given: str, canonical: str) -> None:
    assert canonical_license_id(given) == canonical


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MIT", True),
        ("GPL-2.0+", True),
        ("LicenseRef-x", True),
        ("DocumentRef-a:LicenseRef-b", True),
        ("MIT OR X", False),
        ("(MIT)", False),
        ("", False),
    ],
)
def test_is_license_id(text: str, expected: bool) -> None:
    assert is_license_id(text) is expected


@pytest.mark.parametrize(
    ("debian", "ids"),
    [
        ("AGPL-3", {"agpl-3.0-only"}),
        ("AGPL-3+", {"agpl-3.0-or-later", "agpl-3.0-only"}),
        ("GPL-2", {"gpl-2.0-only"}),
        ("GPL-2+", {"gpl-2.0-or-later", "gpl-2.0-only"}),
        ("LGPL-2.1", {"lgpl-2.1-only"}),
        ("LGPL-3+", {"lgpl-3.0-or-later", "lgpl-3.0-only"}),
        ("Expat", {"mit"}),
        ("Apache-2", {"apache-2.0"}),
        ("GPL-2+ or Artistic", {"gpl-2.0-or-later", "gpl-2.0-only", "artistic"}),
    ],
)
def test_debian_copyright_short_names_are_their_spdx_ids(debian: str, ids: set[str]) -> None:
    # Scanners pass /usr/share/doc/*/copyright names through (trivy: "AGPL-3").
    assert license_ids(debian) == ids
