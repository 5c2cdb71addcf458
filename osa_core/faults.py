"""A test hook to kill a process at a chosen point (crash-safety tests of the closer and
of submissions).

With ``OSA_FAULT_AFTER=N`` in the environment, the N-th call to ``fault_point`` kills the
process with SIGKILL, exactly as a node failure or ``kill -9`` would. Without it, a call
costs one dictionary lookup. Never set in production.
"""

from __future__ import annotations

import os
import signal

_count = 0


def fault_point(label: str) -> None:
    global _count
    limit = os.environ.get("OSA_FAULT_AFTER")
    if not limit:
        return
    _count += 1
    if _count >= int(limit):
        trace = os.environ.get("OSA_FAULT_TRACE")
        if trace:
            with open(trace, "a") as handle:
                handle.write(f"{_count} {label}\n")
        os.kill(os.getpid(), signal.SIGKILL)
