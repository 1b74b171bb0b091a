"""Bad input from the user and from the server: refused cleanly, nothing lost."""
import errno
import json
import os
import subprocess

import pytest

from harness import Fake, save, wait_for


write_close = save


def writes(reqs):
    return [r for r in reqs if r["method"] != "GET"]


# -- from the user --------------------------------------------------------------

@pytest.mark.parametrize("junk", [
    b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,        # a binary
    b'{"company": "Caf\xe9 Latin-1"}',                          # not UTF-8
    b'{"company": "a\x01b"}',                                  # raw control character
    b'{"company": "nul\x00inside"}',
    b"\xef\xbb\xbf\x00\x00",
], ids=["binary", "latin1", "control", "nul", "bom-nul"])
def test_junk_in_a_record_is_refused_and_kept(acct, mounts, junk):
    m = mounts(acct)
    name = sorted(os.listdir(m.path("clients")))[0]
    p = m.path("clients", name)
    before = acct.state("clients")
    mark = acct.mark()
    assert write_close(p, junk) == errno.EINVAL
    assert writes(acct.since(mark)) == []
    assert acct.state("clients") == before
    # the user's bytes are still there to fix, exactly
    assert open(p, "rb").read() == junk
    assert m.status()["last_errors"][0]["operation"] == "clients/" + name
    os.unlink(p)  # drops the refused text: the record reads as before
    assert json.loads(open(p, "rb").read())["clientnr"] == int(name[:-5])


def test_junk_as_a_new_record_is_refused_and_kept(acct, mounts):
    m = mounts(acct)
    p = m.path("products", "junk.json")
    mark = acct.mark()
    assert write_close(p, os.urandom(4096)) == errno.EINVAL
    assert writes(acct.since(mark)) == []
    assert os.path.getsize(p) == 4096


