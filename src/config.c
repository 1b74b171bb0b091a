/* config: the option table and what is made of it (see config.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "feat/prefetch.h"
#include "store/cache.h"
#include "version.h"

#define DEFAULT_URL CREDENTIALS_URL
#define RC_NAME CREDENTIALS_RC

enum { KEY_RO = 1 };

/* Who parses an option. */
enum row_kind {
	ROW_OURS,    /* fuse_opt_parse, into struct config */
	ROW_ALIAS,   /* the same, under a second name: neither shown nor listed */
	ROW_REFUSED, /* parsed only to be refused (-o apikey=): neither shown nor listed */
	ROW_LIBFUSE, /* libfuse's own (fuse_parse_cmdline, the session, the kernel) */
};

/* One option: how it is parsed, and what --help and --list-options say of it. */
struct config_option {
	/* fuse_opt's template ("url=%s", "insecure"); NULL for libfuse's. */
	const char *templ;
	/* With a template that takes a value: the value's name in --help ("URL").
	 * For libfuse's: every spelling, as --help writes them ("-d, -o debug"). */
	const char *arg;
	unsigned long offset; /* in struct config; -1U (as FUSE_OPT_KEY): @key instead */
	int key;              /* fuse_opt's key, passed to opt_proc */
	enum row_kind kind;
	bool general;         /* under "General options" rather than factuurfs's */
	bool probe;           /* also `factuurfs probe`'s: which account, how to reach it */
	const char *help;     /* --help's words, a '\n' where its line breaks */
};

#define ROW(t, field, a, kind, probe, h) {t, a, offsetof(struct config, field), 0, kind, false, probe, h}
#define OPT(t, field, a, h) ROW(t, field, a, ROW_OURS, false, h)
/* One of `factuurfs probe`'s too. */
#define PROBE(t, field, a, h) ROW(t, field, a, ROW_OURS, true, h)
/* (The alias and the refused key are the probe's as well as the mount's.) */
#define ALIAS(t, field) ROW(t, field, NULL, ROW_ALIAS, true, NULL)
#define REFUSED(t, field) ROW(t, field, NULL, ROW_REFUSED, true, NULL)
#define KEY(t, k, h) {t, NULL, -1U, k, ROW_OURS, false, false, h}
#define LIBFUSE(names, h) {NULL, names, 0, 0, ROW_LIBFUSE, false, false, h}
#define GENERAL(names, h) {NULL, names, 0, 0, ROW_LIBFUSE, true, false, h}

