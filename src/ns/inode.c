/* inode: the inode table, local files and write buffers (see inode.h). */
#include "ns/inode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feat/export.h"
#include "model/templates.h"
#include "feat/views.h"
#include "feat/writeback.h"

/* Dynamic inode numbers start here, above the fixed ones. */
#define INO_DYNAMIC 4096

pthread_mutex_t inode_lock = PTHREAD_MUTEX_INITIALIZER;

static struct node *by_ino, *by_key; /* protected by inode_lock */
static struct lentry *lentries;      /* protected by inode_lock */
static fuse_ino_t next_ino = INO_DYNAMIC;

static struct node *node_add(fuse_ino_t ino, enum node_kind kind,
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
	n->mode = 0600;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
	if ((id && !n->id) || !n->key) {
		free(n->id);
		free(n->key);
		free(n);
		return NULL;
	}
	HASH_ADD(hh_ino, by_ino, ino, sizeof(n->ino), n);
	HASH_ADD_KEYPTR(hh_key, by_key, n->key, strlen(n->key), n);
	return n;
}

static void node_free(struct node *n)
{
	HASH_DELETE(hh_ino, by_ino, n);
	HASH_DELETE(hh_key, by_key, n);
	inode_buffer_drop(n);
	free(n->id);
	free(n->key);
	free(n);
}

int inode_init(void)
{
	char key[96];
	pthread_mutex_lock(&inode_lock);
	int rc = -ENOMEM;
	if (!node_add(INO_ROOT, N_ROOT, NULL, NULL, "/") ||
	    !node_add(INO_CTL, N_CTL, NULL, NULL, "/.factuurfs") ||
	    !node_add(INO_STATUS, N_STATUS, NULL, NULL, "/.factuurfs/status") ||
	    !node_add(INO_REFRESH, N_REFRESH, NULL, NULL, "/.factuurfs/refresh"))
		goto out;
	if (!node_add(INO_VIEWS, N_VIEWS, NULL, NULL, "/views") ||
	    !node_add(INO_EXPORTS, N_EXPORTS, NULL, NULL, "/exports"))
		goto out;
	for (int g = 0; g < VIEWS_NGROUPS; g++) {
		struct node *n;
		snprintf(key, sizeof(key), "/views/%s", views_group_name(g));
		if (!(n = node_add(INO_VGROUP0 + g, N_VGROUP, NULL, NULL, key)))
			goto out;
		n->sub = g;
	}
	for (size_t i = 0; i < export_count(); i++) {
		struct node *n;
		snprintf(key, sizeof(key), "/exports/%s", export_name(i));
		if (INO_EXPORT0 + i >= INO_COLL0 ||
		    !(n = node_add(INO_EXPORT0 + i, N_EXPORT, NULL, NULL, key)))
			goto out;
		n->sub = (int)i;
	}
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		snprintf(key, sizeof(key), "/%s", c->name);
		if (INO_COLL0 + i >= INO_TEMPLATES ||
		    !node_add(INO_COLL0 + i, c->single ? N_SINGLE : N_COLL, c, NULL, key))
			goto out;
	}
	if (!node_add(INO_TEMPLATES, N_TEMPLATES, NULL, NULL, "/templates"))
		goto out;
	for (size_t i = 0; i < templates_count(); i++) {
		struct node *n;
		char name[80];
		if (!templates_name(i, name, sizeof(name)) || INO_TEMPLATE0 + i >= INO_DYNAMIC)
			goto out;
		snprintf(key, sizeof(key), "/templates/%s", name);
		n = node_add(INO_TEMPLATE0 + i, N_TEMPLATE, templates_collection(i), NULL, key);
		if (!n)
			goto out;
		n->sub = (int)i;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&inode_lock);
	return rc;
}

void inode_destroy(void)
{
	struct node *n, *nt;
	struct lentry *e, *et;
	pthread_mutex_lock(&inode_lock);
	HASH_ITER(hh, lentries, e, et) {
		HASH_DEL(lentries, e);
		free(e->name);
		free(e->key);
		free(e);
	}
	HASH_ITER(hh_ino, by_ino, n, nt) {
		node_free(n);
	}
	next_ino = INO_DYNAMIC;
	pthread_mutex_unlock(&inode_lock);
}

struct node *inode_get(fuse_ino_t ino)
{
	struct node *n = NULL;
	pthread_mutex_lock(&inode_lock);
	HASH_FIND(hh_ino, by_ino, &ino, sizeof(ino), n);
	pthread_mutex_unlock(&inode_lock);
	return n; /* lives until the kernel forgets it */
}

static const char *kind_name(enum node_kind k)
{
	return k == N_PDF ? "pdf" : "json";
}

