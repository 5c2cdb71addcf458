"""osa-console engine: reads a night, plans it, runs it, watches it, closes it.

The engine never imports Textual; the console (``osa_tui``) and the CLI are faces on top.
"""

__version__ = "0.1.0"
