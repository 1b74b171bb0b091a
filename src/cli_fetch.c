/* cli_fetch: `factuurfs fetch` (see cli_fetch.h). */
#include "cli_fetch.h"
#include "base/clock.h"
#include "base/log.h"
#include "fuse/ioctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* Seconds each hurry request asks for; renewed every second, so a command
 * that dies leaves the mount to its own pace within this long. */
#define FETCH_LEASE 5
/* Seconds between two lines when the output is not a terminal. */
#define FETCH_LINE_EVERY 5.0
#define FETCH_STATUS_MAX (16 << 20)
#define FETCH_BAR 30

static volatile sig_atomic_t fetch_interrupted;

static void fetch_on_signal(int sig)
{
	(void)sig;
	fetch_interrupted = 1;
}

/* The status JSON of the mount at @mnt, or NULL with errno set. */
static cJSON *fetch_status(const char *mnt)
{
	char path[PATH_MAX];
	size_t len = 0, cap = 65536;
	snprintf(path, sizeof(path), "%s/.factuurfs/status", mnt);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = fd >= 0 ? malloc(cap) : NULL;
	if (!buf) {
		int e = fd >= 0 ? ENOMEM : errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return NULL;
	}
	for (;;) {
		if (len + 1 == cap) {
			char *more = cap < FETCH_STATUS_MAX ? realloc(buf, cap * 2) : NULL;
			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	cJSON *st = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(st, "prefetch"))) {
		cJSON_Delete(st);
		errno = EPROTO;
		return NULL;
	}
	return st;
}

