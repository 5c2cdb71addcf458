"""A stand-in analysis tool for orchestration tests (a real process, not a mock).

Usage: fake_tool.py STEP OUTPUT... [--fail-subruns 1,3] [--subrun N] [--sleep S]
       [--rc N] [--alloc-mb M]
Writes each OUTPUT (a few bytes) unless this subrun is told to fail, in which case it
writes half an output (to prove partial outputs are cleaned) and exits with --rc.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("outputs", nargs="*", type=Path)
    parser.add_argument("--subrun", type=int, default=-1)
    parser.add_argument("--fail-subruns", default="")
    parser.add_argument("--fail-file", type=Path, help="fail while this file exists")
    parser.add_argument("--rc", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--alloc-mb", type=int, default=0)
    parser.add_argument(
        "--output-kb", type=int, default=0, help="make each output this big (fills a small disk)"
    )
    parser.add_argument("--run", type=int, default=-1)
    parser.add_argument("--fail-runs", default="", help="run-level steps: fail for these runs")
    parser.add_argument(
        "--tailcuts", default="8,4", help="tailcuts step: picture,boundary of the written config"
    )
    parser.add_argument("--nsb", type=float, default=0.2, help="tailcuts step: NSB it logs")
    parser.add_argument(
        "--input",
        action="append",
        type=Path,
        default=[],
        help="a file or folder read: its content goes into the outputs, so a product made "
        "from other (or partial) inputs differs, as a real tool's would",
    )
    parser.add_argument("--R0-file", dest="r0_file", type=Path, help="r0_to_r0g: stream 1")
    parser.add_argument("--output-dir", type=Path, help="r0_to_r0g: the R0G folder")
    parser.add_argument("--log", type=Path, help="r0_to_r0g: the tool's log")
    parser.add_argument(
        "--ff-warning-subruns", default="", help="r0_to_r0g: log lstosa's FF warning"
    )
    args = parser.parse_args()
    if args.step == "tailcuts":
        return tailcuts(args)
    if args.step == "r0_to_r0g":
        return gain_selection(args)
    fail = {int(x) for x in args.fail_subruns.split(",") if x}
    if args.run in {int(x) for x in args.fail_runs.split(",") if x}:
        fail.add(args.subrun)
    if args.alloc_mb:
        hog = bytearray(args.alloc_mb * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(3)
    time.sleep(args.sleep)
    failing = args.subrun in fail or (args.fail_file is not None and args.fail_file.exists())
    for output in args.outputs:
        output.parent.mkdir(parents=True, exist_ok=True)
        if failing:
            output.write_bytes(b"partial")
            break
        text = f"{args.step} subrun {args.subrun} inputs {digest(args.input)}\n"
        if args.output_kb:
            text += "x" * (args.output_kb * 1024)
        output.write_text(text)
    if failing:
        print(f"{args.step}: failing on purpose for subrun {args.subrun}", file=sys.stderr)
        return args.rc
    print(f"{args.step}: ok subrun {args.subrun}")
    return 0


def digest(inputs: list[Path]) -> str:
    """SHA-256 over the inputs' bytes (a folder: its files by name, links followed)."""
    sha = hashlib.sha256()
    for item in inputs:
        files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
        for path in files:
            sha.update(path.name.encode())
            try:
                sha.update(path.read_bytes())
            except OSError:
                sha.update(b"<missing>")
    return sha.hexdigest()[:16]


def gain_selection(args: argparse.Namespace) -> int:
    """Like lstchain_r0_to_r0g: every stream of the subrun of --R0-file, gain-selected into
    --output-dir (here: copied with a mark), and a log; fails for --fail-subruns."""
    r0 = args.r0_file
    if not r0.exists():
        print(f"r0_to_r0g: {r0} not found", file=sys.stderr)
        return 1
    args.log.parent.mkdir(parents=True, exist_ok=True)
    warn = args.subrun in {int(x) for x in args.ff_warning_subruns.split(",") if x}
    lines = ["r0_to_r0g: gain selection\n"]
    if warn:
        lines.append("WARNING: 3 FlatField(FF)-like events are not tagged as FF\n")
    args.log.write_text("".join(lines))
    failing = args.fail_file is not None and args.fail_file.exists()
    if failing or args.subrun in {int(x) for x in args.fail_subruns.split(",") if x}:
        print(f"r0_to_r0g: failing on purpose for subrun {args.subrun}", file=sys.stderr)
        return args.rc
    time.sleep(args.sleep)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = r0.name.split(".", 2)[2]  # RunNNNNN.SSSS.fits.fz
    for stream in sorted(r0.parent.glob(f"LST-1.*.{stem}")):
        target = args.output_dir / stream.name
        target.write_bytes(b"R0G " + stream.read_bytes())
    print(f"r0_to_r0g: ok subrun {args.subrun}")
    return 0


def tailcuts(args: argparse.Namespace) -> int:
    """Like lstchain_find_tailcuts: a dl1ab config and a log with the NSB line; when told to
    fail, the log lines of a run without enough interleaved pedestals and no config."""
    config = args.outputs[0]
    config.parent.mkdir(parents=True, exist_ok=True)
    log = config.parent / f"log_find_tailcuts_Run{args.run:05d}.log"
    if args.run in {int(x) for x in args.fail_runs.split(",") if x}:
        log.write_text(
            "    Too few interleaved pedestals (6) - skipped subrun!\n"
            f"No valid computation was possible for run {args.run}\n"
            "lstchain_find_tailcuts failed!\n"
        )
        return 1
    picture, boundary = (int(x) for x in args.tailcuts.split(","))
    config.write_text(
        '{"tailcuts_clean_with_pedestal_threshold": '
        f'{{"picture_thresh": {picture}, "boundary_thresh": {boundary}}}}}\n'
    )
    log.write_text(f"Additional NSB rate (over dark MC): {args.nsb:.4f} p.e./ns\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
