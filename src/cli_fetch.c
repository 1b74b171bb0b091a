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

char *cli_fetch_slurp(const char *path)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		int e = errno;
		free(buf);
		if (fd >= 0)
			close(fd);
		errno = e;
		return NULL;
	}
	for (;;) {
		if (len + 1 == cap) {
			char *more = cap < FETCH_STATUS_MAX ? realloc(buf, cap * 2) : NULL;
			if (!more) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			buf = more;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

double cli_fetch_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

const char *cli_fetch_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* The status JSON of the mount at @mnt, or NULL with errno set. */
static cJSON *fetch_status(const char *mnt)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/.factuurfs/status", mnt);
	char *text = cli_fetch_slurp(path);
	if (!text)
		return NULL;
	cJSON *st = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(st, "prefetch"))) {
		cJSON_Delete(st);
		errno = EPROTO;
		return NULL;
	}
	return st;
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
	double local = cli_fetch_num(pf, "local"), total = cli_fetch_num(pf, "total");
	double rate = cli_fetch_num(pf, "rate_per_second");
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
	const char *state = cli_fetch_str(pf, "state");
	if (strcmp(state, "running") != 0)
		printf("  (%s)", state);
	printf(tty ? "\033[K" : "\n");
	(void)fflush(stdout); /* a progress line: nothing to do if it fails */
}

/* One run of the command: what the loop of cli_fetch carries from one status to
 * the next. */
struct fetch_run {
	const char *mnt;
	int dirfd;	  /* the mount's .factuurfs/, where the hurry requests go */
	unsigned session; /* the first request's: done means done after it */
	bool quiet, tty;
	double t0, shown, asked; /* clock_mono() of the start, the last line, the last request */
	double fetched0;	 /* the status's "fetched" when the run began */
};

/* The arguments into @r; false for a usage error. */
static bool fetch_args(struct fetch_run *r, int argc, char **argv)
{
	bool bad = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet"))
			r->quiet = true;
		else if (!r->mnt && argv[i][0] != '-')
			r->mnt = argv[i];
		else
			bad = true;
	}
	return r->mnt && !bad;
}

/* Opens @r's .factuurfs/ and sends the first hurry request: 0, or the exit status
 * (1) after saying why on stderr. */
static int fetch_start(struct fetch_run *r)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/.factuurfs", r->mnt);
	r->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = r->dirfd < 0 ? -errno : fetch_ask(r->dirfd, &r->session);
	if (rc == -ENODEV)
		fprintf(stderr,
			"factuurfs: %s keeps no archive (mounted with -o noarchive, or "
			"without a disk cache)\n",
			r->mnt);
	else if (rc < 0)
		fprintf(stderr, "factuurfs: %s is not a factuurfs mount (%s: %s)\n", r->mnt, path,
			log_strerror(-rc));
	if (rc < 0 && r->dirfd >= 0)
		close(r->dirfd);
	return rc < 0 ? 1 : 0;
}

/* The last words of a run whose archive is complete: exit status 0. */
static int fetch_report_done(const struct fetch_run *r, const cJSON *pf, double now)
{
	char a[32], b[32], c[48], d[48];
	double local = cli_fetch_num(pf, "local"), total = cli_fetch_num(pf, "total");
	double ol = cli_fetch_num(pf, "others_local"), ot = cli_fetch_num(pf, "others_total");
	double got = cli_fetch_num(pf, "fetched") - r->fetched0;
	printf("archive complete: %s of %s invoices' PDFs on disk",
	       cli_fetch_count(local, a, sizeof(a)), cli_fetch_count(total, b, sizeof(b)));
	if (ot > 0)
		printf(" (and %s of %s quotations')", cli_fetch_count(ol, c, sizeof(c)),
		       cli_fetch_count(ot, d, sizeof(d)));
	printf("; %s fetched in %s\n", cli_fetch_count(got, c, sizeof(c)),
	       fetch_duration(now - r->t0, d, sizeof(d)));
	return 0;
}

/* The last words of a run that stopped before the end (interrupted, at the budget,
 * or the mount's own stop), with what is left: its exit status. */
