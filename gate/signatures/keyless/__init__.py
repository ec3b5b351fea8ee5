"""Keyless Sigstore signatures: Fulcio certificates, Rekor log entries, Sigstore bundles."""
