/* desktop: a refused save shown where the person is, as a desktop notification.
 *
 * `echo ... > products/p3.json` ignores the error of close(), so a refusal
 * that only fails close() goes unseen.  This module sends
 * org.freedesktop.Notifications.Notify on the user's session bus
 * (sd_bus_open_user: $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus).
 * Notifications are queued and sent by a thread of their own, so no FUSE
 * operation ever waits on the bus; no bus, or no notification server on it,
 * is fine (said once in the debug log).
 */
#ifndef FACTUURFS_FEAT_DESKTOP_H
#define FACTUURFS_FEAT_DESKTOP_H

/* The same summary and body again within this many seconds is shown once:
 * an editor retrying a refused save, or fsync after close, is one event. */
#define DESKTOP_COALESCE_SECONDS 10

struct desktop;

/* Starts the sender thread (after daemonizing: fork keeps one thread) in
 * *@out.  The bus is connected at the first notification.  0 or -errno. */
int desktop_start(struct desktop **out);

/* Sends what is queued (waiting at most a second for the bus), stops the
 * thread and frees everything.  NULL is fine. */
void desktop_stop(struct desktop *dt);

/* Queues a notification on @ud (a struct desktop; NULL: -o nonotify, nothing
 * sent): @summary names the file ("products/p3.json was not saved"), @body
 * says why (plain text: escaped for servers that read markup).  Copies both;
 * never blocks on the bus.  Thread-safe.  The signature is base/events.h's
 * refusal hook. */
void desktop_notify(void *ud, const char *summary, const char *body);

#endif
