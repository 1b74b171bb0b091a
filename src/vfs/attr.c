/* attr: what every kind builds its answers from — the attributes of a directory, a
 * file and a symlink, the slice a read answers with, a listing's snapshot freed (see
 * vfs.h).  Below the kinds: nothing here looks at a node's kind.
 */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "store/cache.h"

void vfs_attr_dir(const struct vfs *v, struct stat *st, fuse_ino_t ino, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | VFS_DIR_MODE;
	st->st_nlink = 2;
	st->st_uid = v->uid;
	st->st_gid = v->gid;
	st->st_size = 4096;
	st->st_blocks = 8;
	st->st_mtime = st->st_atime = mtime;
	/* A directory's ctime is the mount's start and never moves, while its
	 * mtime follows the listing (it is unknown until the first listing):
	 * tar takes a ctime that moved while it read a directory for a change
	 * ("file changed as we read it"), and the first `tar cf` of a
	 * collection is what lists it. */
	st->st_ctime = v->started;
}

void vfs_attr_file(const struct vfs *v, struct stat *st, fuse_ino_t ino, mode_t mode,
		   off_t size, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = v->uid;
	st->st_gid = v->gid;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

void vfs_attr_link(const struct vfs *v, struct stat *st, fuse_ino_t ino, size_t len,
		   time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
	st->st_uid = v->uid;
	st->st_gid = v->gid;
	st->st_size = (off_t)len;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

char *vfs_record_link(struct vfs *v, struct node *n)
{
	(void)v;
	char *stem = names_encode(n->id), *t = NULL;
	if (stem && asprintf(&t, "../../../%s/%s.%s", n->c->name, stem, n->sub ? "pdf" : "json") < 0)
		t = NULL;
	free(stem);
	return t;
}

int vfs_listed_link_attr(struct vfs *v, struct node *n, const struct cache_listing *l,
			 struct stat *st, double *timeout)
{
	ssize_t pos = l ? cache_listing_find(l, n->id) : -1;
	char *t = pos >= 0 ? vfs_record_link(v, n) : NULL;
	int rc = pos < 0 ? -ENOENT : !t ? -ENOMEM : 0;
	if (rc == 0) {
		vfs_attr_link(v, st, n->ino, strlen(t), l->recs[pos]->date);
		*timeout = cache_listing_ttl_left(v->cache, l);
	}
	free(t);
	return rc;
}

int vfs_link_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	(void)v;
	(void)n;
	(void)size;
	(void)off;
	(void)rd;
	return -EINVAL;
}

/* ---- slices ------------------------------------------------------------------------- */

/* The window of @len bytes that a read of @size at @off gets: its start in *@start. */
static size_t window(size_t len, size_t size, off_t off, size_t *start)
{
	if (off < 0 || (size_t)off >= len) {
		*start = 0;
		return 0;
	}
	*start = (size_t)off;
	return size < len - (size_t)off ? size : len - (size_t)off;
}

int vfs_slice_copy(struct vfs_read *rd, const char *text, size_t len, size_t size, off_t off)
{
	size_t start, n = window(len, size, off, &start);
	rd->len = 0;
	rd->data = NULL;
	if (n == 0)
		return 0;
	if (!(rd->owned = malloc(n)))
		return -ENOMEM;
	memcpy(rd->owned, text + start, n);
	rd->data = rd->owned;
	rd->len = n;
	return 0;
}

void vfs_slice_take(struct vfs_read *rd, char *text, size_t len, size_t size, off_t off)
{
	size_t start;
	rd->len = window(len, size, off, &start);
	rd->owned = text;
	rd->data = text + start;
}

void vfs_slice_hold(struct vfs_read *rd, struct cache_record *r, size_t size, off_t off)
{
	size_t start;
	rd->len = window(r->len, size, off, &start);
	rd->held = r;
	rd->data = r->text + start;
}

void vfs_read_done(struct vfs_read *rd)
{
	if (rd->counted) {
		struct vfs_pdf_reads *p = &rd->v->pdf_reads;
		pthread_mutex_lock(&p->lock);
		rd->counted->reads--;
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->lock);
		rd->counted = NULL;
	}
	cache_record_unref(rd->held);
	rd->held = NULL;
	free(rd->owned);
	rd->owned = NULL;
	rd->data = NULL;
	rd->len = 0;
}

/* ---- directories of names ---------------------------------------------------------- */

int vfs_names_count(struct vfs_list *s, int rc)
{
	s->count = s->nnames;
	return rc;
}

bool vfs_names_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		     char *name, size_t len, struct node **n, enum node_kind kind, int sub,
		     const struct schema_collection *c)
{
	if (i >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i]);
	*n = inode_view(v->inodes, kind, d->ino, sub, c, s->names[i]);
	return true;
}

/* ---- directories of links to records ------------------------------------------------ */

int vfs_links_lookup(struct vfs *v, struct node *d, const char *name, enum node_kind kind,
		     const struct schema_collection *c,
		     int (*listing)(struct vfs *v, const struct node *d, struct cache_listing **l),
		     struct node **out, double *neg)
{
	struct cache_listing *l = NULL;
	bool pdf = false;
	char *id = NULL;
	*out = NULL;
	if (!names_is_scratch(name)) {
		id = names_record_id(name, ".json");
		if (!id && c->pdf_path) {
			id = names_record_id(name, ".pdf");
			pdf = id != NULL;
		}
	}
	if (!id)
		return 0;
	int rc = listing(v, d, &l);
	if (rc < 0) {
		free(id);
		return rc;
	}
	*neg = cache_listing_ttl_left(v->cache, l);
	if (cache_listing_find(l, id) >= 0) {
		*out = inode_view(v->inodes, kind, d->ino, pdf, c, id);
		rc = *out ? 0 : -ENOMEM;
	}
	cache_listing_unref(l);
	free(id);
	return rc;
}

int vfs_links_count(struct vfs_list *s, const struct schema_collection *c, int rc)
{
	s->count = rc == 0 ? s->l->n * (c->pdf_path ? 2 : 1) : 0;
	return rc;
}

bool vfs_links_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		     char *name, size_t len, struct node **n, enum node_kind kind,
		     const struct schema_collection *c)
{
	size_t per = c->pdf_path ? 2 : 1;
	if (i >= s->count)
		return false;
	const struct cache_record *r = s->l->recs[i / per];
	bool pdf = i % per == 1;
	snprintf(name, len, "%s.%s", r->stem, pdf ? "pdf" : "json");
	*n = inode_view(v->inodes, kind, d->ino, pdf, c, r->id);
	return true;
}

fuse_ino_t vfs_node_parent(const struct node *d)
{
	return d->parent;
}

void vfs_list_free(struct vfs_list *s)
{
	cache_listing_unref(s->l);
	for (size_t i = 0; s->names && i < s->nnames; i++)
		free(s->names[i]);
	free(s->names);
	memset(s, 0, sizeof(*s));
}
