/* inode: the inode table and the local names of a mount (see inode.h). */
#include "ns/inode.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"

/* A name in a collection directory that is not (only) a record's name. */
struct lentry {
	fuse_ino_t parent;
	char *name;
	struct node *node;
	int flags;          /* enum lentry_flags */
	double until;       /* LE_REPLACING: the hold's end */
	char *key;          /* "<parent>/<name>" */
	UT_hash_handle hh;
};

struct inodes {
	pthread_mutex_t lock;        /* protects everything below and the nodes' fields
					marked so in inode.h */
	struct node *by_ino, *by_key;
	struct lentry *lentries;
	fuse_ino_t next_ino;
	void (*text_free)(struct text *);
};

/* With t->lock held. */
static struct node *node_add(struct inodes *t, fuse_ino_t ino, enum node_kind kind,
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
	HASH_ADD(hh_ino, t->by_ino, ino, sizeof(n->ino), n);
	HASH_ADD_KEYPTR(hh_key, t->by_key, n->key, strlen(n->key), n);
	return n;
}

/* With t->lock held. */
static void node_free(struct inodes *t, struct node *n)
{
	HASH_DELETE(hh_ino, t->by_ino, n);
	HASH_DELETE(hh_key, t->by_key, n);
	if (n->text && t->text_free)
		t->text_free(n->text);
	free(n->id);
	free(n->key);
	free(n);
}

int inodes_new(struct inodes **out, const struct inode_fixed *fixed, size_t n,
	       void (*text_free)(struct text *))
{
	struct inodes *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->next_ino = INO_DYNAMIC;
	t->text_free = text_free;
	for (size_t i = 0; i < n; i++) {
		struct node *x;
		if (fixed[i].ino >= INO_DYNAMIC ||
		    !(x = node_add(t, fixed[i].ino, fixed[i].kind, fixed[i].c, NULL, fixed[i].key))) {
			inodes_free(t);
			return -ENOMEM;
		}
		x->sub = fixed[i].sub;
	}
	*out = t;
	return 0;
}

