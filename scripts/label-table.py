#!/usr/bin/env python3
"""Writes src/ssh/label/refused.rs: the code points a key's label may not hold, as sorted,
merged ranges. From the Unicode Character Database that Debian's unicode-data package installs
(/usr/share/unicode): every control (Cc), format character (Cf), line and paragraph separator
(Zl, Zp) of UnicodeData.txt, and every Default_Ignorable_Code_Point of
DerivedCoreProperties.txt (fillers such as U+3164, variation selectors, unassigned ignorables).
Run from the repository's root: python3 scripts/label-table.py [UCD_DIR]"""

import sys
from pathlib import Path

UCD = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode")
CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def refused():
    points = set()
    first = None
    for line in (UCD / "UnicodeData.txt").read_text().splitlines():
        fields = line.split(";")
        cp, name, category = int(fields[0], 16), fields[1], fields[2]
        if name.endswith(", First>"):
            first = cp
            continue
        start = first if name.endswith(", Last>") else cp
        first = None
        if category in CATEGORIES:
            points.update(range(start, cp + 1))
    for line in (UCD / "DerivedCoreProperties.txt").read_text().splitlines():
        data = line.split("#")[0].strip()
        if not data:
            continue
        codes, prop = (part.strip() for part in data.split(";"))
        if prop != "Default_Ignorable_Code_Point":
            continue
        low, _, high = codes.partition("..")
        points.update(range(int(low, 16), int(high or low, 16) + 1))
    return points


def ranges(points):
    out = []
    for cp in sorted(points):
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def version():
    for line in (UCD / "DerivedCoreProperties.txt").read_text().splitlines()[:3]:
        if "DerivedCoreProperties-" in line:
            return line.split("-")[1].removesuffix(".txt")
    return "unknown"


table = ranges(refused())
rows = "\n".join(f"    ('\\u{{{a:04X}}}', '\\u{{{b:04X}}}')," for a, b in table)
Path("src/ssh/label/refused.rs").write_text(
    f"""//! The code points a label may not hold, as sorted, disjoint, inclusive ranges: Unicode
//! {version()}'s controls (Cc), format characters (Cf), line and paragraph separators (Zl, Zp) and
//! Default_Ignorable_Code_Point. Made by `scripts/label-table.py` from Debian's unicode-data;
//! do not edit by hand.

/// The ranges, sorted by their first code point.
pub(super) const REFUSED: [(char, char); {len(table)}] = [
{rows}
];
"""
)
print(f"{len(table)} ranges, {sum(b - a + 1 for a, b in table)} code points")
