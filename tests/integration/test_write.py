"""Writing: bad input loses nothing, truncation, delete, payments, invoices,
a POST without an answer, concurrent writers, refusals."""
import errno
import json
import os
import subprocess
import threading

import pytest

from expected import load
from harness import run, save, wait_for


def writes(fake, mark):
    return [(r["method"], r["path"].split("?")[0].replace("/api/v1/", ""))
            for r in fake.since(mark) if r["method"] != "GET"]


def write_file(path, text, mode="w"):
    """Writes and closes; returns the errno close() (or write) gave, 0 if none."""
    return save(path, text, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if mode == "w" else 0))


def client(m, n=1):
    return m.path("clients", f"{n}.json")


def edited(path, **changes):
    rec = load(path)
    rec.update(changes)
    return json.dumps(rec, indent=2, ensure_ascii=False) + "\n"


def last_error(m):
    errs = m.status()["last_errors"]
    return errs[0]["message"] if errs else ""


# -- bad input loses nothing -------------------------------------------------------

BAD = [
    ("invalid JSON", lambda p: open(p).read().replace('"city"', '"city" "'), errno.EINVAL,
     "line"),
    ("wrong type", lambda p: edited(p, top="thirty"), errno.EINVAL, "top"),
    ("missing required field", None, errno.EINVAL, "price"),
    ("changed id", lambda p: edited(p, clientnr=999), errno.EINVAL, "clientnr"),
]


@pytest.mark.parametrize("what,make,err,word", BAD, ids=[b[0] for b in BAD])
def test_bad_edit_fails_at_close_and_keeps_the_text(acct, mounts, what, make, err, word):
    m = mounts(acct)
    if make is None:  # a product without its price
        path = m.path("products", "1.json")
        rec = load(path)
        del rec["price"]
        text = json.dumps(rec, indent=2) + "\n"
        coll = "products"
    else:
        path = client(m)
        text = make(path)
        coll = "clients"
    before = acct.state(coll)
    mark = acct.mark()
    assert write_file(path, text) == err
    assert word in last_error(m)
    assert writes(acct, mark) == []
    assert acct.state(coll) == before
    assert open(path).read() == text  # still readable under its name
    # and fsync says the same when asked again
    fd = os.open(path, os.O_RDONLY)
    with pytest.raises(OSError) as e:
        os.fsync(fd)
    os.close(fd)
    assert e.value.errno == err


def test_a_week_old_backup_copy_restores_with_the_services_fields_ignored(acct, mounts,
                                                                          tmp_path):
    """cp of an older copy of a client taken from the mount: its editable fields are
    saved (one PUT), the fields the service sets that moved since (`timestamp`,
    `lastinvoice`) are ignored, the service's values kept, and a notice says which
    (the change log, user.factuurfs.error); cp succeeds.  A copy that differs only in
    such a field is still refused: that edit cannot take."""
    m = mounts(acct)
    backup = tmp_path / "backup"
    backup.mkdir()
    subprocess.run(["cp", client(m, 2), str(backup)], check=True)
    old = load(str(backup / "2.json"))
    # A week on the website: the phone changed, an invoice made, the service's stamps.
    week = next(c for c in acct.state("clients") if str(c["clientnr"]) == "2")
    week.update(phone="06-99999999", timestamp="2026-12-01", lastinvoice="2026-11-30")
    acct.put_state("clients", 2, week)
    with open(m.path(".factuurfs", "refresh"), "w") as f:
        f.write("\n")
    assert load(client(m, 2))["phone"] == "06-99999999"
    mark = acct.mark()
    r = subprocess.run(["cp", str(backup / "2.json"), m.path("clients")], capture_output=True,
                       text=True)
    print("cp:", r.returncode, r.stderr.strip())
    print("requests:", writes(acct, mark))
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == [("PUT", "clients/2")]
    after = next(c for c in acct.state("clients") if str(c["clientnr"]) == "2")
    print("service after:", {k: after[k] for k in ("phone", "timestamp", "lastinvoice")})
    assert after["phone"] == old["phone"]
    assert after["lastinvoice"] == "2026-11-30" and after["timestamp"] != old["timestamp"]
    notice = ("saved; ignored fields 'lastinvoice', 'timestamp', set by the service: "
              "its values kept")
    why = os.getxattr(client(m, 2), "user.factuurfs.error").decode()
    print("user.factuurfs.error:", why)
    assert why == notice
    assert any(c["change"] == "clients/2.json: " + notice for c in m.status()["last_changes"])
    assert m.status()["last_errors"] == []
    # The file shows the service's record; a new save drops the notice.
    got = load(client(m, 2))
    assert (got["phone"], got["lastinvoice"]) == (old["phone"], "2026-11-30")
    # Only a field the service sets changed: refused, nothing sent.
    only = dict(got, lastinvoice="2020-01-01")
    mark = acct.mark()
    assert write_file(client(m, 2), json.dumps(only)) == errno.EINVAL
    assert writes(acct, mark) == []
    assert "field 'lastinvoice' is set by the service and cannot be changed" in last_error(m)
    assert os.getxattr(client(m, 2), "user.factuurfs.error").decode() == last_error(m)


