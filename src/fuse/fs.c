/* fs: FUSE low-level operations (see fs.h).
 *
 * Layout: the root holds one directory per collection, balance.json for
 * single-object collections, and .factuurfs/ (status, refresh).  A collection
 * directory holds <stem>.json per record and, for invoices, <stem>.pdf, plus
 * the local files of inode.c; views/ (views.c), exports/ (export.c) and
 * templates/ (templates.c) are read-only.  Reads go through cache.c, commits through
 * writeback.c; nothing here talks HTTP.  docs/SEMANTICS.md says what each
 * operation does on each kind of path.
 */
#include "fuse/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/api.h"
#include "cli.h"
#include "ns/inode.h"
#include "base/log.h"
#include "base/names.h"
#include "model/schema.h"
#include "base/events.h"
#include "feat/status.h"
#include "store/pdfstore.h"
#include "model/templates.h"
#include "base/who.h"
#include "feat/export.h"
#include "feat/views.h"
#include "feat/writeback.h"

/* What a file whose size is not known until it is fetched shows: a PDF never
 * fetched, a record its listing carries only in part.  Only for looking
 * (ls -l, du, a file manager's folder total): a program that opens the file
 * gets the true size, because every GETATTR that carries a file handle or
 * comes from a process holding the file open fetches it first (fs_getattr),
 * and the attributes of such a file are never cached (timeout 0) until its
 * size is known.  So the placeholder need not be an upper bound: it is near
 * a typical invoice PDF (tens of KiB), so that du stays near the truth
 * (docs/SEMANTICS.md, "PDF sizes"). */
#define FS_PDF_PLACEHOLDER (32 * 1024)
#define FS_RECORD_PLACEHOLDER 4096

/* How long a record unlinked by a program that replaces files (who_replaces:
 * mv across file systems) stays "no such file" for the create that follows;
 * after it, the record shows again, untouched. */
#define FS_REPLACE_HOLD 2.0

/* Seconds the status file's text stays put (see struct fs). */
#define STATUS_HOLD 1.0
/* The status file's size grows in steps of this (see status_pad). */
#define STATUS_PAD_STEP 512

/* Timeout for names and attributes that never change during a mount. */
#define FS_FOREVER 86400.0

struct notify {
	fuse_ino_t parent, ino; /* parent: invalidate the entry @name; else inode @ino */
	char *name;
	bool attrs_only;        /* keep the inode's cached pages */
	struct notify *next;
};

struct fs {
	struct fuse_session *se;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct events *events;
	struct status_sources status; /* what .factuurfs/status shows */
	struct wb wb;
	struct who_mount *who; /* this mount, for who_holds_open() */
	double ttl;
	bool readonly;  /* -o ro: nothing to commit, ever */
	uid_t uid;
	gid_t gid;
	time_t started;
	/* The status text whose size the last GETATTR reported: a READ serves
	 * exactly that.  It is kept for STATUS_HOLD seconds unless an error or
	 * a change is recorded: a reader's successive read() calls each bring a
	 * GETATTR, and a text re-rendered in between (its counters move) would
	 * hand it the start of one version and the end of another.  Protected
	 * by qlock. */
	char *status_text;
	size_t status_len;
	size_t status_size;         /* the padded size: never shrinks */
	double status_at;           /* CLOCK_MONOTONIC of the render */
	struct timespec status_mtime;
	unsigned long status_gen;
	pthread_cond_t commit_done; /* with inode_lock: a node's commit ended */
	pthread_cond_t read_done;   /* with inode_lock: a READ of a PDF was answered */
	/* Kernel notifications are sent from their own thread: sending one from
	 * inside an operation on the same inode can deadlock (libfuse docs). */
	pthread_t notifier;
	bool notifier_running;
	pthread_mutex_t qlock; /* protects the queue, stop and status_text */
	pthread_cond_t qcond;
	struct notify *qhead, *qtail;
	bool stop;
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- kernel notifications ----------------------------------------------- */

static void *notifier_main(void *arg)
{
	struct fs *fs = arg;
	pthread_mutex_lock(&fs->qlock);
	for (;;) {
		while (!fs->qhead && !fs->stop)
			pthread_cond_wait(&fs->qcond, &fs->qlock);
		if (!fs->qhead)
			break;
		struct notify *q = fs->qhead;
		fs->qhead = q->next;
		if (!fs->qhead)
			fs->qtail = NULL;
		pthread_mutex_unlock(&fs->qlock);
		if (fs->se) {
			/* -ENOENT just means the kernel had nothing cached. */
			if (q->name)
				fuse_lowlevel_notify_inval_entry(fs->se, q->parent, q->name,
								 strlen(q->name));
			else
				fuse_lowlevel_notify_inval_inode(fs->se, q->ino,
								 q->attrs_only ? -1 : 0, 0);
		}
		free(q->name);
		free(q);
		pthread_mutex_lock(&fs->qlock);
	}
	pthread_mutex_unlock(&fs->qlock);
	return NULL;
}

static void notify_push(struct fs *fs, fuse_ino_t parent, fuse_ino_t ino, const char *name,
			bool attrs_only)
{
	struct notify *q = calloc(1, sizeof(*q));
	if (!q || (name && !(q->name = strdup(name)))) {
		free(q);
		return; /* the kernel's timeouts will catch up */
	}
	q->parent = parent;
	q->ino = ino;
	q->attrs_only = attrs_only;
	pthread_mutex_lock(&fs->qlock);
	if (fs->qtail)
		fs->qtail->next = q;
	else
		fs->qhead = q;
	fs->qtail = q;
	pthread_cond_signal(&fs->qcond);
	pthread_mutex_unlock(&fs->qlock);
}

static void notify_inode(struct fs *fs, fuse_ino_t ino)
{
	notify_push(fs, 0, ino, NULL, false);
}

/* Drops the kernel's attributes and pages of @ino before the operation that
 * changed them replies, so the caller's next read sees its own write (and
 * a reply the kernel was still waiting for, computed before the change, is
 * ignored: its attr_version is older).  Without writeback caching this
 * waits at most for page locks, so it is safe in FLUSH, FSYNC, RENAME and
 * UNLINK, but never below a READ, which holds the lock of the page it reads:
 * there, and for entries, notifications go through the queue. */
static void notify_inode_now(struct fs *fs, fuse_ino_t ino)
{
	if (fs->se)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
}

static void notify_entry(struct fs *fs, fuse_ino_t parent, const char *name)
{
	notify_push(fs, parent, 0, name, false);
}

/* Makes the kernel ask again for every view directory and export it holds:
 * after a change of ours (a commit, a delete), a refresh, or a listing of
 * invoices or clients that came back different. */
static void notify_views(struct fs *fs, bool now)
{
	size_t n = 0;
	fuse_ino_t *inos = inode_view_dirs(&n);
	for (size_t i = 0; inos && i < n; i++) {
		if (now)
			notify_inode_now(fs, inos[i]);
		else
			notify_inode(fs, inos[i]);
	}
	free(inos);
}

/* Invalidates the kernel's view of one record file whose content changed or
 * that went away. */
static void notify_record(struct fs *fs, fuse_ino_t dir, const struct schema_collection *c,
			  enum node_kind kind, const struct cache_record *r, bool gone)
{
	struct node *n = inode_find_record(c, kind, r->id);
	char name[1024];
	if (!n)
		return; /* the kernel never saw it */
	if (gone) {
		snprintf(name, sizeof(name), "%s.%s", r->stem, kind == N_PDF ? "pdf" : "json");
		notify_entry(fs, dir, name);
	} else {
		notify_inode(fs, n->ino);
	}
}

void fs_listing_changed(void *arg, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur)
{
	struct fs *fs = arg;
	struct node *dir = inode_coll(c);
	if (!dir)
		return;
	notify_inode(fs, dir->ino); /* drops cached directory content (or balance.json's) */
	if (!strcmp(c->name, "invoices") || !strcmp(c->name, "clients"))
		notify_views(fs, false);
	if (c->single || !old)
		return;
	for (size_t i = 0; i < old->n; i++) {
		const struct cache_record *r = old->recs[i];
		ssize_t pos = cache_listing_find(cur, r->id);
		bool gone = pos < 0;
		if (!gone && cur->recs[pos]->len == r->len && !strcmp(cur->recs[pos]->text, r->text))
			continue;
		notify_record(fs, dir->ino, c, N_JSON, r, gone);
		if (gone && c->pdf_path)
			notify_record(fs, dir->ino, c, N_PDF, r, true);
	}
}

void fs_refresh(struct fs *fs)
{
	log_msg(LOG_INFO, "refresh: dropping every cached listing");
	cache_refresh_all(fs->cache);
	events_touch(fs->events);
	for (size_t i = 0; i < schema_ncollections(); i++)
		notify_inode_now(fs, INO_COLL0 + i);
	notify_views(fs, true);
}

/* What a write to .factuurfs/refresh names (`factuurfs refresh MNT [PATH]`):
 * a path drops the listing of the collection it is in ("clients",
 * "invoices/2024-0001.pdf", "balance.json"); anything else ("1", nothing,
 * views/) drops every listing, as any write always did. */
static void refresh_path(struct fs *fs, const char *text, size_t len)
{
	char first[128];
	size_t i = 0, n = 0;
	while (i < len && (text[i] == ' ' || text[i] == '/'))
		i++;
	while (i < len && text[i] != '/' && text[i] != '\n' && n + 1 < sizeof(first))
		first[n++] = text[i++];
	first[n] = '\0';
	/* balance.json names the balance collection */
	if (n > 5 && !strcmp(first + n - 5, ".json"))
		first[n - 5] = '\0';
	const struct schema_collection *c = schema_find(first);
	if (!c) {
		fs_refresh(fs);
		return;
	}
	log_msg(LOG_INFO, "refresh: dropping the listing of %s", c->name);
	cache_invalidate(fs->cache, c);
	events_touch(fs->events);
	notify_inode_now(fs, INO_COLL0 + schema_collection_index(c));
}

/* `factuurfs refresh` on a read-only mount, where the kernel refuses the
 * write to .factuurfs/refresh: the same text by ioctl on .factuurfs/
 * (cli.h).  Every other ioctl, anywhere, is not ours. */
static void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	(void)arg;
	(void)fi;
	(void)out_bufsz;
	if (ino != INO_CTL || cmd != CLI_IOC_REFRESH || (flags & FUSE_IOCTL_UNRESTRICTED) ||
	    !in_buf) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	refresh_path(fs_of(req), in_buf, strnlen(in_buf, in_bufsz));
	fuse_reply_ioctl(req, 0, NULL, 0);
}

