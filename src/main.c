/* main: options, credentials, the one call that checks them, and the mount. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "net/api.h"
#include "store/cache.h"
#include "cli.h"
#include "credentials.h"
#include "feat/desktop.h"
#include "feat/prefetch.h"
#include "fuse/fs.h"
#include "base/log.h"
#include "model/schema.h"
#include "base/events.h"
#include "feat/status.h"
#include "store/pdfstore.h"
#include "store/persist.h"
#include "store/times.h"
#include "base/diskfile.h"
#include "base/safedir.h"
#include "base/who.h"
#include "base/clock.h"
#include "store/deleted.h"
#include "version.h"

#define DEFAULT_URL CREDENTIALS_URL
#define RC_NAME CREDENTIALS_RC

struct options {
	char *url;
	char *username;
	char *apikey_file;
	char *profile;
	char *cache_dir;
	char *cainfo;
	char *apikey_on_cmdline; /* refused: argv is world-readable */
	char *cache_max;         /* "512M": bytes of PDFs kept */
	int nodiskcache;
	double ttl;
	double timeout;
	long page_size;
	char *paging;          /* how listings page: both, offset, start, all */
	long background_calls; /* API calls per hour thumbnailers and indexers may cause */
	int insecure;
	int readonly;
	int nonotify;          /* no desktop notification of refusals */
	int offline;           /* no call at all: the state on disk, read-only */
	long prefetch;         /* the archive's calls an hour; PREFETCH_AUTO; 0: factuurfs fetch only */
	int noarchive;         /* no archive: no prefetch, invoices' PDFs evicted like the rest */
	char *lang;            /* countrylist's language: nl, en, de, fr, es; else $LANG's */
	int allow_invoice_delete; /* rm of a sent invoice reaches the service */
};

enum { KEY_RO = 1 };

#define OPT(t, p) {t, offsetof(struct options, p), 1}
static const struct fuse_opt option_spec[] = {
	OPT("url=%s", url),
	OPT("username=%s", username),
	OPT("apikey_file=%s", apikey_file),
	OPT("profile=%s", profile),
	OPT("ttl=%lf", ttl),
	OPT("timeout=%lf", timeout),
	OPT("page_size=%ld", page_size),
	OPT("paging=%s", paging),
	OPT("background_calls=%ld", background_calls),
	OPT("cache_dir=%s", cache_dir),
	OPT("cafile=%s", cainfo),
	OPT("cainfo=%s", cainfo), /* the first name it had; kept working */
	OPT("insecure", insecure),
	OPT("cache_max=%s", cache_max),
	OPT("nodiskcache", nodiskcache),
	OPT("nonotify", nonotify),
	OPT("offline", offline),
	OPT("prefetch=%ld", prefetch),
	OPT("noarchive", noarchive),
	OPT("lang=%s", lang),
	OPT("allow_invoice_delete", allow_invoice_delete),
	OPT("apikey=%s", apikey_on_cmdline),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_END,
};

