/* kept: the cache's listings and records in state files (see kept.h). */
#include "store/kept.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/names.h"
#include "base/strbuf.h"
#include "store/cache_i.h"
#include "store/listing.h"
#include "store/persist.h"
#include "store/record.h"

/* ---- kept on disk (store/persist.h) --------------------------------------- */

/* The name a listing slot's file has: "invoices", "invoices.open". */
static void slot_name(const struct schema_collection *c, const char *filter, char *buf,
		      size_t len)
{
	if (filter)
		snprintf(buf, len, "%s.%s", c->name, filter);
	else
		snprintf(buf, len, "%s", c->name);
}

/* A listing on its way to disk: what persist_save holds. */
struct kept {
	char name[96];
	struct cache_listing *l; /* a reference */
};

/* persist_render_fn of a struct kept (on persist's thread: the listing is
 * immutable, and the reference keeps it). */
static int listing_render(void *snap, time_t fetched, bool fresh, struct strbuf *out)
{
	const struct kept *k = snap;
	const struct cache_listing *l = k->l;
	persist_put_header(out, k->name, fetched, fresh, l->n);
	for (size_t i = 0; i < l->n && !out->oom; i++)
		persist_put_record(out, l->recs[i]->id, l->recs[i]->whole, l->recs[i]->text,
				   l->recs[i]->len, l->recs[i]->wire, l->recs[i]->wire_len);
	return 0;
}

static void listing_release(void *snap)
{
	struct kept *k = snap;
	cache_listing_unref(k->l);
	free(k);
}

/* Hands a reference of @l, fetched at @st's slot, to persist's writer.  Every
 * fetch is written (at most one per TTL per listing, and a newer one replaces
 * one still queued): the file's fetch time then stays the listing's, which is
 * what a remount's freshness and the offline ages are read from. */
void kept_listing_save(struct cache *cache, const struct coll_state *st, struct cache_listing *l,
		       bool fresh)
{
	struct kept *k;
	if (!cache->cfg.persist || !(k = calloc(1, sizeof(*k))))
		return;
	slot_name(st->c, st->filter, k->name, sizeof(k->name));
	cache_listing_ref(l);
	k->l = l;
	persist_save(cache->cfg.persist, k->name, k, l->fetched_wall, fresh, listing_render,
		     listing_release);
}

/* ---- records fetched one by one, kept on disk ------------------------------------------ */

/* A record the listings carry only in part (schema's whole_marker: an invoice
 * listed without its lines) is fetched with a GET of its own: that copy is
 * kept in a state file of its own, "<collection>=<file stem>" beside the
 * listings (the same format: a listing of one record), so that a later mount
 * that cannot reach the service still reads it.  It is read back lazily, at
 * the record's first read in a mount (no directory scan), and only when it is
 * no older than the listing it would complete. */

/* The state file's name for record @id of @c (malloc'd), or NULL (ENOMEM, or
 * a name too long for a file). */
static char *record_name(const struct schema_collection *c, const char *id)
{
	char *stem = names_encode(id), *name = NULL;
	if (stem && strlen(c->name) + strlen(stem) < 200 &&
	    asprintf(&name, "%s=%s", c->name, stem) < 0)
		name = NULL;
	free(stem);
	return name;
}

struct kept_record {
	char *name;
	struct cache_record *r; /* a reference */
};

static int record_render(void *snap, time_t fetched, bool fresh, struct strbuf *out)
{
	const struct kept_record *k = snap;
	persist_put_header(out, k->name, fetched, fresh, 1);
	persist_put_record(out, k->r->id, true, k->r->text, k->r->len, k->r->wire,
			   k->r->wire_len);
	return 0;
}

static void record_release(void *snap)
{
	struct kept_record *k = snap;
	cache_record_unref(k->r);
	free(k->name);
	free(k);
}

/* Hands record @r of @c, just fetched with a GET of its own, to persist's
 * writer (queued: no reply waits for it). */
void kept_record_save(struct cache *cache, const struct schema_collection *c,
		      struct cache_record *r)
{
	struct kept_record *k;
	if (!cache->cfg.persist || !(k = calloc(1, sizeof(*k))))
		return;
	k->name = record_name(c, r->id);
	if (!k->name) {
		free(k);
		return;
	}
	cache_record_ref(r);
	k->r = r;
	persist_save(cache->cfg.persist, k->name, k, time(NULL), true, record_render,
		     record_release);
}

struct load_one {
	const struct schema_collection *c;
	const char *id;
	struct cache_record *r;
};

static int load_one_record(void *ud, const char *id, bool whole, const char *text, size_t len,
			   const char *wire)
{
	struct load_one *lo = ud;
	/* One whole record, the one the name says: anything else is not ours. */
	if (lo->r || !whole || strcmp(id, lo->id) != 0)
		return -EBADMSG;
	lo->r = record_from_text(lo->c, id, true, text, len, wire);
	return lo->r ? 0 : -EBADMSG;
}

