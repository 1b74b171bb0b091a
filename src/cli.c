/* cli: `factuurfs status`, `factuurfs refresh` and `factuurfs probe` (see cli.h). */
#include "cli.h"
#include "cli_fetch.h"
#include "config.h"
#include "credentials.h"
#include "feat/probe.h"
#include "fuse/ioctl.h"
#include "base/log.h"
#include "net/api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* The control files, relative to the mount point. */
#define CLI_STATUS ".factuurfs/status"
#define CLI_REFRESH ".factuurfs/refresh"

static void cli_usage(FILE *f)
{
	fprintf(f, "usage: factuurfs status MOUNTPOINT [--json]\n"
		   "       factuurfs refresh MOUNTPOINT [PATH]\n"
		   "       factuurfs probe [-o ");
	config_probe_options(f);
	fprintf(f, "] [--json]\n"
		   "       factuurfs fetch MOUNTPOINT [--quiet]\n"
		   "       factuurfs [options] MOUNTPOINT   (see factuurfs --help)\n");
}

bool cli_is_command(int argc, char **argv)
{
	return argc >= 2 && (!strcmp(argv[1], "status") || !strcmp(argv[1], "refresh") ||
			     !strcmp(argv[1], "probe") || !strcmp(argv[1], "fetch"));
}

bool cli_needs_key(char **argv)
{
	return !strcmp(argv[1], "probe");
}

/* "12.3 MiB" */
static const char *cli_bytes(double b, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
	return buf;
}

/* An age for a person: "40 s", "12 min", "3 h", "2 d". */
static const char *cli_age(double s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.0f h", s / 3600);
	else
		snprintf(buf, len, "%.0f d", s / 86400);
	return buf;
}

/* "95% (120 of 126)", or "-" when nothing was asked yet. */
static const char *cli_rate(double hits, double total, char *buf, size_t len)
{
	if (total <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f%% (%.0f of %.0f)", 100.0 * hits / total, hits, total);
	return buf;
}

/* "about 3 h", "about 25 min", "about 40 s" */
static const char *cli_duration(double s, char *buf, size_t len)
{
	if (s >= 5400)
		snprintf(buf, len, "about %.0f h", s / 3600);
	else if (s >= 90)
		snprintf(buf, len, "about %.0f min", s / 60);
	else
		snprintf(buf, len, "about %.0f s", s);
	return buf;
}

/* "about 3 h left at 150/h": the archive's time left and pace. */
static void cli_print_eta(const cJSON *pf)
{
	char c[48];
	printf("%s left at %.0f/h", cli_duration(cli_fetch_num(pf, "eta_seconds"), c, sizeof(c)),
	       cli_fetch_num(pf, "per_hour"));
}

/* The archive's line (feat/prefetch.h): "412 of 1,200 invoices' PDFs on disk (34%);
 * about 3 h left at 150/h". */
static void cli_print_prefetch(const cJSON *pf)
{
	char a[32], b[32];
	const char *state = cli_fetch_str(pf, "state");
	if (!pf || !*state)
		return;
	printf("  archive      ");
	if (!strcmp(state, "off")) {
		printf("off: PDFs are fetched when read, and kept within cache_max only\n");
		return;
	}
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pf, "total"))) {
		printf("%s at %.0f/h\n", state, cli_fetch_num(pf, "per_hour"));
		return;
	}
	double local = cli_fetch_num(pf, "local"), total = cli_fetch_num(pf, "total");
	bool eta = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pf, "eta_seconds"));
	bool others = cli_fetch_num(pf, "others_total") > 0;
	/* The time left covers every PDF still to fetch, the other records' too: once the
	 * invoices' are all on disk, it is said on the others' line, where it is spent. */
	bool eta_below = eta && others && local >= total;
	printf("%s of %s invoices' PDFs on disk (%.0f%%); ", cli_fetch_count(local, a, sizeof(a)),
	       cli_fetch_count(total, b, sizeof(b)), total > 0 ? 100 * local / total : 100);
	if (eta && !eta_below)
		cli_print_eta(pf);
	else
		printf("%s", !strcmp(state, "done") || eta_below ? "complete" : state);
	if (strcmp(state, "running") != 0 && strcmp(state, "done") != 0 && eta)
		printf(" (%s)", state);
	printf("\n");
	if (others) {
		printf("               and %s of %s quotations' PDFs (kept within cache_max)",
		       cli_fetch_count(cli_fetch_num(pf, "others_local"), a, sizeof(a)),
		       cli_fetch_count(cli_fetch_num(pf, "others_total"), b, sizeof(b)));
		if (eta_below) {
			printf("; ");
			cli_print_eta(pf);
		}
		printf("\n");
	}
}

