/* fs: FUSE low-level operations over the cache (see fs.h).
 *
 * Layout: the root holds one directory per listed collection, balance.json
 * for single-object collections, and .factuurfs/ (status, refresh).  A
 * collection directory holds <stem>.json per record and, for invoices,
 * <stem>.pdf.  Nothing here talks HTTP: every fetch goes through cache.c.
 */
#include "fs.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "log.h"
#include "names.h"
#include "schema.h"
#include "status.h"

/* What a file whose size is not known yet (a PDF never fetched) reports.
 * Under no-open the page cache never reads past the size the kernel knows,
 * so it must be an upper bound; the first READ fetches, replies short at the
 * true end, and the kernel shrinks the size itself (DESIGN.md, sizeprobe). */
#define FS_UNKNOWN_SIZE (64 * 1024 * 1024)

/* Timeout for names and attributes that never change during a mount. */
#define FS_FOREVER 86400.0

enum { FS_INO_ROOT = 1, FS_INO_CTL, FS_INO_STATUS, FS_INO_REFRESH, FS_INO_COLL0 = 16 };
#define FS_INO_DYNAMIC 4096

enum node_kind { N_ROOT, N_CTL, N_STATUS, N_REFRESH, N_COLL, N_SINGLE, N_JSON, N_PDF };

struct node {
	fuse_ino_t ino;
	enum node_kind kind;
	const struct schema_collection *c; /* N_COLL, N_SINGLE, N_JSON, N_PDF */
	char *id;                          /* N_JSON, N_PDF: the record's identifier */
	char *key;                         /* "<collection>/<kind>/<id>" */
	uint64_t nlookup;                  /* protected by fs->lock */
	UT_hash_handle hh_ino, hh_key;
};

struct notify {
	fuse_ino_t parent, ino; /* parent: invalidate the entry @name; else inode @ino */
	char *name;
	bool attrs_only;        /* keep the inode's cached pages */
	struct notify *next;
};

struct fs {
	struct fuse_session *se;
	struct cache *cache;
	double ttl;
	uid_t uid;
	gid_t gid;
	time_t started;
	pthread_mutex_t lock; /* protects the node tables and next_ino */
	struct node *by_ino, *by_key;
	fuse_ino_t next_ino;
	/* Kernel notifications are sent from their own thread: sending one from
	 * inside an operation on the same inode can deadlock (libfuse docs). */
	pthread_t notifier;
	bool notifier_running;
	pthread_mutex_t qlock; /* protects the queue and stop */
	pthread_cond_t qcond;
	struct notify *qhead, *qtail;
	bool stop;
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static const char *kind_name(enum node_kind k)
{
	return k == N_PDF ? "pdf" : k == N_JSON ? "json" : "other";
}

/* ---- the inode table ---------------------------------------------------- */

static struct node *node_add(struct fs *fs, fuse_ino_t ino, enum node_kind kind,
			     const struct schema_collection *c, const char *id, const char *key)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ino = ino;
	n->kind = kind;
	n->c = c;
	n->id = id ? strdup(id) : NULL;
	n->key = strdup(key);
	if ((id && !n->id) || !n->key) {
		free(n->id);
		free(n->key);
		free(n);
		return NULL;
	}
	HASH_ADD(hh_ino, fs->by_ino, ino, sizeof(n->ino), n);
	HASH_ADD_KEYPTR(hh_key, fs->by_key, n->key, strlen(n->key), n);
	return n;
}

static struct node *node_by_ino(struct fs *fs, fuse_ino_t ino)
{
	struct node *n = NULL;
	pthread_mutex_lock(&fs->lock);
	HASH_FIND(hh_ino, fs->by_ino, &ino, sizeof(ino), n);
	pthread_mutex_unlock(&fs->lock);
	return n; /* nodes live as long as the mount */
}

/* The node of a record file, made on first sight; NULL on ENOMEM. */
static struct node *node_record(struct fs *fs, const struct schema_collection *c,
				enum node_kind kind, const char *id)
{
	char *key = NULL;
	struct node *n = NULL;
	if (asprintf(&key, "%s/%s/%s", c->name, kind_name(kind), id) < 0)
		return NULL;
	pthread_mutex_lock(&fs->lock);
	HASH_FIND(hh_key, fs->by_key, key, strlen(key), n);
	if (!n)
		n = node_add(fs, fs->next_ino++, kind, c, id, key);
	pthread_mutex_unlock(&fs->lock);
	free(key);
	return n;
}

