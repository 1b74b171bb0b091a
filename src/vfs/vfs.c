/* vfs: the table of node operations and what every kind shares (see vfs.h). */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/cache.h"

/* The kinds of this layer; vfs_set_ops adds the others. */
static const struct vfs_ops *const own[N_KINDS] = {
	[N_ROOT] = &vfs_root,
	[N_CTL] = &vfs_ctl,
	[N_STATUS] = &vfs_status,
	[N_REFRESH] = &vfs_refresh,
	[N_VIEWS] = &vfs_views,
	[N_VGROUP] = &vfs_vgroup,
	[N_VDIR] = &vfs_vdir,
	[N_VLINK] = &vfs_vlink,
	[N_EXPORTS] = &vfs_exports,
	[N_EXPORT] = &vfs_export,
	[N_TEMPLATES] = &vfs_templates,
	[N_TEMPLATE] = &vfs_template,
	[N_DELDIR] = &vfs_deldir,
	[N_DELCOLL] = &vfs_delcoll,
	[N_DELFILE] = &vfs_delfile,
	[N_SEARCH] = &vfs_search,
	[N_SAREA] = &vfs_sarea,
	[N_SDIR] = &vfs_sdir,
	[N_SLINK] = &vfs_slink,
};

int vfs_init(struct vfs *v, uid_t uid, gid_t gid, time_t started)
{
	memset(v, 0, sizeof(*v));
	v->uid = uid;
	v->gid = gid;
	v->started = started;
	memcpy(v->ops, own, sizeof(v->ops));
	int rc = pthread_mutex_init(&v->status_file.lock, NULL);
	return -rc;
}

void vfs_fini(struct vfs *v)
{
	struct vfs_status_file *f = &v->status_file;
	while (f->versions) {
		struct vfs_status_version *s = f->versions;
		f->versions = s->next;
		free(s->text);
		free(s);
	}
	pthread_mutex_destroy(&f->lock);
}

void vfs_set_ops(struct vfs *v, enum node_kind kind, const struct vfs_ops *ops)
{
	if (kind < N_KINDS)
		v->ops[kind] = ops;
}

const struct vfs_ops *vfs_ops_of(const struct vfs *v, enum node_kind kind)
{
	static const struct vfs_ops none;
	return kind < N_KINDS && v->ops[kind] ? v->ops[kind] : &none;
}

int vfs_node_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	*timeout = VFS_FOREVER;
	return k->attr ? k->attr(v, n, st, timeout) : -ENOENT;
}

int vfs_node_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	rd->data = rd->owned = NULL;
	rd->len = 0;
	rd->replied = false;
	return k->read ? k->read(v, n, size, off, rd) : -EISDIR;
}

void vfs_read_done(struct vfs_read *rd)
{
	free(rd->owned);
	rd->owned = NULL;
	rd->data = NULL;
	rd->len = 0;
}

fuse_ino_t vfs_parent(const struct vfs *v, const struct node *d)
{
	const struct vfs_ops *k = vfs_ops_of(v, d->kind);
	return k->parent ? k->parent(d) : INO_ROOT;
}

void vfs_put(struct vfs *v, struct node *n)
{
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	if (k->put)
		k->put(v, n);
}

bool vfs_takes_names(const struct vfs *v, const struct node *d)
{
	return vfs_ops_of(v, d->kind)->takes_names;
}

void vfs_list_free(struct vfs_list *s)
{
	cache_listing_unref(s->l);
	for (size_t i = 0; s->names && i < s->nnames; i++)
		free(s->names[i]);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

/* ---- attributes --------------------------------------------------------------------- */

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
