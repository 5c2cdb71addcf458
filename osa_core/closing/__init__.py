"""Closing a night: readiness, per-run products, final tree, provenance, manifest."""
