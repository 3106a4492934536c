#!/usr/bin/env python3
"""Writes every hex vector of the Go fixtures as one file each into a libFuzzer seed corpus directory.

Usage: Fuzz/seed-corpus.py OUTPUT_DIR   (run from the repository root)
"""
import pathlib
import re
import sys

FIXTURE = pathlib.Path("Tests/GossipTests/Fixtures/GoMemberlistVectors.swift")


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    text = FIXTURE.read_text()
    # Single-line "…" hex literals and wrapped """ … """ ones.
    literals = re.findall(r'"""\n(.*?)"""', text, re.S) + re.findall(r'"([0-9a-f]{2,})"', text)
    count = 0
    for literal in literals:
        digits = re.sub(r"\s", "", literal)
        if len(digits) % 2 or not re.fullmatch(r"[0-9a-f]*", digits):
            continue
        (out / f"seed-{count:04d}").write_bytes(bytes.fromhex(digits))
        count += 1
    print(f"wrote {count} seeds to {out}")


if __name__ == "__main__":
    main()
