/* get: one GET of the store's (listings, records, PDFs), with what went wrong
 * recorded where the user looks (base/events.h).
 */
#ifndef FACTUURFS_STORE_GET_H
#define FACTUURFS_STORE_GET_H

#include "net/api.h"

struct events;

/* GETs @path into @out (api_answer_clear it after): 0 for a 2xx answer, else
 * -errno (net/api.h, api_call) with the reason recorded as an error of @what
 * in @ev, but for a call not sent at all while the service is down or out of
 * budget: the status file's "service" says why once, and one entry per
 * refused read would bury the real errors (it is logged at debug level). */
int store_get(struct api *api, struct events *ev, const char *what, const char *path,
	      struct api_answer *out);

/* Records the failed answer @out of a GET of @what as store_get does: for a
 * caller that sent it with api_call to try another reading first (a path or
 * a language the service may not know) and ends on it. */
void store_failed(struct events *ev, const char *what, const struct api_answer *out);

#endif
