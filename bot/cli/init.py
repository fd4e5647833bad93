"""`cyclewatch init [DIR]`: the default rules.yaml (shipped in the package) and a commented
`.env` to start from."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bot.config import Settings, packaged_rules


def init_command(args: argparse.Namespace, settings: Settings) -> int:
    """Write DIR/rules.yaml and DIR/.env; an existing file is kept unless --force."""
    target: Path = args.dir
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"cyclewatch init: cannot create {target}: {err.strerror or err}", file=sys.stderr)
        return 1
    sources = {"rules.yaml": packaged_rules(), ".env": packaged_rules().with_name("env.example")}
    for name, source in sources.items():
        path = target / name
        if path.exists() and not args.force:
            print(f"kept {path} (it exists; --force overwrites it)")
            continue
        try:
            shutil.copyfile(source, path)
        except OSError as err:
            print(f"cyclewatch init: cannot write {path}: {err.strerror or err}",
                  file=sys.stderr)
            return 1
        print(f"wrote {path}")
    print(f"next: cd {target} && cyclewatch check && cyclewatch run")
    return 0
