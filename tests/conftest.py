"""Shared pytest configuration for the gate test suite."""