/* The status file's "api" object: calls, the budget, the thumbnailers' share. */
static void cli_print_api(const cJSON *api)
{
	if (!api)
		return;
	const cJSON *left = cJSON_GetObjectItemCaseSensitive(api, "ratelimit_remaining");
	printf("  API calls    %.0f in the last hour, %.0f since mounting (%.0f failed, "
	       "%.0f retried, %.0f not sent)\n",
	       cli_fetch_num(api, "requests_last_hour"), cli_fetch_num(api, "requests"),
	       cli_fetch_num(api, "failures"), cli_fetch_num(api, "retries"),
	       cli_fetch_num(api, "not_sent"));
	if (cJSON_IsNumber(left))
		printf("  budget left  %.0f calls this hour\n", left->valuedouble);
	else
		printf("  budget left  not known yet\n");
	const cJSON *bg = cJSON_GetObjectItemCaseSensitive(api, "background");
	if (bg && cli_fetch_num(bg, "per_hour") >= 0)
		printf("  thumbnails   %.0f of %.0f calls this hour used by thumbnailers and "
		       "indexers, %.0f reads refused\n",
		       cli_fetch_num(bg, "calls_last_hour"), cli_fetch_num(bg, "per_hour"),
		       cli_fetch_num(bg, "refused"));
}

/* The "cache" object: what is listed, the PDFs, the hit rates, the paging. */
static void cli_print_cache(const cJSON *cache)
{
	const cJSON *colls = cJSON_GetObjectItemCaseSensitive(cache, "collections");
	const cJSON *c;
	int listed = 0, total = 0;
	double records = 0;
	cJSON_ArrayForEach(c, colls)
	{
		total++;
		if (strcmp(cli_fetch_str(c, "state"), "not listed") != 0) {
			listed++;
			records += cli_fetch_num(c, "records");
		}
	}
	if (cache) {
		char b1[64], b2[64];

		printf(
		    "  cache        %d of %d collections listed, %.0f records, ttl %.0f s; PDFs: "
		    "%s on disk, %s in memory\n",
		    listed, total, records, cli_fetch_num(cache, "ttl_seconds"),
		    cli_bytes(cli_fetch_num(cache, "pdf_disk_bytes"), b1, sizeof(b1)),
		    cli_bytes(cli_fetch_num(cache, "pdf_memory_bytes"), b2, sizeof(b2)));
		printf("  hit rate     listings %s",
		       cli_rate(cli_fetch_num(cache, "listing_hits"),
				cli_fetch_num(cache, "listing_hits") +
				    cli_fetch_num(cache, "listing_fetches"),
				b1, sizeof(b1)));
		printf(", PDFs %s\n", cli_rate(cli_fetch_num(cache, "pdf_disk_cache_hits"),
					       cli_fetch_num(cache, "pdf_disk_cache_hits") +
						   cli_fetch_num(cache, "pdfs_fetched"),
					       b2, sizeof(b2)));
	}
	const cJSON *paging = cJSON_GetObjectItemCaseSensitive(cache, "paging");
	if (cJSON_IsString(paging))
		printf("  paging       %s\n", paging->valuestring);
}

/* The collections whose listing is stale, on one line. */
static void cli_print_stale(const cJSON *colls)
{
	const cJSON *c;
	int stale = 0;
	cJSON_ArrayForEach(c, colls) stale += !strcmp(cli_fetch_str(c, "state"), "stale");
	if (!stale)
		return;
	printf("  stale        ");
	cJSON_ArrayForEach(c, colls)
	{
		if (strcmp(cli_fetch_str(c, "state"), "stale") != 0)
			continue;
		char age[32];
		printf("%s (since %s: %s; %s old)%s", c->string, cli_fetch_str(c, "stale_since"),
		       cli_fetch_str(c, "stale_because"),
		       cli_age(cli_fetch_num(c, "age_seconds"), age, sizeof(age)),
		       --stale ? ", " : "\n");
	}
}

