"""A stand-in analysis tool for orchestration tests (a real process, not a mock).

Usage: fake_tool.py STEP OUTPUT... [--fail-subruns 1,3] [--subrun N] [--sleep S]
       [--rc N] [--alloc-mb M]
Writes each OUTPUT (a few bytes) unless this subrun is told to fail, in which case it
writes half an output (to prove partial outputs are cleaned) and exits with --rc.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    fail = {int(x) for x in args.fail_subruns.split(",") if x}
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
        text = f"{args.step} subrun {args.subrun}\n"
        if args.output_kb:
            text += "x" * (args.output_kb * 1024)
        output.write_text(text)
    if failing:
        print(f"{args.step}: failing on purpose for subrun {args.subrun}", file=sys.stderr)
        return args.rc
    print(f"{args.step}: ok subrun {args.subrun}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
