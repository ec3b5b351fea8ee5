"""The Kubernetes validating admission webhook and verdict API (later issue)."""