/* In --help's order. */
static const struct config_option options[] = {
	PROBE("url=%s", url, "URL", "API base URL (default " DEFAULT_URL ")"),
	PROBE("username=%s", username, "NAME",
	    "account login (else $FACTUURSTUREN_USERNAME or the rc file)"),
	PROBE("apikey_file=%s", apikey_file, "FILE",
	    "read the API key from FILE (else $FACTUURSTUREN_APIKEY\nor the rc file)"),
	PROBE("profile=%s", profile, "SECTION",
	    "section of ./" RC_NAME " or ~/" RC_NAME "\n(default: default)"),
	OPT("ttl=%lf", ttl, "SECONDS", "how long a listing stays fresh (default 60)"),
	PROBE("timeout=%lf", timeout, "SECONDS",
	    "the longest one API call may take, retries\nincluded (default 30)"),
	OPT("page_size=%ld", page_size, "N", "records asked for per listing page (default 10000)"),
	OPT("paging=%s", paging, "HOW",
	    "where a page starts: both (offset= and start=, the\n"
	    "default), offset, start, or all (count=-1, the\n"
	    "whole list in one answer); factuurfs probe says\n"
	    "which the service honours"),
	OPT("background_calls=%ld", background_calls, "N",
	    "API calls per hour that thumbnailers and indexers\n"
	    "may cause by reading PDFs; the rest of the budget\n"
	    "is kept for you (default 50, -1: no limit)"),
	OPT("cache_dir=%s", cache_dir, "DIR", "PDF cache (default $XDG_CACHE_HOME/factuurfs)"),
	OPT("cache_max=%s", cache_max, "SIZE",
	    "PDFs kept but the archive's, least recently used\n"
	    "dropped first (default 1G; K, M, G suffixes)"),
	OPT("nodiskcache", nodiskcache, NULL,
	    "keep PDFs and listings in memory only (PDFs\n"
	    "within cache_max), and journal no unsaved text"),
	OPT("prefetch=%ld", prefetch, "N",
	    "the archive: fetch every invoice's PDF not on disk\n"
	    "yet in the background, newest first, at most N\n"
	    "calls an hour (default: what the budget spares;\n"
	    "0: only when factuurfs fetch asks)"),
	OPT("noarchive", noarchive, NULL,
	    "no archive: no PDF fetched unless read, and\n"
	    "invoices' PDFs dropped beyond cache_max too"),
	OPT("lang=%s", lang, "LANG",
	    "the language of countrylist/: nl, en, de, fr or es\n"
	    "(default: from $LANG, else the service's own)"),
	OPT("nonotify", nonotify, NULL,
	    "no desktop notification when a save or rm is\n"
	    "refused (close(2) still fails, the log and the\n"
	    "status file still say why)"),
	OPT("allow_invoice_delete", allow_invoice_delete, NULL,
	    "let rm delete an invoice that was sent (refused\n"
	    "otherwise: a sent invoice is corrected with a\n"
	    "credit invoice)"),
	OPT("offline", offline, NULL,
	    "no API call at all: serve what is kept on disk,\n"
	    "read-only; a mount that cannot reach the service\n"
	    "starts so too, and goes online when it answers"),
	PROBE("cafile=%s", cainfo, "FILE",
	    "trust the CA certificates in FILE (PEM) instead of\n"
	    "the system's, e.g. for a private CA"),
	ALIAS("cainfo=%s", cainfo), /* the first name it had; kept working */
	PROBE("insecure", insecure, NULL,
	    "do not verify the server's TLS certificate (never\n"
	    "for the real service)"),
	LIBFUSE("-o allow_other", "let other users into the mount (off unless given)"),
	/* Noted here, and passed on to the kernel as well (opt_proc). */
	KEY("ro", KEY_RO,
	    "read-only: the kernel refuses every change, and\n"
	    "close(2) costs no round trip to the daemon"),
	REFUSED("apikey=%s", apikey_on_cmdline),
	GENERAL("-h, --help", "print this help"),
	GENERAL("-V, --version", "print the versions of factuurfs and libfuse"),
	GENERAL("-f", "stay in the foreground"),
	GENERAL("-d, -o debug", "print every FUSE request (implies -f)"),
	GENERAL("-s", "one thread only"),
	GENERAL("-o max_threads=N", "at most N threads answer the kernel (default 10)"),
	GENERAL("-o max_idle_threads=N", "idle threads kept (default: libfuse's)"),
	GENERAL("-o clone_fd", "a /dev/fuse descriptor per thread"),
	GENERAL("-o auto_unmount", "unmount when factuurfs ends"),
	GENERAL("-o allow_root", "let root in (not other users)"),
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* ---- what is made of the table ----------------------------------------------------- */

/* fuse_opt's table of the rows parsed here (only the probe's with @probe), into
 * @spec (NOPTIONS + 2 entries: room for one more before the end); their number. */
static size_t parse_spec(struct fuse_opt *spec, bool probe)
{
	size_t n = 0;
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &options[i];
		if (o->kind != ROW_LIBFUSE && (o->probe || !probe))
			spec[n++] = (struct fuse_opt){o->templ, o->offset, o->offset == -1U ? o->key : 1};
	}
	spec[n] = (struct fuse_opt)FUSE_OPT_END;
	return n;
}

/* The length of the name of a templated option: "url=" of "url=%s", all of "ro". */
static int templ_name_len(const char *templ)
{
	const char *eq = strchr(templ, '=');
	return (int)(eq ? eq + 1 - templ : (ptrdiff_t)strlen(templ));
}

/* One row of --help: its spellings in the left column, its words beside. */
static void usage_row(const struct config_option *o)
{
	char left[64];
	if (o->templ)
		snprintf(left, sizeof(left), "-o %.*s%s", templ_name_len(o->templ), o->templ,
			 o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "%s", o->arg);
	/* The words start in column 27, or two spaces after a longer name. */
	int pad = strlen(left) <= 21 ? 23 - (int)strlen(left) : 2;
	printf("    %s%*s", left, pad, "");
	for (const char *p = o->help; *p;) {
		size_t n = strcspn(p, "\n");
		printf("%.*s\n", (int)n, p);
		p += n;
		if (*p && *++p)
			printf("%27s", "");
	}
}

static void usage_section(const char *title, bool general)
{
	printf("%s\n", title);
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].general == general && options[i].help)
			usage_row(&options[i]);
	printf("\n");
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
	       "and \"none\" name no profile. An explicit -o profile= wins.\n\n",
	       prog, prog, prog, prog, prog);
	usage_section("factuurfs options:", false);
	usage_section("General options:", true);
}

/* `factuurfs --list-options` (not in --help): every option --help shows, one a
 * line, for shell completion: "-o name=" takes a value, "-o name" does not. */
static void list_options(void)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &options[i];
		if (o->kind == ROW_ALIAS || o->kind == ROW_REFUSED)
			continue;
		if (o->templ) {
			printf("-o %.*s\n", templ_name_len(o->templ), o->templ);
			continue;
		}
		/* "-d, -o debug": one line each; "-o max_threads=N": "-o max_threads=". */
		for (const char *p = o->arg; *p;) {
			size_t n = strcspn(p, ",");
			const char *eq = memchr(p, '=', n);
			printf("%.*s\n", (int)(eq ? eq + 1 - p : (ptrdiff_t)n), p);
			p += n;
			p += strspn(p, ", ");
		}
	}
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

