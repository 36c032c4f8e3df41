#!/usr/bin/env python3
"""Adds the `deno` npm package's other-platform binaries to package-lock.json.

npm writes an optional dependency into the lock only when it can resolve it.
Where the registry (or mirror) does not serve the other platforms' `@deno/*`
packages, the lock lists only this machine's, and `npm ci` then rejects the
lock as out of sync with package.json. Entries with `os`/`cpu` set are
skipped on non-matching machines before anything is fetched, so listing them
(version and platform only) satisfies `npm ci` everywhere.
Run after `npm install` whenever dependencies change: python3 scripts/fix-lock.py
"""
import json
import pathlib

lock_path = pathlib.Path(__file__).resolve().parent.parent / "package-lock.json"
lock = json.loads(lock_path.read_text())
packages = lock["packages"]
deno = packages.get("node_modules/deno")
if deno is None:
    raise SystemExit("package-lock.json has no node_modules/deno entry: run npm install first")
version = deno["version"]
platforms = {
    "darwin-arm64": ("darwin", "arm64", None),
    "darwin-x64": ("darwin", "x64", None),
    "linux-arm64-glibc": ("linux", "arm64", "glibc"),
    "linux-x64-glibc": ("linux", "x64", "glibc"),
    "win32-arm64": ("win32", "arm64", None),
    "win32-x64": ("win32", "x64", None),
}
for name in deno.get("optionalDependencies", {}):
    key = f"node_modules/{name}"
    if key in packages:
        continue
    os_, cpu, libc = platforms[name.split("/", 1)[1]]
    entry = {"version": version, "cpu": [cpu], "dev": True, "license": "MIT", "optional": True,
             "os": [os_]}
    if libc:
        entry["libc"] = [libc]
    packages[key] = entry
lock["packages"] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != "", kv[0])))
lock_path.write_text(json.dumps(lock, indent=2) + "\n")
