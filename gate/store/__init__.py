"""The verdict store: every decision, from admission and from CI, kept and queryable."""
