/* online: the check at mount and the offline-start policy (see online.h). */
#include "online.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/events.h"
#include "base/log.h"
#include "model/schema.h"
#include "net/api.h"
#include "store/cache.h"

static const char *check_failure(int rc)
{
	switch (-rc) {
	case EACCES:
		return "the service refused the credentials";
	case EAGAIN:
		return "the hourly API budget is spent; try again later";
	case EHOSTUNREACH:
	case ETIMEDOUT:
	case ECONNRESET:
		return "cannot reach the service";
	default:
		return "the service did not answer as expected";
	}
}

/* Whether a mount whose check failed with @rc starts offline: when the service
 * could not be reached (no answer: refused, DNS, timeout, a dropped connection;
 * or a 5xx after the retries) and there are listings on disk to serve. */
static bool may_start_offline(const struct online_check *c, int rc)
{
	struct api_stats as;
	api_get_stats(c->api, &as);
	if (rc == -EACCES || rc == -EAGAIN || (as.last_status > 0 && as.last_status < 500))
		return false;
	return cache_listings_loaded(c->cache) > 0;
}

int online_check(const struct online_check *c)
{
	if (c->offline) {
		log_msg(LOG_INFO, "offline (-o offline): %zu listings kept on disk, read-only",
			cache_listings_loaded(c->cache));
		return api_set_offline(c->api, "-o offline", NULL) < 0 ? -1 : 1;
	}
	/* Asked even when a fresh balance was kept on disk: credentials are
	 * checked at every mount. */
	const struct schema_collection *balance = schema_find("balance");
	struct cache_listing *l = NULL;
	int rc = cache_listing_check(c->cache, balance, &l);
	cache_listing_unref(l);
	if (rc == 0)
		return 0;
	bool offline = may_start_offline(c, rc);
	char *last_error = events_last_error(c->events);
	if (offline)
		fprintf(stderr, "factuurfs: %s: %s (%s); mounting offline, read-only, from the "
				"%zu listings kept on disk, until the service answers\n",
			c->url, check_failure(rc), last_error ? last_error : log_strerror(-rc),
			cache_listings_loaded(c->cache));
	else
		fprintf(stderr, "factuurfs: %s: %s (%s)\n", c->url, check_failure(rc),
			last_error ? last_error : log_strerror(-rc));
	free(last_error);
	if (!offline)
		return -1;
	/* The probe asks for the check's own path: its 2xx says the service
	 * and the credentials are back. */
	return api_set_offline(c->api, "cannot reach the service", "balance") < 0 ? -1 : 1;
}
