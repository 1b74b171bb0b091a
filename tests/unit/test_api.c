/* test_api: drives src/net/api.c over the real http transport against a server
 * the caller runs.
 *
 *   test_api URL USER KEY METHOD[,METHOD...] PATH [BODY]
 *   test_api --self-test
 *
 * For each method (repeated FACTUURFS_TEST_REPEAT times, default 1) on one
 * api handle, prints
 *   status=<n> remaining=<n> rc=<n> len=<n>
 *   <body>
 *   error=<resp.error>
 *   content_type=<resp.content_type>
 * and finally a "stats ..." line.  BODY goes with every method but GET.
 * With FACTUURFS_TEST_CALL=1 each goes through api_call instead, and the
 * error= line holds its message (rc is then api_call's: -errno for a non-2xx).
 * FACTUURFS_TEST_TIMEOUT_MS sets both timeouts; FACTUURFS_TEST_DEBUG=1 turns
 * on debug logging to stderr.  Exit status 0 unless api_new failed.
 *
 * --self-test checks the pure helpers and api_new's argument checks.
 */
#include "net/api.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static int self_test(void)
{
	struct api_config cfg = {
	    .url = "https://example.invalid/api/v1", .username = "u", .apikey = "k"};
	struct api_response r = {.status = 403, .ratelimit_remaining = 0};
	struct api *api = NULL;

	CHECK(api_status_errno(200) == 0);
	CHECK(api_status_errno(201) == 0);
	CHECK(api_status_errno(204) == 0);
	CHECK(api_status_errno(400) == EINVAL);
	CHECK(api_status_errno(422) == EINVAL);
	CHECK(api_status_errno(401) == EACCES);
	CHECK(api_status_errno(403) == EACCES);
	CHECK(api_status_errno(404) == ENOENT);
	CHECK(api_status_errno(405) == EPERM);
	CHECK(api_status_errno(408) == EIO);
	CHECK(api_status_errno(429) == EAGAIN);
	CHECK(api_status_errno(500) == EIO);
	CHECK(api_status_errno(503) == EIO);
	CHECK(api_status_errno(302) == EIO);
	CHECK(api_status_errno(0) == EIO);

	CHECK(api_response_is_ratelimited(&r));
	r.ratelimit_remaining = -1;
	CHECK(!api_response_is_ratelimited(&r));
	r.ratelimit_remaining = 5;
	CHECK(!api_response_is_ratelimited(&r));
	r.status = 429;
	CHECK(api_response_is_ratelimited(&r));
	r.status = 200;
	r.ratelimit_remaining = 0;
	CHECK(!api_response_is_ratelimited(&r));
	CHECK(!api_response_is_ratelimited(NULL));

	CHECK(api_new(&api, &cfg) == 0 && api);
	api_free(api);
	cfg.url = "ftp://example.invalid/";
	CHECK(api_new(&api, &cfg) == -EINVAL && !api);
	cfg.url = "example.invalid/";
	CHECK(api_new(&api, &cfg) == -EINVAL && !api);
	cfg.url = "https://";
	CHECK(api_new(&api, &cfg) == -EINVAL && !api);
	cfg.url = "http://example.invalid";
	cfg.apikey = NULL;
	CHECK(api_new(&api, &cfg) == -EINVAL && !api);

	printf("%s\n", failures ? "self-test FAILED" : "self-test ok");
	return failures ? 1 : 0;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

/*
 * This process's own peak resident memory (VmHWM, KiB), or -1.  Not ru_maxrss: Linux
 * carries the peak of the image exec replaced into it, so a child of a large pytest
 * would report pytest's peak.
 */
static long peak_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	struct api_config cfg = {0};
	struct api_stats st;
	struct api *api = NULL;
	const char *body;
	char *key, *methods, *save = NULL;
	long repeat;
	bool use_call;
	int rc;

	if (argc == 2 && !strcmp(argv[1], "--self-test"))
		return self_test();
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: test_api URL USER KEY METHOD[,METHOD...] PATH [BODY]\n"
				"       test_api --self-test\n");
		return 2;
	}
	log_init(true, env_long("FACTUURFS_TEST_DEBUG", 0) != 0);
	body = argc == 7 ? argv[6] : NULL;
	repeat = env_long("FACTUURFS_TEST_REPEAT", 1);
	use_call = env_long("FACTUURFS_TEST_CALL", 0) != 0;

	/* The api keeps its own copy: wipe ours to prove it. */
	key = strdup(argv[3]);
	methods = strdup(argv[4]);
	if (!key || !methods) {
		free(key);
		free(methods);
		return 3;
	}
	cfg.url = argv[1];
	cfg.username = argv[2];
	cfg.apikey = key;
	cfg.timeout_ms = env_long("FACTUURFS_TEST_TIMEOUT_MS", 10000);
	cfg.connect_timeout_ms = cfg.timeout_ms;
	cfg.insecure = env_long("FACTUURFS_TEST_INSECURE", 0) != 0;
	rc = api_new(&api, &cfg);
	explicit_bzero(key, strlen(key));
	free(key);
	if (rc < 0) {
		printf("api_new rc=%d\n", rc);
		free(methods);
		return 1;
	}

	for (long i = 0; i < repeat; i++) {
		/* Each round walks the whole comma-separated list of methods. */
		char *copy = strdup(methods);

		if (!copy)
			break;
		for (char *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
			struct api_response resp;
			const char *b = strcmp(m, "GET") ? body : NULL;

			if (use_call) {
				struct api_answer a;

				rc = api_call(api, m, argv[5], b, b ? strlen(b) : 0, &a);
				printf("status=%ld remaining=%ld rc=%d len=%zu\n", a.status,
				       a.ratelimit_remaining, rc, a.len);
				printf("%s\n", a.body ? a.body : "");
				printf("error=%s\n", a.message);
				printf("content_type=%s\n", a.content_type);
				api_answer_clear(&a);
				continue;
			}
			rc = api_request(api, m, argv[5], b, b ? strlen(b) : 0, &resp);
			printf("status=%ld remaining=%ld rc=%d len=%zu\n", resp.status,
			       resp.ratelimit_remaining, rc, resp.len);
			printf("%s\n", resp.body ? resp.body : "");
			printf("error=%s\n", resp.error);
			printf("content_type=%s\n", resp.content_type);
			api_response_clear(&resp);
		}
		free(copy);
	}

	api_get_stats(api, &st);
	printf("stats requests=%lu failures=%lu bytes_in=%lu remaining=%ld retries=%lu "
	       "failed_fast=%lu health=%d hwm_kib=%ld\n",
	       st.requests, st.failures, st.bytes_in, st.ratelimit_remaining, st.retries,
	       st.failed_fast, (int)st.health, peak_kib());
	api_free(api);
	free(methods);
	return 0;
}
