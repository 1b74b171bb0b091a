/* api: the factuursturen service as the rest of factuurfs sees it.
 *
 * Service semantics on top of one transport (net/transport.h; net/http in
 * the mount): which failures each method may retry, backoff with jitter, one
 * deadline per call, the health breaker (service down, budget spent), the
 * stats, and the one place an answer becomes 0 or -errno and a line for the
 * log and the status file (api_call).  The hourly window and the background
 * budget are net/reserve's.
 *
 * One struct api per mount, safe to use from every FUSE worker thread.
 * Every call ends within the configured total timeout, so no call can hang
 * the mount.  The API key goes to the http transport and stays there.
 */
#ifndef FACTUURFS_API_H
#define FACTUURFS_API_H

#include <stdbool.h>
#include <stddef.h>

struct api;
struct transport;

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
	/* For unit tests only (with api_new_with and a transport that uses the
	 * same clock): the monotonic clock in seconds that deadlines, backoff
	 * and the health waits count in, and the wait between tries.  NULL:
	 * clock_mono and nanosleep. */
	double (*now)(void *arg);
	void (*sleep)(void *arg, double seconds);
	void *clock_arg;
};

struct api_response {
	long status;            /* HTTP status, 0 when no response arrived */
	bool not_sent;          /* failed fast: nothing was sent (service down, budget spent) */
	char *body;             /* NUL-terminated, malloc'd (owned by the response);
				 * "" when the server sent none, NULL on -errno */
	size_t len;
	char content_type[96];
	long ratelimit_remaining; /* X-RateLimit-Remaining, -1 when absent */
	char ratelimit_headers[160]; /* the rate-limit headers' names (transport.h) */
	char error[256];        /* transport error or the server's message (JSON "message"/
				 * "error", else the body's first line; <= 200 bytes, key redacted) */
};

/* What the mount knows of the service, from the answers so far. */
enum api_health {
	API_UP,          /* answering (or not asked yet) */
	API_DOWN,        /* unreachable or failing: requests fail fast until the next try */
	API_RATELIMITED, /* the hourly budget is spent: requests fail fast with EAGAIN */
	API_OFFLINE,     /* mounted offline (api_set_offline): nothing is sent but the
			    probe; requests fail at once with EHOSTUNREACH */
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
	unsigned long prefetch_requests; /* attempts sent by the prefetch's thread */
	enum api_health health;
	double next_try;          /* seconds until requests are sent again (DOWN, RATELIMITED) */
	char health_reason[256];  /* why DOWN or RATELIMITED: the last failure's words */
	long last_status;         /* HTTP status of the last answer, 0 when the last
				     call got none (at mount: unreachable or not) */
};

/* Returns 0 and a new handle in *@out, or -errno (-EINVAL: a field missing,
 * a URL that is not http(s)://...).  Sends through net/http, built from @cfg. */
int api_new(struct api **out, const struct api_config *cfg);

/* The same over any transport @t (tests: tests/unit/fake_transport); @t
 * belongs to the api from this call on, freed with it (or at once when this
 * fails).  @cfg's url, username, apikey, insecure and cainfo are not used. */
int api_new_with(struct api **out, const struct api_config *cfg, struct transport *t);

