#!/usr/bin/python3
"""README's "Source layout" table names every file of src/ and tools/, and nothing else.

A row's first cell is a directory (`src/store/`); its files are the backticked names
that begin an entry of the second cell: `cache` or `cache.c` for src/store/cache.c, a
`.h` for a header without a .c.  Every .c (and every .h without one) under the
directory must be named in its row, and every name in it must be a file there.

    tests/unit/source_layout.py [SOURCE_ROOT]    (meson test runs it; exit 1 on a miss)
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# An entry: a backticked file name at the start of the cell or after ", ", and
# followed by " (", ", ", " |" or the end: `cache` (...), `strbuf`, `transport.h`.
ENTRY = re.compile(r"(?:^|, )`([A-Za-z0-9_.]+)`(?= \(|,|$)")


def table(readme):
    text = open(readme, encoding="utf-8").read()
    section = text.split("\n## Source layout\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0].endswith("/`"):
            # Parentheses may hold backticked words too: drop them first.
            files = cells[1]
            while True:
                stripped = re.sub(r" \([^()]*\)", "", files)
                if stripped == files:
                    break
                files = stripped
            rows[cells[0].strip("`").rstrip("/")] = ENTRY.findall(files)
    return rows


def on_disk(root, d):
    """The files a row for directory @d must name: its .c files, and its .h files
    without a .c."""
    full = os.path.join(root, d)
    names = sorted(os.listdir(full))
    out = set()
    for n in names:
        stem, ext = os.path.splitext(n)
        if ext == ".c" or (ext == ".h" and stem + ".c" not in names):
            out.add(n)
    return out


def main():
    rows = table(os.path.join(ROOT, "README.md"))
    problems = []
    dirs = ["src"] + sorted("src/" + d for d in os.listdir(os.path.join(ROOT, "src"))
                            if os.path.isdir(os.path.join(ROOT, "src", d))) + ["tools"]
    for d in dirs:
        if d not in rows:
            problems.append(f"README's source layout has no row for {d}/")
            continue
        named = set()
        for n in rows[d]:
            path = n if os.path.splitext(n)[1] in (".c", ".h") else n + ".c"
            if not os.path.exists(os.path.join(ROOT, d, path)):
                problems.append(f"README's row for {d}/ names `{n}`, which is not {d}/{path}")
            named.add(path)
        for f in sorted(on_disk(ROOT, d) - named):
            problems.append(f"README's row for {d}/ does not name {d}/{f}")
    for d in sorted(set(rows) - set(dirs)):
        problems.append(f"README's source layout has a row for {d}/, which is not a directory")
    for p in problems:
        print("source layout: " + p, file=sys.stderr)
    if problems:
        return 1
    print(f"source layout: README names all {sum(len(on_disk(ROOT, d)) for d in dirs)} "
          f"files of {len(dirs)} directories")
    return 0


if __name__ == "__main__":
    sys.exit(main())
