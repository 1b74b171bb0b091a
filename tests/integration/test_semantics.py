"""The statements of docs/SEMANTICS.md that no other test covers."""
import ctypes
import errno
import json
import os

import pytest

from expected import load
from test_write import last_error, write_file, writes


def test_pdf_size_is_a_placeholder_until_fetched(acct, mounts):
    """stat by path shows the placeholder and fetches nothing; a program that opened the
    PDF gets its true size from fstat, and from then on stat shows it too."""
    m = mounts(acct)
    name = next(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))
    path = m.path("invoices", name)
    mark = acct.mark()
    st = os.stat(path)
    assert (st.st_size, st.st_blocks) == (32 * 1024, 64)
    assert acct.since(mark) == []
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read()
    assert data.startswith(b"%PDF-") and len(data) == size < 32 * 1024
    assert data == acct.pdf(name[:-4])
    st = os.stat(path)
    assert (st.st_size, st.st_blocks) == (len(data), (len(data) + 511) // 512)


def test_empty_new_file_sends_nothing(acct, mounts):
    m = mounts(acct)
    mark = acct.mark()
    path = m.path("products", "empty.json")
    open(path, "w").close()
    assert write_file(path, "") == 0
    assert write_file(path, "\n  \n") == 0
    assert "empty.json" in os.listdir(m.path("products"))
    assert writes(acct, mark) == []


def test_o_excl_over_a_record_is_eexist(acct, mounts):
    m = mounts(acct)
    with pytest.raises(FileExistsError):
        os.open(m.path("clients", "1.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)


def test_refused_rename_onto_a_record_keeps_the_text_at_the_record(acct, mounts):
    """The rename fails with the refusal's errno and sends nothing; the source stays, and
    the record's name shows the refused text, as after a refused save in place (sed -i
    and gio remove their temporary file when the rename fails).  Saving a fixed text
    sends one PUT."""
    m = mounts(acct)
    tmp = m.path("clients", ".save-tmp")
    rec = load(m.path("clients", "2.json"))
    rec["top"] = "soon"
    text = json.dumps(rec, indent=2)
    assert write_file(tmp, text) == 0
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        os.rename(tmp, m.path("clients", "2.json"))
    assert e.value.errno == errno.EINVAL
    assert "top" in last_error(m)
    assert open(tmp).read() == text
    assert open(m.path("clients", "2.json")).read() == text
    assert writes(acct, mark) == []
    rec["top"] = 14
    assert write_file(m.path("clients", "2.json"), json.dumps(rec, indent=2)) == 0
    assert writes(acct, mark) == [("PUT", "clients/2")]
    assert load(m.path("clients", "2.json"))["top"] == 14


def test_refused_rename_onto_a_new_name_keeps_the_text_there(acct, mounts):
    """A refused POST through a temporary name: the source goes back to what it was (a
    scratch file, under its name), and the new name holds the refused text."""
    m = mounts(acct)
    tmp = m.path("products", ".goutputstream-XYZ")
    text = '{"code": "BAD-1", "name": "Kapot", "price": "gratis"}\n'
    assert write_file(tmp, text) == 0
    mark = acct.mark()
    with pytest.raises(OSError) as e:
        os.rename(tmp, m.path("products", "kapot.json"))
    assert e.value.errno == errno.EINVAL
    assert open(tmp).read() == text
    assert open(m.path("products", "kapot.json")).read() == text
    assert writes(acct, mark) == []
    names = os.listdir(m.path("products"))
    assert ".goutputstream-XYZ" in names and "kapot.json" in names
    # the scratch file is still a scratch file: writing it sends nothing
    assert write_file(tmp, '{"code": "X"}') == 0
    assert writes(acct, mark) == []
    fixed = '{"code": "BAD-1", "name": "Heel", "price": 3.5}\n'
    assert write_file(m.path("products", "kapot.json"), fixed) == 0
    assert writes(acct, mark) == [("POST", "products")]


def test_rename_of_a_scratch_file_onto_a_new_name_posts(acct, mounts):
    m = mounts(acct)
    tmp = m.path("products", ".goutputstream-ABC123")
    assert write_file(tmp, '{"code": "REN-1", "name": "Hernoemd", "price": 1.25}') == 0
    mark = acct.mark()
    os.rename(tmp, m.path("products", "hernoemd.json"))
    assert writes(acct, mark) == [("POST", "products")]
    new = [p for p in acct.state("products") if p["code"] == "REN-1"]
    assert len(new) == 1 and new[0]["price"] == "1.25"
    names = os.listdir(m.path("products"))
    assert new[0]["id"] + ".json" in names
    assert "hernoemd.json" not in names and ".goutputstream-ABC123" not in names


def test_rename_of_a_record_to_a_backup_name_copies(acct, mounts):
    m = mounts(acct)
    path = m.path("clients", "3.json")
    text = open(path).read()
    ino = os.stat(path).st_ino
    mark = acct.mark()
    os.rename(path, path + "~")
    # The inode goes with the name, as POSIX has it (the kernel moved it; a queued
    # notice telling it otherwise came late under load, and vim then took the backup
    # and the record for one file): the record's name has a new one, at once.
    assert os.stat(path + "~").st_ino == ino
    assert os.stat(path).st_ino != ino
    assert open(path + "~").read() == text
    assert open(path).read() == text  # the record is still there
    os.unlink(path + "~")
    assert os.path.exists(path)
    assert writes(acct, mark) == []


RENAME_EXCHANGE = 2


def renameat2(old, new, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def test_renames_the_api_cannot_do(acct, mounts):
    m = mounts(acct)
    mark = acct.mark()
    for src, dst in (("clients/1.json", "clients/99.json"),
                     ("clients/1.json", "clients/acme.json"),
                     ("clients/1.json", "products/1.json"),
                     ("products/1.json", "products/2.json")):
        with pytest.raises(OSError) as e:
            os.rename(m.path(src), m.path(dst))
        assert e.value.errno == errno.EPERM, (src, dst)
    with pytest.raises(OSError) as e:
        renameat2(m.path("clients", "1.json"), m.path("clients", "2.json"), RENAME_EXCHANGE)
    assert e.value.errno == errno.EINVAL
    assert writes(acct, mark) == []
    assert os.path.exists(m.path("clients", "1.json"))


def test_read_only_mount(acct, mounts):
    """-o ro: the kernel refuses every change (EROFS) and reading works as ever."""
    m = mounts(acct, opts=["ro"])
    mark = acct.mark()
    assert load(m.path("clients", "1.json"))["clientnr"] == 1
    assert write_file(m.path("clients", "1.json"), "{}") == errno.EROFS
    assert write_file(m.path("clients", "new.json"), "{}") == errno.EROFS
    with pytest.raises(OSError) as e:
        os.unlink(m.path("clients", "1.json"))
    assert e.value.errno == errno.EROFS
    assert writes(acct, mark) == []