/* ---- names ---------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && !strcmp(s + n - m, suffix);
}

/* The identifier a name in collection @c stands for, or NULL when the name
 * cannot be a record (so it never reaches the API); *@kind says which file. */
static char *record_name(const struct schema_collection *c, const char *name,
			 enum node_kind *kind)
{
	char *id;
	if (names_is_scratch(name) || !(c->methods & SCHEMA_M_LIST))
		return NULL;
	*kind = N_JSON;
	id = names_record_id(name, ".json");
	if (!id && c->pdf_path) {
		*kind = N_PDF;
		id = names_record_id(name, ".pdf");
	}
	if (id && c->id_type == SCHEMA_INT && !all_digits(id)) {
		free(id);
		id = NULL;
	}
	return id;
}

/* The record @name stands for in @c, when the listing has it: its id
 * (malloc'd) and kind, else NULL; *@err is set when listing failed. */
static char *listed_record(struct fs *fs, const struct schema_collection *c, const char *name,
			   enum node_kind *kind, int *err, double *ttl_left)
{
	struct cache_listing *l = NULL;
	char *id = record_name(c, name, kind);
	*err = 0;
	if (ttl_left)
		*ttl_left = FS_FOREVER;
	if (!id)
		return NULL;
	*err = cache_listing_get(fs->cache, c, &l);
	if (*err < 0) {
		free(id);
		return NULL;
	}
	if (ttl_left)
		*ttl_left = cache_listing_ttl_left(fs->cache, l);
	if (cache_listing_find(l, id) < 0) {
		free(id);
		id = NULL;
	}
	cache_listing_unref(l);
	return id;
}

/* What a new name in collection @c becomes: a local scratch file (no .json
 * suffix, dotfiles, editor names), a new record-to-be (N_NEW), or -errno:
 * -ENAMETOOLONG past NAME_MAX, -EINVAL for control characters or a '%' that
 * is not the file-name codec's (names.h: "%2E%2E.json" is no name a record
 * can have, and guessing what it meant could write the wrong record),
 * -EPERM for a *.json name where the API cannot create. */
static int new_kind(const struct schema_collection *c, const char *name)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	for (const char *q = name; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return -EINVAL;
	if (!ends_with(name, ".json") || names_is_scratch(name) || name[0] == '.')
		return N_SCRATCH;
	if (strchr(name, '%')) {
		char *id = names_record_id(name, ".json");
		bool canonical = id != NULL;
		free(id);
		if (!canonical)
			return -EINVAL;
	}
	if (c->methods & SCHEMA_M_POST)
		return N_NEW;
	if (!(c->methods & SCHEMA_M_LIST) && (c->methods & SCHEMA_M_PUT))
		return N_NEW; /* invoices_payment/<invoicenr>.json */
	return -EPERM;
}

/* "clients/17.json": how messages name a record file. */
static void record_path(const struct node *n, char *buf, size_t len)
{
	char *stem = n->id ? names_encode(n->id) : NULL;
	snprintf(buf, len, "%s/%s.%s", n->c ? n->c->name : "?", stem ? stem : "?",
		 n->kind == N_PDF ? "pdf" : "json");
	free(stem);
}

/* ---- attributes ---------------------------------------------------------- */

/* Accounting data is the mounting user's alone: nothing for group or others,
 * whatever a program asks for (and with -o allow_other the kernel checks
 * these bits: default_permissions is always on). */
#define FS_DIR_MODE 0700
#define FS_RW_MODE 0600
#define FS_RO_MODE 0400
#define FS_LOCAL_MODE_MASK 0700

/* Pads the rendered status @text (length *@len, malloc'd, taken) with blanks
 * to the largest length rendered so far, rounded up: the kernel's inode is
 * shared by all readers, and a size that changed between one reader's
 * GETATTR and its READ (another reader re-rendered meanwhile) cut or
 * zero-filled what it read.  A stable size keeps every read whole; the
 * text only grows when the status does.  Called with qlock held. */
static char *status_pad(struct fs *fs, char *text, size_t *len)
{
	size_t want = (*len + STATUS_PAD_STEP) / STATUS_PAD_STEP * STATUS_PAD_STEP;
	if (want < fs->status_size)
		want = fs->status_size;
	char *padded = realloc(text, want + 1);
	if (!padded) {
		free(text);
		return NULL;
	}
	/* JSON allows blanks after the value; the file still ends in a newline. */
	memset(padded + *len, ' ', want - *len);
	padded[want - 1] = '\n';
	padded[want] = '\0';
	*len = fs->status_size = want;
	return padded;
}

static void attr_dir(struct fs *fs, struct stat *st, fuse_ino_t ino, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | FS_DIR_MODE;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blocks = 8;
	st->st_mtime = st->st_atime = mtime;
	/* A directory's ctime is the mount's start and never moves, while its
	 * mtime follows the listing (it is unknown until the first listing):
	 * tar takes a ctime that moved while it read a directory for a change
	 * ("file changed as we read it"), and the first `tar cf` of a
	 * collection is what lists it. */
	st->st_ctime = fs->started;
}

