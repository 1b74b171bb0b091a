#!/usr/bin/env python3
"""Every test the docs cite exists: README.md, docs/SEMANTICS.md, docs/ARCHITECTURE.md
(and the desktop README) name the test behind each statement; a test renamed or removed must not leave
a statement pointing at nothing.  Run by scripts/test.sh before anything is built.

  scripts/claims.py [DOC...]     check the docs (default: the four above); exit 1 on
                                 a citation of a file or test that does not exist
  scripts/claims.py --self-test  check the parser on every citation form

Citations are inline code spans (`...`) of these forms:
  `test_x.py::test_y`              test_y defined in tests/integration/test_x.py (a bare
                                   file name is looked up there, else anywhere under tests/)
  `tests/unit/test_api.py::test_y` the same with a path from the top of the tree
  `::test_y`                       test_y in the file of the last `file::test` citation
                                   before it in the same document (README's tables)
  `test_x.py`, `tests/unit/test_names.c`, `tests/desktop/`
                                   the file or directory exists
  `test_x.py::test_y[param]`       the parameter id is ignored; test_y must exist
"""
import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ("README.md", os.path.join("docs", "SEMANTICS.md"), os.path.join("docs", "ARCHITECTURE.md"),
        os.path.join("tests", "desktop", "README.md"))

SPAN = re.compile(r"`([^`]+)`")
CITE = re.compile(r"""^(?P<file>(?:tests/[\w./-]*|test_\w+\.(?:py|c)))?
                      (?:::(?P<test>test_\w+)(?:\[[^\]]*\])?)?$""", re.X)


FENCE = re.compile(r"^ {0,3}(```|~~~)")


def without_fences(text):
    """@text with the lines of fenced code blocks blanked (line numbers kept): their
    backticks are no code spans, and an odd number of them would pair every span after
    them wrongly."""
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def citations(text):
    """(line number, file or None, test or None) for each citation in @text, in order;
    `::test` gets the file of the last `file::test` before it (None if there is none)."""
    out = []
    last = None
    text = without_fences(text)
    for m in SPAN.finditer(text):
        span = " ".join(m.group(1).split())  # a code span may be broken over lines
        c = CITE.match(span)
        if not c or not (c.group("file") or c.group("test")):
            continue
        line = text.count("\n", 0, m.start()) + 1
        f, t = c.group("file"), c.group("test")
        if f and t:
            last = f
        elif t:
            f = last
        out.append((line, f, t, span))
    return out


def resolve(name, root=ROOT):
    """A cited file name -> its path under @root, or None."""
    if name.startswith("tests/"):
        p = os.path.join(root, name)
        return p if os.path.exists(p) else None
    p = os.path.join(root, "tests", "integration", name)
    if os.path.exists(p):
        return p
    found = [os.path.join(d, name) for d, _, fs in os.walk(os.path.join(root, "tests"))
             if name in fs]
    return found[0] if len(found) == 1 else None


def defined_tests(path, _memo={}):
    """The names of the test functions a Python file defines (module level or in a class)."""
    if path not in _memo:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        names = set()
        for node in tree.body:
            body = node.body if isinstance(node, ast.ClassDef) else [node]
            for n in body:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(n.name)
        _memo[path] = names
    return _memo[path]


def check(doc, text, root=ROOT):
    """Returns (number of citations, [problems])."""
    problems = []
    cites = citations(text)
    for line, f, t, span in cites:
        where = f"{doc}:{line}: `{span}`"
        if f is None:
            problems.append(f"{where}: `::{t}` with no `file::test` before it")
            continue
        path = resolve(f, root)
        if path is None:
            problems.append(f"{where}: no file {f} under tests/")
            continue
        if t is None:
            continue
        if not path.endswith(".py"):
            problems.append(f"{where}: {f} is not a Python test file")
        elif t not in defined_tests(path):
            problems.append(f"{where}: {os.path.relpath(path, root)} defines no {t}")
    return len(cites), problems


def self_test():
    import tempfile
    root = tempfile.mkdtemp(prefix="claims-")
    os.makedirs(os.path.join(root, "tests", "integration"))
    os.makedirs(os.path.join(root, "tests", "unit"))
    with open(os.path.join(root, "tests", "integration", "test_a.py"), "w") as f:
        f.write("def test_one():\n    pass\n\nclass TestX:\n    def test_two(self):\n        pass\n")
    with open(os.path.join(root, "tests", "unit", "test_u.py"), "w") as f:
        f.write("def test_unit():\n    pass\n")
    open(os.path.join(root, "tests", "unit", "test_names.c"), "w").close()
    good = ("| x | `test_a.py::test_one`, `::test_two`, `tests/unit/test_u.py` |\n"
            "| y | `::test_one[p1]` and `tests/unit/test_u.py::test_unit`, `tests/unit/test_names.c`,\n"
            "`tests/integration/test_a.py`, `tests/unit/`, `test_a.py::test_two`, `ls -l`, `x.py` |\n"
            "(`test_a.py::test_one`,\n`test_a.py::test_two`) and `tests/integration/test_a.py::test_one`\n")
    n, probs = check("good.md", good, root)
    assert probs == [] and n == 12, (n, probs)
    # a fenced block (here with an odd number of backticks in it) pairs nothing
    fenced = good + "\n```\nls `x\n```\n" + "and `test_a.py::test_gone` after it\n"
    n, probs = check("fenced.md", fenced, root)
    assert n == 13 and probs == ["fenced.md:10: `test_a.py::test_gone`: "
                                 "tests/integration/test_a.py defines no test_gone"], (n, probs)
    bad = ("`::test_one` before any file; `test_a.py::test_gone`, `::test_one`,\n"
           "`tests/unit/test_u.py`, `::test_unit` (continues test_a.py, where it is not),\n"
           "`tests/unit/test_gone.c`, `test_b.py`, `tests/unit/test_names.c::test_x`\n")
    n, probs = check("bad.md", bad, root)
    want = ["bad.md:1: `::test_one`: `::test_one` with no `file::test` before it",
            "bad.md:1: `test_a.py::test_gone`: tests/integration/test_a.py defines no test_gone",
            "bad.md:2: `::test_unit`: tests/integration/test_a.py defines no test_unit",
            "bad.md:3: `tests/unit/test_gone.c`: no file tests/unit/test_gone.c under tests/",
            "bad.md:3: `test_b.py`: no file test_b.py under tests/",
            "bad.md:3: `tests/unit/test_names.c::test_x`: tests/unit/test_names.c is not a Python test file"]
    assert probs == want, probs
    print("claims.py self-test: ok")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    docs = argv[1:] or DOCS
    total, problems = 0, []
    for doc in docs:
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            n, p = check(doc, f.read())
        total += n
        problems += p
    for p in problems:
        print("claims: " + p, file=sys.stderr)
    print(f"claims: {total} test citations in {', '.join(docs)}: "
          + (f"{len(problems)} name nothing" if problems else "every one exists"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
