/* xattr: the extended attributes of the collections' nodes (see vfs.h; a refused
 * save's reason, user.factuurfs.error, is table.c's: vfs_xattrs).
 *
 * On an invoice's .json and .pdf: what
 * its listing says (status, total, due date, client, when listed), from the
 * facts rendered with the record (model/facts.h).  On a collection's
 * directory and every other record: when its listing was fetched.  Never a
 * call, but for the listing a change of ours dropped (cache_listing_held).
 * None elsewhere.
 */
#include "vfs/vfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/facts.h"
#include "store/cache.h"

/* user.factuurfs.fetched: when listing @l was fetched.  On an offline mount it
 * says how old what is shown is. */
static void put_fetched(struct vfs_xattr *x, const struct cache_listing *l)
{
	struct tm ft;
	x->name = VFS_XATTR_PREFIX "fetched";
	gmtime_r(&l->fetched_wall, &ft);
	strftime(x->value, sizeof(x->value), "%Y-%m-%dT%H:%M:%SZ", &ft);
}

/* A collection's directory and balance.json: when their listing was fetched. */
size_t vfs_coll_xattrs(struct vfs *v, struct node *n, struct vfs_xattr *x)
{
	size_t nx = 0;
	struct cache_listing *l = cache_listing_held(v->cache, n->c);
	if (l)
		put_fetched(&x[nx++], l);
	cache_listing_unref(l);
	return nx;
}

/* An invoice's facts (status, total, due date, client). */
static size_t put_facts(struct vfs_xattr *x, const struct facts *f)
{
	size_t nx = 0;
	char today[16];
	struct tm tm;
	time_t now = time(NULL);
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	x[nx].name = VFS_XATTR_PREFIX "status";
	facts_status(f, today, x[nx].value, sizeof(x[nx].value));
	nx++;
	if (f->has_total) {
		x[nx].name = VFS_XATTR_PREFIX "total";
		snprintf(x[nx++].value, sizeof(x->value), "%.2f", f->total + 0.0);
	}
	if (f->duedate[0]) {
		x[nx].name = VFS_XATTR_PREFIX "duedate";
		snprintf(x[nx++].value, sizeof(x->value), "%s", f->duedate);
	}
	if (f->clientnr[0]) {
		x[nx].name = VFS_XATTR_PREFIX "client";
		if (f->name[0])
			snprintf(x[nx++].value, sizeof(x->value), "%s - %s", f->clientnr, f->name);
		else
			snprintf(x[nx++].value, sizeof(x->value), "%s", f->clientnr);
	}
	return nx;
}

/* A record's .json and .pdf (a .pdf only in collections with PDFs): its listing's
 * facts where it has them, and when that listing was fetched, while it is in it. */
size_t vfs_record_xattrs(struct vfs *v, struct node *n, struct vfs_xattr *x)
{
	size_t nx = 0;
	if (!n->id)
		return 0;
	struct cache_listing *l = cache_listing_held(v->cache, n->c);
	ssize_t pos = l ? cache_listing_find(l, n->id) : -1;
	/* (a quotation has a PDF but no invoice facts) */
	const struct facts *f =
		pos >= 0 && n->c->pdf_path ? cache_record_facts(l->recs[pos]) : NULL;
	if (f)
		nx += put_facts(x, f);
	if (pos >= 0)
		put_fetched(&x[nx++], l);
	cache_listing_unref(l);
	return nx;
}
