"""Analysis choices made per run (e.g. which DL2 random-forest models)."""
