"""Generated LST-1 R0 (zfits, CTA-R1v1 protobuf) for a demo night, and the one real R0 file.

Why this exists: the real lstchain tools only run on R0 files that ``LSTEventSource`` reads,
and no public data set holds a whole LST-1 night (DRS4 run, pedestal/flat-field run and data
runs with several subruns and 4 streams). We therefore write small files ourselves with the
zfits writer of ``protozfits`` in the CTA-R1v1 layout that ``ctapipe_io_lst`` understands
(the layout its own tests build), with waveforms shaped so that:

- ``DRS4`` runs: pedestal-only waveforms (physics trigger type, as real DRS4 runs have), so
  ``lstchain_create_drs4_pedestal_file`` finds a baseline of ~400 ADC per pixel;
- ``PEDCALIB`` runs: alternating flat-field (~70 p.e. in every pixel, event type FLATFIELD)
  and pedestal events (SKY_PEDESTAL), so ``lstchain_create_calibration_file`` with the
  standard filter ``52`` cuts (3000-12000 ADC) computes coefficients;
- ``DATA`` runs: elliptical shower images plus interleaved flat-field and pedestal events,
  all on a night-sky background, so ``lstchain_data_r0_to_dl1`` produces DL1 parameters and
  interleaved files, and, with enough interleaved events per subrun,
  ``lstchain_find_tailcuts`` and the Cat-B calibration have something to measure.

The files carry no EVB pre-processing (``tdp_action`` 0, ``waveform_offset`` 0), i.e. raw
ADC around a per-pixel baseline near 400 that is fixed for the whole camera: the DRS4 run of
the night then really matches the data runs, as on site.

The real 50-event file (run 2008 of 2020-02-18, older LSTCam protobuf format) ships in the
source distribution of ``protozfits``; :func:`fetch_real_lst_r0` obtains it with pip.

Heavy imports (numpy, protozfits, ctapipe_io_lst) happen inside the functions so that
importing this module stays cheap for the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    #: Floating-point arrays of the waveform synthesis (charges, times, pulse shapes).
    Floats = NDArray[np.float64]

__all__ = [
    "DEFAULT_NSB_RATE_GHZ",
    "DEMO_NIGHT_START",
    "DRS4_FIRST_CELL_STRIDE",
    "KINDS",
    "MIN_DRS4_EVENTS",
    "REAL_R0_MEMBER",
    "REAL_RUN",
    "data_subrun_event_kinds",
    "fetch_real_lst_r0",
    "link_real_run",
    "r0_file_name",
    "write_r0_subrun",
]

#: Run types that :func:`write_r0_subrun` can generate.
KINDS = ("DRS4", "PEDCALIB", "DATA")

#: The real run shipped in protozfits' sdist (night 2020-02-18, started 21:02:21 UTC).
REAL_RUN = 2008
REAL_R0_MEMBER = "adh-apis/zfits/test_files/LST-1.1.Run02008.0000_first50.fits.fz"
_PROTOZFITS_SDIST = "protozfits==2.13.1"

#: Default start of the demo night (UTC); generated runs are placed relative to it.
DEMO_NIGHT_START = datetime(2020, 2, 18, 20, 30, 0, tzinfo=timezone.utc)

# Camera constants of LST-1 (ctapipe_io_lst.constants); repeated here so the module needs no
# heavy import to be loaded.
N_PIXELS = 1855
N_MODULES = 265
N_GAINS = 2
N_SAMPLES = 40
N_CHANNELS_MODULE = 8
N_CAPACITORS_PIXEL = 4096
CLOCK_FREQUENCY_KHZ = 133e3

# Trigger bits of the TIB / UCTS (ctapipe_io_lst.constants.TriggerBits) and CTA event types
# (ctapipe.containers.EventType) used for each kind of event.
_TRIGGER_MONO = 0b0000_0100
_TRIGGER_CALIBRATION = 0b0000_0001
_TRIGGER_PEDESTAL = 0b0100_0000
_EVENT_TYPE_FLATFIELD = 0
_EVENT_TYPE_PEDESTAL = 2
_EVENT_TYPE_SUBARRAY = 32

# Electronics model: baseline, noise and integrated ADC counts per photo-electron per gain.
_BASELINE_ADC = 400.0
_NOISE_ADC = (5.0, 2.0)
_ADC_PER_PE = (86.0, 86.0 / 17.5)
_MAX_ADC = 4095
# Seed of the fixed camera "hardware" (per-pixel baseline): the same for every run so that the
# DRS4 pedestal run of the night describes the data runs.
_CAMERA_SEED = 1855
# Flat-field illumination (p.e. per pixel) and its pulse time (samples).
_FF_PE = 70.0
_FF_PEAK_TIME = 20.0
# Default share of interleaved events when a DATA subrun is written without explicit
# counts: one flat-field and one pedestal event per 10 events (what ``n_events`` alone
# gave before the counts became parameters).
_INTERLEAVED_EVERY = 10
#: Night-sky background of the open camera in DATA runs, p.e. per ns per pixel. Every
#: event of a DATA run (showers, interleaved pedestals, interleaved flat-fields) carries it,
#: as on site: the interleaved pedestals measure exactly the noise the showers are cleaned
#: against. Measured through the real chain (osa_core/demo/NOTES.md): 0.10 p.e./ns gives a
#: median 95 % quantile of the pedestal charge of 3.8 p.e. (lstchain's "dark MC" level),
#: 0.15 gives 4.8 p.e., which ``lstchain_find_tailcuts`` maps to the standard 8/4 tail cuts
#: and +0.12 p.e./ns over dark MC: a dark extragalactic field. DRS4 and PEDCALIB runs are
#: taken with the camera closed: no NSB.
DEFAULT_NSB_RATE_GHZ = 0.15
# Single-p.e. amplitude spread of the PMTs: gamma distribution of mean 1 and variance
# F^2 - 1 = 0.222 (the excess noise factor lstchain's calibration assumes).
_SPE_VARIANCE = 0.222
# NSB photons are drawn on a 0.5 ns grid over the peak times whose pulses reach the
# 40-ns readout (the LST pulse starts ~4 ns before and ends ~20 ns after its maximum).
_NSB_BIN_NS = 0.5
_NSB_T_MIN_NS = -20.0
_NSB_T_MAX_NS = N_SAMPLES + 5.0
# DRS4 runs move the first capacitor by this many cells per event instead of at random.
# ``lstchain_create_drs4_pedestal_file`` only averages samples 10..38 of a readout, and only
# for capacitors already read once before (it needs their last readout time); any capacitor
# it never sees keeps baseline 0, and data read there later are not pedestal-subtracted.
# Sweeping the 4096-cell ring in steps of 10 reads every cell ~3 times per sweep, so a DRS4
# run of >= MIN_DRS4_EVENTS events covers the whole ring (the real runs have 20000 events).
DRS4_FIRST_CELL_STRIDE = 10
MIN_DRS4_EVENTS = N_CAPACITORS_PIXEL // DRS4_FIRST_CELL_STRIDE + 10


def r0_file_name(run: int, subrun: int, stream: int, tel_id: int = 1) -> str:
    """Return the DAQ file name ``LST-{tel}.{stream}.Run{run:05d}.{subrun:04d}.fits.fz``."""
    return f"LST-{tel_id}.{stream}.Run{run:05d}.{subrun:04d}.fits.fz"


@dataclass(frozen=True)
class _Camera:
    """What the waveform synthesis needs from the camera description (built once per call)."""

    pix_x: Floats  # metres
    pix_y: Floats
    pix_area: Floats  # square metres
    pulse_t: Floats  # ns, reference pulse sampling
    pulse: Floats  # (N_GAINS, n), normalised to unit integral over 1 ns samples
    pulse_peak_t: Floats  # (N_GAINS,) ns, time of the pulse maximum
    baseline: Floats  # (N_GAINS, N_PIXELS) ADC
    # (N_GAINS, n_bins, N_SAMPLES): pulse of one p.e. whose maximum is at the centre of each
    # NSB time bin, sampled at the readout samples (unit integral); NSB waveforms are then
    # one matrix product per gain instead of one interpolation per photon.
    nsb_kernel: Floats


def _load_camera() -> _Camera:
    """Read geometry and pulse shape from ctapipe_io_lst's bundled resources (no network)."""
    # heavy (numpy; ctapipe takes seconds): importing this module must stay cheap for the engine
    import numpy as np
    from ctapipe_io_lst import LSTEventSource

    camera = LSTEventSource.create_subarray(tel_id=1).tel[1].camera
    geometry = camera.geometry
    readout = camera.readout
    width = readout.reference_pulse_sample_width.to_value("ns")
    shape = np.asarray(readout.reference_pulse_shape, dtype=float)
    pulse_t = np.arange(shape.shape[1]) * width
    pulse = shape / (shape.sum(axis=1, keepdims=True) * width)
    rng = np.random.default_rng(_CAMERA_SEED)
    baseline = np.round(_BASELINE_ADC + rng.normal(0.0, 8.0, size=(N_GAINS, N_PIXELS)))
    pulse_peak_t = pulse_t[np.argmax(pulse, axis=1)]
    bin_centres = np.arange(_NSB_T_MIN_NS, _NSB_T_MAX_NS, _NSB_BIN_NS) + _NSB_BIN_NS / 2
    samples = np.arange(N_SAMPLES, dtype=float)
    kernel = np.stack(
        [
            np.interp(
                samples[np.newaxis, :] - bin_centres[:, np.newaxis] + pulse_peak_t[gain],
                pulse_t,
                pulse[gain],
                left=0.0,
                right=0.0,
            )
            for gain in range(N_GAINS)
        ]
    )
    return _Camera(
        pix_x=geometry.pix_x.to_value("m"),
        pix_y=geometry.pix_y.to_value("m"),
        pix_area=geometry.pix_area.to_value("m2"),
        pulse_t=pulse_t,
        pulse=pulse,
        pulse_peak_t=pulse_peak_t,
        baseline=baseline,
        nsb_kernel=kernel,
    )