static void attr_file(struct fs *fs, struct stat *st, fuse_ino_t ino, mode_t mode, off_t size,
		      time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

/* Fills @st from @n's buffer when it has one (what the user wrote wins). */
static bool attr_buffer(struct fs *fs, struct node *n, struct stat *st, mode_t mode)
{
	bool has;
	pthread_mutex_lock(&inode_lock);
	has = n->buf != NULL || n->kind == N_SCRATCH || n->kind == N_NEW;
	if (has) {
		attr_file(fs, st, n->ino, mode, n->buf ? (off_t)n->buf->len : 0, 0);
		st->st_mtim = st->st_ctim = st->st_atim = n->mtime;
	}
	pthread_mutex_unlock(&inode_lock);
	return has;
}

/* ---- views and exports ---------------------------------------------------- */

/* The content of view directory @d (N_VDIR), with a reference. */
static int vdir_listing(struct fs *fs, const struct node *d, struct cache_listing **out)
{
	return views_dir(fs->cache, (enum views_group)d->sub, d->id, out);
}

/* What view link @n (N_VLINK) points at: "../../../invoices/<stem>.json".
 * Every view directory is three levels down, so the text is the same in
 * each, and relative: it works wherever the mount is. */
static char *vlink_target(const struct node *n)
{
	char *stem = names_encode(n->id), *t = NULL;
	if (stem && asprintf(&t, "../../../%s/%s.%s", n->c->name, stem, n->sub ? "pdf" : "json") < 0)
		t = NULL;
	free(stem);
	return t;
}

static void attr_link(struct fs *fs, struct stat *st, fuse_ino_t ino, size_t len, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)len;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

/* node_attr of views/ and exports/.  Like a collection directory, a view
 * asks the service only when it was listed before (a TTL refresh): a cold
 * `ls -l views/status` costs nothing. */
static int view_attr(struct fs *fs, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	int rc = 0;
	*timeout = FS_FOREVER;
	switch (n->kind) {
	case N_VIEWS:
	case N_EXPORTS:
		attr_dir(fs, st, n->ino, fs->started);
		if (n->kind == N_VIEWS)
			st->st_nlink = 2 + VIEWS_NGROUPS;
		return 0;
	case N_VGROUP: {
		char **names = NULL;
		size_t k = 0;
		struct timespec changed = {0};
		double left = -1;
		attr_dir(fs, st, n->ino, fs->started);
		if (n->sub == VIEWS_STATUS || !views_held(fs->cache, n->sub, NULL)) {
			*timeout = n->sub == VIEWS_STATUS ? FS_FOREVER : 1.0;
			return 0;
		}
		rc = views_names(fs->cache, n->sub, &names, &k, &changed, &left);
		views_names_free(names, k);
		if (rc < 0)
			return rc;
		st->st_mtim = st->st_atim = changed;
		*timeout = left;
		return 0;
	}
	case N_VDIR:
		attr_dir(fs, st, n->ino, fs->started);
		*timeout = 1.0;
		if (!views_held(fs->cache, n->sub, n->id))
			return 0;
		rc = vdir_listing(fs, n, &l);
		if (rc < 0)
			return rc;
		st->st_mtim = st->st_atim = l->changed;
		*timeout = cache_listing_ttl_left(fs->cache, l);
		break;
	case N_VLINK: {
		struct node *d = inode_get(n->parent);
		char *t = vlink_target(n);
		if (!d || !t) {
			free(t);
			return d ? -ENOMEM : -ENOENT;
		}
		rc = vdir_listing(fs, d, &l);
		ssize_t pos = rc < 0 ? -1 : cache_listing_find(l, n->id);
		if (rc == 0 && pos < 0)
			rc = -ENOENT;
		if (rc == 0) {
			const struct cache_record *r = l->recs[pos];
			attr_link(fs, st, n->ino, strlen(t), n->sub ? r->date : r->mtime);
			*timeout = cache_listing_ttl_left(fs->cache, l);
		}
		free(t);
		break;
	}
	case N_EXPORT: {
		struct export_text *t = NULL;
		rc = export_get(fs->cache, (size_t)n->sub, &t);
		if (rc < 0)
			return rc;
		attr_file(fs, st, n->ino, FS_RO_MODE, (off_t)t->len, 0);
		st->st_mtim = st->st_ctim = st->st_atim = t->l->changed;
		*timeout = cache_listing_ttl_left(fs->cache, t->l);
		export_text_unref(t);
		return 0;
	}
	default:
		return -ENOENT;
	}
	cache_listing_unref(l);
	return rc;
}

/* Attributes of @n in @st and how long the kernel may keep them in *@timeout.
 * A collection directory lists itself only when a listing it had went stale
 * (its mtime must follow the listing so the kernel drops its cached entries);
 * a directory never listed answers without a call, so browsing the root
 * costs nothing. */
static int node_attr(struct fs *fs, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	struct cache_record *r = NULL;
	int rc = 0;
	*timeout = FS_FOREVER;
	switch (n->kind) {
	case N_ROOT:
	case N_CTL:
		attr_dir(fs, st, n->ino, fs->started);
		if (n->kind == N_ROOT)
			/* + views, exports, templates */
			st->st_nlink = 3 + schema_ncollections() + 3;
		return 0;
	case N_STATUS: {
		struct timespec mono;
		size_t len = 0;
		clock_gettime(CLOCK_MONOTONIC, &mono);
		double now = mono.tv_sec + mono.tv_nsec / 1e9;
		unsigned long gen = events_generation(fs->events);
		pthread_mutex_lock(&fs->qlock);
		if (!fs->status_text || now - fs->status_at > STATUS_HOLD ||
		    gen != fs->status_gen) {
			char *text = status_render(&fs->status, &len);
			text = text ? status_pad(fs, text, &len) : NULL;
			if (text) {
				free(fs->status_text);
				fs->status_text = text;
				fs->status_len = len;
				fs->status_at = now;
				fs->status_gen = gen;
				/* A new mtime makes the kernel drop its cached pages
				 * (auto_inval_data). */
				clock_gettime(CLOCK_REALTIME, &fs->status_mtime);
			}
		}
		attr_file(fs, st, n->ino, FS_RO_MODE, (off_t)fs->status_len, 0);
		st->st_mtim = st->st_ctim = st->st_atim = fs->status_mtime;
		pthread_mutex_unlock(&fs->qlock);
		*timeout = 0;
		return 0;
	}
	case N_REFRESH:
		attr_file(fs, st, n->ino, 0200, 0, fs->started);
		return 0;
	case N_SCRATCH:
	case N_NEW:
		attr_buffer(fs, n, st, n->mode & 07777);
		*timeout = 0;
		return 0;
	case N_VIEWS:
	case N_VGROUP:
	case N_VDIR:
	case N_VLINK:
	case N_EXPORTS:
	case N_EXPORT:
		return view_attr(fs, n, st, timeout);
	case N_TEMPLATES:
		attr_dir(fs, st, n->ino, fs->started);
		return 0;
	case N_TEMPLATE: {
		/* Made again for its size: microseconds, and no state to keep. */
		size_t len = 0;
		char *text = templates_text((size_t)n->sub, &len);
		if (!text)
			return -ENOMEM;
		free(text);
		attr_file(fs, st, n->ino, FS_RO_MODE, (off_t)len, fs->started);
		return 0;
	}
	case N_COLL:
	case N_SINGLE:
		break;
	case N_JSON:
	case N_PDF: {
		mode_t mode = n->kind == N_JSON && (n->c->methods & SCHEMA_M_PUT) ? FS_RW_MODE : FS_RO_MODE;
		if (n->kind == N_JSON && attr_buffer(fs, n, st, mode)) {
			*timeout = 0;
			return 0;
		}
		rc = cache_listing_get(fs->cache, n->c, &l);
		if (rc < 0)
			return rc;
		ssize_t pos = cache_listing_find(l, n->id);
		if (pos < 0) {
			rc = -ENOENT;
			goto out;
		}
		r = l->recs[pos];
		*timeout = cache_listing_ttl_left(fs->cache, l);
		struct cache_record *whole = NULL;
		off_t size;
		time_t mtime = n->kind == N_PDF ? r->date : r->mtime;
		if (n->kind == N_PDF) {
			/* A fetch running now ends with the true size: wait for it
			 * rather than send the placeholder in the middle of it. */
			size = pdfstore_size(fs->pdfs, n->id, true);
		} else if (cache_record_peek(fs->cache, n->c, n->id, &whole) == 0) {
			size = (off_t)whole->len;
			mtime = whole->mtime;
			cache_record_unref(whole);
		} else {
			size = -1;
		}
		if (size < 0) {
			/* Asked again every time, until a fetch makes it true. */
			size = n->kind == N_PDF ? FS_PDF_PLACEHOLDER : FS_RECORD_PLACEHOLDER;
			*timeout = 0;
		}
		attr_file(fs, st, n->ino, mode, size, mtime);
		goto out;
	}
	}
	/* A collection directory, or a single-object file such as balance.json. */
	if (n->kind == N_SINGLE) {
		rc = cache_listing_get(fs->cache, n->c, &l);
		if (rc < 0)
			return rc;
		r = l->n ? l->recs[0] : NULL;
		attr_file(fs, st, n->ino, FS_RO_MODE, r ? (off_t)r->len : 0, 0);
		st->st_mtim = st->st_ctim = st->st_atim = l->changed;
		*timeout = cache_listing_ttl_left(fs->cache, l);
		goto out;
	}
	attr_dir(fs, st, n->ino, fs->started);
	*timeout = 1.0;
	/* Only a listing we hold already is refreshed here. */
	if (cache_has_listing(fs->cache, n->c)) {
		rc = cache_listing_get(fs->cache, n->c, &l);
		if (rc < 0)
			return rc;
		st->st_mtim = st->st_atim = l->changed;
		*timeout = cache_listing_ttl_left(fs->cache, l);
	}
out:
	cache_listing_unref(l);
	return rc;
}

/* ---- lookup ------------------------------------------------------------- */

static void reply_negative(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.entry_timeout = timeout; /* ino 0: a cached "no such name" */
	fuse_reply_entry(req, &e);
}

/* Fills @e for @n and takes the lookup reference the reply hands over. */
static int entry_of(struct fs *fs, struct node *n, struct fuse_entry_param *e)
{
	double timeout;
	memset(e, 0, sizeof(*e));
	int rc = node_attr(fs, n, &e->attr, &timeout);
	if (rc < 0)
		return rc;
	e->ino = n->ino;
	e->attr_timeout = timeout;
	e->entry_timeout = timeout > 0 ? timeout : (n->kind == N_PDF ? fs->ttl : 0);
	inode_ref(n);
	return 0;
}

static void reply_node(fuse_req_t req, struct fs *fs, struct node *n)
{
	struct fuse_entry_param e;
	int rc = entry_of(fs, n, &e);
	if (rc == -ENOENT)
		reply_negative(req, 0);
	else if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_entry(req, &e) != 0)
		inode_forget(n->ino, 1);
}

/* The entry @name of view directory @p (a group or a view), in *@n, or NULL
 * with how long the kernel may keep "no such name" in *@left.  Names that
 * cannot be entries never cost a call. */