def test_server_rejection_is_reported_and_fixed_by_saving_again(acct, mounts):
    m = mounts(acct)
    path = client(m, 2)
    acct.inject(fail={"status": 400, "count": 1, "path_prefix": "/api/v1/clients/2",
                      "method": "PUT", "body": "Field 'email' is not a valid address"})
    text = edited(path, city="Leeuwarden")
    assert write_file(path, text) == errno.EINVAL
    assert "not a valid address" in last_error(m)
    assert open(path).read() == text
    assert acct.state("clients")[1]["city"] != "Leeuwarden"
    mark = acct.mark()
    assert write_file(path, text) == 0
    assert writes(acct, mark) == [("PUT", "clients/2")]
    assert acct.state("clients")[1]["city"] == "Leeuwarden"


def test_rm_of_a_refused_edit_drops_the_text_not_the_record(acct, mounts):
    m = mounts(acct)
    path = client(m, 3)
    original = open(path).read()
    assert write_file(path, "{ not json") == errno.EINVAL
    mark = acct.mark()
    os.unlink(path)
    assert writes(acct, mark) == []
    assert open(path).read() == original
    os.unlink(path)  # now it deletes
    assert writes(acct, mark) == [("DELETE", "clients/3")]
    assert "3.json" not in os.listdir(m.path("clients"))


def test_invalid_new_file_stays_and_posts_nothing(acct, mounts):
    m = mounts(acct)
    mark = acct.mark()
    path = m.path("products", "new.json")
    assert write_file(path, '{"code": "X1", "name": "Thing", "price": "cheap"}') == errno.EINVAL
    assert "price" in last_error(m)
    assert "new.json" in os.listdir(m.path("products"))
    assert open(path).read().startswith('{"code": "X1"')
    assert writes(acct, mark) == []
    # fixed, it is posted once
    assert write_file(path, '{"code": "X1", "name": "Thing", "price": 3.5}') == 0
    assert writes(acct, mark) == [("POST", "products")]
    assert any(p["code"] == "X1" and p["price"] == "3.50" for p in acct.state("products"))


# -- truncation ----------------------------------------------------------------------

def shorter(path):
    rec = load(path)
    keep = {k: rec[k] for k in ("code", "name", "price", "taxes")}
    keep["name"] = "K"
    return json.dumps(keep) + "\n"


@pytest.mark.parametrize("how", ["redirect", "o_trunc", "truncate"])
def test_shorter_content_leaves_exactly_the_new_bytes(acct, mounts, how):
    m = mounts(acct)
    path = m.path("products", "2.json")
    text = shorter(path)
    assert len(text) < os.path.getsize(path)
    mark = acct.mark()
    if how == "redirect":
        r = run("sh", "-c", 'printf "%s" "$1" > "$2"', "sh", text, path)
        assert r.returncode == 0, r.stderr
    elif how == "o_trunc":
        assert write_file(path, text) == 0
    else:
        assert run("truncate", "-s", "0", path).returncode == 0
        assert write_file(path, text, mode="a") == 0
    assert writes(acct, mark) == [("PUT", "products/2")]
    wire = acct.state("products")[1]
    assert wire["name"] == "K" and wire["code"] == json.loads(text)["code"]
    got = load(path)  # read back: the service's record, whole
    assert got["name"] == "K" and got["id"] == 2


def test_after_a_put_the_file_shows_what_the_service_changed(acct, mounts):
    """The service stamps a client it changed (`timestamp`): after the PUT the file
    shows the record as the service has it, not the text that was saved."""
    rec = acct.state("clients")[0]
    nr = int(rec["clientnr"])
    acct.put_state("clients", rec["clientnr"], dict(rec, timestamp="2020-01-02"))
    m = mounts(acct)
    p = client(m, nr)
    assert load(p)["timestamp"] == "2020-01-02"
    mtime = os.stat(p).st_mtime
    text = edited(p, contact="Nieuwe Naam")
    mark = acct.mark()
    assert write_file(p, text) == 0
    assert writes(acct, mark) == [("PUT", f"clients/{nr}")]
    wire = next(c for c in acct.state("clients") if int(c["clientnr"]) == nr)
    assert wire["contact"] == "Nieuwe Naam" and wire["timestamp"] != "2020-01-02"
    got = load(p)
    assert got["contact"] == "Nieuwe Naam"
    assert got["timestamp"] == wire["timestamp"], "the service's timestamp is not shown"
    # the file's time is the record's own (its timestamp): it moved with it
    assert os.stat(p).st_mtime != mtime