/* The unsaved texts, the errors and the changes. */
static void cli_print_events(const cJSON *st)
{
	const cJSON *e;
	const cJSON *uns = cJSON_GetObjectItemCaseSensitive(st, "unsaved");
	if (uns && (cli_fetch_num(uns, "texts") > 0 || cli_fetch_num(uns, "unreadable") > 0)) {
		printf("  unsaved      %.0f text%s the service does not have, kept in %s",
		       cli_fetch_num(uns, "texts"), cli_fetch_num(uns, "texts") == 1 ? "" : "s",
		       cli_fetch_str(uns, "directory"));
		if (cli_fetch_num(uns, "unreadable") > 0)
			printf(" (and %.0f unreadable, set aside as *.bad)",
			       cli_fetch_num(uns, "unreadable"));
		printf("\n");
	}
	cli_print_stale(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(st, "cache"), "collections"));
	printf("  errors       %.0f since mounting\n", cli_fetch_num(st, "errors_total"));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "last_errors"))
	{
		double times = cli_fetch_num(e, "times");
		printf("    %s  %s: %s", cli_fetch_str(e, "time"), cli_fetch_str(e, "operation"),
		       cli_fetch_str(e, "message"));
		if (times > 1)
			printf(" (%.0f times)", times);
		printf("\n");
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "last_changes")) > 0) {
		printf("  changes\n");
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "last_changes"))
		    printf("    %s  %s\n", cli_fetch_str(e, "time"), cli_fetch_str(e, "change"));
	}
}

/* The human form of the status JSON @st of the mount at @mnt. */
static void cli_print_status(const char *mnt, const cJSON *st)
{
	const cJSON *svc = cJSON_GetObjectItemCaseSensitive(st, "service");

	printf("factuurfs %s on %s\n", cli_fetch_str(st, "version"), mnt);
	printf("  account      %s at %s, mounted %s\n", cli_fetch_str(st, "username"),
	       cli_fetch_str(st, "url"), cli_fetch_str(st, "mounted_at"));
	printf("  service      %s", svc ? cli_fetch_str(svc, "state") : "?");
	if (svc && !strcmp(cli_fetch_str(svc, "reason"), "-o offline"))
		printf(" (-o offline: no call is made)");
	else if (svc && strcmp(cli_fetch_str(svc, "state"), "up") != 0)
		printf(": next try in %.0f s (%s)", cli_fetch_num(svc, "next_try_seconds"),
		       cli_fetch_str(svc, "reason"));
	printf("\n");
	cli_print_api(cJSON_GetObjectItemCaseSensitive(st, "api"));
	cli_print_cache(cJSON_GetObjectItemCaseSensitive(st, "cache"));
	cli_print_prefetch(cJSON_GetObjectItemCaseSensitive(st, "prefetch"));
	cli_print_events(st);
}

static int cli_status(int argc, char **argv)
{
	bool json = false;
	const char *mnt = NULL;
	char path[PATH_MAX];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!mnt && argv[i][0] != '-')
			mnt = argv[i];
		else {
			cli_usage(stderr);
			return 2;
		}
	}
	if (!mnt) {
		cli_usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s", mnt, CLI_STATUS);
	char *text = cli_fetch_slurp(path);
	if (!text) {
		fprintf(stderr, "factuurfs: %s is not a factuurfs mount (%s: %s)\n", mnt, path,
			log_strerror(errno));
		return 1;
	}
	cJSON *st = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(st)) {
		fprintf(stderr, "factuurfs: %s holds no status JSON\n", path);
		cJSON_Delete(st);
		return 1;
	}
	if (json) {
		/* The same object, compact and without the file's padding. */
		char *out = cJSON_PrintUnformatted(st);
		if (out)
			printf("%s\n", out);
		free(out);
	} else {
		cli_print_status(mnt, st);
	}
	cJSON_Delete(st);
	return 0;
}

