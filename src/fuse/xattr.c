/* xattr: extended attributes (see mount.h).
 *
 * On a file whose last save was refused: why (user.factuurfs.error, until a
 * save is taken or rm drops the text).  On an invoice's .json and .pdf: what
 * its listing says (status, total, due date, client, when listed), from the
 * facts rendered with the record (model/facts.h).  On a collection's
 * directory and every other record: when its listing was fetched.  Never a
 * call, but for the listing a change of ours dropped (cache_listing_held).
 * None elsewhere.
 */
#include "fuse/mount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/facts.h"
#include "store/cache.h"

#define XATTR_PREFIX "user.factuurfs."
#define XATTR_MAX 6

struct xattr {
	const char *name;
	char value[512];
};

/* user.factuurfs.fetched: when listing @l was fetched.  On an offline mount it
 * says how old what is shown is. */
static void put_fetched(struct xattr *x, const struct cache_listing *l)
{
	struct tm ft;
	x->name = XATTR_PREFIX "fetched";
	gmtime_r(&l->fetched_wall, &ft);
	strftime(x->value, sizeof(x->value), "%Y-%m-%dT%H:%M:%SZ", &ft);
}

static size_t node_xattrs(struct mount *m, struct node *n, struct xattr *x)
{
	size_t nx = 0;
	char *error = save_error(m->save, n);
	if (error) {
		x[nx].name = XATTR_PREFIX "error";
		snprintf(x[nx++].value, sizeof(x->value), "%s", error);
		free(error);
	}
	enum node_kind kind = n->kind;
	/* A collection's directory and the records of collections without
	 * PDFs (balance.json too): when their listing was fetched. */
	if (kind == N_COLL || kind == N_SINGLE || (kind == N_JSON && !n->c->pdf_path && n->id)) {
		struct cache_listing *l = cache_listing_held(m->cache, n->c);
		if (l && (kind != N_JSON || cache_listing_find(l, n->id) >= 0))
			put_fetched(&x[nx++], l);
		cache_listing_unref(l);
		return nx;
	}
	if ((kind != N_JSON && kind != N_PDF) || !n->c->pdf_path || !n->id)
		return nx;
	struct cache_listing *l = cache_listing_held(m->cache, n->c);
	ssize_t pos = l ? cache_listing_find(l, n->id) : -1;
	const struct facts *f = pos >= 0 ? cache_record_facts(l->recs[pos]) : NULL;
	if (f) {
		char today[16];
		struct tm tm;
		time_t now = time(NULL);
		localtime_r(&now, &tm);
		strftime(today, sizeof(today), "%Y-%m-%d", &tm);
		x[nx].name = XATTR_PREFIX "status";
		facts_status(f, today, x[nx].value, sizeof(x[nx].value));
		nx++;
		if (f->has_total) {
			x[nx].name = XATTR_PREFIX "total";
			snprintf(x[nx++].value, sizeof(x->value), "%.2f", f->total + 0.0);
		}
		if (f->duedate[0]) {
			x[nx].name = XATTR_PREFIX "duedate";
			snprintf(x[nx++].value, sizeof(x->value), "%s", f->duedate);
		}
		if (f->clientnr[0]) {
			x[nx].name = XATTR_PREFIX "client";
			if (f->name[0])
				snprintf(x[nx++].value, sizeof(x->value), "%s - %s", f->clientnr,
					 f->name);
			else
				snprintf(x[nx++].value, sizeof(x->value), "%s", f->clientnr);
		}
		put_fetched(&x[nx++], l);
	} else if (pos >= 0) {
		put_fetched(&x[nx++], l); /* a quotation: a PDF, but no invoice facts */
	}
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

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct xattr x[XATTR_MAX];
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Only user.* attributes exist here.  ENOTSUP for the rest (ls -l asks
	 * every file for security.selinux and system.posix_acl_access): ls and
	 * gnulib then stop asking for the whole filesystem, instead of a round
	 * trip per file and name. */
	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	size_t nx = node_xattrs(m, n, x);
	for (size_t i = 0; i < nx; i++) {
		if (!strcmp(name, x[i].name)) {
			reply_xattr_data(req, x[i].value, strlen(x[i].value), size);
			return;
		}
	}
	fuse_reply_err(req, ENODATA);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct mount *m = mount_of(req);
	struct node *n = inode_get(m->inodes, ino);
	struct xattr x[XATTR_MAX];
	char list[XATTR_MAX * 32];
	size_t len = 0;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	size_t nx = node_xattrs(m, n, x);
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

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	(void)ino;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, xattr_refusal(name));
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	fuse_reply_err(req, xattr_refusal(name));
}