# -- unchanged content ----------------------------------------------------------------

def test_unchanged_content_sends_nothing(acct, mounts, tmp_path):
    m = mounts(acct)
    mark = acct.mark()
    for n in range(1, 4):
        text = open(client(m, n)).read()
        assert write_file(client(m, n), text) == 0
        # the same record, written compactly
        assert write_file(client(m, n), json.dumps(json.loads(text))) == 0
    assert writes(acct, mark) == []


# -- delete ----------------------------------------------------------------------------

def test_rm_deletes_where_the_api_allows(acct, mounts):
    m = mounts(acct)
    inv = acct.state("invoices")[0]["invoicenr"].replace("/", "%2F")
    mark = acct.mark()
    os.unlink(m.path("products", "4.json"))
    os.unlink(m.path("invoices_saved", os.listdir(m.path("invoices_saved"))[0]))
    assert [w[0] for w in writes(acct, mark)] == ["DELETE", "DELETE"]
    assert "4.json" not in os.listdir(m.path("products"))
    assert not any(p["id"] == "4" for p in acct.state("products"))
    for path in (m.path("invoices", inv + ".pdf"), m.path("taxes", "21-H.json"),
                 m.path("balance.json"), m.path("countrylist", "146.json")):
        with pytest.raises(OSError) as e:
            os.unlink(path)
        assert e.value.errno == errno.EPERM, path
    with pytest.raises(FileNotFoundError):
        os.unlink(m.path("products", "999.json"))
    assert len(writes(acct, mark)) == 2


def test_api_refusal_of_delete_is_reported(acct, mounts):
    m = mounts(acct)
    acct.inject(fail={"status": 403, "count": 1, "path_prefix": "/api/v1/clients/5",
                      "body": "Client has invoices and cannot be deleted"})
    with pytest.raises(OSError) as e:
        os.unlink(client(m, 5))
    assert e.value.errno == errno.EACCES
    assert "cannot be deleted" in last_error(m)
    assert os.path.exists(client(m, 5))


# -- writes the API does not allow ----------------------------------------------------------

def test_read_only_files_refuse_writes(acct, mounts):
    m = mounts(acct)
    inv = os.listdir(m.path("invoices"))[0]
    mark = acct.mark()
    for path in (m.path("taxes", "21-H.json"), m.path("invoices", inv),
                 m.path("balance.json"), m.path(".factuurfs", "status")):
        assert write_file(path, "{}") == errno.EPERM, path
    assert write_file(m.path("taxes", "new.json"), "{}") == errno.EPERM
    assert write_file(m.path("new.json"), "{}") == errno.EPERM
    assert writes(acct, mark) == []


