#!/usr/bin/python3
"""Checks that src/ keeps its layers (docs/ARCHITECTURE.md).

A module is a .c file with its .h (store/cache.c and store/cache.h are store/cache).  A
module depends on another when it includes that one's header, or when its object file
uses a symbol the other's object defines: a function it calls, or a table it refers to
(`nm -u` of one object against `nm --defined-only` of the others).  Two rules:

  - every dependency points down: to the module's own layer or to one below it;
  - the dependencies have no circle, inside a layer as well as across layers.

The calls are what the includes cannot show: every file of src/fuse/ includes
fuse/mount.h, so a circle of calls through that one header is invisible to the
includes.  The calls need a build (meson test runs this after building; see
meson.build); a source newer than its object fails the check, so a stale build cannot
pass it.

    scripts/layers.py [--build DIR] [--graph] [--dot] [--stats] | --self-test

  --build DIR  the meson build directory whose objects are read (default: build)
  --graph      prints every module's dependencies, the calls with the symbols used
  --dot        the same graph for Graphviz (calls solid, includes only dashed)
  --stats      lines per file, the longest functions, the file-scope mutable variables
  --self-test  checks the checker on a small tree it compiles (needs cc)

Exit 0 when both rules hold, 1 otherwise (each problem on stderr), 2 when there are no
objects to read.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
# Bottom up: a layer may use itself and the ones before it.
LAYERS = ["base", "model", "net", "store", "feat", "ns", "fuse", "top"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# Dependencies left out of the circle check, each as (from, to): why it is there and
# what would remove it.  Empty: no circle is tolerated.  An entry whose dependency no
# longer exists is itself a problem, so that this list only ever shrinks to what is true.
ALLOWED = {
}


def layer_of(rel):
    """'store/cache.c' -> 'store'; 'main.c' -> 'top'."""
    return rel.split("/")[0] if "/" in rel else "top"


def module_of(rel):
    """'store/cache.c' and 'store/cache.h' -> 'store/cache'."""
    return os.path.splitext(rel)[0]


def sources(src=SRC):
    for path in sorted(glob.glob(os.path.join(src, "**", "*.[ch]"), recursive=True)):
        yield os.path.relpath(path, src)


def includes(src, rel):
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


class Graph:
    """Module -> module -> {"include": bool, "calls": set of symbols}."""

    def __init__(self):
        self.nodes = set()
        self.edges = {}

    def add(self, a, b, include=False, symbol=None):
        self.nodes.update((a, b))
        e = self.edges.setdefault(a, {}).setdefault(b, {"include": False, "calls": set()})
        e["include"] |= include
        if symbol:
            e["calls"].add(symbol)

    def succ(self, a):
        return self.edges.get(a, {})


def include_edges(src, graph, problems):
    for rel in sources(src):
        lay = layer_of(rel)
        if lay not in LAYERS:
            problems.append(f"src/{rel}: not in a layer ({', '.join(LAYERS)})")
            continue
        mod = module_of(rel)
        graph.nodes.add(mod)
        for inc in includes(src, rel):
            if not os.path.exists(os.path.join(src, inc)):
                problems.append(f"src/{rel}: includes \"{inc}\", which is not a path under src/")
                continue
            if module_of(inc) != mod:
                graph.add(mod, module_of(inc), include=True)


def objects(src, build, problems):
    """{module: object file} for every .c of src/, from meson's object names
    ('src/fuse/attr.c' is compiled to '<target>.p/src_fuse_attr.c.o')."""
    want = {}
    for rel in sources(src):
        if rel.endswith(".c"):
            want["src_" + rel.replace("/", "_") + ".o"] = rel
    found = {}
    for o in sorted(glob.glob(os.path.join(build, "**", "*.o"), recursive=True)):
        base = os.path.basename(o)
        if base in want:
            found.setdefault(module_of(want[base]), o)
        elif base.startswith("meson-generated_") and base.endswith("_version.c.o"):
            found.setdefault("version", o)  # src/version.c.in, made by vcs_tag
    if not found:
        return found
    for base, rel in sorted(want.items()):
        o = found.get(module_of(rel))
        if not o:
            problems.append(f"src/{rel}: no object under {build} (not in meson.build?)")
        elif os.path.getmtime(os.path.join(src, rel)) > os.path.getmtime(o):
            problems.append(f"src/{rel} is newer than {o}: build first (ninja -C {build})")
    return found


def nm(flags, files):
    """(file, symbol) for each line of `nm -A FLAGS FILES`."""
    r = subprocess.run([os.environ.get("NM", "nm"), "-A", *flags, *files],
                       capture_output=True, text=True, check=True)
    for line in r.stdout.splitlines():
        path, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            yield path, parts[-1]


def call_edges(graph, objs):
    module = {o: m for m, o in objs.items()}
    files = sorted(module)
    defined = {}
    for path, sym in nm(["-g", "--defined-only"], files):
        defined.setdefault(sym, module[path])
    if not defined:
        return False  # objects nm cannot read (LTO bytecode, say): no calls seen
    for path, sym in nm(["-u"], files):
        a, b = module[path], defined.get(sym)
        if b and b != a:
            graph.add(a, b, symbol=sym)
    return True


def check_down(graph, problems):
    for a in sorted(graph.edges):
        for b, e in sorted(graph.succ(a).items()):
            la, lb = layer_of(a + ".c"), layer_of(b + ".c")
            if la in LAYERS and lb in LAYERS and LAYERS.index(lb) > LAYERS.index(la):
                how = "includes" if e["include"] else "calls"
                if e["calls"]:
                    how = f"calls {', '.join(sorted(e['calls']))} of"
                problems.append(f"{a} ({la}) {how} {b} ({lb}): a lower layer may not use "
                                f"a higher one")


def components(nodes, succ):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(succ(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ(w)))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def circles(comp, succ, limit=100000):
    """The elementary circles inside one component, each starting at its smallest
    module; at most @limit of them."""
    order = {m: i for i, m in enumerate(comp)}
    found = []
    for start in comp:
        # Circles through @start over modules after it only: each circle once.
        path, on = [start], {start}
        work = [iter(sorted(n for n in succ(start) if n in order and order[n] >= order[start]))]
        while work and len(found) < limit:
            n = next(work[-1], None)
            if n is None:
                work.pop()
                on.discard(path.pop())
                continue
            if n == start:
                found.append(path + [start])
            elif n not in on:
                path.append(n)
                on.add(n)
                work.append(iter(sorted(m for m in succ(n)
                                        if m in order and order[m] >= order[start])))
    return found


def check_circles(graph, problems, allowed):
    for (a, b), why in sorted(allowed.items()):
        if b not in graph.succ(a):
            problems.append(f"ALLOWED lists {a} -> {b} ({why}), which is gone: remove it")

    def succ(a):
        return [b for b in graph.succ(a) if (a, b) not in allowed]

    comps = components(graph.nodes, succ)
    found = [c for comp in comps for c in circles(comp, succ)]
    for comp in comps:
        problems.append(f"circle of {len(comp)} modules: {', '.join(comp)}")
    for c in found[:20]:
        steps = []
        for a, b in zip(c, c[1:]):
            e = graph.succ(a)[b]
            via = sorted(e["calls"])[0] if e["calls"] else "#include"
            steps.append(f"{a} -({via})->")
        problems.append("  " + " ".join(steps) + f" {c[-1]}")
    if len(found) > 20:
        problems.append(f"  ... and {len(found) - 20} more circles")
    return len(found)


def symbols(calls, most=6):
    s = sorted(calls)
    return ", ".join(s[:most]) + (f" (+{len(s) - most})" if len(s) > most else "")


def print_graph(graph):
    for lay in LAYERS:
        mods = sorted(m for m in graph.nodes if layer_of(m + ".c") == lay)
        if not mods:
            continue
        print(f"[{lay}]")
        for a in mods:
            print(f"  {a}")
            for b, e in sorted(graph.succ(a).items()):
                how = "calls " + symbols(e["calls"]) if e["calls"] else "includes only"
                mark = " (allowed circle edge)" if (a, b) in ALLOWED else ""
                print(f"    -> {b}: {how}{mark}")


def print_dot(graph):
    print("digraph factuurfs {\n  rankdir=BT;")
    for a in sorted(graph.edges):
        for b, e in sorted(graph.succ(a).items()):
            style = "" if e["calls"] else " [style=dashed]"
            print(f'  "{a}" -> "{b}"{style};')
    print("}")


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


def stats(objs):
    total = 0
    rows = []
    for rel in sources():
        n = sum(1 for _ in open(os.path.join(SRC, rel), encoding="utf-8"))
        rows.append((n, rel))
        total += n
    print(f"src/: {total} lines in {len(rows)} files; the largest:")
    for n, rel in sorted(rows, reverse=True)[:10]:
        print(f"  {n:5d}  {100 * n / total:4.1f}%  src/{rel}")
    funcs = [(n, f"src/{rel}:{name}") for rel in sources() if rel.endswith(".c")
             for name, n in functions(rel)]
    long = sorted((f for f in funcs if f[0] > 80), reverse=True)
    print(f"functions over 80 lines: {len(long)}")
    for n, where in long:
        print(f"  {n:5d}  {where}")
    mutable = []
    for o in sorted(objs.values()):
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


def analyse(src, build, allowed):
    """(problems, graph, circles, objects), or None when @build holds no objects."""
    problems = []
    graph = Graph()
    include_edges(src, graph, problems)
    objs = objects(src, build, problems)
    if not objs:
        return None
    if not call_edges(graph, objs):
        problems.append(f"nm found no symbols in the objects under {build}: the calls "
                        f"cannot be checked")
    check_down(graph, problems)
    return problems, graph, check_circles(graph, problems, allowed), objs


SELF_TEST = {
    # Two files of one layer that include only a header they share, and call each
    # other: the includes show no circle, the calls do.
    "fuse/shared.h": "int a_fn(void);\nint b_fn(int);\n",
    "fuse/a.c": '#include "fuse/shared.h"\nint a_fn(void) { return b_fn(1); }\n',
    "fuse/b.c": '#include "fuse/shared.h"\nint b_fn(int x) { return x > 1 ? a_fn() : x; }\n',
    # A lower layer calling up.
    "base/low.c": "int fuse_up(void);\nint low_fn(void) { return fuse_up(); }\n",
    "fuse/up.c": "int fuse_up(void) { return 0; }\n",
}


def self_test():
    """Builds SELF_TEST in a temporary tree with the C compiler and checks that the
    circle and the call up are found, and that both go when the calls do."""
    import tempfile
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src, build = os.path.join(tmp, "src"), os.path.join(tmp, "build")

        def make(files):
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
                with open(os.path.join(src, rel), "w", encoding="utf-8") as f:
                    f.write(text)
            os.makedirs(build, exist_ok=True)
            for rel in files:
                if rel.endswith(".c"):
                    obj = os.path.join(build, "src_" + rel.replace("/", "_") + ".o")
                    subprocess.run([cc, "-c", "-I", src, "-o", obj, os.path.join(src, rel)],
                                   check=True)
            return analyse(src, build, {})

        problems, graph, ncircles, _ = make(SELF_TEST)
        assert ncircles == 1, (ncircles, problems)
        assert graph.succ("fuse/a")["fuse/b"]["calls"] == {"b_fn"}, graph.edges
        assert any("base/low (base) calls fuse_up of fuse/up" in p for p in problems), problems
        problems, graph, _, _ = analyse(src, build, {("fuse/b", "fuse/a"): "test"})
        assert not any("circle" in p for p in problems), problems
        problems, _, _, _ = analyse(src, build, {("fuse/a", "fuse/up"): "test"})
        assert any("which is gone" in p for p in problems), problems
        fixed = dict(SELF_TEST)
        fixed["fuse/b.c"] = '#include "fuse/shared.h"\nint b_fn(int x) { return x; }\n'
        fixed["base/low.c"] = "int low_fn(void) { return 0; }\n"
        problems, _, ncircles, _ = make(fixed)
        assert ncircles == 0 and not problems, problems
    print("layers: self-test passed (a circle through a shared header and a call up found)")
    return 0


def main():
    ap = argparse.ArgumentParser(description="The layers of src/ and their circles.")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--graph", action="store_true")
    ap.add_argument("--dot", action="store_true")
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()

    found = analyse(SRC, args.build, ALLOWED)
    if found is None:
        print(f"layers: no objects of src/ under {args.build}: build first "
              f"(meson setup build && ninja -C build), or name one with --build",
              file=sys.stderr)
        return 2
    problems, graph, ncircles, objs = found
    if args.graph:
        print_graph(graph)
    if args.dot:
        print_dot(graph)
    if args.stats:
        stats(objs)
    nedges = sum(len(s) for s in graph.edges.values())
    ncalls = sum(1 for s in graph.edges.values() for e in s.values() if e["calls"])
    summary = (f"{len(graph.nodes)} modules in {len(LAYERS)} layers, {nedges} dependencies "
               f"({ncalls} with calls), {ncircles} circles")
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    if problems:
        print(f"layers: {summary}: FAILED", file=sys.stderr)
        return 1
    print(f"layers: {summary}; every include and call points down"
          + (f" ({len(ALLOWED)} allowed edges)" if ALLOWED else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
