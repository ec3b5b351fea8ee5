"""Unit tests of Notation signature verification."""
