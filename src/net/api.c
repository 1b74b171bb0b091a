/* api: the only module that talks to libcurl.
 *
 * curl_global_init runs once, from the first api_new (pthread_once); main and
 * the other modules must not call curl themselves, nor curl_global_cleanup.
 */
#include "net/api.h"

#include "base/log.h"

#include <ctype.h>
#include <math.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#ifndef FACTUURFS_VERSION
#define FACTUURFS_VERSION "0"
#endif

#define API_POOL_MAX 8
/* A single response larger than this is refused rather than held in memory. */
#define API_BODY_MAX ((size_t)64 << 20)
#define API_DEFAULT_CONNECT_MS 10000L
#define API_DEFAULT_TIMEOUT_MS 60000L
/* Stall guard: abort when less than 1 byte/s flows for this long. */
#define API_STALL_SECONDS 30L
#define API_MESSAGE_MAX 200

/* Retries: at most API_ATTEMPTS tries, the n-th wait drawn from
 * [d/2, d] with d = API_BACKOFF_MS << n capped at API_BACKOFF_MAX_MS (jitter
 * keeps eight threads that failed together from retrying together).  A
 * Retry-After up to API_RETRY_AFTER_MAX s is honoured instead when longer.
 * Nothing is retried past the call's deadline. */
#define API_ATTEMPTS 4
#define API_BACKOFF_MS 250L
#define API_BACKOFF_MAX_MS 4000L
#define API_RETRY_AFTER_MAX 10L

/* Health: after a connection is refused, or after API_DOWN_AFTER calls in a
 * row failed for the service's sake (transport errors, 502/503/504, retries
 * spent), requests fail fast for a while instead of each waiting out its
 * timeout; the wait starts at API_DOWN_FIRST s and doubles up to
 * API_DOWN_MAX s while the service stays away.  The first request after the
 * wait is sent: that is how the mount notices the service is back. */
#define API_DOWN_AFTER 2
#define API_DOWN_FIRST 1.0
#define API_DOWN_MAX 16.0
/* A spent budget without Retry-After: the reference gives no reset time. */
#define API_RATELIMIT_WAIT 60.0

enum api_failure {
	API_FAIL_NONE,      /* an answer that is not the service's fault */
	API_FAIL_UNSENT,    /* connect/DNS/TLS handshake failed: nothing left this machine */
	API_FAIL_TRANSPORT, /* reset, timeout, nothing or half an answer after sending */
	API_FAIL_5XX,       /* 500, 502, 503, 504 */
};

/* Which failures each method may retry.  GET reads; PUT sends the whole
 * record, so repeating it cannot change more than the first did.  POST
 * creates and DELETE removes: repeating one the service may have acted on
 * could create twice or report a done delete as missing, so both are
 * repeated only when the request never left. */
static const struct api_retry_rule {
	const char *method;
	bool unsent, transport, status_5xx;
} api_retry_rules[] = {
	{"GET", true, true, true},
	{"PUT", true, true, true},
	{"POST", true, false, false},
	{"DELETE", true, false, false},
};

/* One pooled easy handle; the error buffer must outlive every transfer on it. */
struct api_conn {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

struct api {
	char *url; /* base URL, always ending in '/' */
	char *username;
	char *apikey; /* malloc'd; wiped with explicit_bzero before free */
	size_t apikey_len;
	char *cainfo;
	long connect_timeout_ms;
	long timeout_ms;
	bool insecure;
	struct curl_slist *hdr_plain; /* read-only after api_new, shared by all handles */
	struct curl_slist *hdr_body;

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct api_conn *idle[API_POOL_MAX]; /* protected by pool_lock */
	int n_idle;			     /* protected by pool_lock */
	int n_conns;			     /* idle + busy; protected by pool_lock */

