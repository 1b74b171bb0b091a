/* transport: one attempt at one request, and nothing more.
 *
 * The interface between the service semantics (net/api: retries, deadline,
 * health, errno) and whatever carries the bytes: net/http over libcurl in
 * the mount, tests/unit/fake_transport in the unit tests.  A transport
 * neither retries nor interprets statuses; it says what happened to one
 * attempt.  An implementation embeds struct transport as its first member
 * and is safe to call from many threads at once.
 */
#ifndef FACTUURFS_NET_TRANSPORT_H
#define FACTUURFS_NET_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct transport_request {
	const char *method; /* "GET", "POST", "PUT" or "DELETE" */
	const char *path;   /* relative to the base URL, URL-escaped, no leading '/' */
	const char *body;   /* JSON or NULL; POST and PUT send one always (empty if NULL) */
	size_t len;
	double deadline; /* the attempt ends by then (-ETIMEDOUT), waiting for a
			  * connection included: seconds on the caller's monotonic
			  * clock (base/clock.h clock_mono, unless a test gives both
			  * sides another) */
	/* When it turns true the attempt is cut off (-ECANCELED), unsent if it had
	 * not begun: the mount ended (api_cancel).  May be NULL. */
	const atomic_bool *cancel;
};

struct transport_result {
	int err;     /* 0: an answer arrived (see status); else -errno and no answer:
		      * -ETIMEDOUT, -EHOSTUNREACH (refused, unreachable, DNS),
		      * -ECONNRESET (dropped), -EFBIG (body over the cap), -ENOMEM,
		      * -EIO (TLS, protocol, anything else) */
	long status; /* the HTTP status; 0 when err */
	char *body;  /* malloc'd and NUL-terminated, owned by the result
		      * (transport_result_clear); "" when none came; NULL when err */
	size_t len;
	size_t received; /* body bytes that arrived, also of a failed transfer (stats) */
	char content_type[96];
	long ratelimit_remaining; /* X-RateLimit-Remaining, -1 when absent */
	long retry_after;	  /* Retry-After in seconds from now (a date read as such), -1
				   * when absent or unreadable; not capped */
	/* The names of the rate-limit headers the answer carried (X-RateLimit-*,
	 * RateLimit-*, Retry-After), lower case, ", " between; "" for none. */
	char ratelimit_headers[160];
	bool unsent;		  /* err: provably nothing left this machine (connect, DNS or TLS
				   * handshake failed; no free connection in time) */
	bool local;		  /* err: this machine's failure, not the service's (memory, the
				   * size cap, no free connection): not worth a retry, and no
				   * sign of the service's health */
	char error[256];	  /* err: why, in the transport's words; a 3xx: the redirect
				   * that was not followed; else "".  May hold a secret the
				   * server echoed: pass it through transport_redact first. */
};

struct transport;

struct transport_ops {
	/* One attempt: fills @res (initialised by the caller with
	 * transport_result_init) and returns res->err. */
	int (*send)(struct transport *t, const struct transport_request *req,
		    struct transport_result *res);
	/* Replaces in place every secret the transport holds (the API key) in
	 * the NUL-terminated @s by "***", so that no text built from an answer
	 * carries one into a log.  May be NULL: nothing to hide. */
	void (*redact)(struct transport *t, char *s);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
};

static inline void transport_result_init(struct transport_result *res)
{
	memset(res, 0, sizeof(*res));
	res->ratelimit_remaining = -1;
	res->retry_after = -1;
}

/* Frees the body; the other fields stay as they are. */
static inline void transport_result_clear(struct transport_result *res)
{
	free(res->body);
	res->body = NULL;
	res->len = 0;
}

static inline int transport_send(struct transport *t, const struct transport_request *req,
				 struct transport_result *res)
{
	return t->ops->send(t, req, res);
}

static inline void transport_redact(struct transport *t, char *s)
{
	if (t->ops->redact && s)
		t->ops->redact(t, s);
}

/* Frees @t (may be NULL); every send has returned by then. */
static inline void transport_free(struct transport *t)
{
	if (t)
		t->ops->free(t);
}

#endif