/* The refresh of @what through the ioctl on @mnt/.factuurfs (see cli.h). */
static int cli_refresh_ioctl(const char *mnt, const char *what)
{
	char path[PATH_MAX], buf[FS_REFRESH_IOCTL_SIZE] = "";
	int rc = 0;
	/* The daemon reads only the path's first component (its collection):
	 * a longer path may be cut. */
	snprintf(buf, sizeof(buf), "%s", what);
	snprintf(path, sizeof(path), "%s/.factuurfs", mnt);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, FS_IOC_REFRESH, buf) != 0) {
		fprintf(stderr, "factuurfs: %s is not a factuurfs mount (%s: %s)\n", mnt, path,
			log_strerror(errno));
		rc = 1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int cli_refresh(int argc, char **argv)
{
	char path[PATH_MAX];
	const char *what = "";
	if (argc < 3 || argc > 4) {
		cli_usage(stderr);
		return 2;
	}
	if (argc == 4) {
		what = argv[3];
		/* An absolute path inside the mount counts from its root. */
		char real_mnt[PATH_MAX];
		size_t n;
		if (what[0] == '/' && realpath(argv[2], real_mnt) &&
		    !strncmp(what, real_mnt, n = strlen(real_mnt)) &&
		    (what[n] == '/' || what[n] == '\0'))
			what += n;
		while (*what == '/')
			what++;
	}
	/* The daemon drops everything for a name it does not know: say so
	 * here instead, for a path that is not there. */
	if (*what) {
		snprintf(path, sizeof(path), "%s/%s", argv[2], what);
		if (access(path, F_OK) != 0) {
			fprintf(stderr, "factuurfs: refresh %s: %s\n", what, log_strerror(errno));
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", argv[2], CLI_REFRESH);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == EROFS)
		return cli_refresh_ioctl(argv[2], what);
	if (fd < 0) {
		fprintf(stderr, "factuurfs: %s is not a factuurfs mount (%s: %s)\n", argv[2], path,
			log_strerror(errno));
		return 1;
	}
	/* Whatever is written names what to drop; an empty line drops all. */
	char line[PATH_MAX + 2];
	int len = snprintf(line, sizeof(line), "%s\n", what);
	ssize_t written = write(fd, line, (size_t)len);
	int closed = close(fd);
	if (written != len || closed != 0) {
		fprintf(stderr, "factuurfs: refresh %s: %s\n", *what ? what : "(all)",
			log_strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- probe ------------------------------------------------------------------ */

/* `factuurfs probe`: the options of a mount that say which account and how to
 * reach it (config.h), the report on stdout. */
static int cli_probe(int argc, char **argv)
{
	struct config o;
	bool json = false;
	char *username = NULL, *apikey = NULL;
	struct api *api = NULL;
	int ret = config_parse_probe(&o, argc, argv, &json);
	if (ret == 2)
		cli_usage(stderr);
	if (ret != 0)
		goto out;
	ret = 1;
	struct credentials_opts co = {
	    .username = o.username,
	    .apikey_file = o.apikey_file,
	    .profile = o.profile,
	};
	if (!(o.timeout > 0) || credentials_get(&co, &username, &apikey) < 0)
		goto out;
	struct api_config acfg = {
	    .url = o.url,
	    .username = username,
	    .apikey = apikey,
	    .connect_timeout_ms = (long)(o.timeout < 10 ? o.timeout * 1000 : 10000),
	    .timeout_ms = (long)(o.timeout * 1000),
	    .insecure = o.insecure,
	    .cainfo = o.cainfo,
	    .background_per_hour = -1,
	};
	int rc = api_new(&api, &acfg);
	credentials_wipe(apikey);
	apikey = NULL;
	if (rc < 0) {
		fprintf(stderr, "factuurfs: bad url '%s': %s\n", o.url, log_strerror(-rc));
		goto out;
	}
	cJSON *report = probe_run(api);
	if (!report)
		goto out;
	if (json) {
		char *text = cJSON_PrintUnformatted(report);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		probe_print(stdout, o.url, report);
	}
	/* The service took the credentials: a report of every reading. */
	ret = cJSON_GetObjectItemCaseSensitive(report, "booleans") ? 0 : 1;
	cJSON_Delete(report);
out:
	api_free(api);
	credentials_wipe(apikey);
	free(username);
	config_free(&o);
	return ret;
}

int cli_main(int argc, char **argv)
{
	if (!strcmp(argv[1], "status"))
		return cli_status(argc, argv);
	if (!strcmp(argv[1], "probe"))
		return cli_probe(argc, argv);
	if (!strcmp(argv[1], "fetch"))
		return cli_fetch(argc, argv);
	return cli_refresh(argc, argv);
}