/* "ro" is noted here and passed on to the kernel as well. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;
	(void)arg;
	(void)outargs;
	if (key == KEY_RO)
		o->readonly = 1;
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [options] [SOURCE] MOUNTPOINT\n"
	       "       %s status MOUNTPOINT [--json]\n"
	       "       %s refresh MOUNTPOINT [PATH]\n"
	       "       %s probe [-o url=,username=,apikey_file=,profile=,...] [--json]\n"
	       "       %s fetch MOUNTPOINT [--quiet]\n\n"
	       "Mounts a factuursturen.nl account as files.\n\n"
	       "Commands for a running mount (no credentials):\n"
	       "    status     what .factuurfs/status holds, for a person (--json: as JSON)\n"
	       "    refresh    drop the cached listing of PATH's collection (every\n"
	       "               listing without PATH), for a change made on the website\n"
	       "    fetch      complete the archive now: every invoice's PDF on disk, as\n"
	       "               fast as the budget allows (the mount makes the calls)\n\n"
	       "A command with the credentials a mount takes (the options below):\n"
	       "    probe      ask the service (GETs only, at most 25) what it does where\n"
	       "               the API's documentation is uncertain; a report without\n"
	       "               secrets or records, and the mount options it suggests\n\n"
	       "SOURCE, as mount(8) passes it from /etc/fstab, names the rc file's profile:\n"
	       "\"work\" or \"factuurfs#work\" is -o profile=work; \"factuurfs\", \"default\"\n"
	       "and \"none\" name no profile. An explicit -o profile= wins.\n\n"
	       "factuurfs options:\n"
	       "    -o url=URL             API base URL (default " DEFAULT_URL ")\n"
	       "    -o username=NAME       account login (else $FACTUURSTUREN_USERNAME or the rc file)\n"
	       "    -o apikey_file=FILE    read the API key from FILE (else $FACTUURSTUREN_APIKEY\n"
	       "                           or the rc file)\n"
	       "    -o profile=SECTION     section of ./" RC_NAME " or ~/" RC_NAME "\n"
	       "                           (default: default)\n"
	       "    -o ttl=SECONDS         how long a listing stays fresh (default 60)\n"
	       "    -o timeout=SECONDS     the longest one API call may take, retries\n"
	       "                           included (default 30)\n"
	       "    -o page_size=N         records asked for per listing page (default 10000)\n"
	       "    -o paging=HOW          where a page starts: both (offset= and start=, the\n"
	       "                           default), offset, start, or all (count=-1, the\n"
	       "                           whole list in one answer); factuurfs probe says\n"
	       "                           which the service honours\n"
	       "    -o background_calls=N  API calls per hour that thumbnailers and indexers\n"
	       "                           may cause by reading PDFs; the rest of the budget\n"
	       "                           is kept for you (default 50, -1: no limit)\n"
	       "    -o cache_dir=DIR       PDF cache (default $XDG_CACHE_HOME/factuurfs)\n"
	       "    -o cache_max=SIZE      PDFs kept but the archive's, least recently used\n"
	       "                           dropped first (default 1G; K, M, G suffixes)\n"
	       "    -o nodiskcache         keep PDFs and listings in memory only (PDFs\n"
	       "                           within cache_max), and journal no unsaved text\n"
	       "    -o prefetch=N          the archive: fetch every invoice's PDF not on disk\n"
	       "                           yet in the background, newest first, at most N\n"
	       "                           calls an hour (default: what the budget spares;\n"
	       "                           0: only when factuurfs fetch asks)\n"
	       "    -o noarchive           no archive: no PDF fetched unless read, and\n"
	       "                           invoices' PDFs dropped beyond cache_max too\n"
	       "    -o lang=LANG           the language of countrylist/: nl, en, de, fr or es\n"
	       "                           (default: from $LANG, else the service's own)\n"
	       "    -o nonotify            no desktop notification when a save or rm is\n"
	       "                           refused (close(2) still fails, the log and the\n"
	       "                           status file still say why)\n"
	       "    -o allow_invoice_delete  let rm delete an invoice that was sent (refused\n"
	       "                           otherwise: a sent invoice is corrected with a\n"
	       "                           credit invoice)\n"
	       "    -o offline             no API call at all: serve what is kept on disk,\n"
	       "                           read-only; a mount that cannot reach the service\n"
	       "                           starts so too, and goes online when it answers\n"
	       "    -o cafile=FILE         trust the CA certificates in FILE (PEM) instead of\n"
	       "                           the system's, e.g. for a private CA\n"
	       "    -o insecure            do not verify the server's TLS certificate (never\n"
	       "                           for the real service)\n"
	       "    -o allow_other         let other users into the mount (off unless given)\n"
	       "    -o ro                  read-only: the kernel refuses every change, and\n"
	       "                           close(2) costs no round trip to the daemon\n"
	       "\n"
	       "General options:\n"
	       "    -h, --help             print this help\n"
	       "    -V, --version          print the versions of factuurfs and libfuse\n"
	       "    -f                     stay in the foreground\n"
	       "    -d, -o debug           print every FUSE request (implies -f)\n"
	       "    -s                     one thread only\n"
	       "    -o max_threads=N       at most N threads answer the kernel (default 10)\n"
	       "    -o max_idle_threads=N  idle threads kept (default: libfuse's)\n"
	       "    -o clone_fd            a /dev/fuse descriptor per thread\n"
	       "    -o auto_unmount        unmount when factuurfs ends\n"
	       "    -o allow_root          let root in (not other users)\n"
	       "\n",
	       prog, prog, prog, prog, prog);
}

/* `factuurfs --list-options` (not in --help): every option, one a line, for shell
 * completion: "-o name=" takes a value, "-o name" does not.  Ours come from the
 * parse table itself, so completion offers what is parsed; libfuse's are the ones
 * usage() names.  The refused apikey= and second spellings (an earlier entry
 * fills the same field) are left out. */
static void list_options(void)
{
	static const char *const general[] = {
		"-h", "--help", "-V", "--version", "-f", "-d", "-s", "-o debug",
		"-o max_threads=", "-o max_idle_threads=", "-o clone_fd", "-o auto_unmount",
		"-o allow_root", "-o allow_other"};
	for (const struct fuse_opt *p = option_spec; p->templ; p++) {
		bool skip = p->offset == offsetof(struct options, apikey_on_cmdline);
		for (const struct fuse_opt *q = option_spec; q < p && !skip; q++)
			skip = q->offset == p->offset && p->offset != -1UL;
		const char *eq = strchr(p->templ, '=');
		if (!skip)
			printf("-o %.*s\n", (int)(eq ? eq + 1 - p->templ : (ptrdiff_t)strlen(p->templ)),
			       p->templ);
	}
	for (size_t i = 0; i < sizeof(general) / sizeof(general[0]); i++)
		printf("%s\n", general[i]);
}