	pthread_mutex_t stats_lock;
	struct api_stats stats; /* protected by stats_lock */
	/* Health (see API_DOWN_AFTER), protected by stats_lock. */
	double retry_at;       /* monotonic: DOWN/RATELIMITED fail fast until then */
	double down_wait;      /* the next DOWN wait */
	int bad_in_a_row;      /* calls in a row that failed for the service's sake */
	int down_errno;        /* what a fast failure returns while DOWN */
	/* Attempts per minute over the last hour, for "calls this hour" (the
	 * service's budget is hourly); protected by stats_lock. */
	unsigned long per_minute[60];
	long minute_of[60];    /* which minute (since the epoch) each slot counts */
	unsigned long bg_per_minute[60]; /* the same for background readers */
	long bg_minute_of[60];
	long background_per_hour;
	int bg_fd; /* api_background_persist's file, -1 without */
};

/* Adds one at time @t to the per-minute window @count/@minute_of;
 * stats_lock held. */
static void api_window_add(unsigned long *count, long *minute_of, time_t t)
{
	long minute = (long)(t / 60);
	int slot = (int)(minute % 60);

	if (minute_of[slot] != minute) {
		minute_of[slot] = minute;
		count[slot] = 0;
	}
	count[slot]++;
}

/* The sum of the window over the last 60 minutes; stats_lock held. */
static unsigned long api_window_sum(const unsigned long *count, const long *minute_of)
{
	long minute = (long)(time(NULL) / 60);
	unsigned long sum = 0;

	for (int i = 0; i < 60; i++)
		if (minute - minute_of[i] < 60)
			sum += count[i];
	return sum;
}

/* Per-request state handed to the curl callbacks. */
struct api_xfer {
	char *buf;
	size_t len;
	size_t cap;
	long ratelimit_remaining;
	long retry_after; /* Retry-After in seconds, -1 when absent or a date */
	bool too_big;
	bool oom;
};

static pthread_once_t api_curl_once = PTHREAD_ONCE_INIT;
static CURLcode api_curl_init_rc;

static void api_curl_init(void)
{
	api_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *api_strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void api_wipe_key(struct api *api)
{
	if (!api->apikey)
		return;
	explicit_bzero(api->apikey, api->apikey_len);
	free(api->apikey);
	api->apikey = NULL;
	api->apikey_len = 0;
}

/* Replaces every occurrence of the key in @s by "***": error texts come from
 * curl and the server, and neither may carry the key into a log. */
static void api_redact(const struct api *api, char *s)
{
	char *p;

	if (!api->apikey || api->apikey_len == 0)
		return;
	while ((p = memmem(s, strlen(s), api->apikey, api->apikey_len))) {
		size_t tail = strlen(p + api->apikey_len);

		memcpy(p, "***", 3);
		if (api->apikey_len != 3)
			memmove(p + 3, p + api->apikey_len, tail + 1);
	}
}

/* Copies the first line of @src (length @n) into @dst: trimmed, at most
 * API_MESSAGE_MAX bytes, control bytes replaced so a log line stays one line. */
static void api_clean_line(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t i = 0, out = 0, max = dstsz - 1;

	if (max > API_MESSAGE_MAX)
		max = API_MESSAGE_MAX;
	while (i < n && isspace((unsigned char)src[i]))
		i++;
	for (; i < n && out < max + 1; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\n' || c == '\r' || c == '\0')
			break;
		if (c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[out++] = (char)c;
	}
	if (out > max) {
		/* Cut on a UTF-8 character boundary, never inside a sequence. */
		out = max;
		while (out > 0 && ((unsigned char)dst[out] & 0xc0) == 0x80)
			out--;
	}
	while (out > 0 && isspace((unsigned char)dst[out - 1]))
		out--;
	dst[out] = '\0';
}

static const char *api_json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int api_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the JSON string at @p (on its opening quote) into @out (may be
 * NULL to skip), truncating silently.  Returns the byte after the closing
 * quote, or NULL when the string is malformed. */
static const char *api_json_string(const char *p, const char *end, char *out, size_t outsz)
{
	size_t o = 0;

	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		char c = *p;
		unsigned long cp;

		if (c == '"') {
			if (out)
				out[o] = '\0';
			return p + 1;
		}
		if (c == '\\') {
			if (++p >= end)
				return NULL;
			switch (*p) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u':
				cp = 0;
				for (int k = 0; k < 4; k++) {
					int h;

					if (++p >= end || (h = api_hexval(*p)) < 0)
						return NULL;
					cp = cp << 4 | (unsigned long)h;
				}
				/* Surrogate halves are not worth pairing for a one-line message. */
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = '?';
				if (out && cp >= 0x80 && o + 3 < outsz) {
					if (cp < 0x800) {
						out[o++] = (char)(0xc0 | cp >> 6);
					} else {
						out[o++] = (char)(0xe0 | cp >> 12);
						out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
					}
					out[o++] = (char)(0x80 | (cp & 0x3f));
					continue;
				}
				c = cp < 0x80 ? (char)cp : '?';
				break;
			default:
				c = *p; /* \" \\ \/ and anything else literally */
				break;
			}
		}
		if (out && o + 1 < outsz)
			out[o++] = c;
	}
	return NULL;
}

/* Skips one JSON value of any kind; returns the byte after it, or NULL. */
static const char *api_json_skip(const char *p, const char *end)
{
	int depth = 0;

	do {
		p = api_json_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '"') {
			p = api_json_string(p, end, NULL, 0);
			if (!p)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return NULL;
			p++;
		} else if (*p == ',' || *p == ':') {
			if (depth == 0)
				return NULL;
			p++;
		} else if (*p == '\0') {
			return NULL;
		} else {
			/* number, true, false, null */
			while (p < end && !strchr(",:{}[]\" \t\r\n", *p))
				p++;
		}
	} while (depth > 0);
	return p;
}

