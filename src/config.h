/* config: a mount's command line.  One table of options (config.c) gives the
 * parse (fuse_opt), `--help`, `--list-options` (for shell completion) and the
 * checks of what was given, so that none of them can name an option the others
 * do not; `factuurfs probe` parses the rows of it that say which account and
 * how to reach it.  Nothing is built here: daemon.c builds the mount from a
 * config.
 */
#ifndef FACTUURFS_CONFIG_H
#define FACTUURFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "ns/inode.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

/* What the command line says; config_free releases it. */
struct config {
	/* -o options, as given: strings malloc'd (NULL: not given), numbers
	 * holding their defaults until given. */
	char *url;             /* the default filled in by config_parse */
	char *username;
	char *apikey_file;
	char *profile;         /* also from SOURCE, as mount(8) passes it */
	char *cache_dir;
	char *cainfo;
	char *apikey_on_cmdline; /* refused: argv is world-readable */
	char *cache_max;       /* "512M": bytes of PDFs kept */
	int nodiskcache;
	double ttl;
	double timeout;
	long page_size;
	char *paging;          /* how listings page: both, offset, start, all */
	long background_calls; /* API calls per hour thumbnailers and indexers may cause */
	int insecure;
	int readonly;          /* -o ro (also passed on to the kernel) */
	int nonotify;          /* no desktop notification of refusals */
	int offline;           /* no call at all: the state on disk, read-only */
	long prefetch;         /* the archive's calls an hour; PREFETCH_AUTO; 0: factuurfs fetch only */
	int noarchive;         /* no archive: no prefetch, invoices' PDFs evicted like the rest */
	char *lang;            /* countrylist's language: nl, en, de, fr, es; else $LANG's */
	int allow_invoice_delete; /* rm of a sent invoice reaches the service */

	/* Derived by config_parse. */
	off_t pdf_max;         /* cache_max in bytes */
	int paging_how;        /* enum cache_paging */

	/* libfuse's: what fuse_parse_cmdline took, and the arguments the
	 * session is made from (every one of them known to libfuse). */
	struct fuse_cmdline_opts fuse;
	struct fuse_args args;
};

/* Parses and checks argv: 0 to mount, 1 when done (--help, --version,
 * --list-options printed), -1 after saying what is wrong on stderr.  The
 * caller config_free's @c in every case. */
int config_parse(struct config *c, int argc, char **argv);

/* `factuurfs probe`'s command line (argv[1] is "probe"): the options of the
 * table that say which account and how to reach it, and --json (*@json).  0;
 * 2 when an argument is no probe's (said: the caller shows the usage); 1 for
 * another error (said).  The caller config_free's @c in every case. */
int config_parse_probe(struct config *c, int argc, char **argv, bool *json);
/* The probe's options as its usage line names them: "url=,username=,...". */
void config_probe_options(FILE *f);

/* countrylist's language into @buf: -o lang, else the language of $LANG
 * ("de_DE.UTF-8": de) when the service knows it, else "" (its own). */
void config_lang(const struct config *c, char *buf, size_t len);

void config_free(struct config *c);

#endif