/* ---- SOURCE, as mount(8) gives it ------------------------------------------- */

/* mount(8) and mount.fuse3 run `factuurfs SOURCE MOUNTPOINT -o OPTIONS`.  With
 * two operands the first is SOURCE: it is taken out of argv (argv[*argc]
 * stays NULL) and returned; NULL with one operand.  Only -o takes a separate
 * value among the options fuse_parse_cmdline knows. */
static const char *take_source(int *argc, char **argv)
{
	int first = 0, n = 0;
	bool operands_only = false;
	for (int i = 1; i < *argc; i++) {
		if (!operands_only && !strcmp(argv[i], "--")) {
			operands_only = true;
		} else if (!operands_only && argv[i][0] == '-' && argv[i][1]) {
			if (!strcmp(argv[i], "-o"))
				i++;
		} else if (n++ == 0) {
			first = i;
		}
	}
	if (n != 2)
		return NULL;
	const char *source = argv[first];
	memmove(&argv[first], &argv[first + 1], (size_t)(*argc - first) * sizeof(*argv));
	(*argc)--;
	return source;
}

/* SOURCE's profile: "work" and "factuurfs#work" name [work]; "factuurfs",
 * "default", "none" and "" name none (the usual default).  NULL for none. */
static char *source_profile(const char *source)
{
	const char *hash = strchr(source, '#');
	const char *p = hash ? hash + 1 : source;
	if (!*p || !strcmp(p, "factuurfs") || !strcmp(p, "default") || !strcmp(p, "none"))
		return NULL;
	return strdup(p);
}

/* Credentials (options, environment, rc file) are src/credentials.c's. */

/* ---- cache directory ----------------------------------------------------------- */

/* The directories a mount keeps things in under its account's, checked at
 * every mount (base/safedir.h) before anything in them is read. */
static const char *const state_dirs[] = {"state", "state/listings", "state/journal",
					 "state/deleted", "state/times"};

/* Said when a directory of the cache is refused: the mount fails rather than read
 * what someone else could have put there, or follow where they point. */
static void refuse_cache_dir(const char *path, int rc)
{
	fprintf(stderr, "factuurfs: cache directory %s %s: not used; remove it, or choose "
			"another directory with -o cache_dir=\n", path,
		rc == -EPERM ? "is owned by another user" : "is not a directory (a symlink?)");
}

/* $XDG_CACHE_HOME/factuurfs/<user>@<host>: one directory per account, since
 * invoice numbers are only unique within one; opened and checked with what a
 * mount keeps in it.  0 with its path in *@out; 0 with *@out NULL when it cannot be
 * made (the mount keeps everything in memory: said); -1 when a directory of it
 * is another user's, or a symlink or a file where a directory belongs (said:
 * the mount fails).  The way to the cache root ($XDG_CACHE_HOME, -o cache_dir's
 * parents) is the user's choice and is followed as it is. */
static int open_cache_dir(const struct options *o, const char *username, char **out)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char base[PATH_MAX], account[256], sub[PATH_MAX + 300], *dir = NULL;
	const char *host = strstr(o->url, "://");
	int basefd = -1, acct = -1, rc;
	host = host ? host + 3 : o->url;
	if (o->cache_dir)
		snprintf(base, sizeof(base), "%s", o->cache_dir);
	else if (xdg && *xdg == '/')
		snprintf(base, sizeof(base), "%s/factuurfs", xdg);
	else if (home)
		snprintf(base, sizeof(base), "%s/.cache/factuurfs", home);
	else
		return 0;
	snprintf(account, sizeof(account), "%s@%s", username, host);
	for (char *p = account; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ')
			*p = '_';
	if (asprintf(&dir, "%s/%s", base, account) < 0)
		return 0;
	const char *failed = base;
	rc = basefd = safedir_open(AT_FDCWD, NULL, base, SAFEDIR_CREATE | SAFEDIR_ROOT);
	if (rc >= 0) {
		failed = dir;
		rc = acct = safedir_open(basefd, base, account, SAFEDIR_CREATE);
	}
	/* Each opened in the account's own descriptor: checked all the way down. */
	for (size_t i = 0; rc >= 0 && i < sizeof(state_dirs) / sizeof(state_dirs[0]); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, state_dirs[i]);
		failed = sub;
		rc = safedir_open(acct, dir, state_dirs[i], SAFEDIR_CREATE);
		if (rc >= 0)
			close(rc);
	}
	if (rc == -EPERM || rc == -ENOTDIR) {
		refuse_cache_dir(failed, rc);
	} else if (rc < 0) {
		log_msg(LOG_WARNING, "PDF cache %s: %s; keeping PDFs in memory", failed,
			log_strerror(-rc));
	} else {
		*out = dir;
		dir = NULL;
	}
	if (acct >= 0)
		close(acct);
	if (basefd >= 0)
		close(basefd);
	free(dir);
	return rc == -EPERM || rc == -ENOTDIR ? -1 : 0;
}

