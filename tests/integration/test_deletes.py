"""Deletes that can be undone: a sent invoice is not deleted by default, drafts are,
and every record deleted through the mount is kept under .factuurfs/deleted/ for 30
days, from where `cp` brings it back (one POST)."""
import errno
import json
import os
import stat
import subprocess
import time

import pytest

from harness import wait_for


def writes(fake, mark):
    return [(r["method"], r["path"].split("?")[0].replace("/api/v1/", ""))
            for r in fake.since(mark) if r["method"] != "GET"]


def state_dir(m):
    """The account's state directory (beside the PDFs in $XDG_CACHE_HOME)."""
    top = os.path.join(m.cache, "factuurfs")
    (acct,) = os.listdir(top)
    return os.path.join(top, acct, "state")


def sent_invoice(fake):
    for r in fake.state("invoices"):
        if r.get("sent"):
            return r["invoicenr"]
    raise AssertionError("the account has no sent invoice")


def test_rm_of_a_sent_invoice_is_refused_with_its_reason(acct, mounts):
    m = mounts(acct)
    nr = sent_invoice(acct)
    path = m.path("invoices", f"{nr}.json")
    assert os.path.exists(path)
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        os.unlink(path)
    assert e.value.errno == errno.EPERM
    assert acct.since(mark) == []  # 0 requests
    assert os.path.exists(path)
    err = m.status()["last_errors"][0]
    assert err["operation"] == f"invoices/{nr}.json"
    assert "sent" in err["message"] and "allow_invoice_delete" in err["message"]
    assert os.listdir(m.path(".factuurfs", "deleted", "invoices")) == []


def test_allow_invoice_delete_deletes_and_keeps_it_restorable(acct, mounts):
    m = mounts(acct, opts=["allow_invoice_delete"])
    nr = sent_invoice(acct)
    before = open(m.path("invoices", f"{nr}.json")).read()
    mark = acct.mark()
    os.unlink(m.path("invoices", f"{nr}.json"))
    assert writes(acct, mark) == [("DELETE", f"invoices/{nr}")]
    assert nr not in [r["invoicenr"] for r in acct.state("invoices")]
    # Kept: what the file showed, plus how a copy restores it (a draft).
    kept = m.path(".factuurfs", "deleted", "invoices", f"{nr}.json")
    rec = json.load(open(kept))
    assert {k: v for k, v in rec.items() if k not in ("action", "savename")} == \
        json.loads(before)
    assert rec["action"] == "save" and rec["savename"] == f"{nr} (deleted)"
    disk = os.path.join(state_dir(m), "deleted", "invoices", f"{nr}.json")
    assert stat.S_IMODE(os.stat(disk).st_mode) == 0o600
    assert open(disk).read() == open(kept).read()
    # cp back into its collection: one POST, a draft in invoices_saved/.
    saved_before = {r["id"] for r in acct.state("invoices_saved")}
    mark = acct.mark()
    subprocess.run(["cp", kept, m.path("invoices", f"{nr}.json")], check=True)
    assert writes(acct, mark) == [("POST", "invoices")]
    new = [r for r in acct.state("invoices_saved") if r["id"] not in saved_before]
    assert len(new) == 1 and new[0]["savename"] == f"{nr} (deleted)"
    assert new[0]["clientnr"] == str(json.loads(before)["clientnr"])


def test_a_draft_stays_deletable_and_is_kept(acct, mounts):
    m = mounts(acct)
    ids = sorted(os.listdir(m.path("invoices_saved")))
    assert ids, "the account has no saved invoice"
    name = ids[0]
    mark = acct.mark()
    os.unlink(m.path("invoices_saved", name))
    assert writes(acct, mark) == [("DELETE", f"invoices_saved/{name[:-5]}")]
    assert name in os.listdir(m.path(".factuurfs", "deleted", "invoices_saved"))


