#!/usr/bin/env python3
"""Calls between source files, from the symbols of their objects.

A file calls another when its object has an undefined symbol that the
other's defines (nm). Prints every circle of calls (a strongly connected
component of more than one file) and, for lib/, every call that goes up
the layers (util < crypto < acme < store < net < solver < engine).
For lib/ it also reads the sources: a file (.c or .h) may #include only
headers of its own layer and the layers below ("engine/internal.h" from
lib/acme would bring the context's structure down). Exits 1 when there is
any of these, so that they stay gone.

usage: cycles.py [BUILD_DIR] [PREFIX]
  BUILD_DIR  the meson build directory (default: build)
  PREFIX     the source folder to check (default: lib; cli for the CLI)
"""
import os
import re
import subprocess
import sys

LAYERS = ["util", "crypto", "acme", "store", "net", "solver", "engine"]
INCLUDE = re.compile(r'\s*#\s*include\s+"([a-z0-9_]+)/[^"]+"')
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def sources(prefix):
    """The .c files under prefix, relative to the source root."""
    out = []
    for top, _, files in os.walk(os.path.join(ROOT, prefix)):
        out += [
            os.path.relpath(os.path.join(top, f), ROOT)
            for f in files
            if f.endswith(".c")
        ]
    return out


def objects(build, prefix):
    """The objects of prefix's files, once each (the library's are in both
    the shared library and the internal archive). Meson names an object
    after its source's path from the folder of the meson.build that builds
    it, '/' made '_': lib_engine_ctx.c.o, or batch.c.o for cli/batch.c."""
    srcs = sources(prefix)
    found = {}
    for top, dirs, _ in os.walk(build):
        for d in sorted(dirs):
            if not d.endswith(".p"):
                continue
            sub = os.path.relpath(top, build)
            names = {}
            for src in srcs:
                rel = src if sub == "." else os.path.relpath(src, sub)
                if not rel.startswith(".."):
                    names[rel.replace("/", "_") + ".o"] = src
            p = os.path.join(top, d)
            for o in sorted(os.listdir(p)):
                if o in names and names[o] not in found:
                    found[names[o]] = os.path.join(p, o)
    return found


def symbols(obj):
    out = subprocess.run(
        ["nm", "--defined-only", obj], capture_output=True, text=True, check=True
    ).stdout
    defined = set()
    for line in out.splitlines():
        parts = line.split()
        # Functions and data that other files may use (T, D, B, R).
        if len(parts) == 3 and parts[1] in "TDBRCG":
            defined.add(parts[2])
    out = subprocess.run(
        ["nm", "--undefined-only", obj], capture_output=True, text=True, check=True
    ).stdout
    undefined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return defined, undefined


def tarjan(nodes, edges):
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        # Iterative, so that a long chain does not hit the recursion limit.
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                comps.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def layer(path):
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] == "lib" and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def includes_up(prefix):
    """#include "LAYER/x.h" lines that name a layer above the file's."""
    out = []
    if prefix != "lib":
        return out
    for top, _, files in os.walk(os.path.join(ROOT, prefix)):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.relpath(os.path.join(top, f), ROOT)
            a = layer(path)
            if a is None:
                continue
            with open(os.path.join(ROOT, path), errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if m and m.group(1) in LAYERS and \
                            LAYERS.index(m.group(1)) > a:
                        out.append(f"{path}:{n}: includes {m.group(0).split()[1]}")
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    prefix = (sys.argv[2] if len(sys.argv) > 2 else "lib").rstrip("/")
    objs = objects(build, prefix)
    if not objs:
        print(f"cycles: no objects of {prefix}/ in {build}", file=sys.stderr)
        return 2
    owner, undef = {}, {}
    for src, obj in objs.items():
        d, u = symbols(obj)
        undef[src] = u
        for s in d:
            owner.setdefault(s, src)
    edges = {
        src: {owner[s] for s in u if s in owner and owner[s] != src}
        for src, u in undef.items()
    }
    status = 0
    for comp in tarjan(objs, edges):
        if len(comp) > 1:
            status = 1
            print("cycles: a circle of calls: " + " ".join(comp))
    for src in sorted(edges):
        for dst in sorted(edges[src]):
            a, b = layer(src), layer(dst)
            if a is not None and b is not None and b > a:
                status = 1
                print(f"cycles: {src} calls up into {dst}")
    for hit in includes_up(prefix):
        status = 1
        print(f"cycles: {hit}, a header of a layer above")
    if status == 0:
        print(f"cycles: none in {prefix}/ ({len(objs)} files)")
    return status


if __name__ == "__main__":
    sys.exit(main())