static int view_lookup(struct fs *fs, struct node *p, const char *name, struct node **n,
		       double *left)
{
	struct cache_listing *l = NULL;
	const struct schema_collection *inv = schema_find("invoices");
	char *id = NULL;
	int rc;
	*n = NULL;
	if (p->kind == N_VGROUP) {
		if (!views_name_plausible(p->sub, name))
			return 0;
		if (p->sub != VIEWS_STATUS) {
			/* Years and clients exist when the listings have them. */
			rc = views_dir(fs->cache, p->sub, name, &l);
			if (rc == -ENOENT) {
				*left = 1.0;
				return 0;
			}
			if (rc < 0)
				return rc;
			cache_listing_unref(l);
		}
		*n = inode_view(N_VDIR, p->ino, p->sub, NULL, name);
		return *n ? 0 : -ENOMEM;
	}
	bool pdf = false;
	if (!names_is_scratch(name)) {
		id = names_record_id(name, ".json");
		if (!id) {
			id = names_record_id(name, ".pdf");
			pdf = id != NULL;
		}
	}
	if (!id)
		return 0;
	rc = vdir_listing(fs, p, &l);
	if (rc < 0) {
		free(id);
		return rc;
	}
	*left = cache_listing_ttl_left(fs->cache, l);
	if (cache_listing_find(l, id) >= 0) {
		*n = inode_view(N_VLINK, p->ino, pdf, inv, id);
		rc = *n ? 0 : -ENOMEM;
	}
	cache_listing_unref(l);
	free(id);
	return rc;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct node *p = inode_get(parent), *n = NULL;
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* The kernel lets names up to 1024 bytes through to FUSE. */
	if (strlen(name) > NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	switch (p->kind) {
	case N_ROOT:
		if (!strcmp(name, ".factuurfs")) {
			n = inode_get(INO_CTL);
			break;
		}
		for (size_t i = 0; i < schema_ncollections(); i++) {
			const struct schema_collection *c = schema_collection_at(i);
			char buf[96];
			snprintf(buf, sizeof(buf), c->single ? "%s.json" : "%s", c->name);
			if (!strcmp(name, buf))
				n = inode_get(INO_COLL0 + i);
		}
		if (!strcmp(name, "views"))
			n = inode_get(INO_VIEWS);
		else if (!strcmp(name, "exports"))
			n = inode_get(INO_EXPORTS);
		else if (!strcmp(name, "templates"))
			n = inode_get(INO_TEMPLATES);
		break;
	case N_VIEWS: {
		int g = views_group_find(name);
		if (g >= 0)
			n = inode_get(INO_VGROUP0 + g);
		break;
	}
	case N_EXPORTS: {
		int i = export_find(name);
		if (i >= 0)
			n = inode_get(INO_EXPORT0 + i);
		break;
	}
	case N_TEMPLATES: {
		int i = templates_find(name);
		if (i >= 0)
			n = inode_get(INO_TEMPLATE0 + i);
		break;
	}
	case N_VGROUP:
	case N_VDIR: {
		double left = FS_FOREVER;
		int rc = view_lookup(fs, p, name, &n, &left);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		if (!n) {
			reply_negative(req, left);
			return;
		}
		break;
	}
	case N_CTL:
		if (!strcmp(name, "status"))
			n = inode_get(INO_STATUS);
		else if (!strcmp(name, "refresh"))
			n = inode_get(INO_REFRESH);
		break;
	case N_COLL: {
		enum node_kind kind;
		double left;
		int err;
		bool replacing = false;
		pthread_mutex_lock(&inode_lock);
		struct lentry *le = inode_lentry(parent, name);
		if (le && le->replacing && !(replacing = now_mono() < le->replacing)) {
			inode_lentry_del(le); /* nothing came: the record shows again */
			le = NULL;
		}
		n = le && !replacing ? le->node : NULL;
		pthread_mutex_unlock(&inode_lock);
		if (replacing) {
			reply_negative(req, 0);
			return;
		}
		if (n)
			break;
		char *id = listed_record(fs, p->c, name, &kind, &err, &left);
		if (err < 0) {
			fuse_reply_err(req, -err);
			return;
		}
		if (id)
			n = inode_record(p->c, kind, id);
		free(id);
		if (!n) {
			/* A name that may be created here (a new *.json) is not
			 * cached as missing: it may appear under a rename that
			 * failed (the refused text kept there), and an entry
			 * notice for it cannot be sent while the rename holds the
			 * directory. */
			reply_negative(req, new_kind(p->c, name) == N_NEW ? 0 : left);
			return;
		}
		break;
	}
	default:
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!n) {
		reply_negative(req, FS_FOREVER);
		return;
	}
	reply_node(req, fs, n);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Fetches the PDF of @n for a reader (@pid), unless it is known: a
 * thumbnailer's or an indexer's first read counts against its hourly share,
 * and past it is refused with EAGAIN without a call (the budget reserve). */
static int pdf_fetch_for(struct fs *fs, pid_t pid, struct node *n)
{
	if (pdfstore_size(fs->pdfs, n->id, false) >= 0)
		return 0;
	if (who_is_background(pid) && !api_background_take(fs->wb.api))
		return -EAGAIN;
	off_t size = pdfstore_fetch(fs->pdfs, n->id);
	return size < 0 ? (int)size : 0;
}

/* True when @n is a file whose size is not known until fetched (see
 * FS_PDF_PLACEHOLDER); no call. */
static bool size_unknown(struct fs *fs, struct node *n)
{
	struct cache_record *r = NULL;
	if (n->kind == N_PDF)
		return pdfstore_size(fs->pdfs, n->id, false) < 0;
	if (n->kind != N_JSON)
		return false;
	pthread_mutex_lock(&inode_lock);
	bool buffered = n->buf != NULL;
	pthread_mutex_unlock(&inode_lock);
	if (buffered || cache_record_peek(fs->cache, n->c, n->id, &r) == 0) {
		cache_record_unref(r);
		return false;
	}
	return true;
}

/* True when the process behind @req holds @n open: its fstat() after open()
 * reaches us without a file handle, like a stat() by path (no-open). */
static bool caller_holds(struct fs *fs, fuse_req_t req, struct node *n)
{
	pid_t pid = fuse_req_ctx(req)->pid;
	if (who_only_looks(pid))
		return false;
	char *stem = names_encode(n->id), suffix[1200];
	if (!stem)
		return false;
	snprintf(suffix, sizeof(suffix), "/%s/%s.%s", n->c->name, stem,
		 n->kind == N_PDF ? "pdf" : "json");
	free(stem);
	return who_holds_open(fs->who, pid, n->ino, suffix);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = inode_get(ino);
	struct stat st;
	double timeout;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* A file whose size is not known until fetched: a program that opened
	 * it (a GETATTR with a file handle comes from lseek(SEEK_END) and from
	 * every read; one from a process holding it open is its fstat) gets
	 * the true size, so tar, rsync, mmap and zip copy it whole; ls -l and
	 * stat by path see the placeholder and cost nothing.  A failed fetch
	 * leaves the placeholder: the read that follows gives the errno. */
	if (size_unknown(fs, n) && (fi || caller_holds(fs, req, n))) {
		struct cache_record *r = NULL;
		if (n->kind == N_PDF)
			pdf_fetch_for(fs, fuse_req_ctx(req)->pid, n);
		else if (cache_record_get(fs->cache, n->c, n->id, &r) == 0)
			cache_record_unref(r);
	}
	int rc = node_attr(fs, n, &st, &timeout);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- directories ---------------------------------------------------------- */

/* Appends one entry; returns false when the buffer is full.  @n may be NULL
 * for "." and "..", which take no lookup reference. */
static bool dir_add(fuse_req_t req, struct fs *fs, char *buf, size_t size, size_t *used,
		    bool plus, const char *name, struct node *n, struct stat *dot, off_t next)
{
	struct fuse_entry_param e;
	size_t need;
	double timeout = 0;
	/* A PDF of unknown size goes with its placeholder and an attribute
	 * timeout of 0 (node_attr), so `ls -l` costs one GETATTR per such PDF
	 * rather than a LOOKUP and a GETATTR.  Every read() asks for the
	 * attributes again until the size is known, so a placeholder that
	 * reaches the kernel while a reader's fetch runs cannot cut a read
	 * (docs/SEMANTICS.md, "PDF sizes", names the one case it can: mmap
	 * right after fstat, during a concurrent listing). */
	bool bare = false;
	memset(&e, 0, sizeof(e));
	if (!n) {
		e.attr = *dot;
	} else if (bare) {
		e.attr.st_ino = n->ino;
		e.attr.st_mode = S_IFREG | FS_RO_MODE;
	} else if (node_attr(fs, n, &e.attr, &timeout) < 0) {
		return true; /* vanished meanwhile: leave it out */
	}
	if (!plus) {
		need = fuse_add_direntry(req, buf + *used, size - *used, name, &e.attr, next);
		if (need > size - *used)
			return false;
		*used += need;
		return true;
	}
	if (n && !bare) {
		e.ino = n->ino;
		e.attr_timeout = timeout;
		e.entry_timeout = timeout > 0 ? timeout : fs->ttl;
	}
	need = fuse_add_direntry_plus(req, buf + *used, size - *used, name, &e, next);
	if (need > size - *used)
		return false; /* did not fit: no reference taken */
	*used += need;
	if (n && !bare)
		inode_ref(n);
	return true;
}

/* Entry @i (from 0) of a collection directory: its records, then the local
 * files; false past the end. */
static bool coll_entry(struct node *d, const struct cache_listing *l, const char **locals,
		       size_t nlocal, size_t i, char *name, size_t len, struct node **n)
{
	size_t per = d->c->pdf_path ? 2 : 1, nrec = l ? l->n * per : 0;
	if (i < nrec) {
		const struct cache_record *r = l->recs[i / per];
		bool pdf = i % per == 1;
		snprintf(name, len, "%s.%s", r->stem, pdf ? "pdf" : "json");
		*n = inode_record(d->c, pdf ? N_PDF : N_JSON, r->id);
		return true;
	}
	if (i - nrec >= nlocal)
		return false;
	snprintf(name, len, "%s", locals[i - nrec]);
	pthread_mutex_lock(&inode_lock);
	struct lentry *e = inode_lentry(d->ino, name);
	*n = e ? e->node : NULL;
	pthread_mutex_unlock(&inode_lock);
	return true;
}

/* READDIR(PLUS) of views/, a view group, a view, exports/ and templates/: "." and "..",
 * then the entries in order; an offset is the index of the next entry. */
static void view_readdir(fuse_req_t req, struct fs *fs, struct node *d, size_t size, off_t off,
			 bool plus)
{
	const struct schema_collection *inv = schema_find("invoices");
	struct cache_listing *l = NULL;
	char **names = NULL, *buf = malloc(size ? size : 1), name[1024];
	size_t nnames = 0, used = 0, count = 0;
	struct stat dot;
	int rc = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (d->kind == N_VIEWS) {
		count = VIEWS_NGROUPS;
	} else if (d->kind == N_EXPORTS) {
		count = export_count();
	} else if (d->kind == N_TEMPLATES) {
		count = templates_count();
	} else if (d->kind == N_VGROUP) {
		struct timespec changed;
		double left;
		rc = views_names(fs->cache, d->sub, &names, &nnames, &changed, &left);
		count = nnames;
	} else {
		rc = vdir_listing(fs, d, &l);
		count = rc == 0 ? l->n * 2 : 0;
	}
	if (rc < 0)
		goto out;
	attr_dir(fs, &dot, d->ino, fs->started);
	for (off_t k = off; (size_t)k < count + 2; k++) {
		struct node *n = NULL;
		const char *nm = name;
		size_t i = (size_t)k - 2;
		if (k == 0) {
			nm = ".";
		} else if (k == 1) {
			nm = "..";
			dot.st_ino = d->kind == N_VDIR ? d->parent
				   : d->kind == N_VGROUP ? INO_VIEWS : INO_ROOT;
		} else if (d->kind == N_VIEWS) {
			nm = views_group_name(i);
			n = inode_get(INO_VGROUP0 + i);
		} else if (d->kind == N_EXPORTS) {
			nm = export_name(i);
			n = inode_get(INO_EXPORT0 + i);
		} else if (d->kind == N_TEMPLATES) {
			templates_name(i, name, sizeof(name));
			n = inode_get(INO_TEMPLATE0 + i);
		} else if (d->kind == N_VGROUP) {
			nm = names[i];
			n = inode_view(N_VDIR, d->ino, d->sub, NULL, nm);
		} else {
			const struct cache_record *r = l->recs[i / 2];
			snprintf(name, sizeof(name), "%s.%s", r->stem, i % 2 ? "pdf" : "json");
			n = inode_view(N_VLINK, d->ino, (int)(i % 2), inv, r->id);
		}
		if (k > 1 && !n)
			continue;
		if (!dir_add(req, fs, buf, size, &used, plus, nm, n, &dot, k + 1))
			break;
	}
out:
	cache_listing_unref(l);
	views_names_free(names, nnames);
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs *fs = fs_of(req);
	struct node *d = inode_get(ino);
	struct cache_listing *l = NULL;
	const char **locals = NULL;
	size_t nlocal = 0, used = 0;
	struct stat dot;
	char *buf = NULL, name[1024];
	int rc = 0;
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (d->kind == N_VIEWS || d->kind == N_VGROUP || d->kind == N_VDIR || d->kind == N_EXPORTS ||
	    d->kind == N_TEMPLATES) {
		view_readdir(req, fs, d, size, off, plus);
		return;
	}
	if (d->kind != N_ROOT && d->kind != N_CTL && d->kind != N_COLL) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (d->kind == N_COLL) {
		if (d->c->methods & SCHEMA_M_LIST) {
			rc = cache_listing_get(fs->cache, d->c, &l);
			if (rc < 0)
				goto out;
		}
		/* Copies of the names: a local file may go while we reply. */
		pthread_mutex_lock(&inode_lock);
		const char **names = inode_lentry_names(ino, &nlocal);
		locals = calloc(nlocal + 1, sizeof(*locals));
		for (size_t i = 0; locals && i < nlocal; i++)
			locals[i] = strdup(names[i]);
		free(names);
		pthread_mutex_unlock(&inode_lock);
		if (!locals)
			nlocal = 0;
	}
	attr_dir(fs, &dot, d->ino, fs->started);
	/* Entry k: 0 ".", 1 "..", then the directory's own entries in order;
	 * the offset handed back is the index of the next one. */
	for (off_t k = off;; k++) {
		struct node *n = NULL;
		const char *nm = name;
		if (k == 0) {
			nm = ".";
		} else if (k == 1) {
			nm = "..";
			dot.st_ino = INO_ROOT;
		} else if (d->kind == N_ROOT) {
			size_t i = (size_t)k - 2;
			if (i == 0) {
				nm = ".factuurfs";
				n = inode_get(INO_CTL);
			} else if (i - 1 < schema_ncollections()) {
				const struct schema_collection *c = schema_collection_at(i - 1);
				snprintf(name, sizeof(name), c->single ? "%s.json" : "%s", c->name);
				n = inode_get(INO_COLL0 + i - 1);
			} else if (i - 1 == schema_ncollections()) {
				nm = "views";
				n = inode_get(INO_VIEWS);
			} else if (i - 1 == schema_ncollections() + 1) {
				nm = "exports";
				n = inode_get(INO_EXPORTS);
			} else if (i - 1 == schema_ncollections() + 2) {
				nm = "templates";
				n = inode_get(INO_TEMPLATES);
			} else {
				break;
			}
		} else if (d->kind == N_CTL) {
			if (k == 2) {
				nm = "status";
				n = inode_get(INO_STATUS);
			} else if (k == 3) {
				nm = "refresh";
				n = inode_get(INO_REFRESH);
			} else {
				break;
			}
		} else if (!coll_entry(d, l, locals, nlocal, (size_t)k - 2, name, sizeof(name),
				       &n)) {
			break;
		} else if (!n) {
			continue; /* a local file removed meanwhile */
		}
		if (!dir_add(req, fs, buf, size, &used, plus, nm, n, &dot, k + 1))
			break;
	}
out:
	cache_listing_unref(l);
	for (size_t i = 0; locals && i < nlocal; i++)
		free((char *)locals[i]);
	free(locals);
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	fs_do_readdir(req, ino, size, off, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	fs_do_readdir(req, ino, size, off, true);
}

/* ---- reading -------------------------------------------------------------- */

/* Opens need nothing from us: ENOSYS turns on the kernel's no-open mode, after
 * which opens and releases no longer reach the daemon (DESIGN.md). */
static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off)
{
	if ((size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	fuse_reply_buf(req, text + off, size);
}

/* Replies from @n's buffer when it has one; false when it has none. */
static bool read_buffer(fuse_req_t req, struct node *n, size_t size, off_t off)
{
	char *copy = NULL;
	size_t len = 0;
	bool has;
	pthread_mutex_lock(&inode_lock);
	has = n->buf || n->kind == N_SCRATCH || n->kind == N_NEW;
	if (n->buf && (size_t)off < n->buf->len) {
		len = n->buf->len - (size_t)off < size ? n->buf->len - (size_t)off : size;
		copy = malloc(len);
		if (copy)
			memcpy(copy, n->buf->data + off, len);
	}
	pthread_mutex_unlock(&inode_lock);
	if (!has)
		return false;
	if (len && !copy)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, copy, len);
	free(copy);
	return true;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = inode_get(ino);
	struct cache_record *r = NULL;
	struct cache_listing *l = NULL;
	int rc = 0;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (read_buffer(req, n, size, off))
		return;
	switch (n->kind) {
	case N_STATUS: {
		size_t len = 0;
		char *text = NULL;
		pthread_mutex_lock(&fs->qlock);
		if (fs->status_text && (text = malloc(fs->status_len + 1))) {
			memcpy(text, fs->status_text, fs->status_len);
			len = fs->status_len;
		}
		pthread_mutex_unlock(&fs->qlock);
		if (!text)
			text = status_render(&fs->status, &len);
		if (!text) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		reply_slice(req, text, len, size, off);
		free(text);
		return;
	}
	case N_JSON:
		rc = cache_record_get(fs->cache, n->c, n->id, &r);
		if (rc < 0)
			break;
		reply_slice(req, r->text, r->len, size, off);
		cache_record_unref(r);
		return;
	case N_SINGLE:
		rc = cache_listing_get(fs->cache, n->c, &l);
		if (rc < 0)
			break;
		if (l->n)
			reply_slice(req, l->recs[0]->text, l->recs[0]->len, size, off);
		else
			fuse_reply_buf(req, NULL, 0);
		cache_listing_unref(l);
		return;
	case N_PDF: {
		rc = pdf_fetch_for(fs, fuse_req_ctx(req)->pid, n);
		if (rc < 0)
			break;
		char *buf = malloc(size ? size : 1);
		if (!buf) {
			rc = -ENOMEM;
			break;
		}
		pthread_mutex_lock(&inode_lock);
		n->reads++;
		pthread_mutex_unlock(&inode_lock);
		ssize_t got = pdfstore_read(fs->pdfs, n->id, buf, size, off);
		if (got == -EAGAIN) /* the disk copy vanished: fetch once more */
			got = pdfstore_read(fs->pdfs, n->id, buf, size, off);
		pthread_mutex_lock(&inode_lock);
		if (got == 0 && off > 0) {
			/* A read past the true end while the kernel still believes
			 * the placeholder size: readahead sends the READ holding
			 * the end and the one past it together, and whichever
			 * reply arrives first sets the size (the later one is
			 * ignored).  Let the one holding the end go first, or the
			 * bytes between would read as zeros. */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			while (n->reads > 1 &&
			       pthread_cond_timedwait(&fs->read_done, &inode_lock, &until) == 0)
				;
		}
		pthread_mutex_unlock(&inode_lock);
		if (got < 0)
			rc = (int)got;
		else
			fuse_reply_buf(req, buf, (size_t)got);
		pthread_mutex_lock(&inode_lock);
		n->reads--;
		pthread_cond_broadcast(&fs->read_done);
		pthread_mutex_unlock(&inode_lock);
		/* And a read past the end (pdfinfo seeks to the end of the
		 * placeholder) leaves the kernel's size at that offset: make it
		 * ask for the attributes again. */
		if (got == 0 && off > 0)
			notify_push(fs, 0, n->ino, NULL, true);
		free(buf);
		if (got >= 0)
			return;
		break;
	}
	case N_REFRESH:
		fuse_reply_buf(req, NULL, 0);
		return;
	case N_EXPORT: {
		struct export_text *t = NULL;
		rc = export_get(fs->cache, (size_t)n->sub, &t);
		if (rc < 0)
			break;
		reply_slice(req, t->data, t->len, size, off);
		export_text_unref(t);
		return;
	}
	case N_TEMPLATE: {
		size_t len = 0;
		char *text = templates_text((size_t)n->sub, &len);
		if (!text) {
			rc = -ENOMEM;
			break;
		}
		reply_slice(req, text, len, size, off);
		free(text);
		return;
	}
	case N_VLINK:
		rc = -EINVAL;
		break;
	default:
		rc = -EISDIR;
	}
	fuse_reply_err(req, -rc);
}

/* ---- writing -------------------------------------------------------------- */

/* Makes sure @n can take a write: local files can; a record starts a buffer
 * holding its current text (so a write at an offset edits that text); what
 * the API cannot change refuses with EPERM. */
static int writable(struct fs *fs, struct node *n)
{
	struct cache_record *r = NULL;
	int rc;
	if (n->kind == N_SCRATCH || n->kind == N_NEW)
		return 0;
	if (n->kind != N_JSON || !(n->c->methods & SCHEMA_M_PUT))
		return -EPERM;
	pthread_mutex_lock(&inode_lock);
	bool has = n->buf != NULL;
	pthread_mutex_unlock(&inode_lock);
	if (has)
		return 0;
	rc = cache_record_get(fs->cache, n->c, n->id, &r);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&inode_lock);
	if (!n->buf) {
		rc = inode_buffer_write(n, r->text, r->len, 0);
		if (rc == 0) {
			n->buf->dirty = false; /* the record's own text: nothing to send yet */
			n->mtime.tv_sec = r->mtime;
			n->mtime.tv_nsec = 0;
		}
	}
	pthread_mutex_unlock(&inode_lock);
	cache_record_unref(r);
	return rc;
}

/* Truncates what @n holds to @size (O_TRUNC, truncate(2)). */
static int truncate_node(struct fs *fs, struct node *n, off_t size)
{
	int rc = writable(fs, n);
	if (rc == 0) {
		pthread_mutex_lock(&inode_lock);
		rc = inode_buffer_truncate(n, size);
		pthread_mutex_unlock(&inode_lock);
	}
	return rc;
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = inode_get(ino);
	int rc;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n->kind == N_REFRESH) {
		refresh_path(fs, buf, size);
		fuse_reply_write(req, size);
		return;
	}
	rc = writable(fs, n);
	if (rc == 0) {
		pthread_mutex_lock(&inode_lock);
		rc = inode_buffer_write(n, buf, size, off);
		pthread_mutex_unlock(&inode_lock);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Commits what was written to @n: on FLUSH (so close() reports the result),
 * FSYNC (@fsync: a refused text is tried again) and a rename onto a record.
 * 0 when there was nothing to send or the service took it; -errno after a
 * refusal, with the reason in the log and the status file.  The user's text
 * stays in the buffer until the service takes it. */
static int commit(struct fs *fs, struct node *n, bool fsync)
{
	char what[1100], msg[512] = "", *text = NULL, *id = NULL, *new_id = NULL, *lname = NULL;
	const struct schema_collection *c, *in = NULL;
	struct wb_pending *pending = NULL;
	enum node_kind kind;
	unsigned long gen;
	size_t len;
	bool sent = false;
	int rc = 0;

	pthread_mutex_lock(&inode_lock);
	while (n->busy)
		pthread_cond_wait(&fs->commit_done, &inode_lock);
	struct buffer *b = n->buf;
	/* FLUSH comes on every close, and first before anything is written
	 * (a shell's `>` dups and closes): nothing new or nothing yet is
	 * nothing to send. */
	if (!b || n->kind == N_SCRATCH || !(b->dirty || (fsync && b->failed)) ||
	    blank(b->data, b->len)) {
		pthread_mutex_unlock(&inode_lock);
		return 0;
	}
	text = malloc(b->len ? b->len : 1);
	if (!text) {
		pthread_mutex_unlock(&inode_lock);
		return -ENOMEM;
	}
	memcpy(text, b->data, b->len);
	len = b->len;
	gen = b->gen;
	kind = n->kind;
	c = n->c;
	id = n->id ? strdup(n->id) : NULL;
	pending = b->pending;
	b->pending = NULL;
	n->busy = true;
	if (kind == N_JSON) {
		record_path(n, what, sizeof(what));
	} else {
		/* The name the user wrote: hidden or freed once committed. */
		const char *name = inode_local_name(n);
		lname = name ? strdup(name) : NULL;
		snprintf(what, sizeof(what), "%s/%s", c->name, lname ? lname : "?");
	}
	pthread_mutex_unlock(&inode_lock);

	if (kind == N_JSON)
		rc = wb_edit(&fs->wb, c, id, text, len, &sent, msg, sizeof(msg));
	else if (!(c->methods & SCHEMA_M_POST))
		rc = wb_payment(&fs->wb, id, text, len, msg, sizeof(msg));
	else
		rc = wb_create(&fs->wb, c, text, len, &pending, &new_id, &in, msg, sizeof(msg));

	pthread_mutex_lock(&inode_lock);
	n->busy = false;
	pthread_cond_broadcast(&fs->commit_done);
	b = inode_buffer(n); /* (dropped meanwhile only by a racing rename) */
	if (!b) {
		pthread_mutex_unlock(&inode_lock);
		rc = rc < 0 ? rc : -ENOMEM;
		goto out;
	}
	if (rc == WB_UNSENT) {
		/* A template copied as it is: a new file waiting for its edit. */
		if (b->gen == gen)
			b->dirty = false;
		b->failed = false;
		pthread_mutex_unlock(&inode_lock);
		log_msg(LOG_INFO, "%s: %s", what, msg);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		inode_buffer_set_refusal(b, msg);
		if (b->gen == gen)
			b->dirty = false;
		b->pending = pending;
		pending = NULL;
		pthread_mutex_unlock(&inode_lock);
		events_refused(fs->events, what, "saved", msg);
		goto out;
	}
	bool same = b->gen == gen; /* nothing written while the request ran */
	if (kind == N_JSON) {
		if (sent)
			events_change(fs->events, "updated %s", what);
	} else if (!(c->methods & SCHEMA_M_POST)) {
		/* A payment is done: its name is free for the next one. */
		events_change(fs->events, "registered a payment on invoice %s (%s)", id, what);
		n->kind = N_SCRATCH;
		struct lentry *e = lname ? inode_lentry(inode_coll_ino(c), lname) : NULL;
		if (e)
			inode_lentry_del(e);
	} else if (new_id) {
		events_change(fs->events, "created %s/%s from %s", in->name, new_id, what);
		inode_make_record(n, in, new_id);
	} else {
		events_change(fs->events, "created a record in %s from %s (the service did not say its id)",
			      in->name, what);
		n->kind = N_SCRATCH;
	}
	if (kind != N_JSON && (c->methods & SCHEMA_M_POST)) {
		/* The name the user wrote stays usable, but the record is listed
		 * under its id from now on. */
		fuse_ino_t dir = inode_coll_ino(c);
		struct lentry *e = lname ? inode_lentry(dir, lname) : NULL;
		if (e)
			e->hidden = true;
		notify_inode_now(fs, dir);
		if (in && in != c)
			notify_inode_now(fs, inode_coll_ino(in));
	}
	if (same && n->kind == N_JSON) {
		inode_buffer_drop(n); /* the record's text takes over */
	} else {
		if (same)
			b->dirty = false;
		inode_buffer_set_refusal(b, NULL); /* this save went through */
	}
	pthread_mutex_unlock(&inode_lock);
	notify_inode_now(fs, n->ino);
	if (kind != N_JSON && !(c->methods & SCHEMA_M_POST)) {
		/* A payment changes its invoice: its open amount, its status. */
		const struct schema_collection *inv = schema_find("invoices");
		struct node *r = inode_find_record(inv, N_JSON, id);
		if (r)
			notify_inode_now(fs, r->ino);
		if ((r = inode_find_record(inv, N_PDF, id)))
			notify_inode_now(fs, r->ino);
		notify_inode_now(fs, inode_coll_ino(inv));
	}
	notify_views(fs, true); /* a change may move invoices between views */
out:
	wb_pending_free(pending);
	free(text);
	free(id);
	free(new_id);
	free(lname);
	return rc;
}


static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = inode_get(ino);
	(void)fi;
	/* FLUSH comes on every close() so that close() can report a refused
	 * save; a read-only mount has none, and ENOSYS stops the kernel sending
	 * it at all (a round trip per file: scripts/bench.sh). */
	if (fs_of(req)->readonly) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fuse_reply_err(req, n ? -commit(fs_of(req), n, false) : 0);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct node *n = inode_get(ino);
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, n ? -commit(fs_of(req), n, true) : 0);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = inode_get(ino);
	struct stat st;
	double timeout;
	int rc = 0;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Owners cannot change: the files are the mounting user's. */
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (n->kind == N_ROOT || n->kind == N_CTL || n->kind == N_COLL || n->kind == N_VIEWS ||
	    n->kind == N_VGROUP || n->kind == N_VDIR || n->kind == N_EXPORTS ||
	    n->kind == N_TEMPLATES) {
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE))
			rc = -EPERM;
	} else if ((to_set & FUSE_SET_ATTR_SIZE) && n->kind != N_REFRESH) {
		/* O_TRUNC arrives here (atomic_o_trunc is off: DESIGN.md). */
		rc = truncate_node(fs, n, attr->st_size);
	}
	if (rc == 0 && (n->kind == N_SCRATCH || n->kind == N_NEW)) {
		/* Local files keep a mode and times, as on a disk; on records they
		 * are accepted and ignored (the service has neither). */
		pthread_mutex_lock(&inode_lock);
		if (to_set & FUSE_SET_ATTR_MODE)
			n->mode = attr->st_mode & FS_LOCAL_MODE_MASK;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			clock_gettime(CLOCK_REALTIME, &n->mtime);
		else if (to_set & FUSE_SET_ATTR_MTIME)
			n->mtime = attr->st_mtim;
		pthread_mutex_unlock(&inode_lock);
	}
	if (rc == 0)
		rc = node_attr(fs, n, &st, &timeout);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- names: create, remove, rename ------------------------------------------ */

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *p = inode_get(parent), *n = NULL;
	struct fuse_entry_param e;
	enum node_kind kind;
	char *id = NULL;
	int rc = 0, err;
	if (!p || p->kind != N_COLL) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return;
	}
	pthread_mutex_lock(&inode_lock);
	struct lentry *le = inode_lentry(parent, name);
	n = le ? le->node : NULL;
	bool replacing = le && le->replacing;
	if (replacing) {
		/* mv writing the record it unlinked: an edit of the record. */
		inode_lentry_del(le);
		fi->flags &= ~O_EXCL;
		fi->flags |= O_TRUNC;
	}
	pthread_mutex_unlock(&inode_lock);
	if (!n) {
		id = listed_record(fs, p->c, name, &kind, &err, NULL);
		if (err < 0) {
			rc = err;
			goto out;
		}
		if (id)
			n = inode_record(p->c, kind, id);
	}
	if (n) {
		/* The name exists (a race with our cached "no such name"). */
		if (fi->flags & O_EXCL)
			rc = -EEXIST;
		else if (fi->flags & O_TRUNC)
			rc = truncate_node(fs, n, 0);
		goto out;
	}
	int nk = new_kind(p->c, name);
	if (nk < 0) {
		rc = nk;
		goto out;
	}
	char *nr = NULL;
	if (nk == N_NEW && !(p->c->methods & SCHEMA_M_POST)) {
		/* A payment file is named after its invoice. */
		nr = names_record_id(name, ".json");
		if (!nr) {
			rc = -EINVAL;
			goto out;
		}
	}
	pthread_mutex_lock(&inode_lock);
	n = inode_local_new(nk, p->c);
	if (n) {
		/* A record being written is its owner's to read and write, as the record
		 * will be: cp of a 0400 template (templates/) asks for 0400. */
		n->mode = (mode & FS_LOCAL_MODE_MASK) | (nk == N_NEW ? FS_RW_MODE : 0);
		n->id = nr;
		nr = NULL;
		if (!inode_buffer(n) || !inode_lentry_add(parent, name, n))
			n = NULL; /* (freed with the table) */
	}
	pthread_mutex_unlock(&inode_lock);
	free(nr);
	if (!n)
		rc = -ENOMEM;
