#!/usr/bin/python3
"""Checks that src/ keeps its layers (docs/ARCHITECTURE.md): a file includes only
headers of its own layer or of the layers below, and the modules' include graph has
no circle.  Prints the graph (--dot: as Graphviz), the lines per file, the longest
functions and the file-scope mutable variables (--stats).  Exit 1 on a violation.

    scripts/layers.py [--dot] [--stats BUILD_DIR]
"""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
# Bottom up: a layer may use itself and the ones before it.
LAYERS = ["base", "model", "net", "store", "feat", "ns", "vfs", "fuse", "top"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """'store/cache.c' -> 'store'; 'main.c' -> 'top'."""
    return rel.split("/")[0] if "/" in rel else "top"


def module_of(rel):
    """'store/cache.c' and 'store/cache.h' -> 'store/cache'."""
    return os.path.splitext(rel)[0]


def sources():
    for path in sorted(glob.glob(os.path.join(SRC, "**", "*.[ch]"), recursive=True)):
        yield os.path.relpath(path, SRC)


def includes(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def check():
    problems, graph = [], {}
    for rel in sources():
        lay = layer_of(rel)
        if lay not in LAYERS:
            problems.append(f"src/{rel}: not in a layer ({', '.join(LAYERS)})")
            continue
        mod = module_of(rel)
        graph.setdefault(mod, set())
        for inc in includes(rel):
            if not os.path.exists(os.path.join(SRC, inc)):
                problems.append(f"src/{rel}: includes \"{inc}\", which is not a path under src/")
                continue
            target = layer_of(inc)
            if LAYERS.index(target) > LAYERS.index(lay):
                problems.append(f"src/{rel} ({lay}) includes {inc} ({target}): "
                                f"a lower layer may not use a higher one")
            if module_of(inc) != mod:
                graph[mod].add(module_of(inc))
    # circles between modules
    state = {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n] if n in stack else [m, n]
                problems.append("include circle: " + " -> ".join(cycle))
            elif not state.get(n):
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if not state.get(m):
            visit(m, [m])
    return problems, graph


def functions(rel):
    """(name, lines) of each function defined in src/rel (brace matching)."""
    out = []
    lines = open(os.path.join(SRC, rel), encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^[a-z][^;=]*?\b([a-z_][a-z0-9_]*)\(", lines[i])
        if m and not lines[i].startswith(("static inline", "typedef")):
            j = i
            while j < len(lines) and lines[j] != "{" and not lines[j].endswith(";"):
                j += 1
            if j < len(lines) and lines[j] == "{":
                k = j
                while k < len(lines) and lines[k] != "}":
                    k += 1
                out.append((m.group(1), k - i + 1))
                i = k
        i += 1
    return out


def stats(build):
    total = 0
    rows = []
    for rel in sources():
        n = sum(1 for _ in open(os.path.join(SRC, rel), encoding="utf-8"))
        rows.append((n, rel))
        total += n
    print(f"src/: {total} lines in {len(rows)} files; the largest:")
    for n, rel in sorted(rows, reverse=True)[:8]:
        print(f"  {n:5d}  {100 * n / total:4.1f}%  src/{rel}")
    funcs = [(n, f"src/{rel}:{name}") for rel in sources() if rel.endswith(".c")
             for name, n in functions(rel)]
    print("longest functions:")
    for n, where in sorted(funcs, reverse=True)[:8]:
        print(f"  {n:5d}  {where}")
    if build:
        objs = glob.glob(os.path.join(build, "**", "*.o"), recursive=True)
        objs = [o for o in objs if "/src_" in o.replace(os.sep, "/") or "src_" in o]
        mutable = []
        for o in sorted(objs):
            # Writable data only: .data and .bss (const tables with pointers sit in
            # .data.rel.ro, which nm also calls 'd').
            r = subprocess.run(["objdump", "-t", o], capture_output=True, text=True)
            for line in r.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 6 and parts[-3] in (".data", ".bss", ".tbss", ".tdata") \
                        and "O" in parts[1:-3]:
                    mutable.append(f"{os.path.basename(o)}: {parts[-1]}")
        print(f"file-scope mutable variables (objdump: .data and .bss objects): {len(mutable)}")
        for m in mutable:
            print(f"  {m}")


def main():
    problems, graph = check()
    if "--dot" in sys.argv:
        print("digraph factuurfs {\n  rankdir=BT;")
        for m in sorted(graph):
            for n in sorted(graph[m]):
                print(f'  "{m}" -> "{n}";')
        print("}")
    if "--stats" in sys.argv:
        i = sys.argv.index("--stats")
        stats(sys.argv[i + 1] if i + 1 < len(sys.argv) else None)
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    if problems:
        return 1
    print(f"layers: {len(graph)} modules in {len(LAYERS)} layers, every include points down, "
          f"no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