/* Finds a top-level "message" (preferred) or "error" string in a JSON object
 * body.  Returns true and fills @out when one was found. */
static bool api_json_message(const char *body, size_t len, char *out, size_t outsz)
{
	const char *p = body, *end = body + len;
	bool found = false;

	p = api_json_ws(p, end);
	if (p >= end || *p != '{')
		return false;
	p++;
	for (;;) {
		char key[16];

		p = api_json_ws(p, end);
		if (p < end && *p == '}')
			break;
		p = api_json_string(p, end, key, sizeof(key));
		if (!p)
			break;
		p = api_json_ws(p, end);
		if (p >= end || *p != ':')
			break;
		p = api_json_ws(p + 1, end);
		if (p < end && *p == '"' &&
		    (!strcmp(key, "message") || (!found && !strcmp(key, "error")))) {
			p = api_json_string(p, end, out, outsz);
			if (!p)
				return false;
			found = true;
			if (!strcmp(key, "message"))
				break;
		} else {
			p = api_json_skip(p, end);
			if (!p)
				break;
		}
		p = api_json_ws(p, end);
		if (p >= end || *p != ',')
			break;
		p++;
	}
	return found;
}

/* Fills resp->error from an error response body: a JSON message when there is
 * one, else the body's first line, else just the status. */
static void api_set_server_error(struct api_response *resp)
{
	char msg[API_MESSAGE_MAX * 2 + 4];

	if (resp->len > 0 && api_json_message(resp->body, resp->len, msg, sizeof(msg)))
		api_clean_line(resp->error, sizeof(resp->error), msg, strlen(msg));
	else if (resp->len > 0)
		api_clean_line(resp->error, sizeof(resp->error), resp->body, resp->len);
	else
		resp->error[0] = '\0';
	if (resp->error[0] == '\0')
		snprintf(resp->error, sizeof(resp->error), "HTTP %ld", resp->status);
}

static size_t api_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct api_xfer *x = userp;
	size_t n = size * nmemb;

	if (n > API_BODY_MAX - x->len) {
		x->too_big = true;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *nb;

		while (cap < x->len + n + 1)
			cap *= 2;
		nb = realloc(x->buf, cap);
		if (!nb) {
			x->oom = true;
			return 0;
		}
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/* The value of header line @data when its name is @name (lower case), as a
 * non-negative number, else -1 (absent, not a number). */
static long api_header_number(const char *data, size_t n, const char *name)
{
	size_t i = 0, namelen, want = strlen(name);
	long v = 0;
	bool digits = false;

	while (i < n && data[i] != ':')
		i++;
	if (i == n)
		return -1;
	namelen = i;
	while (namelen > 0 && (data[namelen - 1] == ' ' || data[namelen - 1] == '\t'))
		namelen--;
	if (namelen != want || strncasecmp(data, name, namelen))
		return -1;
	for (i++; i < n && (data[i] == ' ' || data[i] == '\t'); i++)
		;
	for (; i < n && data[i] >= '0' && data[i] <= '9'; i++) {
		if (v < 1000000000L)
			v = v * 10 + (data[i] - '0');
		digits = true;
	}
	for (; i < n && isspace((unsigned char)data[i]); i++)
		;
	return digits && i == n ? v : -1;
}

static size_t api_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct api_xfer *x = userp;
	size_t n = size * nmemb;
	long v;

	/* A new status line (after a 1xx) starts a new set of headers. */
	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		x->ratelimit_remaining = -1;
		x->retry_after = -1;
		return n;
	}
	if ((v = api_header_number(data, n, "x-ratelimit-remaining")) >= 0)
		x->ratelimit_remaining = v;
	else if ((v = api_header_number(data, n, "retry-after")) >= 0)
		x->retry_after = v;
	return n;
}

static double api_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A free handle, or NULL when none came before @deadline (monotonic
 * seconds) or memory ran out (*@err says which). */
static struct api_conn *api_conn_take(struct api *api, double deadline, int *err)
{
	struct api_conn *c = NULL;
	struct timespec until;