out:
	free(id);
	if (rc == 0)
		rc = entry_of(fs, n, &e);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = 0;
	if (fuse_reply_create(req, &e, fi) != 0)
		inode_forget(n->ino, 1);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct node *p = inode_get(parent), *n = NULL;
	enum node_kind kind;
	char msg[512], what[1100];
	char *id;
	int rc, err;
	if (!p || p->kind != N_COLL) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return;
	}
	pthread_mutex_lock(&inode_lock);
	struct lentry *le = inode_lentry(parent, name);
	if (le)
		inode_lentry_del(le); /* a local file: nothing reaches the API */
	pthread_mutex_unlock(&inode_lock);
	if (le) {
		fuse_reply_err(req, 0);
		return;
	}
	id = listed_record(fs, p->c, name, &kind, &err, NULL);
	if (!id) {
		fuse_reply_err(req, err < 0 ? -err : ENOENT);
		return;
	}
	if (kind == N_PDF) {
		free(id);
		fuse_reply_err(req, EPERM);
		return;
	}
	n = inode_record(p->c, kind, id);
	snprintf(what, sizeof(what), "%s/%s", p->c->name, name);
	/* mv onto a record from another file system unlinks it and creates it
	 * anew: that is a save over the record, so nothing is deleted; the
	 * name is "no such file" until the create comes (FS_REPLACE_HOLD). */
	if (n && who_replaces(fuse_req_ctx(req)->pid)) {
		pthread_mutex_lock(&inode_lock);
		struct lentry *r = inode_lentry_add(parent, name, n);
		if (r) {
			r->hidden = true;
			r->replacing = now_mono() + FS_REPLACE_HOLD;
		}
		pthread_mutex_unlock(&inode_lock);
		free(id);
		if (r)
			log_msg(LOG_INFO, "%s: unlinked by a program that writes it anew: "
				"kept for the save that follows", what);
		fuse_reply_err(req, r ? 0 : ENOMEM);
		return;
	}
	/* rm of a record whose text the service refused drops that text (the
	 * record shows again as the service has it); it takes a second rm to
	 * delete the record itself. */
	bool dropped = false;
	pthread_mutex_lock(&inode_lock);
	if (n && n->buf && (n->buf->failed || n->buf->dirty) && !n->busy) {
		inode_buffer_drop(n);
		dropped = true;
	}
	pthread_mutex_unlock(&inode_lock);
	if (dropped) {
		events_change(fs->events, "dropped the unsaved text of %s", what);
		notify_inode_now(fs, n->ino);
		free(id);
		fuse_reply_err(req, 0);
		return;
	}
	rc = wb_delete(&fs->wb, p->c, id, msg, sizeof(msg));
	if (rc < 0)
		events_refused(fs->events, what, "deleted", msg);
	else
		events_change(fs->events, "deleted %s", what);
	if (rc == 0) {
		notify_inode_now(fs, parent);
		notify_views(fs, true);
	}
	free(id);
	fuse_reply_err(req, -rc);
}