def _nsb_pe_per_bin(cam: _Camera, rng: np.random.Generator, rate_ghz: float) -> Floats:
    """Night-sky photons of one event: (N_PIXELS, n_bins) p.e. per NSB time bin.

    Photon counts are Poisson with ``rate_ghz`` p.e./ns in every pixel, arrival times uniform
    over the bins (including those before the readout whose pulse tails reach into it), and
    each photon's amplitude follows the single-p.e. spread. Random pile-up in time is what
    makes the peak-searching charge extractor of lstchain see positive pedestal charges,
    which ``lstchain_find_tailcuts`` relies on.
    """
    import numpy as np  # heavy: importing this module must stay cheap for the engine

    n_bins = cam.nsb_kernel.shape[1]
    n_photons = rng.poisson(rate_ghz * n_bins * _NSB_BIN_NS, N_PIXELS)
    pixel = np.repeat(np.arange(N_PIXELS), n_photons)
    time_bin = rng.integers(0, n_bins, pixel.size)
    shape = 1.0 / _SPE_VARIANCE
    amplitude = rng.gamma(shape, 1.0 / shape, pixel.size)
    flat = np.bincount(pixel * n_bins + time_bin, weights=amplitude, minlength=N_PIXELS * n_bins)
    # with weights, bincount sums floats (numpy's annotations say integers whatever the weights)
    return cast("Floats", flat.reshape(N_PIXELS, n_bins))