/* Record @id of @c as kept_record_save kept it, when its fetch was no earlier than
 * listing @l's (an older copy may predate a change the listing shows), with
 * its age in seconds in *@age; else NULL.  A file that is not whole is
 * removed.  Reads a file: never with cache->lock held. */
struct cache_record *kept_record_load(struct cache *cache, const struct schema_collection *c,
				      const char *id, const struct cache_listing *l,
				      double *age)
{
	struct load_one lo = {.c = c, .id = id};
	struct persist_meta meta;
	char *name = cache->cfg.persist ? record_name(c, id) : NULL;
	char *path = name ? persist_path(cache->cfg.persist, name) : NULL;
	int rc = path ? persist_read(path, name, &meta, load_one_record, &lo) : -ENOENT;
	if (rc == 0 && (!lo.r || meta.count != 1))
		rc = -EBADMSG;
	if (rc == -EBADMSG) {
		log_msg(LOG_WARNING, "%s kept on disk is not whole or not of this version: removed",
			name);
		persist_remove(cache->cfg.persist, name);
	}
	if (rc == 0 && meta.fetched < l->fetched_wall)
		rc = -ESTALE;
	if (rc == 0) {
		*age = difftime(time(NULL), meta.fetched);
		if (*age < 0) /* the clock was set back: its age is not known */
			*age = cache->cfg.ttl;
	} else {
		cache_record_unref(lo.r);
		lo.r = NULL;
	}
	free(path);
	free(name);
	return lo.r;
}

struct load {
	const struct schema_collection *c;
	struct recs rs;
};

static int load_record(void *ud, const char *id, bool whole, const char *text, size_t len,
		       const char *wire)
{
	struct load *ld = ud;
	struct cache_record *r = record_from_text(ld->c, id, whole, text, len, wire);
	return r ? recs_push(&ld->rs, r) : -EBADMSG;
}

int cache_listing_load(const struct schema_collection *c, const char *filter, const char *path,
		       struct cache_listing **out, time_t *fetched, bool *fresh)
{
	struct load ld = {.c = c};
	struct persist_meta meta;
	char name[96];
	*out = NULL;
	slot_name(c, filter, name, sizeof(name));
	struct cache_listing *l = NULL;
	int rc = persist_read(path, name, &meta, load_record, &ld);
	/* A single-object collection is one record, named after it. */
	if (rc == 0 && c->single && (ld.rs.n != 1 || strcmp(ld.rs.v[0]->id, c->name) != 0))
		rc = -EBADMSG;
	if (rc == 0) {
		l = listing_new(c, &ld.rs);
		if (!l)
			rc = -ENOMEM;
	}
	recs_clear(&ld.rs);
	if (!l)
		return rc < 0 ? rc : -ENOMEM;
	l->fetched_wall = meta.fetched;
	*out = l;
	*fetched = meta.fetched;
	*fresh = meta.fresh;
	return 0;
}

/* The files kept of the slots of @c (every slot when NULL) are no longer
 * fresh: a remount lists them again.  Without cache->lock (a syscall each);
 * the slots never change. */
void kept_unfresh(struct cache *cache, const struct schema_collection *c)
{
	char name[96];
	if (!cache->cfg.persist)
		return;
	for (size_t i = 0; i < cache->nslots; i++) {
		if (c && cache->colls[i].c != c)
			continue;
		slot_name(cache->colls[i].c, cache->colls[i].filter, name, sizeof(name));
		persist_invalidate(cache->cfg.persist, name);
	}
}

/* Starts slot @st from the listing kept on disk, if there is a whole one: fresh
 * for what is left of the TTL since its fetch (wall clock), else expired, to
 * be listed again on first use and served stale while that fails, as any
 * listing is.  A refused file is removed: it is listed again, never trusted. */
void kept_slot_load(struct cache *cache, struct coll_state *st)
{
	struct cache_listing *l = NULL;
	time_t fetched = 0;
	bool fresh = false;
	char name[96];
	if (!cache->cfg.persist)
		return;
	slot_name(st->c, st->filter, name, sizeof(name));
	char *path = persist_path(cache->cfg.persist, name);
	int rc = path ? cache_listing_load(st->c, st->filter, path, &l, &fetched, &fresh) : -ENOMEM;
	free(path);
	if (rc == -EBADMSG) {
		log_msg(LOG_WARNING, "the listing of %s kept on disk is not whole or not of this "
			"version: removed, to be listed again", name);
		persist_remove(cache->cfg.persist, name);
	}
	if (rc < 0)
		return;
	double age = difftime(time(NULL), fetched);
	/* A fetch time ahead of the clock (it was set back): its age is not
	 * known, so it is not fresh. */
	if (age < 0)
		age = cache->cfg.ttl;
	l->fetched = cache->cfg.now() - age;
	/* The directory's time until its content changes, as for a first listing. */
	l->changed = (struct timespec){.tv_sec = cache->cfg.started};
	st->cur = l;
	l->version = ++st->versions;
	/* A change of ours that it may miss: listed again at first use. */
	st->forced = !fresh;
	cache->loaded++;
}