/* A local copy of @src's current text under @name in @parent (a backup made
 * by rename or link); NULL on ENOMEM. */
static struct node *local_copy(struct fs *fs, struct node *src, fuse_ino_t parent,
			       const char *name, const struct schema_collection *c)
{
	struct cache_record *r = NULL;
	struct node *n = NULL;
	bool has;
	pthread_mutex_lock(&inode_lock);
	has = src->buf != NULL || src->kind == N_SCRATCH || src->kind == N_NEW;
	pthread_mutex_unlock(&inode_lock);
	if (!has && (src->kind != N_JSON || cache_record_get(fs->cache, src->c, src->id, &r) < 0))
		return NULL;
	pthread_mutex_lock(&inode_lock);
	struct lentry *old = inode_lentry(parent, name);
	if (old)
		inode_lentry_del(old);
	n = inode_local_new(N_SCRATCH, c);
	if (n) {
		const char *text = r ? r->text : src->buf ? src->buf->data : "";
		size_t len = r ? r->len : src->buf ? src->buf->len : 0;
		if (!inode_buffer(n) || inode_buffer_write(n, text, len, 0) < 0 ||
		    !inode_lentry_add(parent, name, n))
			n = NULL;
	}
	pthread_mutex_unlock(&inode_lock);
	cache_record_unref(r);
	return n;
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct node *src = inode_get(ino), *p = inode_get(parent), *n;
	struct fuse_entry_param e;
	/* Only backups (gio save -b links file to file~): a copy, since a
	 * record cannot have two names on the service. */
	if (!src || !p || p->kind != N_COLL || new_kind(p->c, name) != N_SCRATCH ||
	    (src->kind != N_JSON && src->kind != N_SCRATCH && src->kind != N_NEW)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	pthread_mutex_lock(&inode_lock);
	bool exists = inode_lentry(parent, name) != NULL;
	pthread_mutex_unlock(&inode_lock);
	if (exists) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	n = local_copy(fs, src, parent, name, p->c);
	if (!n || entry_of(fs, n, &e) < 0) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(n->ino, 1);
}

/* Renames local file @le onto @newname: the commit when @newname is a record
 * or a new *.json name, a plain local rename otherwise. */
static int rename_local(struct fs *fs, struct node *p, struct lentry *le, const char *newname,
			unsigned int flags)
{
	struct node *src = le->node, *target = NULL;
	enum node_kind kind;
	fuse_ino_t kept = 0;
	char *tid;
	int rc = 0, err;
	tid = listed_record(fs, p->c, newname, &kind, &err, NULL);
	if (err < 0)
		return err;
	pthread_mutex_lock(&inode_lock);
	struct lentry *te = inode_lentry(p->ino, newname);
	if (te && te->node->kind == N_JSON)
		target = te->node; /* the name a created record was written under */
	pthread_mutex_unlock(&inode_lock);
	if ((tid || te) && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (tid && kind == N_PDF) {
		rc = -EPERM;
		goto out;
	}
	if (tid || target) {
		/* Saving over a record (gio, sed -i, editors' temp files): the
		 * rename is the commit, and fails if the service refuses. */
		struct node *rec = target ? target : inode_record(p->c, N_JSON, tid);
		if (!rec) {
			rc = -ENOMEM;
			goto out;
		}
		pthread_mutex_lock(&inode_lock);
		struct buffer *b = inode_buffer(src);
		rc = b ? 0 : -ENOMEM;
		if (rc == 0) {
			b->dirty = true; /* commit what it holds, changed or not */
			src->kind = N_JSON;
			src->c = rec->c;
			free(src->id);
			src->id = strdup(rec->id);
		}
		pthread_mutex_unlock(&inode_lock);
		if (rc == 0)
			rc = commit(fs, src, true);
		pthread_mutex_lock(&inode_lock);
		if (rc < 0) {
			src->kind = N_SCRATCH; /* stays what it was, text and all */
			/* ... and the record shows the refused text too, as after a
			 * refused save in place: sed -i and gio remove their
			 * temporary file when the rename fails, and the user's text
			 * must survive that.  The rename itself still fails, so the
			 * program reports the error. */
			if (src->buf && inode_buffer_keep_refused(rec, src->buf) == 0)
				kept = rec->ino;
		} else {
			/* The kernel now shows this inode under the record's name. */
			inode_make_record(src, rec->c, rec->id);
			le = inode_lentry(p->ino, le->name);
			if (le)
				inode_lentry_del(le);
			te = inode_lentry(p->ino, newname);
			if (te)
				te->node = src;
			inode_buffer_drop(rec);
		}
		pthread_mutex_unlock(&inode_lock);
		if (rc == 0) {
			notify_inode_now(fs, rec->ino);
			notify_inode_now(fs, p->ino);
		} else if (kept) {
			notify_inode_now(fs, kept);
		}
		goto out;
	}
	int nk = new_kind(p->c, newname);
	if (nk < 0) {
		rc = nk;
		goto out;
	}
	/* A payment file is named after its invoice (as in fs_create). */
	char *pay_id = NULL;
	if (nk == N_NEW && !(p->c->methods & SCHEMA_M_POST) &&
	    !(pay_id = names_record_id(newname, ".json"))) {
		rc = -EINVAL;
		goto out;
	}
	char *oldname = strdup(le->name);
	if (!oldname) {
		free(pay_id);
		rc = -ENOMEM;
		goto out;
	}
	/* Move the name first: a commit names the file by its new name. */
	pthread_mutex_lock(&inode_lock);
	te = inode_lentry(p->ino, newname);
	if (te && te->node != src)
		inode_lentry_del(te);
	te = inode_lentry_add(p->ino, newname, src);
	le = inode_lentry(p->ino, oldname);
	if (te && le)
		inode_lentry_del(le); /* src keeps its new name, so it lives on */
	enum node_kind was = src->kind;
	src->kind = nk;
	struct buffer *b = nk == N_NEW && was == N_SCRATCH ? inode_buffer(src) : NULL;
	if (b)
		b->dirty = true;
	if (b && pay_id) {
		free(src->id);
		src->id = pay_id;
		pay_id = NULL;
	}
	pthread_mutex_unlock(&inode_lock);
	free(pay_id);
	if (!te) {
		rc = -ENOMEM;
	} else if (b) {
		/* A new record saved through a temporary name: POST now. */
		rc = commit(fs, src, true);
		if (rc < 0) {
			/* The source goes back to what it was, under its old name;
			 * the new name keeps a copy of the refused text (a new file
			 * that failed), for the same reason as over a record. */
			pthread_mutex_lock(&inode_lock);
			src->kind = was;
			if (inode_lentry_add(p->ino, oldname, src)) {
				te = inode_lentry(p->ino, newname);
				if (te)
					inode_lentry_del(te);
				struct node *copy = inode_local_new(N_NEW, p->c);
				if (copy && src->buf) {
					copy->mode = src->mode;
					copy->mtime = src->mtime;
					copy->id = src->id ? strdup(src->id) : NULL;
					if (inode_buffer_keep_refused(copy, src->buf) == 0 &&
					    inode_lentry_add(p->ino, newname, copy))
						kept = copy->ino;
				}
			}
			pthread_mutex_unlock(&inode_lock);
			/* The kernel may hold "no such name" for it (the rename's
			 * own lookup): an entry notice, queued (the rename holds
			 * the directory's lock). */
			if (kept)
				notify_entry(fs, p->ino, newname);
		}
	}
	free(oldname);
out:
	free(tid);
	return rc;
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct node *p = inode_get(parent), *src = NULL, *n;
	enum node_kind kind;
	char *id = NULL;
	int rc, err;
	if (!p || p->kind != N_COLL || newparent != parent || (flags & RENAME_EXCHANGE)) {
		/* Moving between collections would turn into a POST and a DELETE
		 * (mv copies and removes on EXDEV): refused outright. */
		fuse_reply_err(req, flags & RENAME_EXCHANGE ? EINVAL : EPERM);
		return;
	}
	pthread_mutex_lock(&inode_lock);
	struct lentry *le = inode_lentry(parent, name);
	bool hidden = le && le->hidden;
	pthread_mutex_unlock(&inode_lock);
	if (le && !hidden) {
		rc = rename_local(fs, p, le, newname, flags);
		fuse_reply_err(req, -rc);
		return;
	}
	if (!le) {
		id = listed_record(fs, p->c, name, &kind, &err, NULL);
		if (!id) {
			fuse_reply_err(req, err < 0 ? -err : ENOENT);
			return;
		}
		src = kind == N_JSON ? inode_record(p->c, N_JSON, id) : NULL;
	}
	/* A record renamed to a scratch name (vim's and emacs' backups by
	 * rename): the record stays on the service, the new name gets a copy. */
	rc = -EPERM;
	if (src && new_kind(p->c, newname) == N_SCRATCH) {
		pthread_mutex_lock(&inode_lock);
		bool taken = inode_lentry(parent, newname) != NULL;
		pthread_mutex_unlock(&inode_lock);
		if (taken && (flags & RENAME_NOREPLACE)) {
			rc = -EEXIST;
		} else {
			n = local_copy(fs, src, parent, newname, p->c);
			rc = n ? 0 : -EIO;
		}
		if (rc == 0) {
			/* The kernel moved its entry for the record to the new
			 * name: make it look both names up again. */
			notify_entry(fs, parent, newname);
			notify_entry(fs, parent, name);
		}
	}
	free(id);
	fuse_reply_err(req, -rc);
}

/* The API has no directories, links or devices. */
static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	fuse_reply_err(req, EPERM);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EPERM);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

/* ---- symlinks and extended attributes -------------------------------------- */

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct node *n = inode_get(ino);
	struct stat st;
	double timeout;
	if (!n || n->kind != N_VLINK) {
		fuse_reply_err(req, n ? EINVAL : ENOENT);
		return;
	}
	int rc = node_attr(fs, n, &st, &timeout); /* still in its view? */
	char *t = rc == 0 ? vlink_target(n) : NULL;
	if (rc == 0 && !t)
		rc = -ENOMEM;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, t);
	free(t);
}

