"""Reading a night: RunSummary, RunCatalog and the R0 files on disk."""