def _waveform(
    cam: _Camera,
    pe: Floats,
    peak_time: Floats,
    rng: np.random.Generator,
    nsb_rate_ghz: float = 0.0,
) -> NDArray[np.uint16]:
    """Raw uint16 waveforms (N_GAINS, N_PIXELS, N_SAMPLES) for the given charge and times.

    Pulses are the camera's reference pulse shape scaled to ``pe`` times the ADC/p.e. factor
    of each gain, placed so their maximum falls at ``peak_time`` (in samples, 1 ns each),
    plus ``nsb_rate_ghz`` of night-sky photons (the same photons in both gains, as one PMT
    feeds both), on the fixed per-pixel baseline with Gaussian electronic noise, clipped to
    12 bits.
    """
    import numpy as np  # heavy: importing this module must stay cheap for the engine

    samples = np.arange(N_SAMPLES, dtype=float)
    nsb = _nsb_pe_per_bin(cam, rng, nsb_rate_ghz) if nsb_rate_ghz > 0 else None
    out = np.empty((N_GAINS, N_PIXELS, N_SAMPLES), dtype=float)
    for gain in range(N_GAINS):
        shifted = samples[np.newaxis, :] - peak_time[:, np.newaxis] + cam.pulse_peak_t[gain]
        shape = np.interp(shifted, cam.pulse_t, cam.pulse[gain], left=0.0, right=0.0)
        signal = shape * (pe * _ADC_PER_PE[gain])[:, np.newaxis]
        if nsb is not None:
            signal += (nsb @ cam.nsb_kernel[gain]) * _ADC_PER_PE[gain]
        noise = rng.normal(0.0, _NOISE_ADC[gain], size=(N_PIXELS, N_SAMPLES))
        out[gain] = cam.baseline[gain][:, np.newaxis] + signal + noise
    return np.clip(np.round(out), 0, _MAX_ADC).astype(np.uint16)


