"""No leaks under valgrind on a mount/unmount cycle that lists, reads, copies, writes and
is refused (a desktop notification on a private session bus)."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import APIKEY, FACTUURFS, USER, Fake, is_mounted, wait_for
from sessionbus import SessionBus


def test_mount_cycle_under_valgrind(tmp_path):
    fake = Fake(str(tmp_path), "--generate", "clients=10,invoices=10,products=5")
    bus = SessionBus(str(tmp_path))  # the refused save below is a desktop notification
    mnt = tempfile.mkdtemp(dir=tmp_path)
    log = tmp_path / "valgrind.log"
    e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    e.update(FACTUURSTUREN_USERNAME=USER, FACTUURSTUREN_APIKEY=APIKEY,
             XDG_CACHE_HOME=str(tmp_path / "cache"), **bus.env())
    p = subprocess.Popen(
        ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
         f"--log-file={log}", FACTUURFS, "-f", "-o", "url=" + fake.url, mnt],
        env=e, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: is_mounted(mnt) or p.poll() is not None, "the mount", timeout=120)
        assert p.poll() is None, p.stderr.read()
        # every file, view link and export, and the xattrs of one invoice
        for d, dirs, files in os.walk(mnt):
            for n in files:
                fp = os.path.join(d, n)
                if os.path.islink(fp):
                    os.readlink(fp)
                elif not d.endswith(".factuurfs"):
                    with open(fp, "rb") as f:
                        f.read()
        inv = os.path.join(mnt, "invoices", sorted(os.listdir(os.path.join(mnt, "invoices")))[0])
        for name in os.listxattr(inv):
            os.getxattr(inv, name)
        shutil.copy(os.path.join(mnt, "invoices", os.listdir(os.path.join(mnt, "invoices"))[1]),
                    tmp_path / "copy")
        open(os.path.join(mnt, ".factuurfs", "status")).read()
        # the write path: an edit (PUT), a create (POST), a refused save, scratch files
        c1 = os.path.join(mnt, "clients", "1.json")
        rec = json.load(open(c1))
        rec["city"] = "Valgrind"
        with open(c1, "w") as f:
            json.dump(rec, f)
        with open(os.path.join(mnt, "products", "vg.json"), "w") as f:
            f.write('{"code": "VG", "name": "Valgrind", "price": 1}')
        try:
            with open(os.path.join(mnt, "products", "bad.json"), "w") as f:
                f.write("{ not json")
        except OSError:
            pass
        bus.wait_for_summary("products/bad.json was not saved")
        for name in ("notes.txt", ".1.json.swp", "1.json~"):
            scratch = os.path.join(mnt, "clients", name)
            with open(scratch, "w") as f:
                f.write("x")
            os.unlink(scratch)
        os.rename(c1, c1 + "~")
        os.unlink(c1 + "~")
        assert any(r["code"] == "VG" for r in fake.state("products"))
        # the fault paths: a retried 503, a refresh that fails (stale listing
        # served), a spent budget (fast failures), a cut PDF body
        with open(os.path.join(mnt, ".factuurfs", "refresh"), "w") as f:
            f.write("1")
        fake.inject(fail={"status": 503, "count": 1, "path_prefix": "/api/v1/products"})
        assert "6.json" in os.listdir(os.path.join(mnt, "products"))
        with open(os.path.join(mnt, ".factuurfs", "refresh"), "w") as f:
            f.write("1")
        fake.inject(cut={"count": 1, "path_prefix": "/api/v1/invoices_pdf"},
                    ratelimit={"count": 1, "path_prefix": "/api/v1/clients"})
        assert len(os.listdir(os.path.join(mnt, "clients"))) == 10  # served stale
        shutil.copy(os.path.join(mnt, "invoices", os.listdir(os.path.join(mnt, "invoices"))[3]),
                    tmp_path / "copy2")
        json.load(open(os.path.join(mnt, ".factuurfs", "status")))
        fake.reset()
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        rc = p.wait(120)
        fake.stop()
        bus.close()
    report = log.read_text()
    assert rc == 0, report[-4000:]
    assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report, \
        report[-4000:]
