"""Signed attestations of an image: where they live, how they are verified, what they say.

An attestation is a DSSE envelope around an in-toto Statement, signed by a
key or a keyless identity. The gate finds them in the cosign layout (the
``sha256-<hex>.att`` tag) and among the OCI referrers (Sigstore bundles and
DSSE envelopes), counts one for a trust authority only when its signature
verifies against that authority and its subject is the image digest, and
turns the predicates it understands (CycloneDX, SPDX, cosign vuln, SLSA
provenance) into evidence the policy can gate on. ``gate attest`` writes
them in the cosign layout.
"""