/* "512M" -> bytes; -1 when it is not a size. */
static off_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	default: break;
	}
	return *end || v > 9e18 ? -1 : (off_t)v;
}

/* ---- signals ------------------------------------------------------------------- */

static void *sighup_main(void *arg)
{
	struct mount *fs = arg;
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;)
		if (sigwait(&set, &sig) == 0 && sig == SIGHUP)
			fs_refresh(fs);
	return NULL;
}

/* ---- main ---------------------------------------------------------------------- */

static const char *check_failure(int rc)
{
	switch (-rc) {
	case EACCES:
		return "the service refused the credentials";
	case EAGAIN:
		return "the hourly API budget is spent; try again later";
	case EHOSTUNREACH:
	case ETIMEDOUT:
	case ECONNRESET:
		return "cannot reach the service";
	default:
		return "the service did not answer as expected";
	}
}

/* Everything one run of the daemon holds; daemon_free releases it. */
struct daemon {
	struct fuse_args args;
	struct fuse_cmdline_opts fopts;
	struct options o;
	off_t pdf_max;
	char *username, *pdf_dir, *journal_dir, *real_mnt;
	int state_lock; /* the account's state/lock, held for the mount's life; -1: none */
	struct fuse_session *se;
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct persist *persist;
	struct deleted *deleted;
	struct times *times;
	struct events *events;
	struct mount *fs;
	struct who_mount *who;
	struct desktop *desktop;
	struct prefetch *prefetch;
	pthread_t sighup_thread;
	bool sighup_started, mounted;
};

/* Whether a mount whose check call failed with @rc starts offline: when the
 * service could not be reached (no answer: refused, DNS, timeout, a dropped
 * connection; or a 5xx after the retries) and there are listings on disk to
 * serve.  Refused credentials (401/403) and a spent budget still refuse the
 * mount; so does an unreachable service with nothing kept (a first mount, a
 * mistyped URL, -o nodiskcache), which would show only errors. */
static bool may_start_offline(struct daemon *d, int rc)
{
	struct api_stats as;
	api_get_stats(d->api, &as);
	if (rc == -EACCES || rc == -EAGAIN || (as.last_status > 0 && as.last_status < 500))
		return false;
	return cache_listings_loaded(d->cache) > 0;
}

/* The languages countrylist/<lang> is known in (two public clients use these). */
static bool lang_known(const char *s, size_t len)
{
	static const char *const langs[] = {"nl", "en", "de", "fr", "es"};
	for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++)
		if (len == strlen(langs[i]) && !strncmp(s, langs[i], len))
			return true;
	return false;
}

/* countrylist's language into @buf: -o lang, else the language of $LANG
 * ("de_DE.UTF-8": de) when the service knows it, else "" (its own). */
static void lang_of(const struct options *o, char *buf, size_t len)
{
	const char *env = getenv("LANG"); /* NOLINT(concurrency-mt-unsafe): no thread yet */
	const char *s = o->lang ? o->lang : env ? env : "";
	size_t n = strcspn(s, "_.@");
	buf[0] = '\0';
	if (lang_known(s, n) && n < len)
		snprintf(buf, len, "%.*s", (int)n, s);
}

/* Options and arguments: 0 to go on, 1 when done (--help, --version), -1 on
 * an error already said. */
