/* control: .factuurfs/status and .factuurfs/refresh (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/log.h"
#include "feat/prefetch.h"
#include "feat/status.h"
#include "fuse/ioctl.h"
#include "store/cache.h"

/* Seconds a rendering of the status file is the one its name opens, unless an error
 * or a change is recorded meanwhile (control_status_node). */
#define STATUS_HOLD 1.0

void control_free(struct status_file *f)
{
	while (f->versions) {
		struct status_version *v = f->versions;
		f->versions = v->next;
		free(v->text);
		free(v);
	}
	pthread_mutex_destroy(&f->lock);
}

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
static struct status_version *version_of(struct status_file *f, fuse_ino_t ino)
{
	struct status_version *v = f->versions;
	while (v && v->ino != ino)
		v = v->next;
	return v;
}

/* With f->lock held: the renderings that are no longer the newest and that no lookup
 * holds let go of their node (freed at the kernel's last forget, or now when it has
 * none), and those whose node is gone are dropped (inode numbers are never used
 * twice).  A node is held (pinned) while it can still be handed out: a LOOKUP that
 * found it replies, taking the kernel's reference, after it is found, and a forget
 * meanwhile would have freed it under that reply. */
static void versions_release(struct mount *m, struct status_file *f)
{
	for (struct status_version **pv = &f->versions; *pv;) {
		struct status_version *v = *pv;
		if (v->pinned && v != f->versions && !v->handed) {
			v->pinned = false;
			inode_forget(m->inodes, v->ino, 1);
		}
		if (v->pinned || inode_get(m->inodes, v->ino)) {
			pv = &v->next;
			continue;
		}
		*pv = v->next;
		free(v->text);
		free(v);
	}
}

struct node *control_status_node(struct mount *m)
{
	struct status_file *f = &m->status_file;
	struct status_version *v = NULL;
	struct node *n = NULL;
	double now = clock_mono();
	unsigned long gen = events_generation(m->events);
	pthread_mutex_lock(&f->lock);
	/* Rendered at most once a second, but at once after an error or a change. */
	if (f->versions && now - f->at <= STATUS_HOLD && gen == f->gen) {
		/* Pinned, so still there. */
		n = inode_get(m->inodes, f->versions->ino);
		f->versions->handed++;
		goto out;
	}
	if (!(v = calloc(1, sizeof(*v))) || !(v->text = status_render(&m->status, &v->len)))
		goto out;
	/* Made unnamed: freed at the last forget once it lets go (ns/inode.h). */
	n = inode_local_new(m->inodes, N_STATUS, NULL, FS_RO_MODE);
	if (!n)
		goto out;
	inode_ref(m->inodes, n);
	v->pinned = true;
	v->handed = 1;
	v->ino = n->ino;
	v->mtime = clock_wall();
	v->next = f->versions;
	f->versions = v;
	v = NULL;
	f->at = now;
	f->gen = gen;
	versions_release(m, f);
out:
	if (v)
		free(v->text);
	free(v);
	pthread_mutex_unlock(&f->lock);
	return n;
}

void control_status_put(struct mount *m, struct node *n)
{
	struct status_file *f = &m->status_file;
	pthread_mutex_lock(&f->lock);
	struct status_version *v = version_of(f, n->ino);
	if (v && v->handed)
		v->handed--;
	versions_release(m, f);
	pthread_mutex_unlock(&f->lock);
}

static int status_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct status_file *f = &m->status_file;
	pthread_mutex_lock(&f->lock);
	const struct status_version *v = version_of(f, n->ino);
	if (v) {
		attr_file(m, st, n->ino, FS_RO_MODE, (off_t)v->len, 0);
		st->st_mtim = st->st_ctim = st->st_atim = v->mtime;
	}
	pthread_mutex_unlock(&f->lock);
	/* It never changes, so asking again costs a round trip and nothing else; and its
	 * name must be looked up at every open (dir.c, attr.c: no entry timeout). */
	*timeout = 0;
	return v ? 0 : -ENOENT;
}

static int status_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	struct status_file *f = &m->status_file;
	char *slice = NULL;
	size_t len = 0;
	bool found;
	pthread_mutex_lock(&f->lock);
	const struct status_version *v = version_of(f, n->ino);
	found = v != NULL;
	if (v && off >= 0 && (size_t)off < v->len) {
		len = v->len - (size_t)off < size ? v->len - (size_t)off : size;
		if ((slice = malloc(len)))
			memcpy(slice, v->text + off, len);
	}
	pthread_mutex_unlock(&f->lock);
	if (!found)
		return -ENOENT;
	if (len && !slice)
		return -ENOMEM;
	fuse_reply_buf(req, slice, len);
	free(slice);
	return 0;
}

const struct kind_ops kind_status = {
	.attr = status_attr,
	.read = status_read,
};

static int refresh_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	attr_file(m, st, n->ino, 0200, 0, m->started);
	return 0;
}

static int refresh_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	(void)m;
	(void)n;
	(void)size;
	(void)off;
	fuse_reply_buf(req, NULL, 0);
	return 0;
}

const struct kind_ops kind_refresh = {
	.attr = refresh_attr,
	.read = refresh_read,
};

/* ---- refreshing ------------------------------------------------------------------------ */

void control_refresh_all(struct mount *m)
{
	log_msg(LOG_INFO, "refresh: dropping every cached listing");
	cache_refresh_all(m->cache);
	events_touch(m->events);
	for (size_t i = 0; i < schema_ncollections(); i++)
		kernel_inval_now(m->kernel, INO_COLL0 + i);
	kernel_inval_views(m, true);
}

/* What a write to .factuurfs/refresh names (`factuurfs refresh MNT [PATH]`):
 * a path drops the listing of the collection it is in ("clients",
 * "invoices/2024-0001.pdf", "balance.json"); anything else ("1", nothing,
 * views/) drops every listing, as any write always did. */
void control_refresh(struct mount *m, const char *text, size_t len)
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
		control_refresh_all(m);
		return;
	}
	log_msg(LOG_INFO, "refresh: dropping the listing of %s", c->name);
	cache_invalidate(m->cache, c);
	events_touch(m->events);
	kernel_inval_now(m->kernel, inode_coll_ino(c));
}

/* `factuurfs refresh` on a read-only mount, where the kernel refuses the
 * write to .factuurfs/refresh: the same text by ioctl on .factuurfs/
 * (ioctl.h); and `factuurfs fetch` asking the archive to hurry.  Every other
 * ioctl, anywhere, is not ours. */
void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	      size_t out_bufsz)
{
	(void)arg;
	(void)fi;
	if (ino == INO_CTL && cmd == FS_IOC_FETCH && !(flags & FUSE_IOCTL_UNRESTRICTED) && in_buf &&
	    in_bufsz >= sizeof(struct fs_fetch_ioctl) && out_bufsz >= sizeof(struct fs_fetch_ioctl)) {
		struct fs_fetch_ioctl f;
		unsigned long session = 0;
		memcpy(&f, in_buf, sizeof(f));
		int rc = prefetch_hurry(mount_of(req)->status.prefetch, f.seconds, &session);
		f.session = (unsigned int)session;
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_ioctl(req, 0, &f, sizeof(f));
		return;
	}
	if (ino != INO_CTL || cmd != FS_IOC_REFRESH || (flags & FUSE_IOCTL_UNRESTRICTED) ||
	    !in_buf) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	control_refresh(mount_of(req), in_buf, strnlen(in_buf, in_bufsz));
	fuse_reply_ioctl(req, 0, NULL, 0);
}
