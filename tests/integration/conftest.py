import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import Fake, Mount  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (skipped under ASan)")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("factuurfs"))


@pytest.fixture(scope="module")
def fake(workdir):
    """A generated account shared by a module's tests (they do not change it)."""
    f = Fake(workdir, "--generate", "clients=40,invoices=120,products=25")
    yield f
    f.stop()


@pytest.fixture
def acct(workdir):
    """A fake of its own per test, for tests that change records."""
    f = Fake(workdir, "--generate", "clients=6,invoices=6,products=6", "--rate-limit", "100000")
    yield f
    f.stop()


@pytest.fixture
def lone(workdir):
    """A small fake of its own, for a test that injects faults into it."""
    f = Fake(workdir, "--generate", "clients=12,invoices=20,products=6")
    yield f
    f.stop()


@pytest.fixture
def fakes(workdir):
    """Factory: fakes(*fake_args) -> Fake of the test's own; every one is stopped after
    (after the mounts when the test names `fakes` before `mounts`)."""
    made = []

    def make(*args):
        f = Fake(workdir, *args)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


@pytest.fixture
def mounts(workdir):
    """Factory: mounts(fake, opts=..., ...) -> Mount; every mount is unmounted after."""
    made = []

    def make(fake, *args, **kw):
        m = Mount(fake, workdir, *args, **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        if m.proc.poll() is None or os.path.isdir(m.mnt):
            rc = m.unmount()
            assert rc == 0, f"factuurfs exited with {rc}: {m.stderr()}"


@pytest.fixture
def mnt(fake, mounts):
    return mounts(fake)