/* Every call has returned by then. */
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
 * budget), resp->error saying why and when the next try is, resp->not_sent
 * set.  At most 8 requests are in flight (net/http's pool); more wait their
 * turn.  New callers use api_call, which also judges the answer. */
int api_request(struct api *api, const char *method, const char *path, const char *body,
		size_t body_len, struct api_response *resp);

void api_response_clear(struct api_response *resp);

/* The outcome of one api_call. */
struct api_answer {
	long status;       /* HTTP status of the last answer, 0 when none came */
	bool answered;     /* a response arrived (whatever its status) */
	bool not_sent;     /* provably nothing reached the service: failed fast, refused,
			    * unresolved, no free connection, an invalid request */
	bool failed_fast;  /* of which: not sent because the service is DOWN or
			    * RATELIMITED (api_get_stats says why; one line per refused
			    * call would bury the real errors) */
	bool refused;      /* a clear no: not sent, or a 4xx answer (HTTP's word that
			    * the request was not carried out).  Anything else that is
			    * not a 2xx (a 3xx, a 5xx, no answer after it left) leaves
			    * open whether the service acted on it */
	char *body;        /* on 0: the body, malloc'd and NUL-terminated ("" when none),
			    * owned by the answer (api_answer_clear); else NULL */
	size_t len;
	char content_type[96];
	long ratelimit_remaining; /* -1 when absent */
	char ratelimit_headers[160]; /* the rate-limit headers' names (transport.h) */
	char message[320]; /* on -errno: one line for the log and status file, without
			    * method and path: "HTTP 400: <the server's words>",
			    * "no answer: <why>" or "not sent: <why>"; else "" */
};

/* Sends @method to @path with @body as api_request does, and judges the
 * answer: 0 for a 2xx (the body in @out), else -errno with out->message:
 * -EAGAIN for the spent budget (429, or 403 with X-RateLimit-Remaining 0,
 * or failing fast while RATELIMITED), -api_status_errno(status) for another
 * status, the transport's -errno when no answer came.  Call
 * api_answer_clear after. */
int api_call(struct api *api, const char *method, const char *path, const char *body,
	     size_t len, struct api_answer *out);
/* api_call for a request that is not idempotent whatever its method (an action: a
 * payment, a reminder, a draft sent; PUT or POST): tried again only when it
 * provably never left, never after a 5xx, a cut or a timeout once sent. */
int api_call_once(struct api *api, const char *method, const char *path, const char *body,
		  size_t len, struct api_answer *out);

void api_answer_clear(struct api_answer *a);

/* What 2xx answer @a looked like, for a message when its body is not what the
 * API answers: "HTTP 200, text/html: <its first line>" (cleaned and cut as the
 * server's words are, the key redacted), "HTTP 201, an empty body". */
void api_answer_describe(struct api *api, const struct api_answer *a, char *out, size_t outsz);

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

/* Offline: from now on no request is sent (each fails at once with
 * -EHOSTUNREACH, resp->not_sent, "not sent: offline (@reason)") and the health
 * is API_OFFLINE.  With @probe_path, a thread of the api GETs it at growing
 * intervals (1 s doubling to 30 s), and the first 2xx answer ends offline
 * (API_UP: everything is sent again); without it (-o offline) nothing ever
 * is.  The thread starts at api_start, or at once after it.  0 or -errno
 * (the thread could not start: offline for good). */
int api_set_offline(struct api *api, const char *reason, const char *probe_path);

/* From here on the api may run threads of its own: the daemon has forked
 * (fork keeps only the calling thread).  A probe asked for before starts
 * now.  0 or -errno (the probe's thread could not start). */
int api_start(struct api *api);

/* The mount has ended: from now on no request is sent (each fails at once
 * with -ECANCELED, resp->not_sent, "not sent: unmounting") and the ones in
 * flight are cut off (within a second, curl's progress interval).  What still
 * runs behind the readers (a listing's later pages, the archive's PDF, the
 * probe) then ends at once instead of within its own timeout, and the health
 * is left as it was.  Safe from any thread; NULL @api: nothing. */
void api_cancel(struct api *api);

/* True while offline (api_set_offline, until a probe is answered); false for
 * a NULL @api. */
bool api_offline(struct api *api);

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

/* Prefetch (feat/prefetch.h): marks the calling thread as the prefetch's.
 * Its calls are counted apart (api_stats.prefetch_requests) and are not the
 * user's activity (api_foreground_quiet).  Thread-local: call once, at the
 * start of that thread. */
void api_thread_is_prefetch(void);

/* Seconds since a call of any other thread than the prefetch's (the user's
 * reads, a listing for `ls`, a thumbnailer's read) last ended: 0 while one
 * is in flight, a large number when none was made yet.  Calls that failed
 * fast (nothing sent) do not count. */
double api_foreground_quiet(struct api *api);

#endif