	/* pthread_cond_timedwait counts in CLOCK_REALTIME by default. */
	clock_gettime(CLOCK_REALTIME, &until);
	{
		double left = deadline - api_now();
		long long ns = (long long)(left > 0 ? left * 1e9 : 0) + until.tv_nsec;

		until.tv_sec += (time_t)(ns / 1000000000LL);
		until.tv_nsec = (long)(ns % 1000000000LL);
	}
	*err = 0;
	pthread_mutex_lock(&api->pool_lock);
	/* At most API_POOL_MAX requests in flight: the rest wait for a handle,
	 * but never past their own deadline. */
	while (api->n_idle == 0 && api->n_conns >= API_POOL_MAX) {
		if (pthread_cond_timedwait(&api->pool_cond, &api->pool_lock, &until) == ETIMEDOUT &&
		    api->n_idle == 0 && api->n_conns >= API_POOL_MAX) {
			pthread_mutex_unlock(&api->pool_lock);
			*err = -ETIMEDOUT;
			return NULL;
		}
	}
	if (api->n_idle > 0) {
		c = api->idle[--api->n_idle];
		pthread_mutex_unlock(&api->pool_lock);
		return c;
	}
	api->n_conns++;
	pthread_mutex_unlock(&api->pool_lock);

	c = calloc(1, sizeof(*c));
	if (c && !(c->curl = curl_easy_init())) {
		free(c);
		c = NULL;
	}
	if (!c) {
		pthread_mutex_lock(&api->pool_lock);
		api->n_conns--;
		pthread_cond_signal(&api->pool_cond);
		pthread_mutex_unlock(&api->pool_lock);
		*err = -ENOMEM;
	}
	return c;
}

static void api_conn_give(struct api *api, struct api_conn *c)
{
	/* Drop pointers into this request's stack before the handle idles;
	 * the connection itself survives curl_easy_reset. */
	curl_easy_reset(c->curl);
	pthread_mutex_lock(&api->pool_lock);
	api->idle[api->n_idle++] = c;
	pthread_cond_signal(&api->pool_cond);
	pthread_mutex_unlock(&api->pool_lock);
}

#define API_SETOPT(h, opt, val)                                                                    \
	do {                                                                                       \
		if (cc == CURLE_OK)                                                                \
			cc = curl_easy_setopt((h), (opt), (val));                                  \
	} while (0)

/* Applies every option of a request to a freshly reset handle. */
static CURLcode api_setup(struct api *api, struct api_conn *c, const char *url, const char *method,
			  const char *body, size_t body_len, long timeout_ms, struct api_xfer *x)
{
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;
	bool send_body = body || !strcmp(method, "POST") || !strcmp(method, "PUT");

	c->errbuf[0] = '\0';
	API_SETOPT(h, CURLOPT_ERRORBUFFER, c->errbuf);
	API_SETOPT(h, CURLOPT_URL, url);
	API_SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	API_SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A redirect would need the credentials re-sent to another place. */
	API_SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	API_SETOPT(h, CURLOPT_USERNAME, api->username);
	API_SETOPT(h, CURLOPT_PASSWORD, api->apikey);
	API_SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	/* Signals are process-wide; a FUSE daemon has many threads. */
	API_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	/* The ids in a path are escaped, but "." and ".." are unreserved bytes:
	 * curl must not squash them as dot segments into another URL. */
	API_SETOPT(h, CURLOPT_PATH_AS_IS, 1L);
	API_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
		   api->connect_timeout_ms < timeout_ms ? api->connect_timeout_ms : timeout_ms);
	API_SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	API_SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	API_SETOPT(h, CURLOPT_LOW_SPEED_TIME, API_STALL_SECONDS);
	API_SETOPT(h, CURLOPT_SSL_VERIFYPEER, api->insecure ? 0L : 1L);
	API_SETOPT(h, CURLOPT_SSL_VERIFYHOST, api->insecure ? 0L : 2L);
	if (api->cainfo)
		API_SETOPT(h, CURLOPT_CAINFO, api->cainfo);
	API_SETOPT(h, CURLOPT_USERAGENT, "factuurfs/" FACTUURFS_VERSION);
	API_SETOPT(h, CURLOPT_ACCEPT_ENCODING, "");
	API_SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	API_SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	API_SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)API_BODY_MAX);
	API_SETOPT(h, CURLOPT_HTTPHEADER, send_body ? api->hdr_body : api->hdr_plain);
	API_SETOPT(h, CURLOPT_WRITEFUNCTION, api_write_cb);
	API_SETOPT(h, CURLOPT_WRITEDATA, x);
	API_SETOPT(h, CURLOPT_HEADERFUNCTION, api_header_cb);
	API_SETOPT(h, CURLOPT_HEADERDATA, x);

	if (send_body) {
		/* POSTFIELDS does not copy: @body lives until api_request returns. */
		API_SETOPT(h, CURLOPT_POSTFIELDS, body ? body : "");
		API_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		API_SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
	/* libcurl resends a request once when a reused connection turns out to
	 * be dead; for a POST or DELETE the service may have acted on the first
	 * one, so these get a connection of their own and are never resent. */
	if (!strcmp(method, "POST") || !strcmp(method, "DELETE"))
		API_SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
	return cc;
}

