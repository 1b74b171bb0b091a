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

void vfs_list_free(struct vfs_list *s)
{
	cache_listing_unref(s->l);
	for (size_t i = 0; s->names && i < s->nnames; i++)
		free(s->names[i]);
	free(s->names);
	memset(s, 0, sizeof(*s));
}