def _pedestal_image(rng: np.random.Generator) -> tuple[Floats, Floats]:
    """Charge and times of a pedestal event: no signal (the NSB is added to the waveform)."""
    import numpy as np  # heavy: importing this module must stay cheap for the engine

    return np.zeros(N_PIXELS), rng.uniform(2.0, 37.0, N_PIXELS)


def _flatfield_image(rng: np.random.Generator) -> tuple[Floats, Floats]:
    """Charge and times of a flat-field event: ~70 p.e. everywhere with F-factor spread."""
    import numpy as np  # heavy: importing this module must stay cheap for the engine

    sigma = np.sqrt(_FF_PE * 1.222)
    pe = np.clip(rng.normal(_FF_PE, sigma, N_PIXELS), 0.0, None)
    return pe, rng.normal(_FF_PEAK_TIME, 0.3, N_PIXELS)


def _shower_image(cam: _Camera, rng: np.random.Generator) -> tuple[Floats, Floats]:
    """Charge and times of a shower-like event: a 2D Gaussian ellipse with a time gradient."""
    import numpy as np  # heavy: importing this module must stay cheap for the engine

    cx, cy = rng.uniform(-0.6, 0.6, 2)
    width = rng.uniform(0.02, 0.06)
    length = width * rng.uniform(1.5, 4.0)
    psi = rng.uniform(0.0, np.pi)
    total_pe = float(np.exp(rng.uniform(np.log(150.0), np.log(3000.0))))
    dx, dy = cam.pix_x - cx, cam.pix_y - cy
    lon = dx * np.cos(psi) + dy * np.sin(psi)
    lat = -dx * np.sin(psi) + dy * np.cos(psi)
    density = np.exp(-0.5 * ((lon / length) ** 2 + (lat / width) ** 2))
    density /= 2.0 * np.pi * length * width
    expected = total_pe * density * cam.pix_area
    pe = rng.poisson(expected + 0.3).astype(float)
    slope = rng.uniform(-8.0, 8.0)  # samples per metre along the major axis
    peak_time = np.clip(18.0 + slope * lon, 3.0, 36.0) + rng.normal(0.0, 0.5, N_PIXELS)
    noise_pixels = expected < 0.5
    peak_time[noise_pixels] = rng.uniform(3.0, 36.0, np.count_nonzero(noise_pixels))
    return pe, peak_time


def data_subrun_event_kinds(n_events: int, n_pedestals: int, n_flatfields: int) -> list[str]:
    """Event kinds (``shower``, ``pedestal``, ``flatfield``) of a DATA subrun, in time order.

    Each kind is spread evenly over the subrun (item ``k`` of a kind of count ``c`` sits near
    ``(k + 1/2) / c`` of the subrun), as the interleaved triggers of the camera come at a
    fixed rate between the showers: any part of the subrun holds all three kinds. (Dealt
    round-robin, a stream file need not: with 50 flat-fields in 198 events they land in
    streams 1-2. lstchain reads all streams of a subrun, so nothing depends on it.)
    """
    n_showers = n_events - n_pedestals - n_flatfields
    if n_pedestals < 0 or n_flatfields < 0 or n_showers < 0:
        raise ValueError(
            f"{n_pedestals} pedestals + {n_flatfields} flat-fields do not fit in {n_events} events"
        )
    keyed = [
        ((k + 0.5) / count, order, name)
        for order, (name, count) in enumerate(
            (("flatfield", n_flatfields), ("pedestal", n_pedestals), ("shower", n_showers))
        )
        for k in range(count)
    ]
    return [name for _, _, name in sorted(keyed)]