#define XATTR_PREFIX "user.factuurfs."
#define XATTR_MAX 6

struct xattr {
	const char *name;
	char value[512];
};

/* The extended attributes of @n: on a file whose last save was refused, why
 * (until a save is taken or rm drops the text); on an invoice's .json and
 * .pdf, what its listing says (status, total, due date, client, when
 * listed); none elsewhere.  Never a call: the listing held now, fresh or
 * stale. */
static size_t node_xattrs(struct fs *fs, const struct node *n, struct xattr *x)
{
	const struct schema_invoice_keys *k = &schema_invoice_keys;
	struct cache_listing *l;
	size_t nx = 0;
	pthread_mutex_lock(&inode_lock);
	if (n->buf && n->buf->failed && n->buf->error) {
		x[nx].name = XATTR_PREFIX "error";
		snprintf(x[nx++].value, sizeof(x->value), "%s", n->buf->error);
	}
	pthread_mutex_unlock(&inode_lock);
	if ((n->kind != N_JSON && n->kind != N_PDF) || !n->c->pdf_path || !n->id)
		return nx;
	l = cache_listing_held(fs->cache, n->c);
	ssize_t pos = l ? cache_listing_find(l, n->id) : -1;
	cJSON *rec = pos >= 0 ? cJSON_Parse(l->recs[pos]->text) : NULL;
	if (rec) {
		char today[16];
		struct tm tm;
		time_t now = time(NULL);
		localtime_r(&now, &tm);
		strftime(today, sizeof(today), "%Y-%m-%d", &tm);
		const cJSON *total = cJSON_GetObjectItemCaseSensitive(rec, k->total);
		const cJSON *due = cJSON_GetObjectItemCaseSensitive(rec, k->duedate);
		const cJSON *nr = cJSON_GetObjectItemCaseSensitive(rec, k->clientnr);
		const cJSON *co = cJSON_GetObjectItemCaseSensitive(rec, k->company);
		x[nx].name = XATTR_PREFIX "status";
		schema_invoice_status(rec, today, x[nx].value, sizeof(x[nx].value));
		nx++;
		if (cJSON_IsNumber(total)) {
			x[nx].name = XATTR_PREFIX "total";
			snprintf(x[nx++].value, sizeof(x->value), "%.2f", total->valuedouble + 0.0);
		}
		if (cJSON_IsString(due) && due->valuestring[0]) {
			x[nx].name = XATTR_PREFIX "duedate";
			snprintf(x[nx++].value, sizeof(x->value), "%s", due->valuestring);
		}
		if (cJSON_IsNumber(nr)) {
			x[nx].name = XATTR_PREFIX "client";
			if (cJSON_IsString(co) && co->valuestring[0])
				snprintf(x[nx++].value, sizeof(x->value), "%lld - %s",
					 (long long)nr->valuedouble, co->valuestring);
			else
				snprintf(x[nx++].value, sizeof(x->value), "%lld",
					 (long long)nr->valuedouble);
		}
		struct tm ft;
		x[nx].name = XATTR_PREFIX "fetched";
		gmtime_r(&l->fetched_wall, &ft);
		strftime(x[nx++].value, sizeof(x->value), "%Y-%m-%dT%H:%M:%SZ", &ft);
	}
	cJSON_Delete(rec);
	cache_listing_unref(l);
	return nx;
}