/* ---- parsing and checking --------------------------------------------------------- */

/* "ro" is noted here and passed on to the kernel as well. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct config *c = data;
	(void)arg;
	(void)outargs;
	if (key == KEY_RO)
		c->readonly = 1;
	return 1;
}

/* Ours, then libfuse's command line.  0, or -1 (said). */
static int parse_argv(struct config *c, int argc, char **argv)
{
	struct fuse_opt spec[NOPTIONS + 2];
	parse_spec(spec, false);
	/* mount(8)'s shape: `factuurfs SOURCE MOUNTPOINT` (see take_source). */
	const char *source = take_source(&argc, argv);
	c->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(&c->args, c, spec, opt_proc) != 0)
		return -1;
	if (source && !c->profile)
		c->profile = source_profile(source);
	/* ... and shown as the mount's source, as mount(8) and `mount -a` expect. */
	if (source && *source && !strpbrk(source, ",\\ \t\n")) {
		char *fsname;
		if (asprintf(&fsname, "-ofsname=%s,subtype=factuurfs", source) < 0)
			return -1;
		int rc = fuse_opt_add_arg(&c->args, fsname);
		free(fsname);
		if (rc != 0)
			return -1;
	}
	return fuse_parse_cmdline(&c->args, &c->fuse) != 0 ? -1 : 0;
}

/* --help and --version: 1 when one was answered, else 0. */
static int answer(const struct config *c, const char *prog)
{
	if (c->fuse.show_help) {
		/* Our own words for libfuse's options too: its help lists
		 * allow_other a second time, and options we do not offer. */
		usage(prog);
		return 1;
	}
	if (c->fuse.show_version) {
		/* The commit is known in a build from a git checkout (meson's vcs_tag). */
		printf("factuurfs %s%s%s%s\nlibfuse %s\n", FACTUURFS_VERSION,
		       *version_commit ? " (git " : "", version_commit,
		       *version_commit ? ")" : "", fuse_pkgversion());
		/* Ahead of what fusermount3, a child, prints to the same pipe. */
		(void)fflush(stdout); /* nothing to do if it fails: the lines follow anyway */
		fuse_lowlevel_version();
		return 1;
	}
	return 0;
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

/* -o apikey= is refused (the command line is visible to every user), and never
 * echoed back.  0, or -1 (said). */
static int refuse_apikey(struct config *c)
{
	if (!c->apikey_on_cmdline)
		return 0;
	credentials_wipe(c->apikey_on_cmdline);
	c->apikey_on_cmdline = NULL;
	fprintf(stderr, "factuurfs: -o apikey= is refused (the command line is visible to "
			"every user): use $FACTUURSTUREN_APIKEY or -o apikey_file=\n");
	return -1;
}

/* What was given, checked, and what follows from it.  0, or -1 (said). */
static int check(struct config *c, const char *prog)
{
	if (refuse_apikey(c) < 0)
		return -1;
	if (!c->fuse.mountpoint) {
		fprintf(stderr, "factuurfs: no mount point given (see %s --help)\n", prog);
		return -1;
	}
	if (!(c->ttl >= 0) || !(c->timeout > 0) || c->page_size < 1) {
		fprintf(stderr, "factuurfs: ttl must be >= 0, timeout > 0 and page_size >= 1\n");
		return -1;
	}
	c->paging_how = c->paging ? cache_paging_parse(c->paging) : CACHE_PAGING_BOTH;
	if (c->paging_how < 0) {
		fprintf(stderr, "factuurfs: paging=%s: use both, offset, start or all\n", c->paging);
		return -1;
	}
	if (c->prefetch < 0 && c->prefetch != PREFETCH_AUTO) {
		fprintf(stderr, "factuurfs: prefetch must be >= 0 (calls an hour; 0: only when "
				"factuurfs fetch asks)\n");
		return -1;
	}
	if (c->lang && !lang_known(c->lang, strlen(c->lang))) {
		fprintf(stderr, "factuurfs: lang=%s: the service knows nl, en, de, fr and es\n",
			c->lang);
		return -1;
	}
	c->pdf_max = c->cache_max ? parse_size(c->cache_max) : (off_t)1 << 30;
	if (c->pdf_max < 0) {
		fprintf(stderr, "factuurfs: cache_max=%s is not a size (like 512M or 2G)\n",
			c->cache_max);
		return -1;
	}
	if (!c->url && !(c->url = strdup(DEFAULT_URL)))
		return -1;
	/* The kernel checks the modes (0600/0700) itself: needed for them to
	 * mean anything under -o allow_other, and it spares every ACCESS call. */
	return fuse_opt_add_arg(&c->args, "-odefault_permissions") != 0 ? -1 : 0;
}

/* libfuse's messages while the command line is tried: its errors as they are,
 * not the debug lines the real session writes again (-d). */
static void quiet_debug(enum fuse_log_level level, const char *fmt, va_list ap)
{
	if (level < FUSE_LOG_DEBUG)
		(void)vfprintf(stderr, fmt, ap);
}

/* What is left of the command line is libfuse's session's to know (it says which
 * option it does not): a session made from a copy and dropped at once tells, before
 * anything is read or built.  0, or -1 (libfuse said why). */
static int check_libfuse(const struct config *c)
{
	static const struct fuse_lowlevel_ops none;
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	int rc = 0;
	for (int i = 0; rc == 0 && i < c->args.argc; i++)
		rc = fuse_opt_add_arg(&copy, c->args.argv[i]);
	fuse_set_log_func(quiet_debug);
	struct fuse_session *se = rc == 0 ? fuse_session_new(&copy, &none, sizeof(none), NULL)
					  : NULL;
	fuse_set_log_func(NULL); /* libfuse's own again */
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&copy);
	return se ? 0 : -1;
}

