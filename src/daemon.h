/* daemon: the composition root of a mount.  Every module is made in the order
 * it depends on (daemon.c's build[]: credentials, events, the API client, the
 * account's directories, the listing writer, the cache, the PDF store, the
 * archive, views, exports, search, the deleted records, the mount, the FUSE
 * session); then the one call at mount (online.h) says whether it starts
 * online, offline or not at all.  daemon_serve mounts, goes to the background
 * and starts the threads (run[]); daemon_free stops what was started and frees
 * what was made, each in the reverse order.
 */
#ifndef FACTUURFS_DAEMON_H
#define FACTUURFS_DAEMON_H

#include "config.h"

struct daemon;

/* Builds the mount of @cfg (borrowed: it outlives the daemon) and makes the check
 * call.  0, or -1 with the reason said; *@out is daemon_free'd either way. */
int daemon_new(struct daemon **out, struct config *cfg);

/* Mounts, goes to the background (unless -f) and serves until unmounted.  The
 * exit status: 0 after a clean unmount. */
int daemon_serve(struct daemon *d);

/* @d may be NULL. */
void daemon_free(struct daemon *d);

#endif
