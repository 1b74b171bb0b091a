"""pytest plugin for scripts/test.sh: a skipped test is not a passed one.

Loaded with `-p skipguard` (tests/ on PYTHONPATH).  At the end of the run it prints
how many tests were skipped (and xfailed), and fails the run (exit status 1) when one
of them is not in tests/allowed-skips.txt, which lists each test allowed to skip with
its reason.  Test ids there are paths from the top of the tree, `::`, the test name;
a trailing `*` matches any rest (parameters: `test_x.py::test_y[*`).
"""
import fnmatch
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOW = os.environ.get("FACTUURFS_ALLOWED_SKIPS", os.path.join(ROOT, "tests", "allowed-skips.txt"))


def read_allowed(path):
    """[(pattern, reason)]; a line without a reason is an error."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                raise pytest.UsageError(f"{path}:{n}: '{parts[0]}' is listed without a reason")
            out.append((parts[0], parts[1]))
    return out


class SkipGuard:
    def __init__(self, config):
        self.config = config
        self.allowed = read_allowed(ALLOW) if os.path.exists(ALLOW) else []
        self.skipped = []  # (test id, reason)

    def test_id(self, nodeid):
        path, sep, rest = nodeid.partition("::")
        full = os.path.join(str(self.config.rootpath), path)
        return os.path.relpath(full, ROOT) + sep + rest

    def note(self, report):
        if report.skipped:
            if hasattr(report, "wasxfail"):
                reason = "xfail: " + str(report.wasxfail)
            elif isinstance(report.longrepr, tuple):
                reason = report.longrepr[2]
            else:
                reason = str(report.longrepr)
            self.skipped.append((self.test_id(report.nodeid), reason))

    def pytest_runtest_logreport(self, report):
        if report.when in ("setup", "call"):
            self.note(report)

    def pytest_collectreport(self, report):
        self.note(report)

    def unlisted(self):
        return [(t, r) for t, r in self.skipped
                if not any(fnmatch.fnmatchcase(t, p) for p, _ in self.allowed)]

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        bad = self.unlisted()
        tr.write_line(f"skipguard: {len(self.skipped)} skipped or xfailed, "
                      f"{len(self.skipped) - len(bad)} of them allowed by "
                      f"{os.path.relpath(ALLOW, ROOT)}")
        for t, r in bad:
            tr.write_line(f"skipguard: NOT ALLOWED TO SKIP: {t}: {r}", red=True)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.unlisted() and exitstatus == 0:
            session.exitstatus = 1


def pytest_configure(config):
    config.pluginmanager.register(SkipGuard(config), "skipguard-impl")
