/* status: the recent errors and the text of .factuurfs/status.
 *
 * Errors from any module are recorded here with the server's message, so the
 * user finds them in the status file as well as in the log.
 */
#ifndef FACTUURFS_STATUS_H
#define FACTUURFS_STATUS_H

#include <stddef.h>

struct api;
struct cache;

/* Records an error (also logged): @what is the operation ("list invoices"),
 * @message the server's or the transport's words. Thread-safe. */
void status_error(const char *what, const char *message);

/* A save or rm of @file (a path in the mount: "products/p3.json") that was
 * refused for @reason, where close() alone may go unseen (a shell's `>`
 * ignores its error): recorded as status_error does, logged with the file as
 * a journal field (log_refusal), and shown on the desktop as "@file was not
 * @done" ("saved", "deleted") with the reason (desktop_notify).  Thread-safe;
 * never waits on the desktop. */
void status_refused(const char *file, const char *done, const char *reason);

/* Sets what the status file reports about the mount (borrowed pointers that
 * outlive the mount). */
void status_init(const char *url, const char *username, struct api *api, struct cache *cache);

/* Records a change made on the service ("created products/26 from
 * new.json"); also logged. Thread-safe. */
void status_change(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The message of the newest error, malloc'd, or NULL when there was none. */
char *status_last_error(void);

/* What the status file shows changed otherwise (a refresh dropped listings):
 * the next read of the status file renders it anew, not up to a second
 * later. Thread-safe. */
void status_touch(void);

/* Bumped by every status_error, status_change and status_touch. */
unsigned long status_generation(void);

/* Renders the status file: a malloc'd JSON text with trailing newline. */
char *status_render(size_t *len);

#endif