static int api_curl_errno(CURLcode cc, const struct api_xfer *x)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		if (x->too_big)
			return -EFBIG;
		if (x->oom)
			return -ENOMEM;
		return -EIO;
	default:
		return -EIO;
	}
}

static long api_ms_since(double t0)
{
	return (long)((api_now() - t0) * 1000);
}

static bool api_method_ok(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

static const struct api_retry_rule *api_rule(const char *method)
{
	for (size_t i = 0; i < sizeof(api_retry_rules) / sizeof(api_retry_rules[0]); i++)
		if (!strcmp(api_retry_rules[i].method, method))
			return &api_retry_rules[i];
	return NULL;
}

static bool api_may_retry(const char *method, enum api_failure f)
{
	const struct api_retry_rule *r = api_rule(method);

	if (!r)
		return false;
	return (f == API_FAIL_UNSENT && r->unsent) || (f == API_FAIL_TRANSPORT && r->transport) ||
	       (f == API_FAIL_5XX && r->status_5xx);
}

/* The wait before retry number @n (0 = the first retry), in ms. */
static long api_backoff_ms(int n, long retry_after)
{
	static _Thread_local unsigned seed;
	long d = API_BACKOFF_MS << (n < 8 ? n : 8);

	if (!seed)
		seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
	if (d > API_BACKOFF_MAX_MS)
		d = API_BACKOFF_MAX_MS;
	d = d / 2 + (long)(rand_r(&seed) % (unsigned)(d / 2 + 1));
	if (retry_after >= 0 && retry_after <= API_RETRY_AFTER_MAX && retry_after * 1000 > d)
		d = retry_after * 1000;
	return d;
}

/* True when the request provably never left this machine. */
static bool api_unsent(CURLcode cc, CURL *h)
{
	curl_off_t pre = 0;

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return true;
	default:
		/* Pre-transfer time stays 0 until the request is about to be sent
		 * (a connect that timed out, say). */
		return curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK &&
		       pre == 0;
	}
}

/* Records how a call ended in the health state.  @resp is its last answer
 * (status 0 when none came), @rc its result, @f the kind of failure. */
static void api_note_health(struct api *api, const struct api_response *resp, int rc,
			    enum api_failure f, long retry_after)
{
	pthread_mutex_lock(&api->stats_lock);
	if (rc == 0 && api_response_is_ratelimited(resp)) {
		double wait = retry_after > 0 ? (double)retry_after : API_RATELIMIT_WAIT;

		api->stats.health = API_RATELIMITED;
		api->retry_at = api_now() + wait;
		snprintf(api->stats.health_reason, sizeof(api->stats.health_reason),
			 "HTTP %ld: %.200s", resp->status, resp->error);
	} else if (f == API_FAIL_NONE) {
		api->stats.health = API_UP;
		api->bad_in_a_row = 0;
		api->down_wait = API_DOWN_FIRST;
		api->stats.health_reason[0] = '\0';
	} else if (f != API_FAIL_5XX || resp->status != 500) {
		/* A 500 is one request's trouble, not the service's absence. */
		api->bad_in_a_row++;
		if (f == API_FAIL_UNSENT || api->bad_in_a_row >= API_DOWN_AFTER) {
			api->stats.health = API_DOWN;
			api->retry_at = api_now() + api->down_wait;
			api->down_wait = api->down_wait * 2 < API_DOWN_MAX ? api->down_wait * 2
									   : API_DOWN_MAX;
			api->down_errno = rc < 0 ? rc : -EIO;
			if (resp->status)
				snprintf(api->stats.health_reason, sizeof(api->stats.health_reason),
					 "HTTP %ld: %.200s", resp->status, resp->error);
			else
				snprintf(api->stats.health_reason, sizeof(api->stats.health_reason),
					 "%s", resp->error);
		}
	}
	pthread_mutex_unlock(&api->stats_lock);
}

/* When the health state says not to send: fills @resp and returns -errno;
 * else 0. */