/* Replies @data (@len bytes) to a get/listxattr of @size: its length when
 * @size is 0, ERANGE when it does not fit. */
static void reply_xattr_data(fuse_req_t req, const char *data, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = inode_get(ino);
	struct xattr x[XATTR_MAX];
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Only user.* attributes exist here.  ENOTSUP for the rest (ls -l asks
	 * every file for security.selinux and system.posix_acl_access): ls and
	 * gnulib then stop asking for the whole filesystem, instead of a round
	 * trip per file and name. */
	if (strncmp(name, "user.", 5)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX))) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	size_t nx = node_xattrs(fs_of(req), n, x);
	for (size_t i = 0; i < nx; i++) {
		if (!strcmp(name, x[i].name)) {
			reply_xattr_data(req, x[i].value, strlen(x[i].value), size);
			return;
		}
	}
	fuse_reply_err(req, ENODATA);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct node *n = inode_get(ino);
	struct xattr x[XATTR_MAX];
	char list[XATTR_MAX * 32];
	size_t len = 0;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	size_t nx = node_xattrs(fs_of(req), n, x);
	for (size_t i = 0; i < nx; i++) {
		size_t l = strlen(x[i].name) + 1;
		memcpy(list + len, x[i].name, l);
		len += l;
	}
	reply_xattr_data(req, list, len, size);
}

/* The attributes are what the service says: ours cannot be set (EPERM), and
 * nothing else can be stored (ENOTSUP, which cp -a and rsync -X pass over). */
static int xattr_refusal(const char *name)
{
	return strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) ? ENOTSUP : EPERM;
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	(void)ino;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, xattr_refusal(name));
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	fuse_reply_err(req, xattr_refusal(name));
}

/* ---- session -------------------------------------------------------------- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* A changed size or mtime drops cached pages and cached directory
	 * entries: this is how a TTL refresh reaches the kernel's caches. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* Under no-open the default atomic O_TRUNC is silently lost (DESIGN.md):
	 * let O_TRUNC arrive as a SETATTR of size 0 instead. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

struct fs *fs_new(double ttl, bool readonly)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->ttl = ttl;
	fs->readonly = readonly;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->started = time(NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcond, NULL);
	pthread_cond_init(&fs->commit_done, NULL);
	pthread_cond_init(&fs->read_done, NULL);
	if (inode_init() < 0) {
		fs_free(fs);
		return NULL;
	}
	return fs;
}

time_t fs_started(const struct fs *fs)
{
	return fs->started;
}

void fs_set_stores(struct fs *fs, struct cache *cache, struct pdfstore *pdfs, struct api *api,
		   struct events *events, const struct status_sources *status)
{
	fs->cache = cache;
	fs->pdfs = pdfs;
	fs->events = events;
	fs->status = *status;
	fs->wb.cache = cache;
	fs->wb.api = api;
}

void fs_set_session(struct fs *fs, struct fuse_session *se, struct who_mount *who)
{
	fs->se = se;
	fs->who = who;
	if (!fs->notifier_running && pthread_create(&fs->notifier, NULL, notifier_main, fs) == 0)
		fs->notifier_running = true;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	if (fs->notifier_running) {
		pthread_mutex_lock(&fs->qlock);
		fs->stop = true;
		pthread_cond_signal(&fs->qcond);
		pthread_mutex_unlock(&fs->qlock);
		pthread_join(fs->notifier, NULL);
	}
	while (fs->qhead) {
		struct notify *q = fs->qhead;
		fs->qhead = q->next;
		free(q->name);
		free(q);
	}
	who_mount_free(fs->who);
	inode_destroy();
	views_clear();
	export_clear();
	free(fs->status_text);
	pthread_mutex_destroy(&fs->qlock);
	pthread_cond_destroy(&fs->qcond);
	pthread_cond_destroy(&fs->commit_done);
	pthread_cond_destroy(&fs->read_done);
	free(fs);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.open = fs_open,
	.opendir = fs_opendir,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.fsync = fs_fsync,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.create = fs_create,
	.mkdir = fs_mkdir,
	.mknod = fs_mknod,
	.symlink = fs_symlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.readlink = fs_readlink,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.setxattr = fs_setxattr,
	.removexattr = fs_removexattr,
	.ioctl = fs_ioctl,
};
