/* online: the one call a mount makes before it serves, and the offline-start
 * policy: what the call's failure means for the mount.
 *
 * The call is `GET balance` (its answer is balance.json's content, so it is not
 * wasted); it checks the credentials at every mount.  When the service cannot
 * be reached and there are listings on disk, the mount starts offline: it
 * serves what is kept, read-only, until the probe (net/api.h) sees the service
 * answer.  Refused credentials and a spent budget refuse the mount; so does an
 * unreachable service with nothing kept (a first mount, a mistyped URL,
 * -o nodiskcache), which would show only errors.
 */
#ifndef FACTUURFS_ONLINE_H
#define FACTUURFS_ONLINE_H

#include <stdbool.h>

struct api;
struct cache;
struct events;

/* What the check reads and asks through (borrowed). */
struct online_check {
	const char *url;   /* as the user gave it: said in the messages */
	bool offline;      /* -o offline: no call at all, not even the probe */
	struct api *api;
	struct cache *cache;
	struct events *events;
};

/* 0 online, 1 offline (net/api.h: api_set_offline), -1 with the reason said on
 * stderr. */
int online_check(const struct online_check *c);

#endif