static struct node *find_record(const struct schema_collection *c, enum node_kind kind,
				const char *id, bool make)
{
	char *key = NULL;
	struct node *n = NULL;
	if (asprintf(&key, "%s/%s/%s", c->name, kind_name(kind), id) < 0)
		return NULL;
	pthread_mutex_lock(&inode_lock);
	HASH_FIND(hh_key, by_key, key, strlen(key), n);
	if (!n && make)
		n = node_add(next_ino++, kind, c, id, key);
	pthread_mutex_unlock(&inode_lock);
	free(key);
	return n;
}

struct node *inode_record(const struct schema_collection *c, enum node_kind kind, const char *id)
{
	return find_record(c, kind, id, true);
}

struct node *inode_find_record(const struct schema_collection *c, enum node_kind kind,
			       const char *id)
{
	return find_record(c, kind, id, false);
}

fuse_ino_t inode_coll_ino(const struct schema_collection *c)
{
	return INO_COLL0 + schema_collection_index(c);
}

struct node *inode_coll(const struct schema_collection *c)
{
	return inode_get(inode_coll_ino(c));
}

void inode_ref(struct node *n)
{
	pthread_mutex_lock(&inode_lock);
	n->nlookup++;
	pthread_mutex_unlock(&inode_lock);
}

struct node *inode_view(enum node_kind kind, fuse_ino_t parent, int sub,
			const struct schema_collection *c, const char *id)
{
	char *key = NULL;
	struct node *n = NULL;
	if (asprintf(&key, "view/%lu/%d/%d/%s", (unsigned long)parent, (int)kind, sub, id) < 0)
		return NULL;
	pthread_mutex_lock(&inode_lock);
	HASH_FIND(hh_key, by_key, key, strlen(key), n);
	if (!n && (n = node_add(next_ino++, kind, c, id, key))) {
		n->sub = sub;
		n->parent = parent;
	}
	pthread_mutex_unlock(&inode_lock);
	free(key);
	return n;
}

fuse_ino_t *inode_view_dirs(size_t *n)
{
	struct node *x, *t;
	size_t k = 0, cap = 0;
	fuse_ino_t *v = NULL;
	pthread_mutex_lock(&inode_lock);
	HASH_ITER(hh_ino, by_ino, x, t) {
		if (x->kind != N_VGROUP && x->kind != N_VDIR && x->kind != N_EXPORT)
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 32;
			fuse_ino_t *more = realloc(v, cap * sizeof(*v));
			if (!more)
				break;
			v = more;
		}
		v[k++] = x->ino;
	}
	pthread_mutex_unlock(&inode_lock);
	*n = k;
	return v;
}

void inode_forget(fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = NULL;
	pthread_mutex_lock(&inode_lock);
	HASH_FIND(hh_ino, by_ino, &ino, sizeof(ino), n);
	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		/* Record nodes stay, so their inode numbers never change; a local
		 * file whose name is gone ends with the kernel's last reference. */
		if (!n->nlookup && n->unlinked && !n->busy)
			node_free(n);
	}
	pthread_mutex_unlock(&inode_lock);
}

/* ---- local files ---------------------------------------------------------- */

struct node *inode_local_new(enum node_kind kind, const struct schema_collection *c)
{
	char key[48];
	fuse_ino_t ino = next_ino++;
	snprintf(key, sizeof(key), "local/%lu", (unsigned long)ino);
	return node_add(ino, kind, c, NULL, key);
}

static char *lkey(fuse_ino_t parent, const char *name)
{
	char *key = NULL;
	if (asprintf(&key, "%lu/%s", (unsigned long)parent, name) < 0)
		return NULL;
	return key;
}

struct lentry *inode_lentry(fuse_ino_t parent, const char *name)
{
	struct lentry *e = NULL;
	char *key = lkey(parent, name);
	if (key)
		HASH_FIND_STR(lentries, key, e);
	free(key);
	return e;
}

struct lentry *inode_lentry_add(fuse_ino_t parent, const char *name, struct node *n)
{
	struct lentry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->parent = parent;
	e->name = strdup(name);
	e->key = lkey(parent, name);
	e->node = n;
	if (!e->name || !e->key) {
		free(e->name);
		free(e->key);
		free(e);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, lentries, e->key, strlen(e->key), e);
	n->unlinked = false;
	return e;
}