def _unix_tai_ns(when: datetime) -> int:
    """Unix TAI nanoseconds of a UTC datetime (the CTA-R1 event time scale)."""
    from astropy.time import Time  # heavy (~0.4 s): only when events are written

    microseconds: int = round(Time(when).tai.unix_tai * 1e9 / 1000.0)
    return microseconds * 1000


def write_r0_subrun(
    path_dir: Path,
    run: int,
    subrun: int,
    n_events: int,
    kind: str,
    streams: int = 4,
    seed: int = 0,
    run_start: datetime | None = None,
    event_rate_hz: float = 200.0,
    tel_id: int = 1,
    first_cell_stride: int | None = None,
    n_pedestals: int | None = None,
    n_flatfields: int | None = None,
    nsb_rate_ghz: float = DEFAULT_NSB_RATE_GHZ,
) -> list[Path]:
    """Write one generated subrun of ``run`` as ``streams`` zfits files and return their paths.

    Events are numbered from ``subrun * n_events + 1`` (every subrun of a run must be written
    with the same ``n_events``), dealt round-robin over the streams like the DAQ does, and
    spaced by ``1 / event_rate_hz`` from ``run_start`` (default: :data:`DEMO_NIGHT_START`).
    ``kind`` is one of :data:`KINDS`. Files are written under a temporary name and renamed,
    so a reader never sees a half-written subrun. Costs ~15-30 ms per event.

    ``first_cell_stride``: DRS4 first capacitor advance per event; default
    :data:`DRS4_FIRST_CELL_STRIDE` for ``DRS4`` runs (which then need at least
    :data:`MIN_DRS4_EVENTS` events to cover every capacitor) and random for the others.

    DATA runs only: ``n_pedestals`` interleaved pedestals and ``n_flatfields`` interleaved
    flat-fields among the ``n_events`` (default one of each per 10 events; the rest are
    showers, see :func:`data_subrun_event_kinds`), all on a night-sky background of
    ``nsb_rate_ghz`` p.e./ns per pixel. ``lstchain_find_tailcuts`` only uses subruns with
    >= 100 interleaved pedestals, and Cat-B calibration needs its ``--statistics`` of each
    interleaved type per run.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if n_events < 1 or streams < 1:
        raise ValueError("n_events and streams must be positive")
    if nsb_rate_ghz < 0:
        raise ValueError("nsb_rate_ghz must not be negative")
    if kind == "DRS4":
        kinds = ["drs4"] * n_events
    elif kind == "PEDCALIB":
        kinds = ["flatfield" if (subrun * n_events + i) % 2 == 0 else "pedestal"
                 for i in range(n_events)]  # fmt: skip
    else:
        default = n_events // _INTERLEAVED_EVERY
        kinds = data_subrun_event_kinds(
            n_events,
            default if n_pedestals is None else n_pedestals,
            default if n_flatfields is None else n_flatfields,
        )
    # the camera is closed (no sky light) in DRS4 and PEDCALIB runs
    nsb = nsb_rate_ghz if kind == "DATA" else 0.0

    # heavy (numpy, protozfits): importing this module must stay cheap for the engine
    import numpy as np
    import protozfits
    from protozfits.anyarray import numpy_to_any_array
    from protozfits.R1v1_debug_pb2 import DebugCameraConfiguration, DebugEvent
    from protozfits.R1v1_pb2 import CameraConfiguration, Event, TelescopeDataStream

    path_dir = Path(path_dir)
    path_dir.mkdir(parents=True, exist_ok=True)
    start = run_start or DEMO_NIGHT_START
    start_ns = _unix_tai_ns(start)
    cam = _load_camera()
    rng = np.random.default_rng([seed, run, subrun])

    camera_config = CameraConfiguration(
        tel_id=tel_id,
        local_run_id=run,
        config_time_s=int(start.timestamp()),
        camera_config_id=1,
        num_modules=N_MODULES,
        num_pixels=N_PIXELS,
        num_channels=N_GAINS,
        data_model_version="1.0",
        num_samples_nominal=N_SAMPLES,
        pixel_id_map=numpy_to_any_array(np.arange(N_PIXELS, dtype=np.uint16)),
        module_id_map=numpy_to_any_array(np.arange(N_MODULES, dtype=np.uint16)),
        debug=DebugCameraConfiguration(
            cs_serial="osa-demo",
            evb_version="osa-demo",
            cdhs_version="osa-demo",
            # no EVB pre-processing for any trigger type: the files hold raw ADC
            tdp_type=numpy_to_any_array(np.zeros(15, dtype=np.uint16)),
            tdp_action=numpy_to_any_array(np.zeros(16, dtype=np.uint16)),
            ttype_pattern=numpy_to_any_array(np.zeros(16, dtype=np.uint16)),
        ),
    )
    data_stream = TelescopeDataStream(
        tel_id=tel_id, sb_id=run, obs_id=run, waveform_offset=0, waveform_scale=1
    )

    final = [path_dir / r0_file_name(run, subrun, s, tel_id) for s in range(1, streams + 1)]
    tmp = [p.with_name(f".tmp.{p.name}") for p in final]
    first_index = subrun * n_events
    stride = first_cell_stride
    if stride is None and kind == "DRS4":
        stride = DRS4_FIRST_CELL_STRIDE
    period_ns = round(1e9 / event_rate_hz)
    counters_dtype = np.dtype(
        [
            ("pps_counter", "<u2"),
            ("tenMHz_counter", "<u4"),
            ("event_counter", "<u4"),
            ("trigger_counter", "<u4"),
            ("local_clock_counter", "<u8"),
        ]
    )
    cdts_dtype = np.dtype(
        [
            ("timestamp", "<u8"),
            ("address", "<u4"),
            ("event_counter", "<u4"),
            ("busy_counter", "<u4"),
            ("pps_counter", "<u4"),
            ("clock_counter", "<u4"),
            ("trigger_type", "u1"),
            ("white_rabbit_status", "u1"),
            ("stereo_pattern", "u1"),
            ("num_in_bunch", "u1"),
            ("cdts_version", "<u4"),
        ]
    )
    tib_dtype = np.dtype(
        [
            ("event_counter", "<u4"),
            ("pps_counter", "<u2"),
            ("tenMHz_counter", "u1", (3,)),
            ("stereo_pattern", "<u2"),
            ("masked_trigger", "u1"),
        ]
    )
    # The zfits catalog is sized up front: writing more than n_tiles * rows_per_tile rows
    # yields a file that protozfits later refuses ("Negative value in the catalog").
    rows_per_tile = 10
    n_tiles = -(-n_events // (streams * rows_per_tile)) + 1
    writers = []
    try:
        for path in tmp:
            writer = protozfits.FlatProtobufZOFits(
                n_tiles=n_tiles,
                rows_per_tile=rows_per_tile,
                compression_block_size_kb=64 * 1024,
                default_compression="zstd2",
            )
            writer.open(str(path))
            writer.move_to_new_table("DataStream")
            writer.write_message(data_stream)
            writer.move_to_new_table("CameraConfiguration")
            writer.write_message(camera_config)
            writer.move_to_new_table("Events")
            writers.append(writer)

        for i in range(n_events):
            index = first_index + i
            event_id = index + 1
            what = kinds[i]
            if what == "flatfield":
                pe, peak_time = _flatfield_image(rng)
                event_type, trigger = _EVENT_TYPE_FLATFIELD, _TRIGGER_CALIBRATION
            elif what == "pedestal":
                pe, peak_time = _pedestal_image(rng)
                event_type, trigger = _EVENT_TYPE_PEDESTAL, _TRIGGER_PEDESTAL
            elif what == "shower":
                pe, peak_time = _shower_image(cam, rng)
                event_type, trigger = _EVENT_TYPE_SUBARRAY, _TRIGGER_MONO
            else:  # DRS4 baseline run: physics trigger type, no light
                pe, peak_time = _pedestal_image(rng)
                event_type, trigger = _EVENT_TYPE_SUBARRAY, _TRIGGER_MONO

            elapsed_ns = index * period_ns + int(rng.integers(0, period_ns // 4))
            t_ns = start_ns + elapsed_ns
            seconds, rest_ns = divmod(t_ns, 1_000_000_000)
            pps, in_second_ns = divmod(elapsed_ns, 1_000_000_000)

            counters = np.zeros(N_MODULES, dtype=counters_dtype)
            counters["pps_counter"] = pps
            counters["tenMHz_counter"] = in_second_ns // 100
            counters["event_counter"] = event_id
            counters["trigger_counter"] = event_id
            counters["local_clock_counter"] = int(elapsed_ns * CLOCK_FREQUENCY_KHZ * 1e-6)
            cdts = np.array([(t_ns, 0, event_id, 0, pps, 0, trigger, 0, 0, 0, 1)], dtype=cdts_dtype)
            tib = np.array([(event_id, pps, (0, 0, 0), 0, trigger)], dtype=tib_dtype)
            if stride is None:
                first_cell = rng.integers(0, N_CAPACITORS_PIXEL, N_MODULES * N_CHANNELS_MODULE)
            else:
                first_cell = np.full(
                    N_MODULES * N_CHANNELS_MODULE, (index * stride) % N_CAPACITORS_PIXEL
                )

            event = Event(
                event_id=event_id,
                tel_id=tel_id,
                local_run_id=run,
                event_type=event_type,
                event_time_s=int(seconds),
                event_time_qns=int(rest_ns * 4),
                num_channels=N_GAINS,
                num_pixels=N_PIXELS,
                num_samples=N_SAMPLES,
                num_modules=N_MODULES,
                pixel_status=numpy_to_any_array(np.full(N_PIXELS, 0b1100, dtype=np.uint8)),
                waveform=numpy_to_any_array(_waveform(cam, pe, peak_time, rng, nsb)),
                first_cell_id=numpy_to_any_array(first_cell.astype(np.uint16)),
                module_hires_local_clock_counter=numpy_to_any_array(
                    counters["local_clock_counter"].copy()
                ),
                debug=DebugEvent(
                    module_status=numpy_to_any_array(np.ones(N_MODULES, dtype=np.uint8)),
                    extdevices_presence=0b011,  # TIB and UCTS present
                    cdts_data=numpy_to_any_array(cdts.view(np.uint8)),
                    tib_data=numpy_to_any_array(tib.view(np.uint8)),
                    counters=numpy_to_any_array(counters.view(np.uint8)),
                ),
            )
            writers[i % streams].write_message(event)
    finally:
        for writer in writers:
            writer.close()
    for src, dst in zip(tmp, final, strict=True):
        os.replace(src, dst)
    return final


def fetch_real_lst_r0(cache_dir: Path) -> Path:
    """Return the real 50-event LST-1 R0 file, extracting it once from protozfits' sdist.

    The file (``LST-1.1.Run02008.0000_first50.fits.fz``, 8.3 MB, night 2020-02-18) is only
    in the source distribution of ``protozfits`` 2.13.1, so we ask pip for that sdist
    (``pip download --no-binary :all: --no-deps``, about a minute: pip prepares its
    metadata) and keep only the one member. A second call reuses ``cache_dir``. The file is
    test data of its upstream project and must never be committed to this repository.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / Path(REAL_R0_MEMBER).name
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".sdist-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
            "--no-deps", "--dest", tmp, _PROTOZFITS_SDIST,
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
        archives = sorted(Path(tmp).glob("protozfits-*.tar.gz"))
        if not archives:
            raise FileNotFoundError(f"pip did not download a protozfits sdist into {tmp}")
        with tarfile.open(archives[0]) as tar:
            member = next(
                (m for m in tar.getmembers() if m.name.endswith("/" + REAL_R0_MEMBER)), None
            )
            if member is None or not member.isfile():
                raise FileNotFoundError(f"{REAL_R0_MEMBER} not in {archives[0].name}")
            source = tar.extractfile(member)
            assert source is not None
            partial = cache_dir / f".tmp.{target.name}"
            with source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
            os.replace(partial, target)
    return target


def link_real_run(real_file: Path, r0_night_dir: Path) -> Path:
    """Expose the real file in a night's R0 folder as ``LST-1.1.Run02008.0000.fits.fz``.

    The DAQ name matters: ``onsite_*`` tools glob ``LST-1.1.Run{run}.{subrun}*.fits.fz``,
    ``lstchain_data_r0_to_dl1`` names its outputs after the parsed run/subrun, and
    ``LSTEventSource`` looks for streams 2-4 next to stream 1 (absent here, which it
    accepts: it reads the streams that exist). A symlink keeps the cache the only copy.
    """
    r0_night_dir = Path(r0_night_dir)
    r0_night_dir.mkdir(parents=True, exist_ok=True)
    link = r0_night_dir / r0_file_name(REAL_RUN, 0, 1)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(real_file).resolve())
    return link
