"""What an operator, cron or a campaign asks of a night, each as one way through:
observe the night once (``osa_core.snapshot``), decide with pure rules
(``osa_core.rules``), act (``osa_core.dispatch``), report.

A preview (``dry_run``) runs the same observe and decide and stops before acting, so what
a face shows is what the action does.
"""
