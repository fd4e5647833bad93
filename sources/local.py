"""Which local files a rules file may name: only those under one folder, the data directory
(`CYCLEWATCH_DATA`, `--data`) or else the rules file's own folder.

A path is resolved (symbolic links followed, `..` collapsed) before it is compared, so
`../../etc/passwd`, `/proc/self/environ`, `file:///etc/passwd` and a link pointing out of the
folder are all refused the same way, by a one-line message naming the setting to change; the
file is never opened, so nothing of it can show.
"""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

HOW = ("a rules file reads files only under CYCLEWATCH_DATA (or --data DIR), else its own "
       "folder: put the file there, or point CYCLEWATCH_DATA at its folder")


class OutsideError(ValueError):
    """A path a rules file names lies outside the folder it may read."""


def is_web(spec: str) -> bool:
    """Whether `spec` is an http(s) URL (anything else names a local file)."""
    return urlsplit(spec).scheme.lower() in ("http", "https")


def plain_relative(spec: str) -> str | None:
    """Why `spec` is not a plain relative path inside a folder (None when it is one)."""
    if urlsplit(spec).scheme:
        return "a file name inside the data directory (no scheme)"
    path = PurePosixPath(spec.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        return "a relative path inside the data directory (not absolute, no '..')"
    return None


def inside(spec: str, root: Path, *, folder: str = "the data directory") -> Path:
    """The file `spec` (a path, relative to `root`, or a `file:` URL) names, resolved; raise
    OutsideError when it is not under `root` (`folder` says what `root` is)."""
    parts = urlsplit(spec)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise OutsideError(f"{spec!r} names another host; {HOW}")
        path = Path(unquote(parts.path))
    else:
        path = Path(spec)
    base = root.resolve()
    try:
        resolved = (path if path.is_absolute() else base / path).resolve()
    except (OSError, ValueError, RuntimeError) as err:  # a NUL byte, a name too long, a loop
        raise OutsideError(f"{spec[:200]!r} is not a usable path ({err})") from None
    if not resolved.is_relative_to(base):
        raise OutsideError(f"{spec!r} is outside {folder} {base}; {HOW}")
    return resolved


def regular(path: Path) -> bool | None:
    """Whether `path` is a regular file (None when it cannot be told: absent, unreadable; the
    read then says why): a FIFO or a device under the folder is refused too, since reading one
    may never end."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return stat.S_ISREG(mode)
