"""Thunar, PCManFM and Nautilus open a 500-invoice invoices/ on a factuurfs mount.

Per file manager: a fake account with 500 invoices, a mount with `-d` (so the pids
of the READs are known), the file manager under Xvfb in a fresh dbus session and HOME,
icon view with thumbnails; wait until the fake and the mount are quiet; screenshot.
Then the same again after a remount on the same PDF cache and the same HOME (thumbnail
cache kept).  Asserts the API calls spent, that thumbnailers stay within the reserve
(`-o background_calls`), that the user's own read still gets a PDF afterwards, that no
probe (.hidden, .directory, .Trash*, .sh_thumbnails, ...) reaches the API and that no
ACCESS request reaches factuurfs (default_permissions).

Run: scripts/deps.sh --desktop, then
  FACTUURFS_BIN=$PWD/build/factuurfs python3 -m pytest -q -p no:cacheprovider tests/desktop
Figures go to build-desk/desktop-screens/ (screenshots, figures.txt) and to tmp_path.
"""
import json
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from harness import Fake, Mount, ROOT  # noqa: E402
import desktop  # noqa: E402

pytestmark = pytest.mark.desktop

BUDGET = 10          # -o background_calls for the test: below what one screen of thumbnails wants
SCREENS = os.environ.get("FACTUURFS_DESKTOP_OUT", os.path.join(ROOT, "build-desk", "desktop-screens"))
PROBES = (".hidden", ".directory", ".Trash", ".Trash-0", ".sh_thumbnails", ".thumbnails",
          "desktop.ini", ".xdg-volume-info", "autorun.inf", "%2E")



def keep(path, name):
    os.makedirs(SCREENS, exist_ok=True)
    shutil.copy(path, os.path.join(SCREENS, name))


def record(fm, text):
    os.makedirs(SCREENS, exist_ok=True)
    with open(os.path.join(SCREENS, "figures.txt"), "a") as f:
        f.write(text + "\n")


def check_run(res, mount, fake):
    # The screenshot exists and is not blank: a window, and many colours (icons, text).
    assert os.path.getsize(res["screenshot"]) > 0
    assert res["windows"] >= 1, "no window on the display"
    assert res["colours"] > 100, f"screenshot looks blank ({res['colours']} colours)"
    assert not res["timed_out"], f"not at rest after the deadline: waiting for {res['waiting_for']}"
    # No probe reached the API; every call is a listing or a PDF.
    for p in res["paths"]:
        assert not any(x in p for x in PROBES), f"a probe reached the API: {p}"
    # default_permissions: the kernel answers access(2) itself.
    assert res["ops"].get("ACCESS", 0) == 0, "ACCESS requests reached factuurfs"


@pytest.mark.parametrize("fm", desktop.FILE_MANAGERS)
def test_open_invoices(fm, tmp_path):
    missing = desktop.missing_tools(fm)
    if missing:
        pytest.skip("not installed: " + " ".join(missing) + " (scripts/deps.sh --desktop)")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse")
    tmp = str(tmp_path)
    home = os.path.join(tmp, "home")
    fake = Fake(tmp, "--generate", "clients=20,invoices=500,products=5", "--rate-limit", "100000")
    mounts = []
    try:
        # ttl=3600: a run takes up to a minute or two, and the listing is to be asked
        # for once per open, not again when the default 60 s run out
        opts = [f"background_calls={BUDGET}", "ttl=3600"]
        m = Mount(fake, tmp, opts=opts, extra_args=["-d"])
        mounts.append(m)
        first = desktop.run_file_manager(fm, fake, m, home, tmp, tag="-1")
        keep(first["screenshot"], f"{fm}.png")
        record(fm, desktop.summary(first))
        check_run(first, m, fake)

        # README ("In a file manager"): 11 calls on opening invoices/, the listing and
        # 10 PDFs: the thumbnailers' share, all of it, and a thumbnail made of each.
        c = first["calls"]
        assert (c["total"], c["pdf"], c["listing:invoices"]) == (1 + BUDGET, BUDGET, 1), \
            f"{fm}: {dict(c)}"
        fetched = desktop.pdf_names(first["paths"])
        assert len(fetched) == BUDGET, f"{fm}: a PDF fetched twice: {first['paths']}"
        thumbs = {n for n in first["thumbnails"] if n.endswith(".pdf")}
        assert thumbs == fetched, f"{fm}: thumbnails {sorted(thumbs)} of fetched {sorted(fetched)}"
        # The reserve holds: a PDF nobody fetched yet is still served to the user's own
        # read (this process: python3), with one call.
        names = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))
        todo = [n for n in names if n not in fetched]
        mark = fake.mark()
        with open(m.path("invoices", todo[-1]), "rb") as f:
            assert f.read(5) == b"%PDF-"
        user = [r for r in fake.since(mark) if "invoices_pdf" in r["path"]]
        assert len(user) == 1, "the user's read was not served by one call"
        assert m.unmount() == 0
        mounts.pop()

        # Remount on the same mount point, PDF cache and HOME (thumbnail cache), as a
        # user's next login would: opening again.  README: 1 call, the listing.
        made = {n: os.stat(p).st_mtime_ns for n, p in desktop.thumbnails(home, m.path("invoices"), names).items()}
        os.mkdir(m.mnt)
        m2 = Mount(fake, tmp, opts=opts, extra_args=["-d"], env={"XDG_CACHE_HOME": m.cache},
                   mnt=m.mnt)
        mounts.append(m2)
        second = desktop.run_file_manager(fm, fake, m2, home, tmp, expect_thumbs=fetched,
                                          tag="-2")
        keep(second["screenshot"], f"{fm}-again.png")
        record(fm, "again: " + desktop.summary(second))
        check_run(second, m2, fake)
        c2 = second["calls"]
        # within the TTL the remount lists nothing again: the listing kept on disk
        # (docs/SEMANTICS.md, "Kept on disk, and offline") and the PDFs cached there
        assert (c2["total"], c2["pdf"], c2["listing:invoices"]) == (0, 0, 0), f"{fm} again: {dict(c2)}"
        # the thumbnails of the 10 are there (made the first time, or again from the
        # disk cache), and of no PDF the disk cache does not hold (the user's own read
        # above put one more there)
        thumbs2 = {n for n in second["thumbnails"] if n.endswith(".pdf")}
        assert fetched <= thumbs2 <= fetched | {todo[-1]}, f"{fm} again: thumbnails {sorted(thumbs2)}"
        again = {n: os.stat(p).st_mtime_ns for n, p in desktop.thumbnails(home, m2.path("invoices"), names).items()}
        record(fm, f"thumbnails made again on the second open: {sorted(n for n in made if again.get(n) != made[n])}")
        with open(os.path.join(tmp, f"{fm}-figures.json"), "w") as f:
            json.dump({k: {kk: (vv if not isinstance(vv, dict) else {str(a): b for a, b in vv.items()})
                           for kk, vv in r.items() if kk not in ("paths", "debug_tail")}
                       for k, r in (("first", first), ("second", second))}, f, indent=1,
                      default=str)
        assert m2.unmount() == 0
        mounts.pop()
    finally:
        for mm in mounts:  # only after a failure: the unmounts above are asserted
            mm.unmount()
        fake.stop()
