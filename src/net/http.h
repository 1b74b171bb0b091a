/* http: the transport (net/transport.h) over libcurl; nothing else in
 * factuurfs includes curl.
 *
 * A pool of at most HTTP_POOL_MAX easy handles, each keeping its connection
 * alive, guarded by a mutex; more senders wait for a handle until their
 * deadline.  The handles share one curl share handle for DNS answers and TLS
 * sessions, so a new connection skips the lookup and resumes the session.
 * Redirects are not followed (the credentials would go along), a body over
 * 64 MiB is refused, and a transfer stalled below 1 byte/s for 30 s ends.
 *
 * The API key lives only in this module's memory, handed to curl as the
 * basic-auth password, wiped at http's free, and never logged; the redact
 * op removes it from any text built from an answer.
 *
 * The first http_new runs curl_global_init (once, thread-safe); no other
 * module may call libcurl or curl_global_cleanup.
 */
#ifndef FACTUURFS_NET_HTTP_H
#define FACTUURFS_NET_HTTP_H

#include "net/transport.h"

#include <stdbool.h>

#define HTTP_POOL_MAX 8
/* A single response larger than this is refused rather than held in memory. */
#define HTTP_BODY_MAX ((size_t)64 << 20)

struct http_config {
	const char *url; /* base URL, http:// or https://; a final '/' is added */
	const char *username;
	const char *apikey;	 /* copied; the caller may wipe its copy */
	long connect_timeout_ms; /* <= 0: 10 s; never past the request's deadline */
	bool insecure;		 /* skip TLS verification (a self-signed test server) */
	const char *cainfo;	 /* CA bundle, or NULL for the system's */
};

/* Returns 0 and a new transport in *@out (transport_free it), or -errno:
 * -EINVAL for a missing field or a URL that is not http(s)://host..., -EIO
 * when libcurl cannot start, -ENOMEM. */
int http_new(struct transport **out, const struct http_config *cfg);

#endif
