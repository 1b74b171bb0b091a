"""A desktop notification server for the tests: owns org.freedesktop.Notifications on the
session bus ($DBUS_SESSION_BUS_ADDRESS) and appends every Notify call to a file, one JSON
object a line (app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout,
sender_pid).  Prints "ready" once it owns the name.

    python3 tests/notify_listener.py RECORD_FILE
"""
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


def plain(v):
    """dbus types as JSON-able Python values."""
    if isinstance(v, (dbus.Array, list)):
        return [plain(x) for x in v]
    if isinstance(v, (dbus.Dictionary, dict)):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (dbus.String, str)):
        return str(v)
    if isinstance(v, (dbus.Boolean, bool)):
        return bool(v)
    if isinstance(v, (int, dbus.Byte, dbus.Int32, dbus.UInt32, dbus.Int64, dbus.UInt64)):
        return int(v)
    return str(v)


class Server(dbus.service.Object):
    def __init__(self, bus, record):
        super().__init__(bus, PATH)
        self.dbus = dbus.Interface(bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                   "org.freedesktop.DBus")
        self.record = record
        self.next_id = 1

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u",
                         sender_keyword="sender")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints,
               expire_timeout, sender=None):
        pid = int(self.dbus.GetConnectionUnixProcessID(sender)) if sender else None
        entry = {"app_name": app_name, "replaces_id": replaces_id, "app_icon": app_icon,
                 "summary": summary, "body": body, "actions": actions, "hints": hints,
                 "expire_timeout": expire_timeout, "sender_pid": pid}
        with open(self.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(plain(entry)) + "\n")
        nid = self.next_id
        self.next_id += 1
        return dbus.UInt32(nid)

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body", "body-markup"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("factuurfs-test-listener", "factuurfs", "1", "1.2")

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        pass


def main():
    record = sys.argv[1]
    open(record, "a").close()
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(NAME, bus, do_not_queue=True)  # noqa: F841 (kept owned)
    Server(bus, record)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