static int fetch_report_stop(const cJSON *st, const cJSON *pf)
{
	char a[32], b[32], c[48];
	const char *state = cli_fetch_str(pf, "state");
	double local = cli_fetch_num(pf, "local"), total = cli_fetch_num(pf, "total");
	const cJSON *eta = cJSON_GetObjectItemCaseSensitive(pf, "eta_seconds");
	bool budget = !strncmp(state, "paused: budget", 14);
	if (fetch_interrupted)
		printf("interrupted");
	else if (budget)
		printf("stopped at the budget: the %.0f calls left this hour are "
		       "kept for you and the thumbnailers",
		       cli_fetch_num(cJSON_GetObjectItemCaseSensitive(st, "api"),
				     "ratelimit_remaining"));
	else
		printf("%s", state);
	printf("\narchive: %s of %s PDFs on disk; %s left", cli_fetch_count(local, a, sizeof(a)),
	       cli_fetch_count(total, b, sizeof(b)), cli_fetch_count(total - local, c, sizeof(c)));
	if (cJSON_IsNumber(eta)) {
		char d[48];
		printf(", about %s at the service's rate (%.0f an hour)",
		       fetch_duration(eta->valuedouble, d, sizeof(d)),
		       cli_fetch_num(pf, "service_per_hour"));
	}
	printf("; the mount goes on in the background\n");
	return fetch_interrupted ? 130 : budget ? CLI_FETCH_AT_BUDGET : 1;
}

/* One look at the status @st: its exit status when the run is over (after the last
 * words), else -1 after showing the progress when it is time to. */
static int fetch_step(struct fetch_run *r, const cJSON *st)
{
	const cJSON *pf = cJSON_GetObjectItemCaseSensitive(st, "prefetch");
	const char *state = cli_fetch_str(pf, "state");
	double total = cli_fetch_num(pf, "total");
	if (r->fetched0 < 0)
		r->fetched0 = cli_fetch_num(pf, "fetched");
	double now = clock_mono();
	bool done = !strcmp(state, "done") && cli_fetch_num(pf, "done_session") >= r->session;
	/* A status text may be up to a second old: a stop is believed
	 * from one rendered after the request. */
	bool settled = now - r->t0 > 1.5;
	if (done ||
	    (settled && (!strncmp(state, "paused: budget", 14) || !strncmp(state, "stopped", 7))) ||
	    fetch_interrupted) {
		if (r->tty && total > 0) {
			fetch_show(pf, r->tty);
			printf("\n");
		}
		return done ? fetch_report_done(r, pf, now) : fetch_report_stop(st, pf);
	}
	if (!r->quiet && total > 0 && (r->tty || now - r->shown >= FETCH_LINE_EVERY)) {
		fetch_show(pf, r->tty);
		r->shown = now;
	}
	return -1;
}

int cli_fetch(int argc, char **argv)
{
	struct fetch_run r = {.fetched0 = -1};
	int ret = 1, rc;
	if (!fetch_args(&r, argc, argv)) {
		fprintf(stderr, "usage: factuurfs fetch MOUNTPOINT [--quiet]\n");
		return 2;
	}
	if (fetch_start(&r) != 0)
		return 1;
	struct sigaction sa = {.sa_handler = fetch_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r.tty = !r.quiet && isatty(STDOUT_FILENO);
	r.t0 = r.asked = clock_mono();
	for (;;) {
		cJSON *st = fetch_status(r.mnt);
		if (!st) {
			fprintf(stderr, "%sfactuurfs: %s: the status file: %s\n", r.tty ? "\n" : "",
				r.mnt, log_strerror(errno));
			break;
		}
		int over = fetch_step(&r, st);
		cJSON_Delete(st);
		if (over >= 0) {
			ret = over;
			break;
		}
		nanosleep(&(struct timespec){.tv_nsec = 250000000L}, NULL);
		if (clock_mono() - r.asked >= 1.0) {
			unsigned again;
			if ((rc = fetch_ask(r.dirfd, &again)) < 0) {
				fprintf(stderr, "%sfactuurfs: %s: %s\n", r.tty ? "\n" : "", r.mnt,
					log_strerror(-rc));
				break;
			}
			r.asked = clock_mono();
		}
	}
	close(r.dirfd);
	return fflush(stdout) == 0 ? ret : 1;
}
