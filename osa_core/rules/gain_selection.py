"""When the night's gain selection is finished: the ``GainSelFinished`` flag (pure rule).

lstosa's gain-selection script writes the flag once every DATA run of the RunSummary has
all its subruns gain-selected, and the sequencer waits for it. Here a subrun's analysis
starts as soon as its own gain selection ended, so the flag no longer gates the analysis:
it says to the site (and to ``[night] end_of_observation = ["gain_selection"]``) that the
night's R0G is complete. It is written only when:

- every subrun the RunSummary declares for each DATA run is gain-selected or given up by
  an operator (an awaited subrun, not on disk yet, keeps it unwritten), and
- the data taking is over by another configured signal (the morning, the DAQ's
  ``.complete``), when one is configured: otherwise a night still observing would get its
  flag between two runs. With ``gain_selection`` as the only signal, the RunSummary is
  the night's final one (on site it is made after the night).
"""

from __future__ import annotations

import datetime as dt

from osa_core.intents import WriteFlag
from osa_core.night.observation import observation_end
from osa_core.snapshot import NightSnapshot
from osa_core.steps import GAIN_SELECTION_STEPS
from osa_core.vocabulary import JobKind


def decide_gain_selection_flag(snapshot: NightSnapshot) -> WriteFlag | None:
    """The flag to write now, or None (not a gain-selection night, written, not over)."""
    plan, paths = snapshot.plan, snapshot.paths
    if not plan.gain_selection or paths.gain_selection_finished.exists():
        return None
    given_up = snapshot.journal.given_up
    histories = snapshot.evidence.histories
    subruns = 0
    for sequence in plan.sequences:
        if sequence.kind != JobKind.DATA:
            continue
        if any((sequence.run, i) not in given_up for i in sequence.awaited):
            return None
        for index in sequence.subruns:
            history = histories.get((sequence.run, index))
            done = history is not None and GAIN_SELECTION_STEPS[0] in history.done
            if not done and (sequence.run, index) not in given_up:
                return None
            subruns += done
    others = tuple(s for s in snapshot.config.night.end_of_observation if s != "gain_selection")
    if others:
        now = dt.datetime.fromtimestamp(snapshot.now, dt.timezone.utc)
        ended = observation_end(snapshot.config, plan.night, now, others)
        if not ended.over:
            return None
        why = f"every declared subrun gain-selected ({subruns}); {ended.by}"
    else:
        why = f"every declared subrun gain-selected ({subruns})"
    return WriteFlag(
        path=paths.gain_selection_finished,
        text=f"{plan.night.isoformat()} gain selection finished: {why}\n",
        action="gain_selection_finished",
        reason=why,
    )
