"""Signature verification: every kind answers "did this authority sign this digest?"."""