def test_huge_files_are_refused_with_efbig(acct, mounts):
    m = mounts(acct)
    mark = acct.mark()
    # a new record, a record, and a scratch file: one MiB each at most
    for p in (m.path("products", "big.json"), m.path("clients", "1.json"),
              m.path("clients", "notes.txt")):
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.write(fd, b" " * (1 << 20))  # exactly the limit: accepted
            with pytest.raises(OSError) as e:
                os.write(fd, b" ")
            assert e.value.errno == errno.EFBIG, p
            with pytest.raises(OSError) as e:
                os.pwrite(fd, b"x", 5 << 20)
            assert e.value.errno == errno.EFBIG, p
        finally:
            try:
                os.close(fd)
            except OSError:
                pass  # a megabyte of blanks is no record: EINVAL
        with pytest.raises(OSError) as e:
            os.truncate(p, (1 << 20) + 1)
        assert e.value.errno == errno.EFBIG
    assert writes(acct.since(mark)) == []
    # dd of a large file stops with "File too large", the mount lives on
    r = subprocess.run(["dd", "if=/dev/zero", "of=" + m.path("clients", "dd.bin"), "bs=64k",
                        "count=100"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "File too large" in r.stderr
    assert len(os.listdir(m.path("clients"))) >= 6


@pytest.mark.parametrize("name", ["big.json", "1.json"], ids=["new", "record"])
def test_a_50_mb_copy_is_refused_as_too_large_and_never_journaled(acct, mounts, tmp_path,
                                                                   name):
    """cp of a 50 MB file into clients/: cp says "File too large"; the reason kept says
    too large (not the parse of the first MiB), nothing is sent, and the part that fit
    is not journaled as the user's text: a remount of the same cache shows the
    directory as the service has it."""
    src = tmp_path / "big.json"
    with open(src, "wb") as f:
        f.write(b'{"company": "' + b"x" * (50 << 20) + b'"}\n')
    cache = str(tmp_path / "cache")
    m = mounts(acct, env={"XDG_CACHE_HOME": cache})
    before = sorted(os.listdir(m.path("clients")))
    dst = m.path("clients", name)
    mark = acct.mark()
    r = subprocess.run(["cp", str(src), dst], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "File too large" in r.stderr, r.stderr
    assert writes(acct.since(mark)) == []
    err = m.status()["last_errors"][0]
    assert err["operation"] == "clients/" + name
    assert err["message"].startswith("file too large: a file here holds at most 1048576 bytes")
    assert "invalid JSON" not in err["message"] and "not journaled" in err["message"]
    assert os.getxattr(dst, "user.factuurfs.error").decode() == err["message"]
    jdir = [os.path.join(dp, d) for dp, ds, _ in os.walk(cache) for d in ds if d == "journal"]
    assert [os.listdir(d) for d in jdir] == [[]]
    assert m.status()["unsaved"]["texts"] == 0
    assert m.unmount() == 0
    again = mounts(acct, env={"XDG_CACHE_HOME": cache})
    assert sorted(os.listdir(again.path("clients"))) == before
    if name == "1.json":
        assert json.load(open(again.path("clients", name)))["clientnr"] == 1
    assert again.status()["last_errors"] == []


def test_all_unsaved_text_is_kept_within_64_mib(acct, mounts):
    """Unsaved text lives in the daemon's memory: 64 files of 1 MiB fill the 64 MiB
    it keeps for all of it; one byte more is ENOSPC, and removing a file frees room."""
    m = mounts(acct)
    mark = acct.mark()
    mib = b" " * (1 << 20)
    names = [m.path("clients", f"fill-{i:02d}.txt") for i in range(64)]
    for p in names:
        assert write_close(p, mib) == 0, p
    assert write_close(m.path("clients", "one-more.txt"), b"x") == errno.ENOSPC
    r = subprocess.run(["dd", "if=/dev/zero", "of=" + m.path("clients", "dd.bin"), "bs=4k",
                        "count=1"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "No space left on device" in r.stderr, r.stderr
    # the text kept is whole, and nothing reached the service
    assert os.path.getsize(names[-1]) == 1 << 20
    assert writes(acct.since(mark)) == []
    os.unlink(names[0])
    assert write_close(m.path("clients", "one-more.txt"), b"x") == 0
    for p in names[1:]:
        os.unlink(p)


@pytest.mark.parametrize("name,err", [
    ("a\x01b.json", errno.EINVAL),
    ("tab\there.json", errno.EINVAL),
    ("del\x7f.json", errno.EINVAL),
    ("x" * 251 + ".json", errno.ENAMETOOLONG),
    ("%2E%2E.json", errno.EINVAL),        # would decode to ".."
    ("%2E.json", errno.EINVAL),           # "."
    ("%2e%2e.json", errno.EINVAL),        # lower case is not the codec's
    ("50% off.json", errno.EINVAL),       # '%' belongs to the codec
], ids=["soh", "tab", "del", "long", "dotdot", "dot", "lower", "percent"])
def test_bad_names_are_refused(acct, mounts, name, err):
    m = mounts(acct)
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        fd = os.open(m.path("clients", name), os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    assert e.value.errno == err, name
    assert name not in os.listdir(m.path("clients"))
    # nothing reached the service, not even a lookup of the odd name
    assert all("%2E" not in r["path"] and "\x01" not in r["path"] for r in acct.since(mark))
    assert writes(acct.since(mark)) == []


def test_dotfiles_with_escapes_stay_local(acct, mounts):
    """A raw leading '.' is never a record name: such files live in memory only."""
    m = mounts(acct)
    mark = acct.mark()
    p = m.path("invoices", "..%2F..%2Fetc.json")
    assert write_close(p, b"{}") == 0
    assert open(p, "rb").read() == b"{}"
    os.unlink(p)
    assert writes(acct.since(mark)) == []


def test_overlong_and_dot_names_are_not_found(acct, mounts):
    m = mounts(acct)
    os.listdir(m.path("clients"))
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        os.stat(m.path("clients", "9" * 300 + ".json"))
    assert e.value.errno == errno.ENAMETOOLONG
    for name in ("%2E%2E.json", "%2E.json", "..json", "%2F.json", "1%2F..%2F2.json"):
        assert not os.path.exists(m.path("clients", name)), name
    assert acct.since(mark) == []


def test_wrong_types_are_refused_with_the_field_named(acct, mounts):
    m = mounts(acct)
    p = m.path("products", sorted(os.listdir(m.path("products")))[0])
    rec = json.load(open(p))
    mark = acct.mark()
    for field, value in (("price", "twelve"), ("price", [1]), ("name", {"a": 1})):
        bad = dict(rec, **{field: value})
        assert write_close(p, json.dumps(bad).encode()) == errno.EINVAL
        assert field in m.status()["last_errors"][0]["message"]
    assert writes(acct.since(mark)) == []
    os.unlink(p)


# -- from the server ------------------------------------------------------------

def test_invalid_utf8_from_the_server_reads_as_latin1(acct, mounts):
    rec = acct.state("clients")[0]
    acct.put_state("clients", rec["clientnr"], dict(rec, company="Café Müller",
                                                   address="Straße 1"))
    m = mounts(acct)
    acct.inject(latin1={"count": 1, "path_prefix": "/api/v1/clients"})
    p = m.path("clients", f"{rec['clientnr']}.json")
    raw = open(p, "rb").read()
    got = json.loads(raw.decode("utf-8"))  # strict: the file is valid UTF-8
    assert got["company"] == "Café Müller" and got["address"] == "Straße 1"
    # and it saves back unchanged: no request
    mark = acct.mark()
    assert write_close(p, raw) == 0
    assert writes(acct.since(mark)) == []


def test_odd_ids_and_records_from_the_server(acct, mounts):
    inv = acct.state("invoices")[0]
    odd = dict(inv, invoicenr="2024/07%B")
    acct.put_state("invoices", "2024/07%B", odd)
    # a record with fields missing and of the wrong types
    acct.put_state("clients", "777", {"clientnr": "777", "company": 12, "lastinvoice": {},
                                      "top": "abc", "contact": None})
    acct.put_state("products", "778", {"id": "778", "name": ["not", "a", "string"]})
    m = mounts(acct)
    names = os.listdir(m.path("invoices"))
    assert "2024%2F07%25B.json" in names and "2024%2F07%25B.pdf" in names
    j = json.load(open(m.path("invoices", "2024%2F07%25B.json")))
    assert j["invoicenr"] == "2024/07%B"
    pdf = open(m.path("invoices", "2024%2F07%25B.pdf"), "rb").read()
    assert pdf == acct.pdf("2024/07%B")
    c = json.load(open(m.path("clients", "777.json")))
    assert c["clientnr"] == 777 and c["company"] == 12 and c["top"] == "abc"
    assert json.load(open(m.path("products", "778.json")))["name"] == ["not", "a", "string"]
    # every other record still reads
    for coll in ("clients", "products", "invoices"):
        for n in os.listdir(m.path(coll)):
            if n.endswith(".json"):
                json.load(open(m.path(coll, n)))


# Ids no file name can carry, planted under a key of their own (the fake lists a record
# as stored, whatever its id), and why each is left out, as the status file says it.
LEFT_OUT = [
    (".", '"." and ".." cannot be file names'),
    ("..", '"." and ".." cannot be file names'),
    ("", "without a usable 'id'"),
    ("x" * 300, "an id of 300 bytes"),
    ("/" * 84, "an id of 84 bytes"),            # 84 bytes, but a 252-byte stem (%2F each)
    ("<real>\x00evil", "holds a NUL"),          # cut at its NUL, it would be record 1
]
NAME_MAX = 255


@pytest.mark.parametrize("ident,why", LEFT_OUT,
                         ids=["dot", "dotdot", "empty", "long", "slashes", "nul"])
def test_records_whose_ids_cannot_be_names_are_left_out(acct, mounts, ident, why):
    """A record whose id is no file name (".", "..", "", a NUL in it, a name over 255
    bytes) is left out of its listing, with one line in the log and one in the status
    file's errors; the rest of the collection lists and reads as usual, and an id cut
    at its NUL never passes for the record it would shadow."""
    prods = acct.state("products")
    real = prods[0]
    ident = ident.replace("<real>", str(real["id"]))
    acct.put_state("products", "odd", dict(real, id=ident, name="the odd one"))
    # the longest ids that still fit: a 250-byte stem, and 83 '/' (a 249-byte stem)
    longest, slashes = "y" * (NAME_MAX - len(".json")), "/" * 83
    acct.put_state("products", "fits", dict(real, id=longest, name="longest"))
    acct.put_state("products", "fits2", dict(real, id=slashes, name="slashes"))
    m = mounts(acct)
    names = sorted(os.listdir(m.path("products")))
    fits = [longest + ".json", "%2F" * 83 + ".json"]
    assert names == sorted([f"{p['id']}.json" for p in prods] + fits)
    assert max(len(n.encode()) for n in names) == NAME_MAX
    for n in names:
        rec = json.load(open(m.path("products", n)))
        assert n in [f"{rec['id']}.json"] + fits
        assert rec["name"] != "the odd one"
    assert json.load(open(m.path("products", f"{real['id']}.json")))["name"] == real["name"]
    assert json.load(open(m.path("products", fits[0])))["name"] == "longest"
    assert json.load(open(m.path("products", fits[1])))["name"] == "slashes"
    # left out once, with its reason, in the status file and in the log
    errs = [e for e in m.status()["last_errors"] if e["operation"] == "list products"]
    assert len(errs) == 1 and why in errs[0]["message"], errs
    log = [line for line in m.stderr().splitlines() if "left out" in line]
    assert len(log) == 1 and why in log[0], log
    # and a lookup never asked the service for it
    assert not [r for r in acct.requests() if "/products/" in r["path"]]


def test_two_records_with_one_id_show_the_first_listed(acct, mounts):
    """The service lists two records with the same id: the first it listed is the
    file, on every listing, and the log says so once per listing."""
    real = acct.state("products")[0]
    acct.put_state("products", "zz-dup", dict(real, name="the second one"))
    m = mounts(acct, opts=["ttl=1"])
    name = f"{real['id']}.json"
    names = os.listdir(m.path("products"))
    assert names.count(name) == 1 and len(names) == len(set(names))
    assert json.load(open(m.path("products", name)))["name"] == real["name"]
    assert "two records with the id" in m.stderr()
    # and so again after the listing is fetched anew
    with open(m.path(".factuurfs", "refresh"), "w") as f:
        f.write("products")
    wait_for(lambda: os.listdir(m.path("products")) and
             m.stderr().count("two records with the id") >= 2, "a second listing")
    assert json.load(open(m.path("products", name)))["name"] == real["name"]


def test_a_50_mb_pdf(acct, mounts, tmp_path):
    nr = acct.state("invoices")[1]["invoicenr"]
    acct.set_pdf_size(nr, 50_000_000)
    m = mounts(acct, opts=["timeout=120"])
    out = tmp_path / "big.pdf"
    subprocess.run(["cp", m.path("invoices", nr + ".pdf"), str(out)], check=True, timeout=300)
    data = out.read_bytes()
    assert len(data) >= 50_000_000 and data == acct.pdf(nr)
    r = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.stat(m.path("invoices", nr + ".pdf")).st_size == len(data)


@pytest.mark.slow
def test_a_listing_of_100000_records(workdir, mounts):
    f = Fake(workdir, "--generate", "clients=10,invoices=10,products=100000",
             "--rate-limit", "100000")
    try:
        m = mounts(f, opts=["timeout=120"])
        mark = f.mark()
        names = os.listdir(m.path("products"))
        assert len(names) == 100000
        calls = [r for r in f.since(mark) if "/products" in r["path"]]
        assert len(calls) == 11  # ten full pages of 10,000, then an empty one
        last = sorted(names, key=lambda n: int(n[:-5]))[-1]
        assert json.load(open(m.path("products", last)))["id"] == int(last[:-5])
        assert f.since(mark)[-1]["path"].startswith("/api/v1/products")
        assert m.unmount() == 0
    finally:
        f.stop()