void inode_lentry_del(struct lentry *e)
{
	struct node *n = e->node;
	struct lentry *o, *tmp;
	bool named = false;
	HASH_DEL(lentries, e);
	free(e->name);
	free(e->key);
	free(e);
	if (n->kind != N_SCRATCH && n->kind != N_NEW)
		return;
	HASH_ITER(hh, lentries, o, tmp) {
		if (o->node == n)
			named = true;
	}
	if (!named) {
		n->unlinked = true;
		if (!n->nlookup && !n->busy)
			node_free(n);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **inode_lentry_names(fuse_ino_t parent, size_t *n)
{
	struct lentry *e, *tmp;
	size_t k = 0, cap = 0;
	const char **names = NULL;
	HASH_ITER(hh, lentries, e, tmp) {
		if (e->parent != parent || e->hidden)
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			const char **more = realloc(names, cap * sizeof(*names));
			if (!more)
				break;
			names = more;
		}
		names[k++] = e->name;
	}
	if (k > 1)
		qsort(names, k, sizeof(*names), cmp_str);
	*n = k;
	return names;
}

const char *inode_local_name(struct node *n)
{
	struct lentry *e, *tmp;
	const char *name = NULL;
	HASH_ITER(hh, lentries, e, tmp) {
		if (e->node == n && (!name || !e->hidden))
			name = e->name;
	}
	return name;
}

int inode_make_record(struct node *n, const struct schema_collection *c, const char *id)
{
	char *key = NULL, *nid = strdup(id);
	struct node *other = NULL;
	if (!nid || asprintf(&key, "%s/json/%s", c->name, id) < 0) {
		free(nid);
		return -ENOMEM;
	}
	free(n->id);
	n->id = nid;
	n->c = c;
	n->kind = N_JSON;
	/* The record's canonical node, unless one exists already (then this
	 * one stays a second node of the same record under its old key). */
	HASH_FIND(hh_key, by_key, key, strlen(key), other);
	if (!other) {
		HASH_DELETE(hh_key, by_key, n);
		free(n->key);
		n->key = key;
		HASH_ADD_KEYPTR(hh_key, by_key, n->key, strlen(n->key), n);
	} else {
		free(key);
	}
	return 0;
}

/* ---- buffers ---------------------------------------------------------------- */

struct buffer *inode_buffer(struct node *n)
{
	if (!n->buf)
		n->buf = calloc(1, sizeof(*n->buf));
	return n->buf;
}

/* Bytes reserved by every buffer; protected by inode_lock like the buffers. */
static size_t buffers_total;

static int reserve(struct buffer *b, size_t len)
{
	if (len <= b->cap)
		return 0;
	/* A record is a few KiB of JSON: a bigger file is not one, and an
	 * endless writer must not take the daemon's memory. */
	if (len > INODE_BUFFER_MAX)
		return -EFBIG;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < len)
		cap *= 2;
	if (cap > INODE_BUFFER_MAX)
		cap = INODE_BUFFER_MAX;
	if (buffers_total - b->cap + cap > INODE_BUFFERS_TOTAL_MAX)
		return -ENOSPC;
	char *data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	buffers_total = buffers_total - b->cap + cap;
	b->data = data;
	b->cap = cap;
	return 0;
}

static void changed(struct node *n)
{
	n->buf->gen++;
	n->buf->dirty = true;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
}

int inode_buffer_write(struct node *n, const char *data, size_t size, off_t off)
{
	struct buffer *b = inode_buffer(n);
	if (!b)
		return -ENOMEM;
	if (off < 0 || (size_t)off > SIZE_MAX - size)
		return -EINVAL;
	if ((size_t)off + size > INODE_BUFFER_MAX)
		return -EFBIG;
	int rc = reserve(b, (size_t)off + size);
	if (rc < 0)
		return rc;
	if ((size_t)off > b->len)
		memset(b->data + b->len, 0, (size_t)off - b->len);
	memcpy(b->data + off, data, size);
	if ((size_t)off + size > b->len)
		b->len = (size_t)off + size;
	changed(n);
	return 0;
}

int inode_buffer_truncate(struct node *n, off_t size)
{
	struct buffer *b = inode_buffer(n);
	if (!b)
		return -ENOMEM;
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > INODE_BUFFER_MAX)
		return -EFBIG;
	int rc = reserve(b, (size_t)size);
	if (rc < 0)
		return rc;
	if ((size_t)size > b->len)
		memset(b->data + b->len, 0, (size_t)size - b->len);
	b->len = (size_t)size;
	changed(n);
	return 0;
}

int inode_buffer_keep_refused(struct node *n, const struct buffer *from)
{
	int rc = inode_buffer_truncate(n, 0);
	if (rc == 0)
		rc = inode_buffer_write(n, from->data, from->len, 0);
	if (rc == 0) {
		inode_buffer_set_refusal(n->buf, from->error ? from->error : "refused");
		n->buf->dirty = false;
	}
	return rc;
}

void inode_buffer_drop(struct node *n)
{
	if (!n->buf)
		return;
	wb_pending_free(n->buf->pending);
	buffers_total -= n->buf->cap;
	free(n->buf->error);
	free(n->buf->data);
	free(n->buf);
	n->buf = NULL;
}

void inode_buffer_set_refusal(struct buffer *b, const char *reason)
{
	free(b->error);
	/* Without memory for the reason it is still refused, only unexplained. */
	b->error = reason ? strdup(reason) : NULL;
	b->failed = reason != NULL;
}
