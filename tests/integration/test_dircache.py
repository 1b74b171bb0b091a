"""The kernel keeps a listed directory's entries: a second `ls` of a directory of
thousands of names reads none of them from factuurfs again (README, "Performance").

Its readdir cache is filled from the very READDIRPLUS replies that made factuurfs list the
collection; a notice that the directory changed, landing while the kernel fills it, used
to leave that cache never complete, so that every later `ls -l invoices/` read all its
entries again (22 READDIRPLUS for 4,000 names, about half the mounts).
"""
import os
import re

from harness import Fake


def opcodes(m, since):
    with open(m.stderr_path, encoding="utf-8", errors="replace") as f:
        f.seek(since)
        return re.findall(r"opcode: (\w+)", f.read())


def log_size(m):
    with open(m.stderr_path, "rb") as f:
        return len(f.read())


def test_a_listed_directory_is_read_from_the_kernels_cache(workdir, mounts):
    fake = Fake(workdir, "--generate", "clients=2,invoices=2000,products=2",
                "--rate-limit", "100000")
    try:
        # Several mounts: the notice raced the first fill on about half of them.
        for _ in range(5):
            m = mounts(fake, extra_args=["-d"])
            assert len(os.listdir(m.path("invoices"))) == 4000  # lists the collection
            at = log_size(m)
            for _ in range(2):
                assert len(os.listdir(m.path("invoices"))) == 4000
            ops = opcodes(m, at)
            assert ops.count("READDIRPLUS") == 0, ops.count("READDIRPLUS")
            assert m.unmount() == 0
    finally:
        fake.stop()