static struct node *node_find_record(struct fs *fs, const struct schema_collection *c,
				     enum node_kind kind, const char *id)
{
	char *key = NULL;
	struct node *n = NULL;
	if (asprintf(&key, "%s/%s/%s", c->name, kind_name(kind), id) < 0)
		return NULL;
	pthread_mutex_lock(&fs->lock);
	HASH_FIND(hh_key, fs->by_key, key, strlen(key), n);
	pthread_mutex_unlock(&fs->lock);
	free(key);
	return n;
}

static struct node *node_coll(struct fs *fs, const struct schema_collection *c)
{
	for (size_t i = 0; i < schema_ncollections(); i++)
		if (schema_collection_at(i) == c)
			return node_by_ino(fs, FS_INO_COLL0 + i);
	return NULL;
}

static void node_ref(struct fs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
}

struct fs *fs_new(double ttl)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	char key[96];
	if (!fs)
		return NULL;
	fs->ttl = ttl;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->started = time(NULL);
	fs->next_ino = FS_INO_DYNAMIC;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcond, NULL);
	if (!node_add(fs, FS_INO_ROOT, N_ROOT, NULL, NULL, "/") ||
	    !node_add(fs, FS_INO_CTL, N_CTL, NULL, NULL, "/.factuurfs") ||
	    !node_add(fs, FS_INO_STATUS, N_STATUS, NULL, NULL, "/.factuurfs/status") ||
	    !node_add(fs, FS_INO_REFRESH, N_REFRESH, NULL, NULL, "/.factuurfs/refresh"))
		goto fail;
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		snprintf(key, sizeof(key), "/%s", c->name);
		if (!node_add(fs, FS_INO_COLL0 + i, c->single ? N_SINGLE : N_COLL, c, NULL, key))
			goto fail;
	}
	return fs;
fail:
	fs_free(fs);
	return NULL;
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

/* Invalidates the kernel's view of one record file whose content changed or
 * that went away. */
static void notify_record(struct fs *fs, fuse_ino_t dir, const struct schema_collection *c,
			  enum node_kind kind, const struct cache_record *r, bool gone)
{
	struct node *n = node_find_record(fs, c, kind, r->id);
	char name[1024];
	if (!n)
		return; /* the kernel never saw it */
	if (gone) {
		snprintf(name, sizeof(name), "%s.%s", r->stem, kind == N_PDF ? "pdf" : "json");
		notify_push(fs, dir, 0, name, false);
	} else {
		notify_push(fs, 0, n->ino, NULL, false);
	}
}

void fs_listing_changed(void *arg, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur)
{
	struct fs *fs = arg;
	struct node *dir = c->single ? NULL : node_coll(fs, c);
	if (c->single) {
		notify_push(fs, 0, node_coll(fs, c)->ino, NULL, false);
		return;
	}
	if (!dir || !old)
		return;
	notify_push(fs, 0, dir->ino, NULL, false); /* drops the cached directory content */
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
	for (size_t i = 0; i < schema_ncollections(); i++)
		notify_push(fs, 0, FS_INO_COLL0 + i, NULL, false);
}

/* ---- attributes ---------------------------------------------------------- */

