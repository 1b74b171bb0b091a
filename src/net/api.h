/* api: HTTP to the factuursturen service, and nothing else touches libcurl.
 *
 * One struct api per mount, safe to use from every FUSE worker thread: a pool
 * of curl easy handles (each keeps its connection alive) guarded by a mutex.
 * Every request has a connect timeout and a total timeout, so no call can
 * hang the mount.  The API key lives only in this module's memory and is
 * handed to curl as the basic-auth password; it is never logged.
 *
 * The first api_new runs curl_global_init (once, thread-safe); no other
 * module, main included, may call libcurl or curl_global_cleanup.
 */
#ifndef FACTUURFS_API_H
#define FACTUURFS_API_H

#include <stdbool.h>
#include <stddef.h>

struct api;

struct api_config {
	const char *url;        /* base URL ending in '/', e.g. https://www.factuursturen.nl/api/v1/ */
	const char *username;
	const char *apikey;     /* copied; the caller may wipe its copy */
	long connect_timeout_ms;
	long timeout_ms;        /* whole request */
	bool insecure;          /* skip TLS verification (only for a self-signed test server) */
	const char *cainfo;     /* CA bundle, or NULL for the system's */
	long background_per_hour; /* calls background readers may cause per hour (see
				   * api_background_take); < 0: no limit */
};

struct api_response {
	long status;            /* HTTP status, 0 when no response arrived */
	bool not_sent;          /* failed fast: nothing was sent (service down, budget spent) */
	char *body;             /* NUL-terminated, malloc'd (owned by the response);
				 * "" when the server sent none, NULL on -errno */
	size_t len;
	char content_type[96];
	long ratelimit_remaining; /* X-RateLimit-Remaining, -1 when absent */
	char error[256];        /* transport error or the server's message (JSON "message"/
				 * "error", else the body's first line; <= 200 bytes, key redacted) */
};

/* What the mount knows of the service, from the answers so far. */
enum api_health {
	API_UP,          /* answering (or not asked yet) */
	API_DOWN,        /* unreachable or failing: requests fail fast until the next try */
	API_RATELIMITED, /* the hourly budget is spent: requests fail fast with EAGAIN */
};

struct api_stats {
	unsigned long requests;   /* attempts sent, retries included */
	unsigned long failures;   /* transport errors, 4xx/5xx and unfollowed 3xx */
	unsigned long retries;    /* attempts repeated after a transient failure */
	unsigned long failed_fast;/* requests not sent because of the health below */
	unsigned long bytes_in;
	unsigned long last_hour;  /* attempts sent in the last 60 minutes */
	unsigned long background_last_hour; /* of which for background readers */
	unsigned long background_refused;   /* background reads refused (no call) */
	long background_per_hour; /* the limit, < 0: none */
	long ratelimit_remaining; /* last value seen, -1 before any */
	enum api_health health;
	double next_try;          /* seconds until requests are sent again (DOWN, RATELIMITED) */
	char health_reason[256];  /* why DOWN or RATELIMITED: the last failure's words */
};

/* Returns 0 and a new handle in *@out, or -errno. */
int api_new(struct api **out, const struct api_config *cfg);
void api_free(struct api *api);

/* Sends @method (GET, POST, PUT or DELETE) to @path, relative to the base URL
 * and already escaped (names_url_escape), with @body (JSON, may be NULL; POST
 * and PUT always send one, empty if NULL).  Redirects are not followed: a 3xx
 * arrives as a response with resp->error set.  Fills @resp (call
 * api_response_clear after).  Returns 0 when a response arrived, whatever
 * its status, or -errno for a transport failure (resp->status 0):
 * -ETIMEDOUT, -EHOSTUNREACH (connect refused/unreachable/DNS), -ECONNRESET
 * (connection dropped), -EFBIG (body over 64 MiB), -ENOMEM, -EINVAL (bad
 * method or unescaped path), -EIO (TLS, protocol, anything else).
 *
 * Transient failures are retried with exponential backoff and jitter as the
 * table in api.c allows per method (a POST only when it provably never left
 * this machine); the whole call, waiting for a free connection and every
 * retry included, ends within the configured total timeout.  While the
 * service is DOWN or RATELIMITED (see api_get_stats) a request is not sent
 * at all: it fails at once with the errno that made it so (-EAGAIN for the
 * budget), resp->error saying why and when the next try is.  At most 8
 * requests are in flight; more wait their turn. */
int api_request(struct api *api, const char *method, const char *path, const char *body,
		size_t body_len, struct api_response *resp);

void api_response_clear(struct api_response *resp);

/* The (positive) errno a file operation returns for HTTP status @status:
 * 2xx -> 0, 401 -> EACCES, 403 -> EACCES, 429 -> EAGAIN, 404/410 -> ENOENT,
 * 400/422 -> EINVAL, 405 -> EPERM, 408/5xx/3xx/other -> EIO.  A 403 that is
 * the rate limit (X-RateLimit-Remaining: 0) is EAGAIN: check
 * api_response_is_ratelimited first, the status alone cannot tell. */
int api_status_errno(long status);

/* True when @resp says the hourly call budget is spent: 429, or 403 with
 * X-RateLimit-Remaining 0. */
bool api_response_is_ratelimited(const struct api_response *resp);

void api_get_stats(struct api *api, struct api_stats *out);

/* The budget reserve.  Programs nobody asked to read an account (file
 * managers' thumbnailers, desktop indexers: who.h decides) may cause at most
 * background_per_hour calls in any hour; the rest of the hourly budget stays
 * for what the user asks for.  Call before a call made for such a reader:
 * true counts it (go ahead), false means refuse it without a call. */
bool api_background_take(struct api *api);

/* Keeps that count across remounts (without it a remount grants the share
 * anew): the calls of the last hour are read from @path, one epoch second a
 * line, and each new one is appended.  0, or -errno (the count then stays
 * per mount).  Call once, before the mount serves. */
int api_background_persist(struct api *api, const char *path);

#endif