static int parse_args(struct daemon *d, int argc, char **argv)
{
	struct options *o = &d->o;
	/* mount(8)'s shape: `factuurfs SOURCE MOUNTPOINT` (see take_source). */
	const char *source = take_source(&argc, argv);
	d->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(&d->args, o, option_spec, opt_proc) != 0)
		return -1;
	if (source && !o->profile)
		o->profile = source_profile(source);
	/* ... and shown as the mount's source, as mount(8) and `mount -a` expect. */
	if (source && *source && !strpbrk(source, ",\\ \t\n")) {
		char *fsname;
		if (asprintf(&fsname, "-ofsname=%s,subtype=factuurfs", source) < 0)
			return -1;
		int rc = fuse_opt_add_arg(&d->args, fsname);
		free(fsname);
		if (rc != 0)
			return -1;
	}
	if (fuse_parse_cmdline(&d->args, &d->fopts) != 0)
		return -1;
	if (d->fopts.show_help) {
		/* Our own words for libfuse's options too: its help lists
		 * allow_other a second time, and options we do not offer. */
		usage(argv[0]);
		return 1;
	}
	if (d->fopts.show_version) {
		/* The commit is known in a build from a git checkout (meson's vcs_tag). */
		printf("factuurfs %s%s%s%s\nlibfuse %s\n", FACTUURFS_VERSION,
		       *version_commit ? " (git " : "", version_commit,
		       *version_commit ? ")" : "", fuse_pkgversion());
		/* Ahead of what fusermount3, a child, prints to the same pipe. */
		(void)fflush(stdout); /* nothing to do if it fails: the lines follow anyway */
		fuse_lowlevel_version();
		return 1;
	}
	if (o->apikey_on_cmdline) {
		/* Never echo it back. */
		credentials_wipe(o->apikey_on_cmdline);
		o->apikey_on_cmdline = NULL;
		fprintf(stderr, "factuurfs: -o apikey= is refused (the command line is visible to "
				"every user): use $FACTUURSTUREN_APIKEY or -o apikey_file=\n");
		return -1;
	}
	if (!d->fopts.mountpoint) {
		fprintf(stderr, "factuurfs: no mount point given (see %s --help)\n", argv[0]);
		return -1;
	}
	if (!(o->ttl >= 0) || !(o->timeout > 0) || o->page_size < 1) {
		fprintf(stderr, "factuurfs: ttl must be >= 0, timeout > 0 and page_size >= 1\n");
		return -1;
	}
	if (o->paging && cache_paging_parse(o->paging) < 0) {
		fprintf(stderr, "factuurfs: paging=%s: use both, offset, start or all\n", o->paging);
		return -1;
	}
	if (o->prefetch < 0 && o->prefetch != PREFETCH_AUTO) {
		fprintf(stderr, "factuurfs: prefetch must be >= 0 (calls an hour; 0: only when "
				"factuurfs fetch asks)\n");
		return -1;
	}
	if (o->lang && !lang_known(o->lang, strlen(o->lang))) {
		fprintf(stderr, "factuurfs: lang=%s: the service knows nl, en, de, fr and es\n",
			o->lang);
		return -1;
	}
	d->pdf_max = o->cache_max ? parse_size(o->cache_max) : (off_t)1 << 30;
	if (d->pdf_max < 0) {
		fprintf(stderr, "factuurfs: cache_max=%s is not a size (like 512M or 2G)\n",
			o->cache_max);
		return -1;
	}
	if (!o->url && !(o->url = strdup(DEFAULT_URL)))
		return -1;
	/* The kernel checks the modes (0600/0700) itself: needed for them to
	 * mean anything under -o allow_other, and it spares every ACCESS call. */
	return fuse_opt_add_arg(&d->args, "-odefault_permissions") != 0 ? -1 : 0;
}