def test_a_deleted_draft_comes_back_where_it_was(acct, mounts):
    """cp of a kept draft back into invoices_saved/ restores it there: one POST
    invoices (action save, as the copy says), a new draft listed in invoices_saved/.
    A text there that asks for another action (an invoice to send) is refused before
    any call, with its reason."""
    m = mounts(acct)
    name = sorted(os.listdir(m.path("invoices_saved")))[0]
    before = json.load(open(m.path("invoices_saved", name)))
    os.unlink(m.path("invoices_saved", name))
    kept = m.path(".factuurfs", "deleted", "invoices_saved", name)
    saved_before = {r["id"] for r in acct.state("invoices_saved")}
    mark = acct.mark()
    r = subprocess.run(["cp", kept, m.path("invoices_saved")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == [("POST", "invoices")]
    [new] = [r for r in acct.state("invoices_saved") if r["id"] not in saved_before]
    assert new["savename"] == before["savename"]
    assert new["clientnr"] == str(before["clientnr"])
    listed = os.listdir(m.path("invoices_saved"))
    assert f"{new['id']}.json" in listed and name not in listed
    # An invoice to send, written there: refused, no call, the reason kept.
    send = dict(before, action="send", sendmethod="email")
    path = m.path("invoices_saved", "zend.json")
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        with open(path, "w") as f:
            f.write(json.dumps(send))
    assert e.value.errno == errno.EINVAL
    assert writes(acct, mark) == []
    why = os.getxattr(path, "user.factuurfs.error").decode()
    assert why.startswith('a new file in invoices_saved/ is made through invoices/ '
                          '(a POST with "action": "save")'), why
    # A repeating invoice cannot be made there: EPERM, and the reason says where.
    rep = sorted(os.listdir(m.path("invoices_repeated")))[0]
    os.unlink(m.path("invoices_repeated", rep))
    kept = m.path(".factuurfs", "deleted", "invoices_repeated", rep)
    r = subprocess.run(["cp", kept, m.path("invoices_repeated")], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    err = m.status()["last_errors"][0]
    assert err["operation"] == "invoices_repeated/" + rep
    assert "written into invoices/ makes it a draft" in err["message"]


def test_a_deleted_client_comes_back_with_cp(acct, mounts):
    m = mounts(acct)
    path = m.path("clients", "1.json")
    before = json.load(open(path))
    mark = acct.mark()
    os.unlink(path)
    assert writes(acct, mark) == [("DELETE", "clients/1")]
    kept = m.path(".factuurfs", "deleted", "clients", "1.json")
    assert json.load(open(kept)) == before
    st = os.stat(kept)
    assert stat.S_IMODE(st.st_mode) == 0o400 and abs(st.st_mtime - time.time()) < 60
    # Read-only in the mount.
    with pytest.raises(OSError) as e:
        with open(kept, "a") as f:
            f.write("x")
    assert e.value.errno in (errno.EPERM, errno.EACCES)
    mark = acct.mark()
    subprocess.run(["cp", kept, m.path("clients")], check=True)
    assert writes(acct, mark) == [("POST", "clients")]
    back = [r for r in acct.state("clients") if r["company"] == before["company"] and
            r["contact"] == before["contact"]]
    assert len(back) == 1 and back[0]["clientnr"] != "1"


def test_kept_records_expire_after_30_days(acct, mounts):
    m = mounts(acct)
    os.unlink(m.path("products", "1.json"))
    disk = os.path.join(state_dir(m), "deleted", "products", "1.json")
    assert os.path.exists(disk)
    old = time.time() - 31 * 86400
    os.utime(disk, (old, old))
    # Too old: no longer listed, and gone from disk at the next delete (or mount).
    assert os.listdir(m.path(".factuurfs", "deleted", "products")) == []
    os.unlink(m.path("products", "2.json"))
    assert not os.path.exists(disk)
    assert os.listdir(m.path(".factuurfs", "deleted", "products")) == ["2.json"]


def test_the_refusal_is_a_desktop_notification(acct, mounts, workdir):
    from sessionbus import SessionBus
    bus = SessionBus(workdir)
    try:
        m = mounts(acct, env=bus.env())
        nr = sent_invoice(acct)
        with pytest.raises(OSError) as e:
            os.unlink(m.path("invoices", f"{nr}.json"))
        assert e.value.errno == errno.EPERM
        bus.wait_for_summary(f"invoices/{nr}.json was not deleted")
        wait_for(lambda: any("allow_invoice_delete" in n["body"] for n in bus.notifications()),
                 "the notification naming -o allow_invoice_delete")
    finally:
        bus.close()


def test_no_delete_without_its_copy(acct, mounts):
    """The copy is kept before the DELETE is sent: when it cannot be written, nothing is
    deleted (the errno of the disk, 0 requests, the reason in the status file)."""
    m = mounts(acct)
    os.unlink(m.path("clients", "1.json"))      # makes state/deleted/clients/
    sub = os.path.join(state_dir(m), "deleted", "clients")
    os.rename(sub, sub + ".away")
    with open(sub, "w"):                         # a file where the directory was
        pass
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        os.unlink(m.path("clients", "2.json"))
    assert e.value.errno == errno.ENOTDIR
    assert writes(acct, mark) == []
    assert os.path.exists(m.path("clients", "2.json"))
    assert any("copy could not be kept" in x["message"] for x in m.status()["last_errors"])
    os.unlink(sub)
    os.rename(sub + ".away", sub)
    os.unlink(m.path("clients", "2.json"))
    assert writes(acct, mark) == [("DELETE", "clients/2")]
    assert sorted(os.listdir(m.path(".factuurfs", "deleted", "clients"))) == ["1.json", "2.json"]
