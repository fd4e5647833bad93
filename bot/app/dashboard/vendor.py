"""The charting library the dashboard bundles: uPlot from the npm registry, pinned by version
and SHA-256, vendored into package data (`python -m bot.app.dashboard.vendor` re-fetches it
with `npm pack`; run time never touches a network)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "uplot"
VERSION = "1.6.32"
VENDOR = Path(__file__).parent / "static" / "vendor"
# file in the npm tarball -> (name under static/vendor, sha256)
FILES = {
    "package/dist/uPlot.iife.min.js": (
        "uPlot.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
    "package/dist/uPlot.min.css": (
        "uPlot.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
    "package/LICENSE": ("uPlot.LICENSE", None),
}


def problems() -> list[str]:
    """What differs from the pinned files (empty when the bundle is intact)."""
    found = []
    for name, digest in FILES.values():
        path = VENDOR / name
        if not path.is_file():
            found.append(f"{name}: missing")
        elif digest is not None and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            found.append(f"{name}: not {PACKAGE}@{VERSION} (checksum differs)")
    return found


def main() -> int:
    """Fetch the pinned package with npm, check it, copy its files into static/vendor."""
    npm = shutil.which("npm")
    if npm is None:
        print("npm not found; the vendored files in the repository are used as they are")
        return 1
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=work, check=True)
        with tarfile.open(Path(work) / f"{PACKAGE}-{VERSION}.tgz") as tar:
            for member, (name, digest) in FILES.items():
                source = tar.extractfile(member)
                assert source is not None
                body = source.read()
                if digest is not None and hashlib.sha256(body).hexdigest() != digest:
                    print(f"{member}: checksum differs from the pin", file=sys.stderr)
                    return 1
                (VENDOR / name).write_bytes(body)
    print(f"vendored {PACKAGE}@{VERSION} into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
