/* control: .factuurfs/status and .factuurfs/refresh (see vfs.h). */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/log.h"
#include "store/cache.h"

/* Seconds a rendering of the status file is the one its name opens, unless an error
 * or a change is recorded meanwhile (vfs_status_node). */
#define STATUS_HOLD 1.0

/* One open, one document.  The kernel never tells us of an open (docs/ARCHITECTURE.md,
 * "No-open"): a reader's read() calls each arrive as a GETATTR and READs, shared
 * through the page cache with every other reader, and a text rendered anew between
 * two of them (another reader's) gave it the start of one version and the end of
 * another, or one whole version and the tail of a longer one after it.  So each
 * rendering is a file of its own: an inode that is made with it, never changes, and
 * goes when the kernel forgets it.  The name .factuurfs/status is answered with the
 * newest (entry timeout 0: every open looks it up); an open file keeps the inode it
 * opened, as a file replaced by rename() on a disk does, and everything read through
 * it (sizes, pages, every read()) is that one text. */

/* With f->lock held: the rendering of inode @ino, or NULL. */
static struct vfs_status_version *version_of(struct vfs_status_file *f, fuse_ino_t ino)
{
	struct vfs_status_version *s = f->versions;
	while (s && s->ino != ino)
		s = s->next;
	return s;
}

/* With f->lock held: the renderings that are no longer the newest and that no lookup
 * holds let go of their node (freed at the kernel's last forget, or now when it has
 * none), and those whose node is gone are dropped (inode numbers are never used
 * twice).  A node is held (pinned) while it can still be handed out: a LOOKUP that
 * found it replies, taking the kernel's reference, after it is found, and a forget
 * meanwhile would have freed it under that reply. */
static void versions_release(struct vfs *v, struct vfs_status_file *f)
{
	for (struct vfs_status_version **pv = &f->versions; *pv;) {
		struct vfs_status_version *s = *pv;
		if (s->pinned && s != f->versions && !s->handed) {
			s->pinned = false;
			inode_forget(v->inodes, s->ino, 1);
		}
		if (s->pinned || inode_get(v->inodes, s->ino)) {
			pv = &s->next;
			continue;
		}
		*pv = s->next;
		free(s->text);
		free(s);
	}
}

struct node *vfs_status_node(struct vfs *v)
{
	struct vfs_status_file *f = &v->status_file;
	struct vfs_status_version *s = NULL;
	struct node *n = NULL;
	double now = clock_mono();
	unsigned long gen = events_generation(v->events);
	pthread_mutex_lock(&f->lock);
	/* Rendered at most once a second, but at once after an error or a change. */
	if (f->versions && now - f->at <= STATUS_HOLD && gen == f->gen) {
		/* Pinned, so still there. */
		n = inode_get(v->inodes, f->versions->ino);
		f->versions->handed++;
		goto out;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->text = status_render(v->status, &s->len)))
		goto out;
	/* Made unnamed: freed at the last forget once it lets go (ns/inode.h). */
	n = inode_local_new(v->inodes, N_STATUS, NULL, VFS_RO_MODE);
	if (!n)
		goto out;
	inode_ref(v->inodes, n);
	s->pinned = true;
	s->handed = 1;
	s->ino = n->ino;
	s->mtime = clock_wall();
	s->next = f->versions;
	f->versions = s;
	s = NULL;
	f->at = now;
	f->gen = gen;
	versions_release(v, f);
out:
	if (s)
		free(s->text);
	free(s);
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void status_put(struct vfs *v, struct node *n)
{
	struct vfs_status_file *f = &v->status_file;
	pthread_mutex_lock(&f->lock);
	struct vfs_status_version *s = version_of(f, n->ino);
	if (s && s->handed)
		s->handed--;
	versions_release(v, f);
	pthread_mutex_unlock(&f->lock);
}

static int status_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct vfs_status_file *f = &v->status_file;
	pthread_mutex_lock(&f->lock);
	const struct vfs_status_version *s = version_of(f, n->ino);
	if (s) {
		vfs_attr_file(v, st, n->ino, VFS_RO_MODE, (off_t)s->len, 0);
		st->st_mtim = st->st_ctim = st->st_atim = s->mtime;
	}
	pthread_mutex_unlock(&f->lock);
	/* It never changes, so asking again costs a round trip and nothing else; and its
	 * name must be looked up at every open (no entry timeout). */
	*timeout = 0;
	return s ? 0 : -ENOENT;
}

static int status_read(struct vfs *v, struct node *n, size_t size, off_t off,
		       struct vfs_read *rd)
{
	struct vfs_status_file *f = &v->status_file;
	int rc = -ENOENT;
	pthread_mutex_lock(&f->lock);
	const struct vfs_status_version *s = version_of(f, n->ino);
	if (s)
		rc = vfs_slice_copy(rd, s->text, s->len, size, off);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

const struct vfs_ops vfs_status = {
	.attr = status_attr,
	.read = status_read,
	.put = status_put,
	.name_every_open = true,
};

/* ---- refreshing ------------------------------------------------------------------------ */

static int refresh_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	vfs_attr_file(v, st, n->ino, 0200, 0, v->started);
	return 0;
}

static int refresh_read(struct vfs *v, struct node *n, size_t size, off_t off,
			struct vfs_read *rd)
{
	(void)v;
	(void)n;
	(void)size;
	(void)off;
	(void)rd;
	return 0; /* nothing to read */
}

/* Taken even offline and on a read-only mount's ioctl: it changes nothing remote. */
static int refresh_write(struct vfs *v, struct node *n, const char *buf, size_t size,
			 off_t off, struct vfs_dropped *dropped)
{
	(void)n;
	(void)off;
	vfs_refresh_path(v, buf, size, dropped);
	return 0;
}

const struct vfs_ops vfs_refresh = {
	.attr = refresh_attr,
	.read = refresh_read,
	.write = refresh_write,
};

void vfs_refresh_all(struct vfs *v)
{
	log_msg(LOG_INFO, "refresh: dropping every cached listing");
	cache_refresh_all(v->cache);
	events_touch(v->events);
}

/* What a write to .factuurfs/refresh names (`factuurfs refresh MNT [PATH]`):
 * a path drops the listing of the collection it is in ("clients",
 * "invoices/2024-0001.pdf", "balance.json"); anything else ("1", nothing,
 * views/) drops every listing, as any write always did. */
void vfs_refresh_path(struct vfs *v, const char *text, size_t len, struct vfs_dropped *dropped)
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
	memset(dropped, 0, sizeof(*dropped));
	if (!c) {
		vfs_refresh_all(v);
		dropped->all = true;
		return;
	}
	log_msg(LOG_INFO, "refresh: dropping the listing of %s", c->name);
	cache_invalidate(v->cache, c);
	events_touch(v->events);
	dropped->c = c;
}