static int api_fail_fast(struct api *api, struct api_response *resp)
{
	int rc = 0;
	double left;

	pthread_mutex_lock(&api->stats_lock);
	left = api->retry_at - api_now();
	if (api->stats.health != API_UP && left > 0) {
		rc = api->stats.health == API_RATELIMITED ? -EAGAIN : api->down_errno;
		snprintf(resp->error, sizeof(resp->error), "not sent: %s; next try in %.0f s (%.150s)",
			 api->stats.health == API_RATELIMITED
				 ? "the hourly API budget is spent"
				 : "the service is unreachable",
			 ceil(left), api->stats.health_reason);
		resp->not_sent = true;
		api->stats.failed_fast++;
	}
	pthread_mutex_unlock(&api->stats_lock);
	return rc;
}

/* One transfer on handle @c: fills @resp, returns 0 when an answer came or
 * -errno; *@fail says whether and how it failed for the service's sake. */
static int api_attempt(struct api *api, struct api_conn *c, const char *method, const char *path,
		       const char *url, const char *body, size_t body_len, long timeout_ms,
		       struct api_response *resp, struct api_xfer *x, enum api_failure *fail)
{
	double t0 = api_now();
	CURLcode cc;
	int rc = 0;

	*fail = API_FAIL_NONE;
	cc = api_setup(api, c, url, method, body, body_len, timeout_ms, x);
	if (cc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "curl setup: %s",
			 curl_easy_strerror(cc));
		return -EIO;
	}
	pthread_mutex_lock(&api->stats_lock);
	api->stats.requests++;
	api_window_add(api->per_minute, api->minute_of, time(NULL));
	pthread_mutex_unlock(&api->stats_lock);

	cc = curl_easy_perform(c->curl);
	resp->ratelimit_remaining = x->ratelimit_remaining;
	if (cc != CURLE_OK) {
		rc = api_curl_errno(cc, x);
		if (rc == -EFBIG)
			snprintf(resp->error, sizeof(resp->error),
				 "response larger than %zu MiB refused", API_BODY_MAX >> 20);
		else if (c->errbuf[0])
			snprintf(resp->error, sizeof(resp->error), "%.60s: %.190s",
				 curl_easy_strerror(cc), c->errbuf);
		else
			snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(cc));
		api_redact(api, resp->error);
		if (rc != -EFBIG && rc != -ENOMEM)
			*fail = api_unsent(cc, c->curl) ? API_FAIL_UNSENT : API_FAIL_TRANSPORT;
		log_msg(LOG_DEBUG, "%s %s -> %s (%ld ms)", method, path, resp->error,
			api_ms_since(t0));
		return rc;
	}

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	{
		const char *ct = NULL;

		if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(resp->content_type, sizeof(resp->content_type), "%s", ct);
	}
	/* Callers may treat the body as a string even when the server sent none. */
	if (!x->buf && !(x->buf = calloc(1, 1)))
		return -ENOMEM;
	resp->body = x->buf;
	resp->len = x->len;
	x->buf = NULL;

	if (resp->status >= 300 && resp->status < 400) {
		const char *loc = NULL;

		curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc);
		snprintf(resp->error, sizeof(resp->error), "HTTP %ld redirect to %s not followed",
			 resp->status, loc ? loc : "(no location)");
	} else if (resp->status >= 400) {
		api_set_server_error(resp);
	}
	if (resp->status == 500 || resp->status == 502 || resp->status == 503 ||
	    resp->status == 504)
		*fail = API_FAIL_5XX;
	api_redact(api, resp->error);
	log_msg(LOG_DEBUG, "%s %s -> %ld, %zu bytes (%ld ms)", method, path, resp->status,
		resp->len, api_ms_since(t0));
	return 0;
}

