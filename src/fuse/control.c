/* control: .factuurfs/status and .factuurfs/refresh (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/log.h"
#include "feat/status.h"
#include "fuse/fs.h"
#include "store/cache.h"

/* Seconds the status file's text stays put (see status_attr). */
#define STATUS_HOLD 1.0
/* The status file's size grows in steps of this (see status_pad). */
#define STATUS_PAD_STEP 512

void control_free(struct status_file *f)
{
	free(f->text);
	pthread_mutex_destroy(&f->lock);
}

/* Pads a fresh status text with blanks to a size that only ever grows, in
 * STATUS_PAD_STEP steps.  The kernel caches the file's size from a GETATTR
 * shared by all readers, and a size that changed between one reader's
 * GETATTR and its READ (another reader re-rendered meanwhile) cut or
 * zero-filled what it read.  A stable size keeps every read whole; the text
 * only grows when the status does.  Called with f->lock held. */
static char *status_pad(struct status_file *f, char *text, size_t *len)
{
	size_t want = (*len + STATUS_PAD_STEP) / STATUS_PAD_STEP * STATUS_PAD_STEP;
	if (want < f->size)
		want = f->size;
	char *padded = realloc(text, want + 1);
	if (!padded) {
		free(text);
		return NULL;
	}
	/* JSON allows blanks after the value; the file still ends in a newline. */
	memset(padded + *len, ' ', want - *len);
	padded[want - 1] = '\n';
	padded[want] = '\0';
	*len = f->size = want;
	return padded;
}

/* The status text whose size the last GETATTR reported is what a READ
 * serves.  It is kept for STATUS_HOLD seconds unless an error or a change is
 * recorded: a reader's successive read() calls each bring a GETATTR, and a
 * text re-rendered in between (its counters move) would hand it the start
 * of one version and the end of another. */
static int status_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct status_file *f = &m->status_file;
	size_t len = 0;
	double now = clock_mono();
	unsigned long gen = events_generation(m->events);
	pthread_mutex_lock(&f->lock);
	if (!f->text || now - f->at > STATUS_HOLD || gen != f->gen) {
		char *text = status_render(&m->status, &len);
		text = text ? status_pad(f, text, &len) : NULL;
		if (text) {
			free(f->text);
			f->text = text;
			f->len = len;
			f->at = now;
			f->gen = gen;
			/* A new mtime makes the kernel drop its cached pages
			 * (auto_inval_data). */
			f->mtime = clock_wall();
		}
	}
	attr_file(m, st, n->ino, FS_RO_MODE, (off_t)f->len, 0);
	st->st_mtim = st->st_ctim = st->st_atim = f->mtime;
	pthread_mutex_unlock(&f->lock);
	*timeout = 0;
	return 0;
}

static int status_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	struct status_file *f = &m->status_file;
	size_t len = 0;
	char *text = NULL;
	(void)n;
	pthread_mutex_lock(&f->lock);
	if (f->text && (text = malloc(f->len + 1))) {
		memcpy(text, f->text, f->len);
		len = f->len;
	}
	pthread_mutex_unlock(&f->lock);
	if (!text)
		text = status_render(&m->status, &len);
	if (!text)
		return -ENOMEM;
	reply_slice(req, text, len, size, off);
	free(text);
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

void fs_refresh(struct mount *m)
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
		fs_refresh(m);
		return;
	}
	log_msg(LOG_INFO, "refresh: dropping the listing of %s", c->name);
	cache_invalidate(m->cache, c);
	events_touch(m->events);
	kernel_inval_now(m->kernel, inode_coll_ino(c));
}

/* `factuurfs refresh` on a read-only mount, where the kernel refuses the
 * write to .factuurfs/refresh: the same text by ioctl on .factuurfs/
 * (fs.h).  Every other ioctl, anywhere, is not ours. */
void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	      size_t out_bufsz)
{
	(void)arg;
	(void)fi;
	(void)out_bufsz;
	if (ino != INO_CTL || cmd != FS_IOC_REFRESH || (flags & FUSE_IOCTL_UNRESTRICTED) ||
	    !in_buf) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	control_refresh(mount_of(req), in_buf, strnlen(in_buf, in_bufsz));
	fuse_reply_ioctl(req, 0, NULL, 0);
}
