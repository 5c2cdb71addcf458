"""Pure rules: each takes a snapshot (or its status) and returns a decision.

Nothing here reads a file, asks the scheduler or writes the journal: the rules can be
tested with plain data, and what they decide is what a preview shows and what
``osa_core.dispatch`` carries out.
"""
