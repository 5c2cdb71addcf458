"""Data quality of a night: lstchain's datacheck files read, judged by rules, shown.

Entry point: ``osa_core.dq.summary.night_dq(config, night)``; see docs/dq.md. Modules are
imported on demand (nothing here), so importing the package costs nothing.
"""
