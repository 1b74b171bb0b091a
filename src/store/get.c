/* get: one GET of the store's (see get.h). */
#include "store/get.h"

#include "base/events.h"
#include "base/log.h"

int store_get(struct api *api, struct events *ev, const char *what, const char *path,
	      struct api_answer *out)
{
	int rc = api_call(api, "GET", path, NULL, 0, out);
	if (rc < 0)
		store_failed(ev, what, out);
	return rc;
}

void store_failed(struct events *ev, const char *what, const struct api_answer *out)
{
	if (out->failed_fast)
		log_msg(LOG_DEBUG, "%s: %s", what, out->message);
	else
		events_error(ev, what, out->message);
}
