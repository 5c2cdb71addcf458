"""What lstchain 0.12 writes, as read from real files (not from memory or guesses).

``lstchain_check_dl1`` on one DL1 file writes ``datacheck_dl1_LST-1.RunRRRRR.SSSS.h5``; on
the subrun files of a run it merges their rows into ``datacheck_dl1_LST-1.RunRRRRR.h5``
(next to the first input file, whatever ``--output-dir`` says). Both hold PyTables tables
``/dl1datacheck/{cosmics,pedestals,flatfield}`` with ONE ROW PER SUBRUN and the same
columns (the fields of lstchain's ``DL1DataCheckContainer``); a table is absent when its
subrun had fewer than two events of that type. The run number is only in the file name.
Columns used here, per row:

- ``subrun_index``; ``elapsed_time`` (s, first to last Dragon time of the subrun, all
  event types); ``num_events``, ``num_cleaned_events`` (surviving the image cleaning);
- ``trigger_type`` / ``ucts_trigger_type``: ``(10, 2)`` pairs (TIB/UCTS trigger bits,
  number of events), zero-padded; ``num_ucts_jumps``;
- ``mean_alt_tel``, ``mean_az_tel`` (rad, pointing at mid-subrun), ``tel_ra``, ``tel_dec``
  (deg); ``dragon_time`` (50 sampled event times, unix s);
- per pixel (1855): ``charge_mean``, ``charge_stddev`` (p.e.), ``time_mean``,
  ``relative_time_stddev`` (ns; a scalar 0 placeholder in the pedestals table),
  ``num_pulses_above_0010_pe``, ``num_pulses_above_0030_pe`` (counts of events).

``lstchain_longterm_dl1_check`` writes the night file ``DL1_datacheck_YYYYMMDD.h5``:
pandas tables ``/cosmics``, ``/pedestals``, ``/flatfield`` (one row per run and subrun:
``runnumber, subrun, time, elapsed_time, events, azimuth, altitude`` (rad),
``wrong_{ucts,tib}_trig_type``, ``num_ucts_jumps``, ``fraction_pulses_above{10,30}``,
``charge_mean``, ``charge_stddev``, ``rel_time_stddev``, and for cosmics the muon columns
``num_contained_mu_rings``, ``mu_effi_mean``, ``mu_width_mean``) and ``/runsummary`` (one
row per run, e.g. ``num_pedestals_after_cleaning``, ``num_contained_mu_rings``).

Muon rings come from ``muons_LST-1.RunRRRRR.SSSS.fits`` (FITS table, one row per ring:
``ring_containment``, ``size_outside``, ``muon_efficiency``, ``ring_width``), which
``lstchain_check_dl1 --omit-pdf`` does not read.
"""

from __future__ import annotations

import re

GROUP = "/dl1datacheck"
COSMICS, PEDESTALS, FLATFIELD = "cosmics", "pedestals", "flatfield"
EVENT_TABLES = (COSMICS, PEDESTALS, FLATFIELD)
#: Short prefixes of the columns each event table contributes to the subrun frame.
PREFIX = {COSMICS: "cosmics", PEDESTALS: "ped", FLATFIELD: "ff"}

SCALAR_FIELDS = (
    "subrun_index",
    "elapsed_time",
    "num_events",
    "num_cleaned_events",
    "num_ucts_jumps",
    "mean_alt_tel",
    "mean_az_tel",
    "tel_ra",
    "tel_dec",
)
TRIGGER_FIELDS = ("trigger_type", "ucts_trigger_type")
SAMPLED_FIELDS = ("dragon_time",)
PIXEL_FIELDS = (
    "charge_mean",
    "charge_stddev",
    "time_mean",
    "relative_time_stddev",
    "num_pulses_above_0010_pe",
    "num_pulses_above_0030_pe",
)
FIELDS = SCALAR_FIELDS + TRIGGER_FIELDS + SAMPLED_FIELDS + PIXEL_FIELDS
#: Columns that files of older lstchain versions lack (read as zero).
OPTIONAL_FIELDS = frozenset({"num_ucts_jumps"})

# ctapipe_io_lst.constants.TriggerBits (copied: importing it costs seconds).
TRIGGER_MONO, TRIGGER_STEREO = 1, 2
TRIGGER_CALIBRATION, TRIGGER_PEDESTAL = 4, 32
TRIGGER_PHYSICS = TRIGGER_MONO | TRIGGER_STEREO
#: The tag an event of each table must carry; anything else is a "wrong tag", as in
#: ``lstchain_longterm_dl1_check.trigtag_mismatches`` (tag 0 = unknown, counted apart).
EXPECTED_TAG = {
    COSMICS: TRIGGER_PHYSICS,
    PEDESTALS: TRIGGER_PEDESTAL,
    FLATFIELD: TRIGGER_CALIBRATION,
}

# Contained, clean rings, as selected by lstchain_longterm_dl1_check.
MUON_CONTAINMENT_MIN = 0.99
MUON_SIZE_OUTSIDE_MAX = 1.0
MUON_COLUMNS = ("ring_containment", "size_outside", "muon_efficiency", "ring_width")

LONGTERM_TABLES = ("runsummary", COSMICS, PEDESTALS, FLATFIELD)

DATACHECK_RE = re.compile(
    r"^datacheck_dl1_LST-1\.Run(?P<run>\d{5,6})(?:\.(?P<subrun>\d{4,5}))?\.h5$"
)
MUONS_RE = re.compile(r"^muons_LST-1\.Run(?P<run>\d{5,6})\.(?P<subrun>\d{4,5})\.fits$")
LONGTERM_RE = re.compile(r"^DL1_datacheck_(?P<night>\d{8})\.h5$")


def longterm_name(folder: str) -> str:
    """``DL1_datacheck_YYYYMMDD.h5`` (as osa_core.closing.layout names it)."""
    return f"DL1_datacheck_{folder}.h5"