/* The process: steady memory, and the key kept out of reach. */
static void harden(void)
{
	/* glibc gives each busy thread an arena of its own and keeps what it
	 * frees: with FUSE's worker threads the resident size crept up under
	 * load long after the cache stopped growing.  Two arenas keep it flat
	 * (test_load.py measures it) at no cost visible in the benchmark. */
	mallopt(M_ARENA_MAX, 2); /* NOLINT(concurrency-mt-unsafe): no thread yet */
	/* The key will be in this process's memory: no core dump may carry it
	 * to disk, and no other process of the user may read it through
	 * ptrace or /proc/PID/mem. */
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
#ifndef __SANITIZE_ADDRESS__
	/* (LeakSanitizer ptraces its own process: not in ASan builds.) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

/* "<account dir>/@name" (malloc'd), NULL on ENOMEM or without a disk cache. */
static char *account_path(const struct daemon *d, const char *name)
{
	char *path = NULL;
	if (!d->pdf_dir || asprintf(&path, "%s/%s", d->pdf_dir, name) < 0)
		return NULL;
	return path;
}

/* The account's state/ (listings, unsaved texts) is one mount's at a time: a
 * second mount of the account would restore the first one's unsaved texts
 * and race its writes.  0 when this mount holds it; else it keeps both in
 * memory, as with -o nodiskcache (the PDFs are still shared: each is written
 * whole under its own name). */
static int lock_state(struct daemon *d)
{
	char *state = account_path(d, "state");
	int dirfd = state ? safedir_open(AT_FDCWD, NULL, state, 0) : -ENOMEM;
	int rc = dirfd < 0 ? dirfd : diskfile_lock(dirfd, "lock");
	if (dirfd >= 0)
		close(dirfd);
	if (rc >= 0) {
		d->state_lock = rc;
		rc = 0;
	} else if (rc == -EWOULDBLOCK) {
		log_msg(LOG_WARNING, "%s: another mount of this account holds it; this one keeps "
			"its listings and unsaved texts in memory only", state);
	} else {
		log_msg(LOG_WARNING, "%s/lock: %s; listings and unsaved texts are kept in memory "
			"only", state ? state : d->pdf_dir, rc == -EBADMSG ? "not a file of ours"
			: log_strerror(-rc));
	}
	free(state);
	return rc;
}

/* The state kept on disk, under the lock: the listings (store/persist.h) and
 * the journal's directory (ns/journal.h: opened after the check). */
static void open_state(struct daemon *d)
{
	char *listings = account_path(d, "state/listings");
	int rc = listings ? persist_new(&d->persist, listings) : -ENOMEM;
	if (rc < 0)
		log_msg(LOG_WARNING, "%s: %s; listings are kept in memory only",
			listings ? listings : d->pdf_dir, log_strerror(-rc));
	free(listings);
	d->journal_dir = account_path(d, "state/journal");
}

/* The modules of the mount over the account's API client @api_cfg (its key
 * is wiped by the caller): the disk state beside the PDFs, the caches, the
 * prefetch and the filesystem's view of them.  0, or -1. */
static int open_modules(struct daemon *d, const struct api_config *acfg)
{
	struct options *o = &d->o;
	int rc = api_new(&d->api, acfg);
	if (rc < 0) {
		fprintf(stderr, "factuurfs: bad url '%s': %s\n", o->url, log_strerror(-rc));
		return -1;
	}
	if (!o->nodiskcache && open_cache_dir(o, d->username, &d->pdf_dir) < 0)
		return -1;
	if (d->pdf_dir) {
		/* The reserve's count lives beside the account's PDFs. */
		char *bg = account_path(d, "background-calls");
		if (bg && api_background_persist(d->api, bg) < 0)
			log_msg(LOG_WARNING, "%s: the thumbnail reserve counts per mount", bg);
		free(bg);
		if (lock_state(d) == 0)
			open_state(d);
	}
	struct cache_config ccfg = {
		.ttl = o->ttl,
		.page_size = o->page_size,
		.paging = o->paging ? (enum cache_paging)cache_paging_parse(o->paging)
				    : CACHE_PAGING_BOTH,
		.events = d->events,
		.started = fs_started(d->fs),
		.changed = fs_listing_changed,
		.ud = d->fs,
		.persist = d->persist,
		.refresh_behind = true,
	};
	lang_of(o, ccfg.lang, sizeof(ccfg.lang));
	struct pdfstore_config pcfg = {
		.dir = d->pdf_dir, .max = d->pdf_max, .archive = !o->noarchive, .api = d->api,
		.events = d->events,
	};
	if (cache_new(&d->cache, d->api, &ccfg) < 0 || pdfstore_new(&d->pdfs, &pcfg) < 0)
		return -1;
	if (o->noarchive) {
		log_msg(LOG_WARNING, "noarchive: invoices' PDFs are a cache like the rest: "
			"beyond cache_max the least recently used are removed; keep the "
			"invoices you must keep (seven years) elsewhere");
	} else if (!d->pdf_dir) {
		log_msg(LOG_WARNING, "archive: off, the PDFs would not be kept (no disk cache)");
	} else {
		struct prefetch_config fcfg = {
			.per_hour = o->prefetch, .thumbnail_share = o->background_calls,
			.hour = clock_hour(), .api = d->api, .cache = d->cache, .pdfs = d->pdfs,
		};
		if (prefetch_new(&d->prefetch, &fcfg) < 0)
			return -1;
	}
	struct status_sources ssrc = {
		.url = o->url, .username = d->username, .mounted = time(NULL), .api = d->api,
		.cache = d->cache, .pdfs = d->pdfs, .events = d->events, .prefetch = d->prefetch,
		.journal_dir = d->journal_dir,
	};
	return fs_set_stores(d->fs, d->cache, d->pdfs, d->api, d->events, &ssrc) < 0 ? -1 : 0;
}

/* The one call at mount, or none (-o offline): 0 online, 1 offline (the
 * state on disk, read-only, until the service answers), -1 with the reason
 * said. */
static int check_account(struct daemon *d)
{
	struct options *o = &d->o;
	if (o->offline) {
		/* -o offline: the state on disk, and not one call (no probe). */
		log_msg(LOG_INFO, "offline (-o offline): %zu listings kept on disk, read-only",
			cache_listings_loaded(d->cache));
		return api_set_offline(d->api, "-o offline", NULL) < 0 ? -1 : 1;
	}
	/* It checks the credentials, and its answer is balance.json's content,
	 * so it is not wasted.  Asked even when a fresh balance was kept on
	 * disk: credentials are checked at every mount. */
	const struct schema_collection *balance = schema_find("balance");
	struct cache_listing *l = NULL;
	int rc = cache_listing_check(d->cache, balance, &l);
	cache_listing_unref(l);
	if (rc == 0)
		return 0;
	bool offline = may_start_offline(d, rc);
	char *last_error = events_last_error(d->events);
	if (offline)
		fprintf(stderr, "factuurfs: %s: %s (%s); mounting offline, read-only, from the "
				"%zu listings kept on disk, until the service answers\n",
			o->url, check_failure(rc), last_error ? last_error : log_strerror(-rc),
			cache_listings_loaded(d->cache));
	else
		fprintf(stderr, "factuurfs: %s: %s (%s)\n", o->url, check_failure(rc),
			last_error ? last_error : log_strerror(-rc));
	free(last_error);
	if (!offline)
		return -1;
	/* The probe asks for the check's own path: its 2xx says the service
	 * and the credentials are back. */
	return api_set_offline(d->api, "cannot reach the service", "balance") < 0 ? -1 : 1;
}

/* The account: credentials, the modules of the mount, the check, and the
 * unsaved texts of earlier mounts.  0, or -1 with the reason said. */
static int open_account(struct daemon *d)
{
	struct options *o = &d->o;
	char *apikey = NULL;
	int rc = -1;
	struct credentials_opts co = {
		.username = o->username, .apikey_file = o->apikey_file, .profile = o->profile,
	};
	if (credentials_get(&co, &d->username, &apikey) < 0)
		return -1;
	if (events_new(&d->events) < 0 || !(d->fs = fs_new(o->ttl, o->readonly)))
		goto out;
	/* Creating the session first rejects unknown options before any call. */
	d->se = fuse_session_new(&d->args, &fs_ops, sizeof(fs_ops), d->fs);
	if (!d->se)
		goto out;
	struct api_config acfg = {
		.url = o->url,
		.username = d->username,
		.apikey = apikey,
		.connect_timeout_ms = (long)(o->timeout < 10 ? o->timeout * 1000 : 10000),
		.timeout_ms = (long)(o->timeout * 1000),
		.insecure = o->insecure,
		.cainfo = o->cainfo,
		.background_per_hour = o->background_calls,
	};
	rc = open_modules(d, &acfg);
	/* The API client keeps its own copy: this one goes at once. */
	credentials_wipe(apikey);
	apikey = NULL;
	if (rc < 0 || check_account(d) < 0) {
		rc = -1;
		goto out;
	}
	/* Unsaved texts of earlier mounts (refused, unanswered, waiting) show
	 * again, offline too (read-only then): journaled beside the PDFs, none
	 * with -o nodiskcache. */
	if (d->journal_dir && (rc = fs_journal_open(d->fs, d->journal_dir)) < 0)
		log_msg(LOG_WARNING, "journal %s: %s; unsaved texts are kept in memory only",
			d->journal_dir, log_strerror(-rc));
	/* Records deleted through the mount, kept 30 days beside the state (none
	 * with -o nodiskcache). */
	char *deleted = account_path(d, "state/deleted");
	if (deleted && (rc = deleted_open(&d->deleted, deleted)) < 0)
		log_msg(LOG_WARNING, "%s: %s; deleted records are not kept", deleted,
			log_strerror(-rc));
	free(deleted);
	fs_set_deletes(d->fs, d->deleted, o->allow_invoice_delete);
	/* Record files' times, kept under the state's lock (in memory without it). */
	char *times = d->journal_dir ? account_path(d, "state/times") : NULL;
	if ((rc = times_open(&d->times, times)) < 0)
		log_msg(LOG_WARNING, "%s: %s; file times are kept in memory only", times,
			log_strerror(-rc));
	free(times);
	fs_set_times(d->fs, d->times);
	rc = 0;
out:
	credentials_wipe(apikey);
	return rc;
}

/* Mounts, goes to the background (unless -f) and serves until unmounted.
 * The exit status: 0 after a clean unmount. */
static int serve(struct daemon *d)
{
	struct fuse_cmdline_opts *f = &d->fopts;
	int rc, ret;
	/* Resolved before mounting: after, it would ask this very filesystem. */
	d->real_mnt = realpath(f->mountpoint, NULL);
	if (fuse_session_mount(d->se, f->mountpoint) != 0)
		return 1;
	d->mounted = true;
	if (!d->real_mnt || who_mount_new(&d->who, d->real_mnt) < 0)
		log_msg(LOG_WARNING, "%s not found in /proc/self/mountinfo: programs that "
			"fstat() an unfetched PDF see its placeholder size", f->mountpoint);
	if (fuse_set_signal_handlers(d->se) != 0 || fuse_daemonize(f->foreground) != 0)
		return 1;
	/* Threads only after daemonizing: fork keeps just the calling thread. */
	if ((rc = persist_start(d->persist)) < 0 || (rc = api_start(d->api)) < 0) {
		log_msg(LOG_ERR, "cannot start a thread: %s", log_strerror(-rc));
		return 1;
	}
	rc = fs_set_session(d->fs, d->se, d->who);
	d->who = NULL;
	if (rc < 0)
		return 1;
	if (!d->o.nonotify && (rc = desktop_start(&d->desktop)) < 0)
		log_msg(LOG_WARNING, "no desktop notifications: %s", log_strerror(-rc));
	events_on_refusal(d->events, desktop_notify, d->desktop);
	if (d->prefetch && (rc = prefetch_start(d->prefetch)) < 0)
		log_msg(LOG_WARNING, "no prefetch: %s", log_strerror(-rc));
	if (pthread_create(&d->sighup_thread, NULL, sighup_main, d->fs) == 0)
		d->sighup_started = true;
	log_msg(LOG_INFO, "mounted %s for %s on %s", d->o.url, d->username, f->mountpoint);
	sd_notify(0, "READY=1");
	if (f->singlethread) {
		ret = fuse_session_loop(d->se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, f->clone_fd);
		/* UINT_MAX: not given on the command line, keep libfuse's default. */
		if (f->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, f->max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, f->max_threads);
		ret = fuse_session_loop_mt(d->se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	sd_notify(0, "STOPPING=1");
	fuse_remove_signal_handlers(d->se);
	return ret != 0;
}

static void daemon_free(struct daemon *d)
{
	/* Its calls go through the cache and the pdfstore: it ends first. */
	prefetch_stop(d->prefetch);
	if (d->sighup_started) {
		pthread_cancel(d->sighup_thread);
		pthread_join(d->sighup_thread, NULL);
	}
	/* A refresh running behind its readers tells the FUSE layer what changed when it
	 * lands: it ends before that layer goes. */
	cache_quiesce(d->cache);
	/* The workers are done: nothing queues a notification any more. */
	events_on_refusal(d->events, NULL, NULL);
	desktop_stop(d->desktop);
	/* The notifier writes to the session's descriptor: it stops before the unmount
	 * closes that (ThreadSanitizer saw its writev race the close). */
	fs_end_session(d->fs);
	if (d->mounted)
		fuse_session_unmount(d->se);
	if (d->se)
		fuse_session_destroy(d->se);
	fs_free(d->fs);
	prefetch_free(d->prefetch);
	who_mount_free(d->who);
	free(d->real_mnt);
	pdfstore_free(d->pdfs);
	cache_free(d->cache);
	persist_free(d->persist); /* writes what is still queued */
	deleted_free(d->deleted);
	times_free(d->times); /* writes what was decided */
	events_free(d->events);
	api_free(d->api);
	free(d->pdf_dir);
	free(d->journal_dir);
	if (d->state_lock >= 0)
		close(d->state_lock);
	free(d->username);
	free(d->fopts.mountpoint);
	free(d->o.url);
	free(d->o.username);
	free(d->o.apikey_file);
	free(d->o.profile);
	free(d->o.cache_dir);
	free(d->o.cainfo);
	free(d->o.cache_max);
	free(d->o.lang);
	free(d->o.paging);
	fuse_opt_free_args(&d->args);
}

int main(int argc, char *argv[])
{
	struct daemon d = {.o = {.ttl = 60, .timeout = 30, .page_size = 10000,
				 .background_calls = 50, .prefetch = PREFETCH_AUTO},
			   .state_lock = -1};
	sigset_t hup;
	int ret = 1;

	/* `factuurfs status|refresh MOUNTPOINT`: talk to a running mount; `factuurfs
	 * probe`: ask the service, with the key in memory as a mount has it. */
	if (cli_is_command(argc, argv)) {
		if (cli_needs_key(argv))
			harden();
		return cli_main(argc, argv);
	}
	if (argc == 2 && !strcmp(argv[1], "--list-options")) {
		list_options();
		return 0;
	}
	/* Every thread started from here on leaves SIGHUP to sighup_main. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);

	int rc = parse_args(&d, argc, argv);
	if (rc == 0) {
		log_init(d.fopts.foreground, d.fopts.debug);
		harden();
		if (open_account(&d) == 0)
			ret = serve(&d);
	} else if (rc > 0) {
		ret = 0;
	}
	daemon_free(&d);
	return ret;
}