def test_scratch_files_never_reach_the_api(acct, mounts):
    m = mounts(acct)
    mark = acct.mark()
    for name in ("notes.txt", ".hidden", "1.json~", "#1.json#", ".1.json.swp", "4913"):
        p = m.path("clients", name)
        assert write_file(p, "scratch " + name) == 0
        fd = os.open(p, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        assert open(p).read() == "scratch " + name
        os.chmod(p, 0o600)
        assert os.stat(p).st_mode & 0o777 == 0o600
    os.rename(m.path("clients", "notes.txt"), m.path("clients", "notes2.txt"))
    assert "notes2.txt" in os.listdir(m.path("clients"))
    for name in ("notes2.txt", ".hidden", "1.json~", "#1.json#", ".1.json.swp", "4913"):
        os.unlink(m.path("clients", name))
    # the listdir above listed clients; nothing else reached the API
    assert [r["path"].split("?")[0] for r in acct.since(mark)] == ["/api/v1/clients"]


# -- payments and invoices ------------------------------------------------------------------

def test_payment_file_registers_a_payment(acct, mounts):
    m = mounts(acct)
    inv = next(i for i in acct.state("invoices") if float(i["open"]) > 10)
    nr = inv["invoicenr"]
    stem = nr.replace("%", "%25").replace("/", "%2F")
    mark = acct.mark()
    path = m.path("invoices_payment", stem + ".json")
    assert write_file(path, '{"amount": 10, "date": "2025-06-01"}\n') == 0
    assert writes(acct, mark) == [("POST", "invoices_payment/" + stem)]
    after = next(i for i in acct.state("invoices") if i["invoicenr"] == nr)
    assert abs(float(after["open"]) - (float(inv["open"]) - 10)) < 0.001
    assert load(m.path("invoices", stem + ".json"))["open"] == pytest.approx(float(after["open"]))
    assert os.listdir(m.path("invoices_payment")) == []
    # a bad payment: the errno and the service's words
    assert write_file(m.path("invoices_payment", stem + ".json"),
                      '{"amount": -5, "date": "2025-06-01"}') == errno.EINVAL
    assert "amount" in last_error(m)


def test_a_payment_shows_at_once_after_a_session_of_use(acct, mounts):
    """After close() of a payment file, the invoice's open amount, its xattrs and the
    status views show it on the next read, with no ls and no refresh in between, even
    when everything was read (and cached by the kernel) before: the sequence a new user
    met, where `open` stayed stale until something listed invoices/."""
    m = mounts(acct)
    inv = next(i for i in acct.state("invoices")
               if float(i["open"]) > 10 and not i.get("uncollectible"))
    nr = inv["invoicenr"]
    stem = nr.replace("%", "%25").replace("/", "%2F")
    rec_path = m.path("invoices", stem + ".json")
    pdf_path = m.path("invoices", stem + ".pdf")
    # a session: read everything the payment will change, an edit, a create, a refused
    # save and a refresh, then read the invoice again so the kernel holds it
    assert load(rec_path)["open"] == pytest.approx(float(inv["open"]))
    assert os.getxattr(pdf_path, "user.factuurfs.status").decode().startswith("open")
    assert stem + ".json" in os.listdir(m.path("views", "status", "open"))
    assert write_file(client(m, 1), edited(client(m, 1), notes="een sessie")) == 0
    assert write_file(m.path("products", "sessie.json"),
                      '{"code": "S-1", "name": "Sessie", "price": 1}') == 0
    assert write_file(client(m, 2), "{ kapot") == errno.EINVAL
    assert run("sh", "-c", f"printf x > {m.path('.factuurfs', 'refresh')}").returncode == 0
    assert load(rec_path)["open"] == pytest.approx(float(inv["open"]))
    assert os.getxattr(rec_path, "user.factuurfs.status").decode().startswith("open")
    pay = m.path("invoices_payment", stem + ".json")
    amount = float(inv["open"])
    assert write_file(pay, json.dumps({"amount": amount, "date": "2025-06-01"})) == 0
    # no ls, no refresh: the next reads show it
    assert load(rec_path)["open"] == pytest.approx(0)
    assert os.getxattr(pdf_path, "user.factuurfs.status").decode() == "paid"
    assert os.getxattr(rec_path, "user.factuurfs.status").decode() == "paid"
    assert stem + ".json" not in os.listdir(m.path("views", "status", "open"))
    assert stem + ".json" in os.listdir(m.path("views", "status", "paid"))


def test_new_invoice_is_posted_and_listed_with_its_pdf(acct, mounts, tmp_path):
    m = mounts(acct)
    before = {i["invoicenr"] for i in acct.state("invoices")}
    new = {"clientnr": 2, "action": "send", "sendmethod": "email",
           "lines": [{"amount": 2, "description": "Advies", "price": 95, "tax_rate": 21},
                     {"amount": 1, "description": "Reiskosten", "price": 40, "tax_rate": 21}]}
    mark = acct.mark()
    assert write_file(m.path("invoices", "nieuw.json"), json.dumps(new)) == 0
    assert writes(acct, mark) == [("POST", "invoices")]
    made = [i for i in acct.state("invoices") if i["invoicenr"] not in before]
    assert len(made) == 1
    nr = made[0]["invoicenr"]
    assert set(made[0]["lines"]) == {"line1", "line2"}
    assert made[0]["lines"]["line2"]["description"] == "Reiskosten"
    names = os.listdir(m.path("invoices"))
    stem = nr.replace("/", "%2F")
    assert stem + ".json" in names and stem + ".pdf" in names and "nieuw.json" not in names
    assert open(m.path("invoices", stem + ".pdf"), "rb").read().startswith(b"%PDF-")
    msg = f"created invoices/{nr} from invoices/nieuw.json"
    assert any(c["change"] == msg for c in m.status()["last_changes"])
    assert msg in m.stderr()  # the log (stderr under -f) names it too


@pytest.mark.parametrize("coll,rec", [
    ("invoices", {"clientnr": 2, "action": "send",
                  "lines": [{"amount": 1, "description": "Advies", "price": 95, "tax_rate": 21}]}),
    ("invoices", {"clientnr": 2, "action": "send", "sendmethod": "",
                  "lines": [{"amount": 1, "description": "Advies", "price": 95, "tax_rate": 21}]}),
    ("invoices", {"clientnr": 2, "action": "save",
                  "lines": [{"amount": 1, "description": "Advies", "price": 95, "tax_rate": 21}]}),
    ("quotations", {"clientnr": 2, "action": "send",
                    "lines": [{"amount": 1, "description": "Advies", "price": 95,
                               "tax_rate": 21}]}),
])
def test_a_field_an_action_needs_is_checked_before_any_call(acct, mounts, coll, rec):
    """docs/FIELDS.md: `sendmethod` is required when action is send (`savename` for a
    save): a file without it is refused at close() with EINVAL and the field named, and
    no request is made; the text stays."""
    m = mounts(acct)
    os.listdir(m.path(coll))
    mark = acct.mark()
    path = m.path(coll, "nieuw.json")
    text = json.dumps(rec)
    assert write_file(path, text) == errno.EINVAL
    assert acct.since(mark) == []
    need = "sendmethod" if rec["action"] == "send" else "savename"
    want = f"missing field '{need}': required when 'action' is \"{rec['action']}\""
    assert want in last_error(m)
    assert os.getxattr(path, "user.factuurfs.error").decode() == last_error(m)
    assert open(path).read() == text


def test_saved_invoice_lands_in_invoices_saved(acct, mounts):
    m = mounts(acct)
    before = set(os.listdir(m.path("invoices_saved")))
    new = {"clientnr": 1, "action": "save", "savename": "Concept mei",
           "lines": [{"amount": 1, "description": "Ontwerp", "price": 500, "tax_rate": 21}]}
    assert write_file(m.path("invoices", "concept.json"), json.dumps(new)) == 0
    after = set(os.listdir(m.path("invoices_saved")))
    assert len(after - before) == 1
    assert load(m.path("invoices_saved", (after - before).pop()))["savename"] == "Concept mei"


# -- a POST without an answer is never repeated blindly ---------------------------------------

def test_post_that_timed_out_is_not_sent_twice(acct, mounts):
    m = mounts(acct, opts=["timeout=1"])
    os.listdir(m.path("products"))
    acct.inject(hang={"count": 1, "seconds": 2, "path_prefix": "/api/v1/products"})
    path = m.path("products", "slow.json")
    text = '{"code": "SLOW-1", "name": "Traag", "price": 7, "taxes": 21}\n'
    assert write_file(path, text) == errno.ETIMEDOUT
    assert "may have made the record" in last_error(m)
    # the service did make it, after our timeout
    wait_for(lambda: any(p["code"] == "SLOW-1" for p in acct.state("products")),
             "the delayed POST to land")
    mark = acct.mark()
    assert write_file(path, text) == 0  # saving again finds it instead of posting
    assert [w for w in writes(acct, mark) if w[0] == "POST"] == []
    assert sum(p["code"] == "SLOW-1" for p in acct.state("products")) == 1
    newid = next(p["id"] for p in acct.state("products") if p["code"] == "SLOW-1")
    assert newid + ".json" in os.listdir(m.path("products"))


# -- concurrent writers ------------------------------------------------------------------------

def test_concurrent_writers_to_different_records_land_once(acct, mounts, tmp_path):
    m = mounts(acct)
    scripts = []
    for n in range(1, 7):
        path = client(m, n)
        text = edited(path, city=f"Stad-{n}")
        src = tmp_path / f"c{n}.json"
        src.write_text(text, encoding="utf-8")
        scripts.append(["cp", str(src), path])
    mark = acct.mark()
    procs = [subprocess.Popen(s) for s in scripts]
    assert [p.wait(60) for p in procs] == [0] * 6
    puts = sorted(w for w in writes(acct, mark))
    assert puts == sorted(("PUT", f"clients/{n}") for n in range(1, 7))
    assert sorted(c["city"] for c in acct.state("clients")) == sorted(
        f"Stad-{n}" for n in range(1, 7))


def test_concurrent_creates_from_threads_make_one_record_each(acct, mounts):
    m = mounts(acct)
    mark = acct.mark()
    errs = []

    def make(i):
        errs.append(write_file(m.path("products", f"p{i}.json"), json.dumps(
            {"code": f"PAR-{i}", "name": f"Parallel {i}", "price": i, "taxes": 21})))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errs == [0] * 8
    assert writes(acct, mark) == [("POST", "products")] * 8
    codes = [p["code"] for p in acct.state("products") if p["code"].startswith("PAR-")]
    assert sorted(codes) == sorted(f"PAR-{i}" for i in range(8))
