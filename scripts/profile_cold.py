#!/usr/bin/python3
"""Where the first `ls -l invoices/` of a 10,000-invoice account spends its time: perf
samples the daemon (every thread, user and kernel) from the mount's start to the end of
that one `ls -l`, against the fake over HTTPS with the default options, and prints the
top symbols by their own time and the share of the main phases.

    scripts/profile_cold.py [FACTUURFS_BINARY] [NINVOICES]

Needs root and perf (Debian's linux-perf: not among scripts/deps.sh's packages, since
neither the build, the tests nor the bench need it).  To see what a change did to the
cold path, run it with the binary from before the change and the one after.
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ.setdefault("FACTUURFS_BIN", sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(ROOT, "build", "factuurfs"))
from harness import Fake, Mount, is_mounted  # noqa: E402

N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
# Phases by the functions that start them (callers, with children).
PHASES = [("transfer (curl, TLS, body)", "http_send"),
          ("records: fastwire", "fastwire_render"),
          ("records: reference path", "record_new"),
          ("listing: sort, index", "listing_new"),
          ("kept on disk (persist thread)", "writer_main"),
          ("readdirplus", "do_readdir"),
          ("getattr", "fs_getattr")]


def main():
    work = tempfile.mkdtemp(prefix="factuurfs-profile-")
    fake = Fake(work, "--generate", f"clients=100,invoices={N},products=50",
                "--rate-limit", "10000000", "--max-count", "100000", tls=True)
    data = os.path.join(work, "perf.data")
    try:
        m = Mount(fake, work, opts=["cafile=" + fake.cafile])
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "2000", "--call-graph", "dwarf,16384",
                                 "-o", data, "-p", str(m.proc.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attached
        t = time.perf_counter()
        subprocess.run(["ls", "-l", m.path("invoices")], stdout=subprocess.DEVNULL, check=True)
        secs = time.perf_counter() - t
        perf.send_signal(2)
        perf.wait()
        assert m.unmount() == 0
    finally:
        fake.stop()
    print(f"first ls -l invoices/ ({N} invoices, {2 * N} names): {secs:.3f} s")
    comm = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm",
                           "-n", "--stdio"], capture_output=True, text=True).stdout
    # "   100.00%          5229  factuurfs": the sample count is the last number.
    total = sum(int(f[-2]) for f in (line.split() for line in comm.splitlines())
                if len(f) >= 3 and not f[0].startswith("#") and f[-2].isdigit())
    ms = total / 2.0  # 2000 samples a second
    print(f"daemon CPU sampled: {ms:.0f} ms (all threads)\n")
    self_ = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol",
                            "-g", "none", "--percent-limit", "1.5", "--stdio"],
                           capture_output=True, text=True).stdout
    print("top symbols, own time (% of the daemon's samples):")
    for line in self_.splitlines():
        if line.strip() and not line.startswith("#"):
            print("  " + line.strip())
    kids = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol",
                           "-g", "none", "--stdio"], capture_output=True, text=True).stdout
    print("\nphases (% of samples, callees included):")
    for label, fn in PHASES:
        pct = next((line.split()[0] for line in kids.splitlines()
                    if line.rstrip().endswith(" " + fn) or f"] {fn} " in line + " "), "0%")
        share = float(pct.rstrip("%")) / 100
        print(f"  {label:32} {pct:>7}  ~{share * ms:.0f} ms")


main()
