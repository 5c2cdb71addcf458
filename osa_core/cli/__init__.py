"""The ``osa`` command line: thin faces over the engine's functions and actions."""
