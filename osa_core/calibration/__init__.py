"""Calibration inputs of a night, found on disk rather than typed in."""
