"""SBOM adapters: each turns one SBOM format's bytes into components."""