int api_request(struct api *api, const char *method, const char *path, const char *body,
		size_t body_len, struct api_response *resp)
{
	struct api_xfer x;
	struct api_conn *c = NULL;
	enum api_failure fail = API_FAIL_NONE;
	double deadline;
	char *url = NULL;
	int rc = 0;

	if (!resp)
		return -EINVAL;
	memset(resp, 0, sizeof(*resp));
	resp->ratelimit_remaining = -1;
	if (!api || !method || !path || !api_method_ok(method)) {
		snprintf(resp->error, sizeof(resp->error), "invalid request");
		return -EINVAL;
	}
	/* The base URL ends in '/'; a leading '/' in @path would double it. */
	while (*path == '/')
		path++;
	for (const char *p = path; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			snprintf(resp->error, sizeof(resp->error), "path is not URL-escaped");
			return -EINVAL;
		}
	}
	rc = api_fail_fast(api, resp);
	if (rc < 0) {
		log_msg(LOG_DEBUG, "%s %s -> %s", method, path, resp->error);
		return rc;
	}
	if (asprintf(&url, "%s%s", api->url, path) < 0)
		return -ENOMEM;

	/* One deadline for the whole call: the wait for a handle and every
	 * attempt and backoff share the configured total timeout. */
	deadline = api_now() + api->timeout_ms / 1000.0;
	for (int attempt = 0;; attempt++) {
		long left_ms, wait_ms;

		memset(&x, 0, sizeof(x));
		x.ratelimit_remaining = -1;
		x.retry_after = -1;
		c = api_conn_take(api, deadline, &rc);
		if (!c) {
			snprintf(resp->error, sizeof(resp->error), "%s",
				 rc == -ETIMEDOUT ? "no free connection before the timeout"
						  : strerror(-rc));
			break;
		}
		left_ms = (long)((deadline - api_now()) * 1000);
		if (left_ms < 1)
			left_ms = 1;
		rc = api_attempt(api, c, method, path, url, body, body_len, left_ms, resp, &x,
				 &fail);

		pthread_mutex_lock(&api->stats_lock);
		api->stats.bytes_in += x.len;
		if (rc < 0 || resp->status >= 300)
			api->stats.failures++;
		if (resp->ratelimit_remaining >= 0)
			api->stats.ratelimit_remaining = resp->ratelimit_remaining;
		pthread_mutex_unlock(&api->stats_lock);
		api_conn_give(api, c);
		c = NULL;
		free(x.buf);
		x.buf = NULL;

		if (fail == API_FAIL_NONE || attempt + 1 >= API_ATTEMPTS ||
		    !api_may_retry(method, fail))
			break;
		wait_ms = api_backoff_ms(attempt, x.retry_after);
		left_ms = (long)((deadline - api_now()) * 1000);
		/* Not worth a try that could not finish before the deadline. */
		if (wait_ms + 100 > left_ms)
			break;
		log_msg(LOG_INFO, "%s %s: %s; retrying in %ld ms", method, path,
			resp->error, wait_ms);
		api_response_clear(resp);
		memset(resp, 0, sizeof(*resp));
		resp->ratelimit_remaining = -1;
		pthread_mutex_lock(&api->stats_lock);
		api->stats.retries++;
		pthread_mutex_unlock(&api->stats_lock);
		{
			struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
	api_note_health(api, resp, rc, fail, x.retry_after);

	if (rc < 0) {
		resp->status = 0;
		if (resp->error[0] == '\0')
			snprintf(resp->error, sizeof(resp->error), "%s", strerror(-rc));
		free(resp->body);
		resp->body = NULL;
		resp->len = 0;
	}
	free(url);
	return rc;
}

void api_response_clear(struct api_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

int api_status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 400:
	case 422:
		return EINVAL;
	case 401:
	case 403: /* a rate-limit 403 is told apart by api_response_is_ratelimited */
		return EACCES;
	case 404:
	case 410:
		return ENOENT;
	case 405:
		return EPERM;
	case 429:
		return EAGAIN;
	default:
		return EIO; /* 408, 5xx, unfollowed 3xx, anything unexpected */
	}
}

bool api_response_is_ratelimited(const struct api_response *resp)
{
	if (!resp)
		return false;
	return resp->status == 429 || (resp->status == 403 && resp->ratelimit_remaining == 0);
}

bool api_background_take(struct api *api)
{
	bool ok;

	pthread_mutex_lock(&api->stats_lock);
	ok = api->background_per_hour < 0 ||
	     api_window_sum(api->bg_per_minute, api->bg_minute_of) <
		     (unsigned long)api->background_per_hour;
	if (ok) {
		time_t now = time(NULL);

		api_window_add(api->bg_per_minute, api->bg_minute_of, now);
		if (api->bg_fd >= 0)
			dprintf(api->bg_fd, "%lld\n", (long long)now);
	} else {
		api->stats.background_refused++;
	}
	pthread_mutex_unlock(&api->stats_lock);
	return ok;
}

