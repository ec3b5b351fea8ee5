"""OCI registry access: references, digests, manifests and the registry client."""
