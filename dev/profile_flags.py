#!/usr/bin/env python3
"""Prints the root Cargo.toml's [profile.release] as cargo --config flags,
one per line, so that dev/hello-lambda (its own workspace) builds with the
functions' release profile. With --lock, also copies the root Cargo.lock
into dev/hello-lambda/ so it resolves the same crate versions.

Usage: python3 dev/profile_flags.py [--lock]
"""

import json
import pathlib
import re
import shutil
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def flatten(prefix, table):
    for key, value in table.items():
        bare = re.fullmatch(r"[A-Za-z0-9_-]+", key)
        name = f"{prefix}.{key if bare else json.dumps(key)}"
        if isinstance(value, dict):
            yield from flatten(name, value)
        else:
            # TOML values: strings quoted, booleans lower case, numbers as is.
            yield f"{name}={json.dumps(value)}"


def main():
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    profile = manifest.get("profile", {}).get("release", {})
    for flag in flatten("profile.release", profile):
        print("--config")
        print(flag)
    if "--lock" in sys.argv[1:]:
        shutil.copyfile(ROOT / "Cargo.lock", ROOT / "dev" / "hello-lambda" / "Cargo.lock")


if __name__ == "__main__":
    main()
