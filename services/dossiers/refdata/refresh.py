"""Rebuild the reference data shipped with the dossiers service (see README.md beside this file).

    python services/dossiers/refdata/refresh.py                 # fetch the pinned version with `npm pack`
    python services/dossiers/refdata/refresh.py --version 6.1.0  # another millésime
    python services/dossiers/refdata/refresh.py --tarball pkg.tgz  # a tarball already downloaded

Reads `@etalab/decoupage-administratif` (INSEE Code officiel géographique + La Poste postal codes,
Licence Ouverte) and writes two compact, sorted, gzip-compressed CSV files (`;`-separated, UTF-8):

- `departements.csv.gz`: code;nom;zone
- `communes.csv.gz`: code;nom;departement;type;codes_postaux (space-separated)

The output is deterministic (sorted rows, gzip without timestamp), so a refresh with unchanged
data changes no byte in the repository.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"  # millésime 2026 of the COG
HERE = Path(__file__).resolve().parent
KEPT_TYPES = ("commune-actuelle", "commune-deleguee", "commune-associee", "arrondissement-municipal")


def fetch(version: str, workdir: Path) -> Path:
    """Download the package tarball with npm (the registry's ordinary client); no project needed."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=workdir, check=True, capture_output=True, text=True
    )
    return workdir / out.stdout.strip().splitlines()[-1]


def _member(tar: tarfile.TarFile, name: str) -> list[dict]:
    handle = tar.extractfile(f"package/data/{name}")
    if handle is None:
        raise SystemExit(f"{name} missing from the tarball")
    return json.load(handle)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode("utf-8"))


def build(tarball: Path, out: Path = HERE) -> dict[str, int]:
    with tarfile.open(tarball) as tar:
        departements = _member(tar, "departements.json")
        communes = _member(tar, "communes.json")
    dep_rows = sorted([d["code"], d["nom"], d["zone"]] for d in departements)
    com_rows = sorted(
        [c["code"], c["nom"], c["departement"], c["type"], " ".join(sorted(c.get("codesPostaux") or []))]
        for c in communes
        if c.get("type") in KEPT_TYPES and c.get("departement")
    )
    _write(out / "departements.csv.gz", ["code", "nom", "zone"], dep_rows)
    _write(out / "communes.csv.gz", ["code", "nom", "departement", "type", "codes_postaux"], com_rows)
    return {"departements": len(dep_rows), "communes": len(com_rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=VERSION)
    parser.add_argument("--tarball", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch(args.version, Path(tmp))
        counts = build(tarball)
    print(f"{PACKAGE}@{args.version}: {counts['departements']} départements, {counts['communes']} communes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
