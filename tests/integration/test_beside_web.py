"""factuurfs beside the website and beside another mount: a save changes only what the
user changed, against the version the user's text started from, on the record as the
service has it just before the PUT; a field changed on both sides is a conflict that
says so (EBUSY, the field and both values), sends nothing and keeps the text.

Each test adds a row to a table of the side-by-side cases, printed at the end of the
module (pytest -s): the requests each save made, what the service holds after, what the
user saw."""
import errno
import json
import os
import subprocess

import pytest

from harness import save, wait_for

ROWS = []


@pytest.fixture(scope="module", autouse=True)
def table():
    yield
    if not ROWS:
        return
    head = ("case", "requests of the save", "service after", "the user saw")
    widths = [max(len(str(r[i])) for r in ROWS + [head]) for i in range(4)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print("\n" + line(head))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in ROWS:
        print(line(r))


def read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def text(rec):
    return json.dumps(rec, indent=2, ensure_ascii=False) + "\n"


def calls(fake, mark):
    """The requests since @mark, as "METHOD path" without the query."""
    return [f'{r["method"]} {r["path"].split("?")[0].replace("/api/v1/", "")}'
            for r in fake.since(mark)]


def puts(fake, mark):
    return [c for c in calls(fake, mark) if c.startswith("PUT ")]


def row(case, reqs, service, saw):
    ROWS.append((case, ", ".join(reqs) or "none", service, saw))


def error_of(path):
    """user.factuurfs.error of @path, "" when it has none."""
    try:
        return os.getxattr(path, "user.factuurfs.error").decode()
    except OSError as e:
        if e.errno != errno.ENODATA:
            raise
        return ""


def saw(rc):
    return "close() 0" if rc == 0 else f"close() {errno.errorcode.get(rc, rc)}"


def test_a_website_change_of_another_field_survives_a_save(acct, mounts):
    """Read the client; its phone is changed on the website; the city is changed in the
    mount and saved: one GET of the record, one PUT, and the service holds both."""
    m = mounts(acct)
    path = m.path("clients", "1.json")
    mine = read(path)
    acct.web_edit("clients", "1", phone="+31 20 555 0101")
    mine["city"] = "Zwolle"
    mark = acct.mark()
    rc = save(path, text(mine))
    reqs = calls(acct, mark)
    rec = acct.record("clients", "1")
    row("website: phone; mount: city", reqs, f'phone {rec["phone"]}, city {rec["city"]}', saw(rc))
    assert rc == 0
    assert reqs == ["GET clients/1", "PUT clients/1"]
    assert rec["phone"] == "+31 20 555 0101" and rec["city"] == "Zwolle"
    # The file shows the record as the service has it now.
    shown = read(path)
    assert shown["phone"] == "+31 20 555 0101" and shown["city"] == "Zwolle"


def test_the_same_field_changed_on_both_sides_is_a_conflict(acct, mounts):
    """The city changed on the website and, otherwise, in the mount: close() fails with
    EBUSY after one GET and no PUT, the reason names the field and both values (status
    file, user.factuurfs.error), the text is kept; saving the same text again keeps the
    user's city and the website's other changes."""
    m = mounts(acct)
    path = m.path("clients", "2.json")
    mine = read(path)
    was = mine["city"]
    acct.web_edit("clients", "2", city="Utrecht", phone="+31 30 555 0202")
    mine["city"] = "Zwolle"
    mark = acct.mark()
    rc = save(path, text(mine))
    reqs = calls(acct, mark)
    rec = acct.record("clients", "2")
    reason = error_of(path)
    row("website: city; mount: city", reqs, f'city {rec["city"]}', f"{saw(rc)}: {reason}")
    assert rc == errno.EBUSY
    assert reqs == ["GET clients/2"]
    assert rec["city"] == "Utrecht"
    assert "'city'" in reason and '"Utrecht"' in reason and '"Zwolle"' in reason
    assert f'"{was}"' in reason
    errors = [e for e in m.status()["last_errors"] if e["operation"] == "clients/2.json"]
    assert errors and errors[-1]["message"] == reason
    assert read(path) == mine  # the text is kept

    # Saved again as it is: the user's city now, the website's phone kept.
    mark = acct.mark()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    reqs = calls(acct, mark)
    rec = acct.record("clients", "2")
    row("the same text saved again (fsync)", reqs,
        f'city {rec["city"]}, phone {rec["phone"]}', "fsync() 0")
    assert reqs == ["GET clients/2", "PUT clients/2"]
    assert rec["city"] == "Zwolle" and rec["phone"] == "+31 30 555 0202"
    assert error_of(path) == ""


def test_two_mounts_and_the_website_keep_each_others_changes(acct, mounts):
    """Two mounts of one account read the client; A saves a phone, B (from its older
    text) a city, the website changes the e-mail address, A saves a note from the text
    it wrote: each save is one GET and one PUT, and all four changes are there."""
    a = mounts(acct)
    b = mounts(acct)
    pa, pb = a.path("clients", "3.json"), b.path("clients", "3.json")
    ta, tb = read(pa), read(pb)
    assert ta == tb
    counts, rcs = [], []

    ta["phone"] = "+31 10 555 0303"
    mark = acct.mark()
    rcs.append(save(pa, text(ta)))
    counts.append(calls(acct, mark))
    tb["city"] = "Kampen"
    mark = acct.mark()
    rcs.append(save(pb, text(tb)))
    counts.append(calls(acct, mark))
    acct.web_edit("clients", "3", email="web@example.nl")
    ta["notes"] = "belt liever"
    mark = acct.mark()
    rcs.append(save(pa, text(ta)))
    # (A lists the clients again first: its own save dropped its listing.)
    counts.append([c for c in calls(acct, mark) if "clients/3" in c])
    rec = acct.record("clients", "3")
    row("mount A: phone; mount B: city; website: email; A: notes",
        [" + ".join(c) or "none" for c in counts],
        f'phone {rec["phone"]}, city {rec["city"]}, email {rec["email"]}, notes {rec["notes"]}',
        ", ".join(saw(rc) for rc in rcs))
    assert rcs == [0, 0, 0]
    assert counts[:2] == [["GET clients/3", "PUT clients/3"]] * 2
    assert counts[2] == ["GET clients/3", "PUT clients/3"]
    assert (rec["phone"], rec["city"], rec["email"], rec["notes"]) == (
        "+31 10 555 0303", "Kampen", "web@example.nl", "belt liever")


def test_a_save_after_the_listing_expired_merges_against_what_the_text_began_from(
        acct, mounts):
    """With a short TTL: a program reads the client and keeps the text; the website
    changes the phone; the listing expires and the mount shows the new phone; then the
    program writes its text back with a new city.  The save merges against the version
    the program read (the mount served it), not the one it shows now: one GET, one
    PUT, and the website's phone stays."""
    m = mounts(acct, opts=["ttl=1"])
    path = m.path("clients", "4.json")
    mine = read(path)
    acct.web_edit("clients", "4", phone="+31 50 555 0404")
    wait_for(lambda: read(path)["phone"] == "+31 50 555 0404", "the mount to show the phone")
    mine["city"] = "Groningen"
    mark = acct.mark()
    rc = save(path, text(mine))
    reqs = [c for c in calls(acct, mark) if "clients/4" in c]
    rec = acct.record("clients", "4")
    row("website: phone; listing expired and shown; mount: city (older text)", reqs,
        f'phone {rec["phone"]}, city {rec["city"]}', saw(rc))
    assert rc == 0
    assert reqs == ["GET clients/4", "PUT clients/4"]
    assert rec["phone"] == "+31 50 555 0404" and rec["city"] == "Groningen"


def test_an_editor_saving_by_rename_merges_too(acct, mounts):
    """sed -i (a temporary file renamed over the record) after a website change of
    another field: one GET, one PUT, both changes kept."""
    m = mounts(acct)
    path = m.path("clients", "5.json")
    mine = read(path)
    acct.web_edit("clients", "5", mobile="06 5555 0505")
    mark = acct.mark()
    r = subprocess.run(["sed", "-i", f's/"city": "{mine["city"]}"/"city": "Hoorn"/', path],
                       capture_output=True, text=True)
    reqs = calls(acct, mark)
    rec = acct.record("clients", "5")
    row("website: mobile; mount: city by sed -i", reqs,
        f'mobile {rec["mobile"]}, city {rec["city"]}', f"sed exit {r.returncode}")
    assert r.returncode == 0, r.stderr
    assert reqs == ["GET clients/5", "PUT clients/5"]
    assert rec["mobile"] == "06 5555 0505" and rec["city"] == "Hoorn"
