"""gate: a supply-chain security gate for container images.

The data flows one way: image reference -> registry (digest, manifests,
attachments) -> evidence (signatures, scan findings, SBOM) -> policy
evaluation -> verdict -> outputs (exit code, reports).
"""

__version__ = "0.1.0"
