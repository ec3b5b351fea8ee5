"""Scanner report adapters: each turns one report format's bytes into findings."""
