"""A private D-Bus session bus for the tests, with a notification listener on it.

dbus-daemon runs with a configuration of its own: no service activation, so no
notification server of this machine is started, and nothing reaches the desktop of
whoever runs the tests.  tests/notify_listener.py owns org.freedesktop.Notifications on it
and records every Notify call.
"""
import json
import os
import subprocess
import tempfile

import dbus
import dbus.bus

from harness import ROOT, wait_for

LISTENER = os.path.join(ROOT, "tests", "notify_listener.py")

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SessionBus:
    """A private session bus; with listener=True the test listener serves notifications
    on it.  hang() instead puts a server on it that owns the name and never answers."""

    def __init__(self, tmpdir, listener=True):
        self.dir = tempfile.mkdtemp(prefix="bus-", dir=tmpdir)
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(socket=os.path.join(self.dir, "socket")))
        self.record = os.path.join(self.dir, "notifications.jsonl")
        self.procs = []
        with open(os.path.join(self.dir, "dbus-daemon.err"), "w") as err:
            self.daemon = self._start(["dbus-daemon", "--config-file", conf, "--nofork",
                                       "--print-address=1"], err)
        self.address = self.daemon.stdout.readline().strip()
        assert self.address.startswith("unix:path="), "dbus-daemon did not start"
        if listener:
            self.listener = self._start(["/usr/bin/python3", LISTENER, self.record])
            assert self.listener.stdout.readline().strip() == "ready", "listener did not start"

    def _start(self, argv, err=None):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True,
                             env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": getattr(
                                 self, "address", "")})
        self.procs.append(p)
        return p

    def hang(self):
        """A notification server that takes the name and never answers a call."""
        p = self._start(["/usr/bin/python3", "-c",
                         "import dbus, time\n"
                         "b = dbus.SessionBus()\n"
                         "b.request_name('org.freedesktop.Notifications')\n"
                         "print('ready', flush=True)\n"
                         "time.sleep(3600)\n"])
        assert p.stdout.readline().strip() == "ready"

    def env(self):
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def notifications(self):
        try:
            with open(self.record, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def wait_for_summary(self, summary):
        """Waits for a notification with @summary; returns every notification so far."""
        wait_for(lambda: any(n["summary"] == summary for n in self.notifications()),
                 f"a notification {summary!r}")
        return self.notifications()

    def connected_pids(self):
        """The process id behind every connection to the bus but ours."""
        conn = dbus.bus.BusConnection(self.address)
        try:
            d = dbus.Interface(conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                               "org.freedesktop.DBus")
            me = conn.get_unique_name()
            return {int(d.GetConnectionUnixProcessID(n)) for n in d.ListNames()
                    if n.startswith(":") and n != me}
        finally:
            conn.close()

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()