int api_background_persist(struct api *api, const char *path)
{
	char *tmp = NULL, line[32];
	FILE *in = fopen(path, "re"), *out = NULL;
	time_t now = time(NULL);
	int rc = 0;

	/* Keep what the last hour holds, in a fresh file, and go on from it. */
	if (asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	/* 0600 like the PDFs beside it: when the user's thumbnailers ran is
	 * nobody else's business. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!out) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	pthread_mutex_lock(&api->stats_lock);
	while (in && fgets(line, sizeof(line), in)) {
		long long t = strtoll(line, NULL, 10);

		if (t > now - 3600 && t <= now) {
			api_window_add(api->bg_per_minute, api->bg_minute_of, (time_t)t);
			fprintf(out, "%lld\n", t);
		}
	}
	pthread_mutex_unlock(&api->stats_lock);
	if (fclose(out) != 0 || rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
		goto out;
	}
	api->bg_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (api->bg_fd < 0)
		rc = -errno;
out:
	if (in)
		fclose(in);
	free(tmp);
	return rc;
}

void api_get_stats(struct api *api, struct api_stats *out)
{
	pthread_mutex_lock(&api->stats_lock);
	*out = api->stats;
	out->last_hour = api_window_sum(api->per_minute, api->minute_of);
	out->background_last_hour = api_window_sum(api->bg_per_minute, api->bg_minute_of);
	out->background_per_hour = api->background_per_hour;
	out->next_try = 0;
	if (out->health != API_UP) {
		double left = api->retry_at - api_now();

		out->next_try = left > 0 ? left : 0;
	}
	pthread_mutex_unlock(&api->stats_lock);
}

/* Unlike curl_slist_append, keeps *@list intact when out of memory. */
static bool api_slist_add(struct curl_slist **list, const char *s)
{
	struct curl_slist *l = curl_slist_append(*list, s);

	if (!l)
		return false;
	*list = l;
	return true;
}

static bool api_url_ok(const char *url)
{
	if (!strncasecmp(url, "http://", 7))
		return url[7] != '\0';
	if (!strncasecmp(url, "https://", 8))
		return url[8] != '\0';
	return false;
}

int api_new(struct api **out, const struct api_config *cfg)
{
	struct api *api = NULL;
	size_t ulen;
	int rc = 0;

	*out = NULL;
	if (!cfg || !cfg->url || !cfg->username || !cfg->apikey || !api_url_ok(cfg->url))
		return -EINVAL;
	pthread_once(&api_curl_once, api_curl_init);
	if (api_curl_init_rc != CURLE_OK)
		return -EIO;

	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	pthread_mutex_init(&api->pool_lock, NULL);
	pthread_cond_init(&api->pool_cond, NULL);
	pthread_mutex_init(&api->stats_lock, NULL);
	api->stats.ratelimit_remaining = -1;
	api->down_wait = API_DOWN_FIRST;
	api->insecure = cfg->insecure;
	api->connect_timeout_ms =
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : API_DEFAULT_CONNECT_MS;
	api->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : API_DEFAULT_TIMEOUT_MS;
	api->background_per_hour = cfg->background_per_hour;
	api->bg_fd = -1;

	ulen = strlen(cfg->url);
	api->url = malloc(ulen + 2);
	api->username = strdup(cfg->username);
	api->apikey_len = strlen(cfg->apikey);
	api->apikey = malloc(api->apikey_len + 1);
	api->cainfo = api_strdup_or_null(cfg->cainfo);
	if (!api->url || !api->username || !api->apikey || (cfg->cainfo && !api->cainfo)) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(api->url, cfg->url, ulen + 1);
	if (api->url[ulen - 1] != '/')
		memcpy(api->url + ulen, "/", 2);
	memcpy(api->apikey, cfg->apikey, api->apikey_len + 1);

	/* "Expect:" stops curl from waiting a second for 100-continue on big bodies. */
	if (!api_slist_add(&api->hdr_plain, "Accept: application/json") ||
	    !api_slist_add(&api->hdr_plain, "Expect:") ||
	    !api_slist_add(&api->hdr_body, "Accept: application/json") ||
	    !api_slist_add(&api->hdr_body, "Expect:") ||
	    !api_slist_add(&api->hdr_body, "Content-Type: application/json")) {
		rc = -ENOMEM;
		goto out;
	}
	*out = api;
out:
	if (rc < 0)
		api_free(api);
	return rc;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	/* Every request has returned its handle by now: the caller stops all
	 * users before freeing. */
	for (int i = 0; i < api->n_idle; i++) {
		curl_easy_cleanup(api->idle[i]->curl);
		free(api->idle[i]);
	}
	curl_slist_free_all(api->hdr_plain);
	curl_slist_free_all(api->hdr_body);
	if (api->bg_fd >= 0)
		close(api->bg_fd);
	api_wipe_key(api);
	free(api->url);
	free(api->username);
	free(api->cainfo);
	pthread_mutex_destroy(&api->pool_lock);
	pthread_cond_destroy(&api->pool_cond);
	pthread_mutex_destroy(&api->stats_lock);
	free(api);
}
