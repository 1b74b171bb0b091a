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
    assert not res["timed_out"], "the file manager did not come to rest"
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
        opts = [f"background_calls={BUDGET}"]
        m = Mount(fake, tmp, opts=opts, extra_args=["-d"])
        mounts.append(m)
        first = desktop.run_file_manager(fm, fake, m, home, tmp, tag="-1")
        keep(first["screenshot"], f"{fm}.png")
        record(fm, desktop.summary(first))

        # The reserve holds: thumbnailers got at most BUDGET calls, and a PDF nobody
        # fetched yet is still served to the user's own read (this process: python3).
        c = first["calls"]
        assert c["pdf"] <= BUDGET, f"{fm}: thumbnailers spent {c['pdf']} > {BUDGET} calls"
        assert c["total"] - c["pdf"] <= 2, f"{fm}: listing calls {dict(c)}"
        check_run(first, m, fake)
        fetched = {p.split("/", 1)[1] for p in first["paths"] if p.startswith("invoices_pdf/")}
        names = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))
        todo = [n for n in names if n[:-4].replace("%2F", "/") not in fetched
                and n[:-4] not in fetched]
        mark = fake.mark()
        with open(m.path("invoices", todo[-1]), "rb") as f:
            assert f.read(5) == b"%PDF-"
        user = [r for r in fake.since(mark) if "invoices_pdf" in r["path"]]
        assert len(user) == 1, "the user's read was not served by one call"
        assert m.unmount() == 0
        mounts.pop()

        # Remount on the same PDF cache, the same HOME (thumbnail cache): opening again.
        m2 = Mount(fake, tmp, opts=opts, extra_args=["-d"], env={"XDG_CACHE_HOME": m.cache})
        mounts.append(m2)
        second = desktop.run_file_manager(fm, fake, m2, home, tmp, tag="-2")
        keep(second["screenshot"], f"{fm}-again.png")
        record(fm, "again: " + desktop.summary(second))
        check_run(second, m2, fake)
        c2 = second["calls"]
        # Cached PDFs cost nothing; the reserve caps what the thumbnailers try anew.
        assert c2["pdf"] <= BUDGET, f"{fm} again: {c2['pdf']} PDF calls"
        refetched = {p for p in second["paths"] if p.startswith("invoices_pdf/")} & \
            {p for p in first["paths"] if p.startswith("invoices_pdf/")}
        assert not refetched, f"{fm} again: cached PDFs fetched again: {sorted(refetched)[:5]}"
        with open(os.path.join(tmp, f"{fm}-figures.json"), "w") as f:
            json.dump({k: {kk: (vv if not isinstance(vv, dict) else {str(a): b for a, b in vv.items()})
                           for kk, vv in r.items() if kk not in ("paths", "debug_tail")}
                       for k, r in (("first", first), ("second", second))}, f, indent=1,
                      default=str)
    finally:
        for mm in mounts:
            mm.unmount()
        fake.stop()
