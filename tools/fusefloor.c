/* fusefloor: the least a FUSE filesystem can cost on this machine, for
 * scripts/bench.sh to measure factuurfs against in the same run.
 *
 *   fusefloor MOUNTPOINT [N] [flush] [mt] [open] [pdfs]
 *
 * A low-level libfuse filesystem whose one directory holds N files of 640
 * bytes (00000.json ...) served from memory: no backend, nothing computed,
 * every name and attribute cached by the kernel for an hour, and the kernel's
 * no-open and no-opendir modes on, so that opens and closes never reach it.
 * What a warm `cat` or `ls -l` costs on it is FUSE's own price.
 *
 *   N       files (default 10000)
 *   flush   answer FLUSH (with 0): every close() is then a round trip, as on
 *           a writable mount whose close() reports a refused save
 *   mt      libfuse's multithreaded loop (the default is one thread)
 *   open    no no-open: OPEN is answered keep_cache + noflush, so each open
 *           costs a round trip and a RELEASE (a driver that must see opens)
 *   pdfs    beside each file a second one, 00000.pdf, whose attributes are
 *           never cached (timeout 0): each stat of it is a GETATTR round
 *           trip, answered from memory, as a PDF of unknown size on factuurfs
 *
 * It runs in the foreground until unmounted (fusermount3 -u).
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds the kernel keeps what it is told. */
#define FLOOR_FOREVER 3600.0
#define FLOOR_BODY 640

static struct {
	long n;            /* files (of each kind) */
	bool pdfs, see_opens;
	char body[FLOOR_BODY];
} floor_fs = {.n = 10000};

/* Inodes: 1 the root; 2 .. n+1 the .json files; n+2 .. 2n+1 the .pdf files. */
static bool floor_is_pdf(fuse_ino_t ino)
{
	return floor_fs.pdfs && ino >= (fuse_ino_t)floor_fs.n + 2;
}

static bool floor_exists(fuse_ino_t ino)
{
	fuse_ino_t last = (fuse_ino_t)floor_fs.n * (floor_fs.pdfs ? 2 : 1) + 1;
	return ino >= 1 && ino <= last;
}

static void floor_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == 1) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = FLOOR_BODY;
	st->st_blocks = (FLOOR_BODY + 511) / 512;
}

static double floor_timeout(fuse_ino_t ino)
{
	return floor_is_pdf(ino) ? 0 : FLOOR_FOREVER;
}

static void floor_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	if (!floor_fs.see_opens && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT))
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

/* "00042.json" -> 44, "00042.pdf" -> n + 44 (with pdfs); 0 for anything else. */
static fuse_ino_t floor_ino_of(const char *name)
{
	char *end;
	long i = strtol(name, &end, 10);
	if (end != name + 5 || i < 0 || i >= floor_fs.n)
		return 0;
	if (!strcmp(end, ".json"))
		return (fuse_ino_t)i + 2;
	if (floor_fs.pdfs && !strcmp(end, ".pdf"))
		return (fuse_ino_t)(floor_fs.n + i) + 2;
	return 0;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.entry_timeout = FLOOR_FOREVER; /* ino 0: a cached "no such name" */
	if (parent == 1 && (e.ino = floor_ino_of(name)) != 0) {
		e.attr_timeout = floor_timeout(e.ino);
		floor_stat(e.ino, &e.attr);
	}
	fuse_reply_entry(req, &e);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	if (!floor_exists(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	floor_stat(ino, &st);
	fuse_reply_attr(req, &st, floor_timeout(ino));
}

static void floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (!floor_fs.see_opens) {
		fuse_reply_err(req, ENOSYS); /* the kernel's no-open mode from here on */
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void floor_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if (off < 0 || off >= FLOOR_BODY) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > (size_t)(FLOOR_BODY - off))
		size = (size_t)(FLOOR_BODY - off);
	fuse_reply_buf(req, floor_fs.body + off, size);
}

static void floor_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* No extended attributes.  ENOTSUP rather than no handler (ENOSYS, which the
 * kernel turns into "no ACL here" for each file): ls -l and gnulib then stop
 * asking for security.selinux and system.posix_acl_access on the whole
 * filesystem, as factuurfs has them do. */
static void floor_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENOTSUP);
}

/* Entry @i of the root: ".", "..", then each record's .json (and .pdf). */
static bool floor_entry(long i, char *name, size_t len, struct fuse_entry_param *e)
{
	long per = floor_fs.pdfs ? 2 : 1;
	memset(e, 0, sizeof(*e));
	if (i < 2) {
		floor_stat(1, &e->attr);
		snprintf(name, len, "%s", i ? ".." : ".");
		return true;
	}
	long k = (i - 2) / per;
	if (k >= floor_fs.n)
		return false;
	bool pdf = (i - 2) % per == 1;
	e->ino = (fuse_ino_t)(pdf ? floor_fs.n + k : k) + 2;
	e->entry_timeout = FLOOR_FOREVER;
	e->attr_timeout = floor_timeout(e->ino);
	floor_stat(e->ino, &e->attr);
	snprintf(name, len, "%05ld.%s", k, pdf ? "pdf" : "json");
	return true;
}

static void floor_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	char name[32];
	size_t used = 0;
	(void)fi;
	if (ino != 1) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (long i = off; floor_entry(i, name, sizeof(name), &e); i++) {
		size_t need = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		if (need > size - used)
			break; /* full: the kernel comes back for the rest */
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static struct fuse_lowlevel_ops floor_ops = {
	.init = floor_init,
	.lookup = floor_lookup,
	.getattr = floor_getattr,
	.open = floor_open,
	.opendir = floor_opendir,
	.read = floor_read,
	.readdirplus = floor_readdirplus,
	.getxattr = floor_getxattr,
};

int main(int argc, char **argv)
{
	bool mt = false;
	int rc = 1;
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s MOUNTPOINT [N] [flush] [mt] [open] [pdfs]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		char *end;
		long n = strtol(argv[i], &end, 10);
		if (*end == '\0' && end != argv[i] && n > 0 && n < 100000)
			floor_fs.n = n;
		else if (!strcmp(argv[i], "flush"))
			floor_ops.flush = floor_flush;
		else if (!strcmp(argv[i], "mt"))
			mt = true;
		else if (!strcmp(argv[i], "open"))
			floor_fs.see_opens = true;
		else if (!strcmp(argv[i], "pdfs"))
			floor_fs.pdfs = true;
		else {
			fprintf(stderr, "%s: unknown argument %s (N below 100000)\n", argv[0], argv[i]);
			return 2;
		}
	}
	memset(floor_fs.body, 'x', sizeof(floor_fs.body));
	floor_fs.body[FLOOR_BODY - 1] = '\n';
	/* The kernel checks modes itself, as on factuurfs: no ACCESS requests. */
	char *av[] = {argv[0], "-o", "default_permissions", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, av);
	struct fuse_session *se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, argv[1]) == 0) {
			struct fuse_loop_config *cfg = fuse_loop_cfg_create();
			if (cfg)
				fuse_loop_cfg_set_max_threads(cfg, 10);
			rc = mt && cfg ? fuse_session_loop_mt(se, cfg) : fuse_session_loop(se);
			fuse_loop_cfg_destroy(cfg);
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
