/* save_delete: the delete of a record (see save_delete.h). */
#include "ns/save_delete.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/events.h"
#include "base/log.h"
#include "feat/writeback.h"
#include "model/jsontext.h"
#include "ns/save_i.h"
#include "store/cache.h"
#include "store/deleted.h"

/* True when pythonic value @v holds something: a date, a true, a number. */
static bool holds_value(const cJSON *v)
{
	return v && !cJSON_IsNull(v) && !cJSON_IsFalse(v) &&
	       !(cJSON_IsString(v) && !*v->valuestring);
}

/* Refuses the delete of record @r of @c when its collection guards it (a sent
 * invoice) and the mount does not allow it: -EPERM with the reason in @msg. */
static int delete_guarded(const struct save *s, const struct schema_collection *c,
			  const struct cache_record *r, char *msg, size_t msglen)
{
	if (!c->delete_guard || s->allow_guarded || !r)
		return 0;
	cJSON *rec = cJSON_ParseWithLength(r->text, r->len);
	bool guarded = holds_value(cJSON_GetObjectItemCaseSensitive(rec, c->delete_guard));
	cJSON_Delete(rec);
	if (!guarded)
		return 0;
	snprintf(msg, msglen, "not deleted: this invoice was sent (\"%s\" is set), and Dutch "
		 "invoice numbers must run on without gaps: correct it with a credit invoice, "
		 "or mount with -o allow_invoice_delete to delete it anyway", c->delete_guard);
	return -EPERM;
}

/* The text kept of deleted record @r: as the file showed it, with "action" (and a
 * "savename" when it has none) where its collection says how a copy restores. */
static char *kept_text(const struct schema_collection *c, const struct cache_record *r,
		       size_t *len)
{
	cJSON *rec = NULL;
	char *text = NULL;
	if (!c->restore_action) {
		*len = r->len;
		return strndup(r->text, r->len);
	}
	rec = cJSON_ParseWithLength(r->text, r->len);
	if (!rec)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(rec, "action");
	bool ok = cJSON_AddStringToObject(rec, "action", c->restore_action) != NULL;
	if (ok && !holds_value(cJSON_GetObjectItemCaseSensitive(rec, "savename"))) {
		char savename[300];
		snprintf(savename, sizeof(savename), "%s (deleted)", r->id);
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "savename");
		ok = cJSON_AddStringToObject(rec, "savename", savename) != NULL;
	}
	if (ok)
		text = jt_format(rec, len);
	cJSON_Delete(rec);
	return text;
}

/* Keeps record @r of @c, about to be deleted, under .factuurfs/deleted/<c>/@name.
 * 0 (also without a store: -o nodiskcache), or -errno with the reason in @msg. */
static int keep_deleted(struct save *s, const struct schema_collection *c, const char *name,
			const struct cache_record *r, char *msg, size_t msglen)
{
	size_t len = 0;
	if (!s->deleted)
		return 0;
	char *text = kept_text(c, r, &len);
	int rc = text ? deleted_keep(s->deleted, c->name, name, text, len) : -ENOMEM;
	if (rc < 0)
		snprintf(msg, msglen, "not deleted: its copy could not be kept in "
			 ".factuurfs/deleted (%s), and a delete is never made without one",
			 log_strerror(-rc));
	free(text);
	return rc;
}

int save_delete_record(struct save *s, struct node *dir, struct node *n, const char *name,
		       const char *what, struct save_effects *fx)
{
	char msg[512];
	/* The record as it is now: what the guard reads, and what is kept. */
	struct cache_record *r = NULL;
	int rc = cache_record_get(s->cache, dir->c, n->id, &r);
	if (rc < 0)
		snprintf(msg, sizeof(msg), "not deleted: it could not be read first (%s)",
			 log_strerror(-rc));
	if (rc == 0)
		rc = delete_guarded(s, dir->c, r, msg, sizeof(msg));
	/* Kept before the DELETE leaves, so that a daemon that dies as it is
	 * answered has it too; a copy of one whose DELETE failed stays (the
	 * service may have carried out a DELETE whose answer was lost). */
	if (rc == 0)
		rc = keep_deleted(s, dir->c, name, r, msg, sizeof(msg));
	if (rc == 0)
		rc = wb_delete(s->wb, dir->c, n->id, msg, sizeof(msg));
	cache_record_unref(r);
	if (rc < 0) {
		events_refused(s->events, what, "deleted", msg);
		return rc;
	}
	events_change(s->events, "deleted %s", what);
	save_effects_now(fx, dir->ino);
	fx->views = true;
	return 0;
}