static void defaults(struct config *c)
{
	*c = (struct config){.ttl = 60, .timeout = 30, .page_size = 10000,
			     .background_calls = 50, .prefetch = PREFETCH_AUTO};
}

int config_parse(struct config *c, int argc, char **argv)
{
	defaults(c);
	if (argc == 2 && !strcmp(argv[1], "--list-options")) {
		list_options();
		return 1;
	}
	int rc = parse_argv(c, argc, argv);
	if (rc == 0)
		rc = answer(c, argv[0]);
	if (rc == 0)
		rc = check(c, argv[0]);
	if (rc == 0)
		rc = check_libfuse(c);
	return rc;
}

/* ---- `factuurfs probe` ------------------------------------------------------------ */

enum { KEY_JSON = 2 };

/* What fuse_opt_parse fills for the probe: the config first, so that the table's
 * offsets hold. */
struct probe_parse {
	struct config c;
	bool json, bad;
};

/* --json is noted; anything else (a mount's other options, an operand) is refused. */
static int probe_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct probe_parse *p = data;
	(void)outargs;
	if (key == KEY_JSON) {
		p->json = true;
		return 0;
	}
	fprintf(stderr, "factuurfs probe: %s is not an option of probe\n", arg);
	p->bad = true;
	return 0;
}

int config_parse_probe(struct config *c, int argc, char **argv, bool *json)
{
	struct fuse_opt spec[NOPTIONS + 2];
	size_t n = parse_spec(spec, true);
	spec[n] = (struct fuse_opt)FUSE_OPT_KEY("--json", KEY_JSON);
	spec[n + 1] = (struct fuse_opt)FUSE_OPT_END;
	struct probe_parse p = {.json = false};
	defaults(&p.c);
	/* argv[1] ("probe") stands where fuse_opt expects the program's name. */
	struct fuse_args args = FUSE_ARGS_INIT(argc - 1, argv + 1);
	int rc = fuse_opt_parse(&args, &p, spec, probe_proc) != 0 || p.bad ? 2 : 0;
	fuse_opt_free_args(&args);
	*c = p.c;
	*json = p.json;
	if (rc == 0 && refuse_apikey(c) < 0)
		rc = 1;
	if (rc == 0 && !c->url && !(c->url = strdup(DEFAULT_URL)))
		rc = 1;
	return rc;
}

void config_probe_options(FILE *f)
{
	const char *sep = "";
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &options[i];
		if (o->probe && o->kind == ROW_OURS) {
			fprintf(f, "%s%.*s", sep, templ_name_len(o->templ), o->templ);
			sep = ",";
		}
	}
}

void config_lang(const struct config *c, char *buf, size_t len)
{
	const char *env = getenv("LANG"); /* NOLINT(concurrency-mt-unsafe): no thread yet */
	const char *s = c->lang ? c->lang : env ? env : "";
	size_t n = strcspn(s, "_.@");
	buf[0] = '\0';
	if (lang_known(s, n) && n < len)
		snprintf(buf, len, "%.*s", (int)n, s);
}

void config_free(struct config *c)
{
	/* Set when the parse stopped before check() refused it. */
	credentials_wipe(c->apikey_on_cmdline);
	free(c->fuse.mountpoint);
	free(c->url);
	free(c->username);
	free(c->apikey_file);
	free(c->profile);
	free(c->cache_dir);
	free(c->cainfo);
	free(c->cache_max);
	free(c->lang);
	free(c->paging);
	fuse_opt_free_args(&c->args);
	*c = (struct config){0};
}
