#!/usr/bin/env python3
"""Lists the C functions longer than a limit, from the first line of the definition to its
closing brace.

    scripts/funclen.py [--max N] [--all] [PATH...]   (default: src/, N 80)

Exits 1 when one is longer than N (so a build step or CI can use it).  A function is a
brace block at file scope whose head ends in ')' (not a struct, enum, union or
initialiser, whose heads do not); comments, strings and preprocessor lines are skipped when matching braces.
"""
import argparse
import os
import re
import sys


def strip(text):
    """The text with comments, strings, character constants and preprocessor lines blanked
    (newlines kept, so line numbers stay)."""
    out, i, n = [], 0, len(text)
    bol = True
    while i < n:
        c = text[i]
        if bol and c == '#':
            while i < n and text[i] != '\n':
                if text[i] == '\\' and i + 1 < n and text[i + 1] == '\n':
                    out.append('\n')
                    i += 2
                    continue
                i += 1
            continue
        if c == '/' and text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
            continue
        if c == '/' and text.startswith('//', i):
            while i < n and text[i] != '\n':
                i += 1
            continue
        if c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(c + re.sub(r'[^\n]', ' ', text[i + 1:j]) + c)
            i = j + 1
            bol = False
            continue
        out.append(c)
        if c == '\n':
            bol = True
        elif not c.isspace():
            bol = False
        i += 1
    return ''.join(out)


def functions(path):
    """(name, first line, lines) of each function defined in @path."""
    with open(path, encoding='utf-8', errors='replace') as f:
        text = strip(f.read())
    found, depth, head_start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '{':
            if depth == 0:
                head = text[head_start:i]
                m = re.search(r'([A-Za-z_]\w*)\s*\([^;{}]*\)\s*$', head)
                if m and '=' not in head[m.end():]:
                    name = m.group(1)
                    # the definition begins at the line holding its return type
                    first = text.rfind('\n', 0, head_start + m.start())
                    first = text.count('\n', 0, first + 1) if first >= 0 else 0
                    found.append([name, first + 1, 0])
                else:
                    found.append(None)
            depth += 1
        elif c == '}':
            depth -= 1
            if depth == 0:
                entry = found[-1] if found else None
                if entry and len(entry) == 3:
                    end = text.count('\n', 0, i) + 1
                    entry[2] = end - entry[1] + 1
                    entry.append(True)
                head_start = i + 1
        elif c == ';' and depth == 0:
            head_start = i + 1
        i += 1
    return [(e[0], e[1], e[2]) for e in found if e and len(e) == 4]


def sources(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, _, files in os.walk(p):
            for name in sorted(files):
                if name.endswith('.c'):
                    yield os.path.join(root, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--max', type=int, default=80)
    ap.add_argument('--all', action='store_true', help='list every function with its length')
    ap.add_argument('paths', nargs='*', default=['src'])
    a = ap.parse_args()
    rows = []
    for path in sources(a.paths):
        for name, line, n in functions(path):
            rows.append((n, path, line, name))
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    over = [r for r in rows if r[0] > a.max]
    for n, path, line, name in rows if a.all else over:
        print(f'{n:5d}  {path}:{line}  {name}')
    print(f'{len(rows)} functions, {len(over)} over {a.max} lines', file=sys.stderr)
    return 1 if over else 0


if __name__ == '__main__':
    sys.exit(main())
