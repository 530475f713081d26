"""`python -m codegen generate` and `python -m codegen check`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.errors import SchemaError
from codegen.pipeline import build
from codegen.write import differences, write

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("--schemas", type=Path, default=ROOT / "schemas", help="schemas directory")
    parser.add_argument("--out", type=Path, default=ROOT / "generated", help="generated directory")
    args = parser.parse_args(argv)
    try:
        files = build(args.schemas)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "generate":
        changed = write(files, args.out)
        print(f"{len(files)} files, {len(changed)} changed" + "".join(f"\n  {c}" for c in changed))
        return 0
    problems = differences(files, args.out)
    if problems:
        print("generated/ is out of date with schemas/ (run `nox -s generate`):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"generated/ is up to date ({len(files)} files)")
    return 0
