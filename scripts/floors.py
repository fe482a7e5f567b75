#!/usr/bin/env python3
"""Checks that the crate's modules keep to their floors (docs/architecture.md).

    python3 scripts/floors.py

Reads every `use crate::...`, `crate::...` path and `super::...` path in
`src/` and `core/src/`, and fails (exit 1, one line per fault) when

- a module reaches a floor above its own (floors, lowest first: pb,
  service, metrics, server, app; the core crate is below them all and may
  not name the root crate at all), or
- a module names its own parent or an ancestor (`crate::server::X` from
  inside `server/`, or `super::X` where X is defined in the parent file
  rather than being a sibling module), which is a cycle between the two.

Comments and doc links are ignored: they are not imports.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FLOORS = ["pb", "service", "metrics", "server", "app"]
# Re-exports of the core crate: below every floor of this crate.
CORE = {"catalog", "diff", "engine", "gateway_body", "locale", "mapping", "present", "render"}

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(path, src):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts in (["lib"], ["main"]):
        return []
    return parts


INLINE_MOD = re.compile(r"^\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{")


def code_lines(text):
    """The lines outside comments, and whether each is inside an inline
    `mod name { ... }` (where `super` is the file's own module)."""
    inline = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if INLINE_MOD.match(line):
            inline = True
        if stripped.startswith("//"):
            continue
        yield number, line.split("//")[0], inline


def children(src, module):
    """The submodules a module declares (its own folder's files)."""
    folder = src.joinpath(*module) if module else src
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.rs")} | {p.name for p in folder.iterdir() if p.is_dir()}


def check(src, crate):
    faults = []
    for path in sorted(src.rglob("*.rs")):
        module = module_of(path, src)
        text = path.read_text()
        for number, line, inline in code_lines(text):
            for kind, rest in PATH.findall(line):
                names = rest.split("::")[1:]
                where = f"{path.relative_to(ROOT)}:{number}"
                if kind == "super":
                    if inline:
                        continue
                    parent = module[:-1]
                    if not names or names[0] == "super":
                        continue
                    if names[0] not in children(src, parent):
                        faults.append(f"{where}: super::{names[0]} names the parent module itself")
                    continue
                target = names
                if not module or not target:
                    continue
                upward = (
                    crate == "errmap"
                    and target[0] in FLOORS
                    and module[0] in FLOORS
                    and FLOORS.index(target[0]) > FLOORS.index(module[0])
                )
                if upward:
                    faults.append(f"{where}: {'/'.join(module)} ({module[0]}) reaches up to crate::{'::'.join(target)}")
                if len(module) > 1 and target[: len(module) - 1] == module[:-1] and len(target) < len(module):
                    faults.append(f"{where}: {'/'.join(module)} names its ancestor crate::{'::'.join(target)}")
                if len(module) > 1 and target[0] == module[0] and len(target) >= 1:
                    # crate::server::X from inside server/: X must be a
                    # module (a sibling or below), not the parent's item.
                    ancestor = []
                    for name in target:
                        if name in children(src, ancestor):
                            ancestor.append(name)
                        else:
                            break
                    if len(ancestor) < len(module) and module[: len(ancestor)] == ancestor:
                        if len(target) > len(ancestor):
                            faults.append(
                                f"{where}: {'/'.join(module)} takes {target[len(ancestor)]} from its ancestor crate::{'::'.join(ancestor)}"
                            )
    return faults


def main():
    faults = check(ROOT / "src", "errmap") + check(ROOT / "core" / "src", "core")
    core_text = "\n".join(p.read_text() for p in (ROOT / "core" / "src").rglob("*.rs"))
    if re.search(r"\berrmap::(app|server|service|metrics)\b", core_text):
        faults.append("core/src names the root crate")
    for fault in faults:
        print(fault)
    if faults:
        print(f"{len(faults)} floor fault(s)")
        sys.exit(1)
    print("floors: no upward import, no import of an ancestor")


if __name__ == "__main__":
    main()
