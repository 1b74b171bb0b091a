import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import Fake, Mount  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (skipped under ASan)")
    # A directory of this run's own for every test's mounts and fakes.  pytest's default,
    # /tmp/pytest-of-<user>/pytest-<N>, is shared by every run of the user and each run
    # removes all but the newest three: a run beside others (CI beside a developer's
    # runs) could see its live mount points removed under it, and with them records.
    # xdist's workers are handed a subdirectory of it.
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="factuurfs-tests-")
        config._factuurfs_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    """Removes this run's directory, unless something is still mounted in it: removing
    a live mount's files would delete records (a stale mount of a killed daemon only
    fails, but nothing here tells the two apart)."""
    base = getattr(config, "_factuurfs_basetemp", None)
    if not base:
        return
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    if any(p == base or p.startswith(base + "/") for p in points):
        print(f"\nconftest: {base} still holds a mount: left as it is")
        return
    shutil.rmtree(base, ignore_errors=True)


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