static void attr_dir(struct fs *fs, struct stat *st, fuse_ino_t ino, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blocks = 8;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
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
			st->st_nlink = 3 + schema_ncollections();
		return 0;
	case N_STATUS: {
		size_t len = 0;
		char *text = status_render(&len);
		free(text);
		attr_file(fs, st, n->ino, 0444, (off_t)len, time(NULL));
		/* A new mtime on every look makes the kernel drop cached pages
		 * (auto_inval_data), so each read sees the current figures. */
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		st->st_mtim = now;
		*timeout = 0;
		return 0;
	}
	case N_REFRESH:
		attr_file(fs, st, n->ino, 0200, 0, fs->started);
		return 0;
	case N_COLL:
	case N_SINGLE:
		break;
	case N_JSON:
	case N_PDF:
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
		if (n->kind == N_PDF) {
			off_t size = cache_pdf_size(fs->cache, n->id);
			/* The placeholder keeps the listing's timeout: the kernel
			 * shrinks the size at the first short read only when no
			 * attribute reply came in between, and with a zero timeout
			 * every concurrent open sends one (readers then saw zeros
			 * past the end). */
			attr_file(fs, st, n->ino, 0444, size < 0 ? FS_UNKNOWN_SIZE : size,
				  r->date);
		} else {
			attr_file(fs, st, n->ino, 0444, r->whole ? (off_t)r->len : FS_UNKNOWN_SIZE,
				  r->mtime);
			if (!r->whole)
				*timeout = 0;
		}
		goto out;
	}
	/* A collection directory, or a single-object file such as balance.json. */
	if (n->kind == N_SINGLE) {
		rc = cache_listing_get(fs->cache, n->c, &l);
		if (rc < 0)
			return rc;
		r = l->n ? l->recs[0] : NULL;
		attr_file(fs, st, n->ino, 0444, r ? (off_t)r->len : 0, l->changed);
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
		st->st_mtime = st->st_ctime = st->st_atime = l->changed;
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

static void reply_node(fuse_req_t req, struct fs *fs, struct node *n)
{
	struct fuse_entry_param e;
	double timeout;
	memset(&e, 0, sizeof(e));
	int rc = node_attr(fs, n, &e.attr, &timeout);
	if (rc < 0) {
		if (rc == -ENOENT)
			reply_negative(req, 0);
		else
			fuse_reply_err(req, -rc);
		return;
	}
	e.ino = n->ino;
	e.attr_timeout = timeout;
	e.entry_timeout = timeout > 0 ? timeout : (n->kind == N_PDF ? fs->ttl : 0);
	node_ref(fs, n);
	if (fuse_reply_entry(req, &e) != 0) {
		pthread_mutex_lock(&fs->lock);
		n->nlookup--;
		pthread_mutex_unlock(&fs->lock);
	}
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The identifier a name in collection @c stands for, or NULL when the name
 * cannot be a record (so it never reaches the API); *@kind says which file. */
static char *record_name(const struct schema_collection *c, const char *name,
			 enum node_kind *kind)
{
	char *id;
	if (names_is_scratch(name))
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

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct node *p = node_by_ino(fs, parent), *n = NULL;
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (p->kind) {
	case N_ROOT:
		if (!strcmp(name, ".factuurfs")) {
			n = node_by_ino(fs, FS_INO_CTL);
			break;
		}
		for (size_t i = 0; i < schema_ncollections(); i++) {
			const struct schema_collection *c = schema_collection_at(i);
			char buf[96];
			snprintf(buf, sizeof(buf), c->single ? "%s.json" : "%s", c->name);
			if (!strcmp(name, buf))
				n = node_by_ino(fs, FS_INO_COLL0 + i);
		}
		break;
	case N_CTL:
		if (!strcmp(name, "status"))
			n = node_by_ino(fs, FS_INO_STATUS);
		else if (!strcmp(name, "refresh"))
			n = node_by_ino(fs, FS_INO_REFRESH);
		break;
	case N_COLL: {
		enum node_kind kind;
		struct cache_listing *l = NULL;
		char *id = record_name(p->c, name, &kind);
		if (!id)
			break;
		int rc = cache_listing_get(fs->cache, p->c, &l);
		if (rc < 0) {
			free(id);
			fuse_reply_err(req, -rc);
			return;
		}
		double left = cache_listing_ttl_left(fs->cache, l);
		if (cache_listing_find(l, id) >= 0)
			n = node_record(fs, p->c, kind, id);
		cache_listing_unref(l);
		free(id);
		if (!n) {
			reply_negative(req, left);
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

static void fs_forget_one(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = NULL;
	pthread_mutex_lock(&fs->lock);
	HASH_FIND(hh_ino, fs->by_ino, &ino, sizeof(ino), n);
	/* Nodes stay (their inode numbers must not change); only the count drops. */
	if (n)
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
	pthread_mutex_unlock(&fs->lock);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_by_ino(fs, ino);
	struct stat st;
	double timeout;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
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
	memset(&e, 0, sizeof(e));
	if (!n) {
		e.attr = *dot;
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
	if (n) {
		e.ino = n->ino;
		e.attr_timeout = timeout;
		e.entry_timeout = timeout > 0 ? timeout : fs->ttl;
	}
	need = fuse_add_direntry_plus(req, buf + *used, size - *used, name, &e, next);
	if (need > size - *used)
		return false; /* did not fit: no reference taken */
	*used += need;
	if (n)
		node_ref(fs, n);
	return true;
}

static void fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs *fs = fs_of(req);
	struct node *d = node_by_ino(fs, ino);
	struct cache_listing *l = NULL;
	struct stat dot;
	size_t used = 0;
	char *buf = NULL, name[1024];
	int rc = 0;
	if (!d) {
		fuse_reply_err(req, ENOENT);
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
		rc = cache_listing_get(fs->cache, d->c, &l);
		if (rc < 0)
			goto out;
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
			dot.st_ino = FS_INO_ROOT;
		} else if (d->kind == N_ROOT) {
			size_t i = (size_t)k - 2;
			if (i == 0) {
				nm = ".factuurfs";
				n = node_by_ino(fs, FS_INO_CTL);
			} else if (i - 1 < schema_ncollections()) {
				const struct schema_collection *c = schema_collection_at(i - 1);
				snprintf(name, sizeof(name), c->single ? "%s.json" : "%s", c->name);
				n = node_by_ino(fs, FS_INO_COLL0 + i - 1);
			} else {
				break;
			}
		} else if (d->kind == N_CTL) {
			if (k == 2) {
				nm = "status";
				n = node_by_ino(fs, FS_INO_STATUS);
			} else if (k == 3) {
				nm = "refresh";
				n = node_by_ino(fs, FS_INO_REFRESH);
			} else {
				break;
			}
		} else {
			size_t per = d->c->pdf_path ? 2 : 1, i = ((size_t)k - 2) / per;
			bool pdf = ((size_t)k - 2) % per == 1;
			if (i >= l->n)
				break;
			snprintf(name, sizeof(name), "%s.%s", l->recs[i]->stem, pdf ? "pdf" : "json");
			n = node_record(fs, d->c, pdf ? N_PDF : N_JSON, l->recs[i]->id);
			if (!n) {
				rc = -ENOMEM;
				break;
			}
		}
		if (!dir_add(req, fs, buf, size, &used, plus, nm, n, &dot, k + 1))
			break;
	}
out:
	cache_listing_unref(l);
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

/* ---- files ---------------------------------------------------------------- */

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

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_by_ino(fs, ino);
	struct cache_record *r = NULL;
	struct cache_listing *l = NULL;
	int rc = 0;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (n->kind) {
	case N_STATUS: {
		size_t len = 0;
		char *text = status_render(&len);
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
		char *buf = malloc(size ? size : 1);
		if (!buf) {
			rc = -ENOMEM;
			break;
		}
		bool known = cache_pdf_size(fs->cache, n->id) >= 0;
		ssize_t got = cache_pdf_read(fs->cache, n->id, buf, size, off);
		if (got == -EAGAIN) /* the disk copy vanished: fetch once more */
			got = cache_pdf_read(fs->cache, n->id, buf, size, off);
		if (got < 0)
			rc = (int)got;
		else
			fuse_reply_buf(req, buf, (size_t)got);
		/* A first read past the true end (pdfinfo seeks to the end of
		 * the placeholder) leaves the kernel's size at that offset: make
		 * it ask for the attributes again. */
		if (!known && got == 0 && off > 0)
			notify_push(fs, 0, n->ino, NULL, true);
		free(buf);
		if (got >= 0)
			return;
		break;
	}
	case N_REFRESH:
		fuse_reply_buf(req, NULL, 0);
		return;
	default:
		rc = -EISDIR;
	}
	fuse_reply_err(req, -rc);
}

/* ---- changes ---------------------------------------------------------------- */

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	(void)buf;
	(void)off;
	(void)fi;
	if (ino == FS_INO_REFRESH) {
		fs_refresh(fs);
		fuse_reply_write(req, size);
		return;
	}
	fuse_reply_err(req, EROFS);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_by_ino(fs, ino);
	struct stat st;
	double timeout;
	(void)attr;
	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* `echo 1 > .factuurfs/refresh` truncates first; times are ignored so
	 * `touch` of it works too. */
	if (n->kind == N_REFRESH &&
	    !(to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME))) {
		node_attr(fs, n, &st, &timeout);
		fuse_reply_attr(req, &st, timeout);
		return;
	}
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fuse_reply_err(req, EROFS);
}

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

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	(void)ino;
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

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	fuse_reply_err(req, EROFS);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* No .flush: while nothing is written, ENOSYS for FLUSH (libfuse's answer
 * when the operation is missing) stops the kernel sending one on every
 * close(), which costs a round trip per file on a warm `cat` of a
 * directory (scripts/bench.sh: 1.67x tmpfs with it, 1.0x without). */

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

void fs_set_cache(struct fs *fs, struct cache *cache)
{
	fs->cache = cache;
}

void fs_set_session(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
	if (!fs->notifier_running && pthread_create(&fs->notifier, NULL, notifier_main, fs) == 0)
		fs->notifier_running = true;
}

void fs_free(struct fs *fs)
{
	struct node *n, *tmp;
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
	HASH_ITER(hh_ino, fs->by_ino, n, tmp) {
		HASH_DELETE(hh_ino, fs->by_ino, n);
		HASH_DELETE(hh_key, fs->by_key, n);
		free(n->id);
		free(n->key);
		free(n);
	}
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->qlock);
	pthread_cond_destroy(&fs->qcond);
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
};