void inodes_free(struct inodes *t)
{
	struct node *n, *nt;
	struct lentry *e, *et;
	if (!t)
		return;
	HASH_ITER(hh, t->lentries, e, et) {
		assert(!e->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(t->lentries, e);
		free(e->name);
		free(e->key);
		free(e);
	}
	HASH_ITER(hh_ino, t->by_ino, n, nt) {
		node_free(t, n);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct node *inode_get(struct inodes *t, fuse_ino_t ino)
{
	struct node *n = NULL;
	pthread_mutex_lock(&t->lock);
	HASH_FIND(hh_ino, t->by_ino, &ino, sizeof(ino), n);
	pthread_mutex_unlock(&t->lock);
	return n;
}

static struct node *find_record(struct inodes *t, const struct schema_collection *c,
				enum node_kind kind, const char *id, bool make)
{
	/* On the stack: a directory of 20,000 names looks each up at every listing. */
	char buf[512], *key = buf;
	const char *k = kind == N_PDF ? "pdf" : kind == N_DELFILE ? "deleted" : "json";
	struct node *n = NULL;
	int len = snprintf(buf, sizeof(buf), "%s/%s/%s", c->name, k, id);
	if (len < 0 || ((size_t)len >= sizeof(buf) &&
			asprintf(&key, "%s/%s/%s", c->name, k, id) < 0))
		return NULL;
	pthread_mutex_lock(&t->lock);
	HASH_FIND(hh_key, t->by_key, key, (size_t)len, n);
	if (!n && make)
		n = node_add(t, t->next_ino++, kind, c, id, key);
	pthread_mutex_unlock(&t->lock);
	if (key != buf)
		free(key);
	return n;
}

struct node *inode_record(struct inodes *t, const struct schema_collection *c,
			  enum node_kind kind, const char *id)
{
	return find_record(t, c, kind, id, true);
}

struct node *inode_find_record(struct inodes *t, const struct schema_collection *c,
			       enum node_kind kind, const char *id)
{
	return find_record(t, c, kind, id, false);
}

fuse_ino_t inode_coll_ino(const struct schema_collection *c)
{
	return INO_COLL0 + schema_collection_index(c);
}

struct node *inode_view(struct inodes *t, enum node_kind kind, fuse_ino_t parent, int sub,
			const struct schema_collection *c, const char *id)
{
	char *key = NULL;
	struct node *n = NULL;
	if (asprintf(&key, "view/%lu/%d/%d/%s", (unsigned long)parent, (int)kind, sub, id) < 0)
		return NULL;
	pthread_mutex_lock(&t->lock);
	HASH_FIND(hh_key, t->by_key, key, strlen(key), n);
	if (!n && (n = node_add(t, t->next_ino++, kind, c, id, key))) {
		n->sub = sub;
		n->parent = parent;
	}
	pthread_mutex_unlock(&t->lock);
	free(key);
	return n;
}

fuse_ino_t *inode_view_dirs(struct inodes *t, size_t *n)
{
	struct node *x, *xt;
	size_t k = 0, cap = 0;
	fuse_ino_t *v = NULL;
	pthread_mutex_lock(&t->lock);
	HASH_ITER(hh_ino, t->by_ino, x, xt) {
		if (x->kind != N_VGROUP && x->kind != N_VDIR && x->kind != N_EXPORT &&
		    x->kind != N_EXPORTS)
			continue;
		if (k == cap && vec_grow(&v, &cap, k + 1, sizeof(*v)) < 0)
			break;
		v[k++] = x->ino;
	}
	pthread_mutex_unlock(&t->lock);
	*n = k;
	return v;
}

void inode_ref(struct inodes *t, struct node *n)
{
	pthread_mutex_lock(&t->lock);
	n->nlookup++;
	pthread_mutex_unlock(&t->lock);
}

void inode_forget(struct inodes *t, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = NULL;
	pthread_mutex_lock(&t->lock);
	HASH_FIND(hh_ino, t->by_ino, &ino, sizeof(ino), n);
	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		/* Record nodes stay, so their inode numbers never change; a local
		 * file whose name is gone ends with the kernel's last reference. */
		if (!n->nlookup && n->unlinked && !n->busy)
			node_free(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- local names -------------------------------------------------------------- */

struct node *inode_local_new(struct inodes *t, enum node_kind kind,
			     const struct schema_collection *c, mode_t mode)
{
	char key[48];
	pthread_mutex_lock(&t->lock);
	fuse_ino_t ino = t->next_ino++;
	snprintf(key, sizeof(key), "local/%lu", (unsigned long)ino);
	struct node *n = node_add(t, ino, kind, c, NULL, key);
	if (n) {
		n->mode = mode;
		/* Made but not named yet: freed at its last forget unless named. */
		n->unlinked = true;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

static char *lkey(fuse_ino_t parent, const char *name)
{
	char *key = NULL;
	if (asprintf(&key, "%lu/%s", (unsigned long)parent, name) < 0)
		return NULL;
	return key;
}

/* With t->lock held. */
static struct lentry *lentry_find(struct inodes *t, fuse_ino_t parent, const char *name)
{
	struct lentry *e = NULL;
	char *key = lkey(parent, name);
	if (key)
		HASH_FIND_STR(t->lentries, key, e);
	free(key);
	return e;
}

/* With t->lock held: a local node left without names is unlinked (and freed
 * when the kernel holds no reference). */
static void check_named(struct inodes *t, struct node *n)
{
	struct lentry *o, *ot;
	if (n->kind != N_SCRATCH && n->kind != N_NEW)
		return;
	HASH_ITER(hh, t->lentries, o, ot) {
		if (o->node == n)
			return;
	}
	n->unlinked = true;
	if (!n->nlookup && !n->busy)
		node_free(t, n);
}

/* With t->lock held: removes @e, then checks its node. */
static void lentry_del(struct inodes *t, struct lentry *e)
{
	struct node *n = e->node;
	HASH_DEL(t->lentries, e);
	free(e->name);
	free(e->key);
	free(e);
	check_named(t, n);
}

struct node *inode_local(struct inodes *t, fuse_ino_t parent, const char *name, int *flags,
			 double *until)
{
	pthread_mutex_lock(&t->lock);
	struct lentry *e = lentry_find(t, parent, name);
	struct node *n = e ? e->node : NULL;
	if (flags)
		*flags = e ? e->flags : 0;
	if (until)
		*until = e ? e->until : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int inode_local_add(struct inodes *t, fuse_ino_t parent, const char *name, struct node *n,
		    int flags, double until)
{
	struct lentry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->parent = parent;
	e->name = strdup(name);
	e->key = lkey(parent, name);
	e->node = n;
	e->flags = flags;
	e->until = until;
	if (!e->name || !e->key) {
		free(e->name);
		free(e->key);
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_lock(&t->lock);
	struct lentry *old = lentry_find(t, parent, name);
	struct node *was = old ? old->node : NULL;
	if (old) {
		HASH_DEL(t->lentries, old);
		free(old->name);
		free(old->key);
		free(old);
	}
	n->unlinked = false;
	HASH_ADD_KEYPTR(hh, t->lentries, e->key, strlen(e->key), e);
	if (was && was != n)
		check_named(t, was);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

bool inode_local_del(struct inodes *t, fuse_ino_t parent, const char *name)
{
	pthread_mutex_lock(&t->lock);
	struct lentry *e = lentry_find(t, parent, name);
	if (e)
		lentry_del(t, e);
	pthread_mutex_unlock(&t->lock);
	return e != NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **inode_local_names(struct inodes *t, fuse_ino_t parent, size_t *n)
{
	struct lentry *e, *et;
	size_t k = 0, cap = 0;
	char **names = NULL;
	pthread_mutex_lock(&t->lock);
	HASH_ITER(hh, t->lentries, e, et) {
		if (e->parent != parent || (e->flags & (LE_HIDDEN | LE_REPLACING)))
			continue;
		if (k == cap && vec_grow(&names, &cap, k + 1, sizeof(*names)) < 0)
			break;
		if ((names[k] = strdup(e->name)))
			k++;
	}
	pthread_mutex_unlock(&t->lock);
	if (k > 1)
		qsort(names, k, sizeof(*names), cmp_str);
	*n = k;
	return names;
}

char *inode_local_name(struct inodes *t, const struct node *n)
{
	struct lentry *e, *et;
	const char *name = NULL;
	pthread_mutex_lock(&t->lock);
	HASH_ITER(hh, t->lentries, e, et) {
		if (e->node == n && (!name || !(e->flags & LE_HIDDEN)))
			name = e->name;
	}
	char *copy = name ? strdup(name) : NULL;
	pthread_mutex_unlock(&t->lock);
	return copy;
}

int inode_make_record(struct inodes *t, struct node *n, const struct schema_collection *c,
		      const char *id)
{
	char *key = NULL, *nid = NULL;
	struct node *other = NULL;
	if (asprintf(&key, "%s/json/%s", c->name, id) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	/* The identifier is set once (readers look at it without the lock):
	 * a node that had one keeps it only if it is this one. */
	if (!n->id || strcmp(n->id, id) != 0) {
		if (n->id || !(nid = strdup(id))) {
			pthread_mutex_unlock(&t->lock);
			free(key);
			return n->id ? -EEXIST : -ENOMEM;
		}
		n->id = nid;
	}
	n->c = c;
	n->kind = N_JSON;
	/* The record's canonical node, unless one exists already (then this
	 * one stays a second node of the same record under its old key). */
	HASH_FIND(hh_key, t->by_key, key, strlen(key), other);
	if (!other) {
		HASH_DELETE(hh_key, t->by_key, n);
		free(n->key);
		n->key = key;
		key = NULL;
		HASH_ADD_KEYPTR(hh_key, t->by_key, n->key, strlen(n->key), n);
	}
	pthread_mutex_unlock(&t->lock);
	free(key);
	return 0;
}

int inode_detach_record(struct inodes *t, struct node *n, enum node_kind kind)
{
	char *key = NULL;
	if (asprintf(&key, "local/%lu", (unsigned long)n->ino) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	HASH_DELETE(hh_key, t->by_key, n);
	free(n->key);
	n->key = key;
	HASH_ADD_KEYPTR(hh_key, t->by_key, n->key, strlen(n->key), n);
	n->kind = kind;
	n->unlinked = true; /* as inode_local_new: until it is named */
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void inode_set_id(struct inodes *t, struct node *n, const char *id)
{
	pthread_mutex_lock(&t->lock);
	if (!n->id)
		n->id = strdup(id);
	pthread_mutex_unlock(&t->lock);
}

void inode_set_kind(struct inodes *t, struct node *n, enum node_kind kind)
{
	pthread_mutex_lock(&t->lock);
	n->kind = kind;
	pthread_mutex_unlock(&t->lock);
}

void inode_set_times(struct inodes *t, struct node *n, const mode_t *mode,
		     const struct timespec *mtime)
{
	pthread_mutex_lock(&t->lock);
	if (mode)
		n->mode = *mode;
	if (mtime)
		n->mtime = *mtime;
	pthread_mutex_unlock(&t->lock);
}

void inode_times(struct inodes *t, struct node *n, mode_t *mode, struct timespec *mtime)
{
	pthread_mutex_lock(&t->lock);
	if (mode)
		*mode = n->mode;
	if (mtime)
		*mtime = n->mtime;
	pthread_mutex_unlock(&t->lock);
}

void inode_set_busy(struct inodes *t, struct node *n, bool busy)
{
	pthread_mutex_lock(&t->lock);
	n->busy = busy;
	/* A commit that outlived the file's last reference frees it now. */
	if (!busy && !n->nlookup && n->unlinked)
		node_free(t, n);
	pthread_mutex_unlock(&t->lock);
}