static double fetch_num(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *fetch_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

const char *cli_fetch_count(double n, char *buf, size_t len)
{
	char digits[32];
	size_t nd, o = 0;
	snprintf(digits, sizeof(digits), "%.0f", n < 0 ? 0 : n);
	nd = strlen(digits);
	for (size_t i = 0; i < nd && o + 2 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* "40 s", "12 min", "3.5 h", "2.1 days" */
static const char *fetch_duration(double s, char *buf, size_t len)
{
	if (s < 90)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 5400)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.1f h", s / 3600);
	else
		snprintf(buf, len, "%.1f days", s / 86400);
	return buf;
}

/* Asks the mount at @dirfd (its .factuurfs/) to hurry: the session's number
 * in *@session, or -errno. */
static int fetch_ask(int dirfd, unsigned *session)
{
	struct fs_fetch_ioctl f = {.seconds = FETCH_LEASE};
	if (ioctl(dirfd, FS_IOC_FETCH, &f) != 0)
		return -errno;
	*session = f.session;
	return 0;
}

/* One progress report of @pf: a bar redrawn in place on a terminal, else a line. */
static void fetch_show(const cJSON *pf, bool tty)
{
	char a[32], b[32];
	double local = fetch_num(pf, "local", 0), total = fetch_num(pf, "total", 0);
	double rate = fetch_num(pf, "rate_per_second", 0);
	const cJSON *eta = cJSON_GetObjectItemCaseSensitive(pf, "eta_seconds");
	int filled = total > 0 ? (int)(FETCH_BAR * local / total) : 0;
	char bar[FETCH_BAR + 1];
	for (int i = 0; i < FETCH_BAR; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[FETCH_BAR] = '\0';
	printf("%sarchive [%s] %s of %s PDFs (%.0f%%)", tty ? "\r" : "", bar,
	       cli_fetch_count(local, a, sizeof(a)), cli_fetch_count(total, b, sizeof(b)),
	       total > 0 ? 100 * local / total : 0);
	if (rate > 0)
		printf("  %.1f/s", rate);
	if (cJSON_IsNumber(eta)) {
		char c[48];
		printf("  about %s left", fetch_duration(eta->valuedouble, c, sizeof(c)));
	}
	const char *state = fetch_str(pf, "state");
	if (strcmp(state, "running") != 0)
		printf("  (%s)", state);
	printf(tty ? "\033[K" : "\n");
	(void)fflush(stdout); /* a progress line: nothing to do if it fails */
}

int cli_fetch(int argc, char **argv)
{
	const char *mnt = NULL;
	bool quiet = false;
	char path[PATH_MAX], a[32], b[32], c[48], d[48];
	bool bad = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!mnt && argv[i][0] != '-')
			mnt = argv[i];
		else
			bad = true;
	}
	if (!mnt || bad) {
		fprintf(stderr, "usage: factuurfs fetch MOUNTPOINT [--quiet]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/.factuurfs", mnt);
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned session = 0;
	int rc = dirfd < 0 ? -errno : fetch_ask(dirfd, &session);
	if (rc == -ENODEV) {
		fprintf(stderr, "factuurfs: %s keeps no archive (mounted with -o noarchive, or "
				"without a disk cache)\n", mnt);
		close(dirfd);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "factuurfs: %s is not a factuurfs mount (%s: %s)\n", mnt, path,
			log_strerror(-rc));
		if (dirfd >= 0)
			close(dirfd);
		return 1;
	}
	struct sigaction sa = {.sa_handler = fetch_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	bool tty = !quiet && isatty(STDOUT_FILENO);
	double t0 = clock_mono(), shown = 0, asked = t0;
	double fetched0 = -1;
	int ret = 1;
	for (;;) {
		cJSON *st = fetch_status(mnt);
		if (!st) {
			fprintf(stderr, "%sfactuurfs: %s: the status file: %s\n", tty ? "\n" : "", mnt,
				log_strerror(errno));
			break;
		}
		const cJSON *pf = cJSON_GetObjectItemCaseSensitive(st, "prefetch");
		const char *state = fetch_str(pf, "state");
		double local = fetch_num(pf, "local", 0), total = fetch_num(pf, "total", 0);
		if (fetched0 < 0)
			fetched0 = fetch_num(pf, "fetched", 0);
		double now = clock_mono();
		bool done = !strcmp(state, "done") && fetch_num(pf, "done_session", 0) >= session;
		/* A status text may be up to a second old: a stop is believed
		 * from one rendered after the request. */
		bool settled = now - t0 > 1.5;
		if (done || (settled && (!strncmp(state, "paused: budget", 14) ||
					 !strncmp(state, "stopped", 7))) || fetch_interrupted) {
			if (tty && total > 0) {
				fetch_show(pf, tty);
				printf("\n");
			}
			double got = fetch_num(pf, "fetched", 0) - fetched0;
			if (done) {
				double ol = fetch_num(pf, "others_local", 0);
				double ot = fetch_num(pf, "others_total", 0);
				printf("archive complete: %s of %s invoices' PDFs on disk",
				       cli_fetch_count(local, a, sizeof(a)), cli_fetch_count(total, b, sizeof(b)));
				if (ot > 0)
					printf(" (and %s of %s quotations')", cli_fetch_count(ol, c, sizeof(c)),
					       cli_fetch_count(ot, d, sizeof(d)));
				printf("; %s fetched in %s\n", cli_fetch_count(got, c, sizeof(c)),
				       fetch_duration(now - t0, d, sizeof(d)));
				ret = 0;
			} else {
				const cJSON *eta = cJSON_GetObjectItemCaseSensitive(pf, "eta_seconds");
				if (fetch_interrupted)
					printf("interrupted");
				else if (!strncmp(state, "paused: budget", 14))
					printf("stopped at the budget: the %.0f calls left this hour are "
					       "kept for you and the thumbnailers",
					       fetch_num(cJSON_GetObjectItemCaseSensitive(st, "api"),
							 "ratelimit_remaining", 0));
				else
					printf("%s", state);
				printf("\narchive: %s of %s PDFs on disk; %s left",
				       cli_fetch_count(local, a, sizeof(a)), cli_fetch_count(total, b, sizeof(b)),
				       cli_fetch_count(total - local, c, sizeof(c)));
				if (cJSON_IsNumber(eta))
					printf(", about %s at the service's rate (%.0f an hour)",
					       fetch_duration(eta->valuedouble, d, sizeof(d)),
					       fetch_num(pf, "service_per_hour", 0));
				printf("; the mount goes on in the background\n");
				ret = fetch_interrupted ? 130
							: !strncmp(state, "paused: budget", 14)
								  ? CLI_FETCH_AT_BUDGET
								  : 1;
			}
			cJSON_Delete(st);
			break;
		}
		if (!quiet && total > 0 && (tty || now - shown >= FETCH_LINE_EVERY)) {
			fetch_show(pf, tty);
			shown = now;
		}
		cJSON_Delete(st);
		nanosleep(&(struct timespec){.tv_nsec = 250000000L}, NULL);
		if (clock_mono() - asked >= 1.0) {
			unsigned again;
			if ((rc = fetch_ask(dirfd, &again)) < 0) {
				fprintf(stderr, "%sfactuurfs: %s: %s\n", tty ? "\n" : "", mnt,
					log_strerror(-rc));
				break;
			}
			asked = clock_mono();
		}
	}
	close(dirfd);
	return fflush(stdout) == 0 ? ret : 1;
}
