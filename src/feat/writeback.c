/* writeback: saved text -> PUT, POST, DELETE (see writeback.h). */
#include "feat/writeback.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/api.h"
#include "store/cache.h"
#include "base/log.h"
#include "base/names.h"
#include "model/jsontext.h"
#include "model/merge.h"
#include "model/templates.h"

struct wb_pending {
	struct cache_listing *before; /* the listing before the POST, or NULL */
	/* Or, read back from the journal (wb_pending_from_json), the identifiers
	 * that listing had, sorted (strcmp); NULL with @before or when none was
	 * known. */
	char **ids;
	size_t nids;
	cJSON *record;                /* what was posted, pythonic */
};

void wb_pending_free(struct wb_pending *p)
{
	if (!p)
		return;
	cache_listing_unref(p->before);
	for (size_t i = 0; i < p->nids; i++)
		free(p->ids[i]);
	free(p->ids);
	cJSON_Delete(p->record);
	free(p);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when record @id was listed before the POST of @p. */
static bool listed_before(const struct wb_pending *p, const char *id)
{
	if (p->before)
		return cache_listing_find(p->before, id) >= 0;
	return p->ids && bsearch(&id, p->ids, p->nids, sizeof(*p->ids), cmp_id) != NULL;
}

cJSON *wb_pending_to_json(const struct wb_pending *p)
{
	cJSON *j = cJSON_CreateObject(), *before = NULL;
	bool ok = j && cJSON_AddItemToObject(j, "record", cJSON_Duplicate(p->record, true));
	if (ok && (p->before || p->ids)) {
		before = cJSON_AddArrayToObject(j, "before");
		size_t n = p->before ? p->before->n : p->nids;
		for (size_t i = 0; before && i < n; i++) {
			const char *id = p->before ? p->before->recs[i]->id : p->ids[i];
			if (!cJSON_AddItemToArray(before, cJSON_CreateString(id)))
				before = NULL;
		}
		ok = before != NULL;
	} else if (ok) {
		ok = cJSON_AddNullToObject(j, "before") != NULL;
	}
	/* (cJSON_AddItemToObject fails on a NULL item: no half objects.) */
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

struct wb_pending *wb_pending_from_json(const cJSON *j)
{
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(j, "record");
	const cJSON *before = cJSON_GetObjectItemCaseSensitive(j, "before"), *id;
	if (!cJSON_IsObject(j) || !cJSON_IsObject(rec) ||
	    !(cJSON_IsNull(before) || cJSON_IsArray(before)))
		return NULL;
	struct wb_pending *p = calloc(1, sizeof(*p));
	if (!p || !(p->record = cJSON_Duplicate(rec, true)))
		goto fail;
	if (cJSON_IsArray(before)) {
		size_t n = (size_t)cJSON_GetArraySize(before);
		/* An empty listing is a listing: ids set, even with none in it. */
		if (!(p->ids = calloc(n ? n : 1, sizeof(*p->ids))))
			goto fail;
		cJSON_ArrayForEach(id, before) {
			if (!cJSON_IsString(id) || !*id->valuestring ||
			    !(p->ids[p->nids] = strdup(id->valuestring)))
				goto fail;
			p->nids++;
		}
		qsort(p->ids, p->nids, sizeof(*p->ids), cmp_id);
	}
	return p;
fail:
	wb_pending_free(p);
	return NULL;
}

static int fail(int err, char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(int err, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return err;
}

/* Sends @method with @wire as its JSON body: 0 on 2xx, else -errno with the
 * reason in @msg (net/api.h's api_call decides both).  @ans tells a request
 * that provably never left from one that may have reached the service.
 * @touches is the collection whose listing the change moves: what is kept of
 * it on disk stops being fresh before the request leaves (cache_change_begin). */
static int request_as(const struct wb *wb, const struct schema_collection *touches,
		      const char *method, const char *path, const cJSON *wire, bool once,
		      struct api_answer *ans, char *msg, size_t msglen)
{
	char *body = wire ? cJSON_PrintUnformatted(wire) : NULL;
	if (wire && !body) {
		ans->not_sent = ans->refused = true; /* (nothing left) */
		return fail(-ENOMEM, msg, msglen, "out of memory");
	}
	cache_change_begin(wb->cache, touches);
	size_t blen = body ? strlen(body) : 0;
	int rc = once ? api_call_once(wb->api, method, path, body, blen, ans)
		      : api_call(wb->api, method, path, body, blen, ans);
	cache_change_end(wb->cache, touches);
	free(body);
	return rc < 0 ? fail(rc, msg, msglen, "%s %s: %s", method, path, ans->message) : 0;
}

static int request(const struct wb *wb, const struct schema_collection *touches,
		   const char *method, const char *path, const cJSON *wire,
		   struct api_answer *ans, char *msg, size_t msglen)
{
	return request_as(wb, touches, method, path, wire, false, ans, msg, msglen);
}

static char *record_path(const struct schema_collection *c, const char *id)
{
	char *esc = names_url_escape(id), *path = NULL;
	if (esc && asprintf(&path, "%s/%s", c->name, esc) < 0)
		path = NULL;
	free(esc);
	return path;
}

/* The user's text as one JSON object; NULL with the reason in @msg. */
static cJSON *parse_text(const char *text, size_t len, char *msg, size_t msglen)
{
	char err[256];
	cJSON *user = jt_parse(text, len, err, sizeof(err));
	if (!user)
		fail(-EINVAL, msg, msglen, "%s", err);
	return user;
}

/* A template saved as it is holds example values only (a product named "Example
 * product", an invoice for client 0).  As a new file it is not sent (WB_UNSENT),
 * so that `cp templates/x.json x/new.json` succeeds and sends nothing until the
 * copy is edited; over an existing record it is refused. */
static int check_template(const struct schema_collection *c, const cJSON *user, bool create,
			  char *msg, size_t msglen)
{
	if (!templates_is_verbatim(c, user))
		return 0;
	if (create) {
		snprintf(msg, msglen, "templates/%s.json as it is: kept, not sent, until edited",
			 c->name);
		return WB_UNSENT;
	}
	return fail(-EINVAL, msg, msglen,
		    "this is templates/%s.json unchanged: edit its example values first", c->name);
}

/* PUTs pythonic @user as @id of @c, converted to the wire form first: under
 * the names and in the forms of @sent, the record as the service sent it (NULL:
 * the default forms); the listing of @touches is the one it changes. */
static int put(const struct wb *wb, const struct schema_collection *c,
	       const struct schema_collection *touches, const char *id, const cJSON *user,
	       const cJSON *sent, char *msg, size_t msglen)
{
	struct api_answer resp = {0};
	char err[256], *path = NULL;
	int rc;
	cJSON *wire = schema_to_wire_as(c, user, sent, false, err, sizeof(err));
	if (!wire)
		return fail(-EINVAL, msg, msglen, "%s", err);
	path = record_path(c, id);
	rc = path ? request(wb, touches, "PUT", path, wire, &resp, msg, msglen) : -ENOMEM;
	api_answer_clear(&resp);
	cJSON_Delete(wire);
	free(path);
	return rc;
}

/* What the service computes (an id, a total, a timestamp) is never sent.  A text
 * that changes nothing else is refused: that edit cannot take, and must not pass
 * for saved.  Beside other changes (a backup copied back, older than the service's
 * totals and timestamp) those fields are ignored, the service's values kept, and
 * named in @ignored (a notice; "" when none). */
static int check_readonly(const struct schema_collection *c, const cJSON *user,
			  const cJSON *cur, char *ignored, size_t ignlen, char *msg, size_t msglen)
{
	char names[200] = "";
	const char *first = NULL;
	size_t n = 0, at = 0;
	cJSON *rest = cJSON_Duplicate(user, true);
	ignored[0] = '\0';
	for (size_t i = 0; i < c->nfields; i++) {
		const struct schema_field *f = &c->fields[i];
		if (!(f->flags & SCHEMA_F_READONLY))
			continue;
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(user, f->name);
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(cur, f->name);
		if (!u || (!k && cJSON_IsNull(u)) || (k && cJSON_Compare(u, k, true)))
			continue;
		if (!first)
			first = f->name;
		n++;
		if (at < sizeof(names))
			at += (size_t)snprintf(names + at, sizeof(names) - at, "%s'%s'",
					       at ? ", " : "", f->name);
		/* The text as it would be with the service's value there. */
		if (rest && k)
			cJSON_ReplaceItemInObjectCaseSensitive(rest, f->name, cJSON_Duplicate(k, true));
		else if (rest)
			cJSON_DeleteItemFromObjectCaseSensitive(rest, f->name);
	}
	bool only = n && rest && cur && cJSON_Compare(rest, cur, true);
	cJSON_Delete(rest);
	if (only && n == 1)
		return fail(-EINVAL, msg, msglen,
			    "field '%s' is set by the service and cannot be changed", first);
	if (only)
		return fail(-EINVAL, msg, msglen,
			    "fields %s are set by the service and cannot be changed", names);
	if (n)
		snprintf(ignored, ignlen, "ignored %s %s, set by the service: its values kept",
			 n == 1 ? "field" : "fields", names);
	return 0;
}

/* At most this much of each value goes into a conflict's message. */
#define WB_VALUE_SHOWN 80

/* @v as the message shows it: compact JSON, cut; "nothing" when absent. */
static void shown(const cJSON *v, char *out, size_t outsz)
{
	char *j = v ? cJSON_PrintUnformatted(v) : NULL;
	if (!v)
		snprintf(out, outsz, "nothing");
	else if (!j)
		snprintf(out, outsz, "?");
	else if (strlen(j) > WB_VALUE_SHOWN)
		snprintf(out, outsz, "%.*s...", WB_VALUE_SHOWN, j);
	else
		snprintf(out, outsz, "%s", j);
	free(j);
}

/* The reason of a conflict: the field, its value on the service and here, and
 * what to do. */
static int conflict(const struct merge_result *mr, char *msg, size_t msglen)
{
	char base[WB_VALUE_SHOWN + 8], mine[WB_VALUE_SHOWN + 8], theirs[WB_VALUE_SHOWN + 8];
	shown(mr->base_v, base, sizeof(base));
	shown(mr->mine_v, mine, sizeof(mine));
	shown(mr->theirs_v, theirs, sizeof(theirs));
	return fail(-WB_CONFLICT, msg, msglen,
		    "not sent: '%s' was changed on the service meanwhile to %s, and here to %s "
		    "(both from %s)%s%s%s; save this text again to keep yours, or write the "
		    "service's value",
		    mr->field, theirs, mine, base, mr->more ? "; so were '" : "",
		    mr->more ? mr->more : "", mr->more ? "'" : "");
}

/* The record a text started from (merge_pick_base): its own base, or else the
 * record as the mount holds it (@held), unless a version seen is nearer.  A new
 * object (the caller's) or NULL on ENOMEM. */
static cJSON *pick_base(const cJSON *user, const struct wb_bases *bases, const cJSON *held)
{
	size_t n = bases ? bases->nseen : 0;
	cJSON *own = bases && bases->own ? cJSON_ParseWithLength(bases->own, bases->own_len) : NULL;
	const cJSON **cands = calloc(n + 1, sizeof(const cJSON *));
	const cJSON *primary = own ? own : held;
	cJSON *base = NULL;
	if (!cands) {
		cJSON_Delete(own);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = bases->seen[i];
		cands[i] = v ? cJSON_ParseWithLength(v, bases->seen_lens[i]) : NULL;
	}
	/* The record held is a version a user may have read too. */
	cands[n] = own ? held : NULL;
	long k = merge_pick_base(user, primary, cands, n + 1);
	base = cJSON_Duplicate(k >= 0 ? cands[k] : primary, true);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete((cJSON *)cands[i]);
	free(cands);
	cJSON_Delete(own);
	return base;
}

/* @j as a file's text, into @bases' keep. */
static void keep_base(struct wb_bases *bases, const cJSON *j)
{
	if (!bases || !j)
		return;
	free(bases->keep);
	bases->keep = jt_format(j, &bases->keep_len);
}

/*
 * The reading of the API a save rests on, made here and nowhere else: a PUT "sends the
 * whole record" (docs/API.md), and nothing says the service keeps the fields a PUT
 * leaves out.  So a save never sends only what changed: it reads the record as the
 * service has it now, just before the PUT (one GET: fetch_now), changes on it only the
 * fields the user changed from the text's base (model/merge.h), and PUTs that whole
 * record (merge_and_put).  A field changed elsewhere meanwhile (the website, another
 * mount) survives, whichever reading of PUT the service follows; two calls per save.
 * The window between the GET and the PUT is the one a change elsewhere can still fall
 * into.
 */

/* Record @id of @c as the service has it now, into *@now (a reference): fetched, or
 * @held where the collection has no GET of one record (none in the table today). */
static int fetch_now(const struct wb *wb, const struct schema_collection *c, const char *id,
		     struct cache_record *held, struct cache_record **now, char *msg,
		     size_t msglen)
{
	int rc = cache_record_fetch(wb->cache, c, id, now);
	if (rc == -EOPNOTSUPP) {
		*now = held;
		cache_record_ref(held);
		return 0;
	}
	if (rc < 0)
		fail(rc, msg, msglen, "not sent: %s/%s could not be read from the service to save "
		     "only what changed (%s)", c->name, id,
		     rc == -ENOENT ? "it is not there any more" : log_strerror(-rc));
	return rc;
}

/* The user's changes from @base to @user, made on @now and PUT whole; *@sent when a PUT
 * went and was taken.  A conflict, or a service that holds every change already, sends
 * nothing.  @ignored: the notice for the status file once saved. */
static int merge_and_put(const struct wb *wb, const struct schema_collection *c,
			 const char *id, const cJSON *base, const cJSON *user,
			 const struct cache_record *now, struct wb_bases *bases, bool *sent,
			 const char *ignored, char *msg, size_t msglen)
{
	struct merge_result mr = {0};
	cJSON *theirs = cJSON_ParseWithLength(now->text, now->len), *wire = NULL;
	int rc = 0;
	if (!theirs || merge_records(c, base, user, theirs, &mr) < 0) {
		rc = fail(-ENOMEM, msg, msglen, "out of memory");
		goto out;
	}
	if (mr.conflicts) {
		rc = conflict(&mr, msg, msglen);
		keep_base(bases, mr.resolved);
		cache_invalidate(wb->cache, c); /* the file shows the service's values after rm */
		goto out;
	}
	if (cJSON_Compare(mr.merged, theirs, true)) {
		/* The service already holds every change (made elsewhere too). */
		keep_base(bases, user);
		cache_invalidate(wb->cache, c);
		goto out;
	}
	/* The PUT follows the names and forms the service sent the record in
	 * (unparsable or unknown: the default forms). */
	wire = now->wire ? cJSON_ParseWithLength(now->wire, now->wire_len) : NULL;
	rc = put(wb, c, c, id, mr.merged, wire, msg, msglen);
	if (rc == 0) {
		*sent = true;
		keep_base(bases, user);
		cache_invalidate(wb->cache, c);
		/* Saved: the notice goes where a reason would (wb_edit's @msg). */
		snprintf(msg, msglen, "%s", ignored);
	}
out:
	merge_result_clear(&mr);
	cJSON_Delete(theirs);
	cJSON_Delete(wire);
	return rc;
}

int wb_edit(const struct wb *wb, const struct schema_collection *c, const char *id,
	    const char *text, size_t len, struct wb_bases *bases, bool *sent, char *msg,
	    size_t msglen)
{
	struct cache_record *rec = NULL, *now = NULL;
	cJSON *user, *cur = NULL, *base = NULL;
	char ignored[300];
	int rc = -EINVAL;
	*sent = false;
	user = parse_text(text, len, msg, msglen);
	if (!user)
		goto out;
	rc = cache_record_get(wb->cache, c, id, &rec);
	if (rc < 0) {
		fail(rc, msg, msglen, "%s/%s: cannot read the record to compare: %s", c->name, id,
		     log_strerror(-rc));
		goto out;
	}
	cur = cJSON_ParseWithLength(rec->text, rec->len);
	base = pick_base(user, bases, cur);
	if (!base) {
		rc = fail(-ENOMEM, msg, msglen, "out of memory");
		goto out;
	}
	if (cJSON_Compare(user, base, true))
		goto out; /* unchanged from what it started from: nothing to send */
	if (!(c->methods & SCHEMA_M_PUT)) {
		rc = fail(-EPERM, msg, msglen, "the API cannot change %s once made", c->name);
		goto out;
	}
	keep_base(bases, base);
	/* (What the service computes is judged against what the text started from.) */
	rc = check_readonly(c, user, base, ignored, sizeof(ignored), msg, msglen);
	if (rc == 0)
		rc = check_template(c, user, false, msg, msglen);
	if (rc == 0)
		rc = fetch_now(wb, c, id, rec, &now, msg, msglen);
	if (rc == 0)
		rc = merge_and_put(wb, c, id, base, user, now, bases, sent, ignored, msg, msglen);
out:
	cache_record_unref(rec);
	cache_record_unref(now);
	cJSON_Delete(user);
	cJSON_Delete(cur);
	cJSON_Delete(base);
	return rc;
}

/* True when @have holds @want: equal, or for an object every member of @want
 * held by @have's, for a list as many items each held.  What the service adds
 * to what it was sent (an invoice line's linetotal, amount_desc) is no
 * difference. */
static bool holds(const cJSON *have, const cJSON *want)
{
	const cJSON *w, *h;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(have))
			return false;
		cJSON_ArrayForEach(w, want) {
			if (!holds(cJSON_GetObjectItemCaseSensitive(have, w->string), w))
				return false;
		}
		return true;
	}
	if (cJSON_IsArray(want)) {
		if (!cJSON_IsArray(have) || cJSON_GetArraySize(have) != cJSON_GetArraySize(want))
			return false;
		for (w = want->child, h = have->child; w && h; w = w->next, h = h->next)
			if (!holds(h, w))
				return false;
		return true;
	}
	return have && cJSON_Compare(want, have, true);
}

/* True when listed record @rec holds every field the user gave (other than
 * those the service computes): the record a lost POST made. */
static bool matches(const struct schema_collection *c, const cJSON *user,
		    const struct cache_record *rec)
{
	cJSON *have = cJSON_ParseWithLength(rec->text, rec->len);
	const cJSON *u;
	bool same = have != NULL;
	cJSON_ArrayForEach(u, user) {
		const struct schema_field *f = schema_field_find(c, u->string);
		if (!same)
			break;
		if (f && (f->flags & (SCHEMA_F_READONLY | SCHEMA_F_CREATE)))
			continue;
		same = holds(cJSON_GetObjectItemCaseSensitive(have, u->string), u);
	}
	cJSON_Delete(have);
	return same;
}

/* After a POST that got no answer: a record the listing did not have before
 * and that holds what was posted is the one it made.  0 with its id in *@id
 * (NULL: none such), or -errno when no fresh listing came: a stale one (held
 * when the refresh fails) cannot show the record, so "not found" would be a
 * guess, and a guess posts twice. */
static int find_lost_post(const struct wb *wb, const struct schema_collection *c,
			  const struct wb_pending *p, char **id)
{
	struct cache_listing *now = NULL;
	*id = NULL;
	int rc = cache_listing_check(wb->cache, c, &now);
	if (rc < 0)
		return rc;
	for (size_t i = now->n; i-- > 0 && !*id;) {
		const struct cache_record *r = now->recs[i];
		if (listed_before(p, r->id))
			continue;
		if (matches(c, p->record, r) && !(*id = strdup(r->id))) {
			rc = -ENOMEM;
			break;
		}
	}
	cache_listing_unref(now);
	return rc;
}

/* The longest invoice number taken as plain text (see plain_id). */
#define WB_PLAIN_ID_MAX 64

/* True when @s (@n bytes) can be an identifier the service gave: not empty,
 * not too long for a file name, no control byte. */
static bool id_ok(const char *s, size_t n)
{
	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A POST's plain-text answer as an invoice number, or NULL.  This is a
 * reading: the reference says only "the new invoice number as plain text".
 * Taken: one token of at most WB_PLAIN_ID_MAX bytes holding a digit, without
 * spaces, control bytes or markup (<>{}[]"'`), the whitespace around it
 * ignored.  That is what an invoice number looks like (2026-0007, F/2026/7),
 * and what a maintenance page, a proxy's error or a captive portal's page
 * never is. */
static char *plain_id(const char *body, size_t len)
{
	const char *s = body, *e = body + len;
	bool digit = false;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (e == s || e - s > WB_PLAIN_ID_MAX)
		return NULL;
	for (const char *p = s; p < e; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= 0x20 || ch == 0x7f || strchr("<>{}[]\"'`", ch))
			return NULL;
		digit = digit || isdigit(ch);
	}
	return digit ? strndup(s, (size_t)(e - s)) : NULL;
}

/* The new record's identifier from a POST's 2xx answer, or NULL when its body
 * is not one the API gives.  The reference: a bare JSON number for clients and
 * products (123), the invoice number as plain text for invoices (plain_id).
 * Other clients also read a JSON string, or an object holding the record or
 * its id: taken too.  Anything else (an empty body, HTML, true, a fraction, a
 * list) names no record. */
static char *created_id(const struct schema_collection *c, const struct api_answer *resp)
{
	if (!resp->body)
		return NULL;
	/* Strict, or the plain-text invoice number 2026-0007 reads as 2026. */
	cJSON *j = cJSON_ParseWithOpts(resp->body, NULL, true);
	char *id = NULL;
	/* j && ...: cJSON_Is* take NULL, which the analysers cannot see in the library. */
	if (j && cJSON_IsNumber(j)) {
		double v = j->valuedouble;
		if (isfinite(v) && v >= 0 && v < 1e15 && floor(v) == v &&
		    asprintf(&id, "%.0f", v) < 0)
			id = NULL;
	} else if (j && cJSON_IsString(j)) {
		if (id_ok(j->valuestring, strlen(j->valuestring)))
			id = strdup(j->valuestring);
	} else if (j && cJSON_IsObject(j)) {
		const cJSON *rec = schema_unwrap_one(c, j);
		id = rec ? schema_record_id(c, rec) : NULL;
		if (!id) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "id");
			if (cJSON_IsNumber(v) && asprintf(&id, "%.0f", v->valuedouble) < 0)
				id = NULL;
			else if (cJSON_IsString(v))
				id = strdup(v->valuestring);
		}
		if (id && !id_ok(id, strlen(id))) {
			free(id);
			id = NULL;
		}
	} else if (!j) {
		id = plain_id(resp->body, resp->len);
	}
	cJSON_Delete(j);
	return id;
}

/* The wire body of a POST of pythonic @user to @c: in the forms the service sends
 * @c's records in, as a PUT of one of them would be ("1", "146", [] where the
 * service writes those), so that one field has one form whatever the request.  The
 * model is a record of @c's listing as held (its wire, kept for the collections
 * that can be edited); without one, the default forms (model/schema.c). */
static cJSON *post_body(const struct wb *wb, const struct schema_collection *c,
			const cJSON *user, char *err, size_t errlen)
{
	struct cache_listing *l = cache_listing_peek(wb->cache, c);
	cJSON *model = NULL, *wire;
	for (size_t i = 0; l && i < l->n && !model; i++)
		if (l->recs[i]->wire)
			model = cJSON_ParseWithLength(l->recs[i]->wire, l->recs[i]->wire_len);
	cache_listing_unref(l);
	wire = schema_to_wire_as(c, user, model, true, err, errlen);
	cJSON_Delete(model);
	return wire;
}

/* A save while an earlier POST of this file got no clear answer: never post blindly
 * again, but look for the record it may have made.  0 with *@new_id set: it did, and
 * what the user wrote since (@text, read as @user) was sent as an edit of it; 0 without:
 * it did not, post anew; -errno: not known (no listing) or the edit was refused, with
 * the reason in @msg.  *@pending is freed and NULL unless not known. */
static int resolve_pending(const struct wb *wb, const struct schema_collection *c,
			   const struct schema_collection *in, const char *text, size_t len,
			   const cJSON *user, struct wb_pending **pending, char **new_id,
			   char *msg, size_t msglen, const struct wb_post_hook *hook)
{
	int rc = find_lost_post(wb, in, *pending, new_id);
	if (rc < 0)
		return fail(rc, msg, msglen, "POST %s: not sent: the save before got no clear "
			    "answer, and the record it may have made could not be looked for "
			    "(%s)", c->name, log_strerror(-rc));
	bool same = *new_id && cJSON_Compare(user, (*pending)->record, true);
	wb_pending_free(*pending);
	*pending = NULL;
	if (!*new_id)
		return 0;
	/* It did.  What the user wrote since is an edit of that record: sent as one, or
	 * refused with its reason (and the record is still this file's, *new_id set). */
	bool sent;
	if (hook && hook->created)
		hook->created(hook->ud, in, *new_id);
	rc = same ? 0 : wb_edit(wb, in, *new_id, text, len, NULL, &sent, msg, msglen);
	if (rc < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", msg);
		snprintf(msg, msglen, "%s/%s was made from the save before, whose POST got no "
			 "answer; this text, an edit of it: %s", in->name, *new_id, why);
	}
	return rc;
}

/* The identifier of the record a 2xx answer @resp to the POST of @user made, into
 * *@new_id: the answer's, else the record listing @before did not have.  -EIO when
 * neither tells: a 2xx that is not the API's answer (a maintenance page, a captive
 * portal, garbage) says nothing of what the service did, as good as no answer. */
static int post_made(const struct wb *wb, const struct schema_collection *c,
		     const struct schema_collection *in, const struct api_answer *resp,
		     struct cache_listing *before, cJSON *user, char **new_id, char *msg,
		     size_t msglen, const struct wb_post_hook *hook)
{
	*new_id = created_id(in, resp);
	if (!*new_id && before) {
		struct wb_pending p = {.before = before, .record = user};
		(void)find_lost_post(wb, in, &p, new_id); /* (not known: not found) */
	}
	if (*new_id) {
		if (hook && hook->created)
			hook->created(hook->ud, in, *new_id);
		return 0;
	}
	char what[300];
	api_answer_describe(wb->api, resp, what, sizeof(what));
	return fail(-EIO, msg, msglen, "POST %s: not the API's answer: %s", c->name, what);
}

int wb_create(const struct wb *wb, const struct schema_collection *c, const char *text,
	      size_t len, struct wb_pending **pending, char **new_id,
	      const struct schema_collection **in, char *msg, size_t msglen,
	      const struct wb_post_hook *hook)
{
	struct api_answer resp = {0};
	cJSON *user = NULL, *wire = NULL;
	char err[256];
	int rc;
	*new_id = NULL;
	user = parse_text(text, len, msg, msglen);
	if (!user) {
		rc = -EINVAL;
		goto out;
	}
	rc = check_template(c, user, true, msg, msglen);
	if (rc != 0)
		goto out;
	*in = schema_created_in(c, user);
	if (*pending) {
		rc = resolve_pending(wb, c, *in, text, len, user, pending, new_id, msg, msglen,
				     hook);
		if (rc < 0 || *new_id)
			goto out;
	}
	if (!(c->methods & SCHEMA_M_POST)) {
		rc = fail(-EPERM, msg, msglen, "the API cannot create %s", c->name);
		goto out;
	}
	wire = post_body(wb, c, user, err, sizeof(err));
	if (!wire) {
		rc = fail(-EINVAL, msg, msglen, "%s", err);
		goto out;
	}
	struct cache_listing *before = cache_listing_peek(wb->cache, *in);
	if (hook && hook->fn) {
		/* What a lost answer would leave, kept (journaled) before the POST
		 * leaves: a daemon killed while it is out never posts it again. */
		struct wb_pending p = {.before = before, .record = user};
		rc = hook->fn(hook->ud, &p);
		if (rc < 0) {
			fail(rc, msg, msglen, "POST %s: not sent: it could not be journaled "
			     "first: %s", c->name, log_strerror(-rc));
			cache_listing_unref(before);
			goto out;
		}
	}
	rc = request(wb, *in, "POST", c->name, wire, &resp, msg, msglen);
	if (rc == 0)
		rc = post_made(wb, c, *in, &resp, before, user, new_id, msg, msglen, hook);
	/* No clear answer, so maybe acted on: remember what to look for, unless
	 * it was a clear refusal (a 4xx) or provably never left. */
	if (rc < 0 && !resp.refused) {
		struct wb_pending *p = calloc(1, sizeof(*p));
		if (p) {
			p->before = before;
			p->record = user;
			user = NULL;
			before = NULL;
			*pending = p;
		}
		size_t n = strlen(msg);
		snprintf(msg + n, msglen - n, " (the service may have made the record: "
					       "saving again checks for it first)");
	}
	if (rc == 0)
		cache_invalidate(wb->cache, *in);
	cache_listing_unref(before);
out:
	api_answer_clear(&resp);
	cJSON_Delete(user);
	cJSON_Delete(wire);
	return rc;
}

/* A file that e-mails the client is sent only when it is deliberate: one that holds
 * nothing but its collection's fields and names its record inside, as its file name
 * does.  An invoice copied here by accident (cp invoices/X.json invoices_reminder/)
 * names it too, but holds its other fields: refused before any call. */
static int check_deliberate(const struct schema_collection *c, const cJSON *user,
			    const char *id, char *msg, size_t msglen)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, user) {
		if (!schema_field_find(c, m->string))
			return fail(-EINVAL, msg, msglen,
				    "not sent: a file in %s/ holds only the fields of "
				    "templates/%s.json, and this one has '%s' too: a copy of another "
				    "record is never taken for %s",
				    c->name, c->name, m->string, c->what);
	}
	char *named = schema_record_id(c, user);
	bool same = named && !strcmp(named, id);
	free(named);
	if (!same)
		return fail(-EINVAL, msg, msglen,
			    "not sent: %s e-mails the client, so the file must name its record "
			    "inside, as its name does: {\"%s\": \"%s\", ...}",
			    c->what, c->id_field, id);
	return 0;
}

/* @c->must_exist: @id must be a record of @on that we have (a draft of ours), which
 * the listing tells (from the cache: a call only when it is not held). */
static int check_ours(const struct wb *wb, const struct schema_collection *c,
		      const struct schema_collection *on, const char *id, char *msg,
		      size_t msglen)
{
	struct cache_listing *l = NULL;
	int rc = cache_listing_get(wb->cache, on, &l);
	if (rc < 0)
		return fail(rc, msg, msglen, "not sent: %s/ could not be listed to find %s: %s",
			    on->name, id, log_strerror(-rc));
	bool have = cache_listing_find(l, id) >= 0;
	cache_listing_unref(l);
	if (!have)
		return fail(-ENOENT, msg, msglen, "not sent: %s/ has no record %s, so %s/%s.json "
			    "names nothing to send", on->name, id, c->name, id);
	return 0;
}

/* The body of reading @r for @wire: as it is, or with the identifier under the name
 * the reading gives it ("ids": a one-element list).  NULL on ENOMEM. */
static cJSON *reading_body(const struct schema_collection *c, const struct schema_send *r,
			   const cJSON *wire)
{
	cJSON *b = cJSON_Duplicate(wire, true);
	if (!b || !r->body_id || strstr(r->path, "%s"))
		return b;
	cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(b, c->id_field);
	if (!v)
		return b;
	if (!strcmp(r->body_id, "ids")) {
		cJSON *list = cJSON_CreateArray();
		if (!list || !cJSON_AddItemToArray(list, v)) {
			cJSON_Delete(list);
			cJSON_Delete(v);
			cJSON_Delete(b);
			return NULL;
		}
		v = list;
	}
	if (!cJSON_AddItemToObject(b, r->body_id, v)) {
		cJSON_Delete(v);
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

/* Reading @r of @c's request for record @id, with body @wire: 0 or -errno, the
 * answer's status in *@status (0: none came), and in *@unclear whether a failure
 * leaves open that the service acted (no clear refusal).  Sent once: an action is
 * not idempotent, so the HTTP layer repeats it only when it never left. */
static int send_reading(const struct wb *wb, const struct schema_collection *c,
			const struct schema_collection *on, const struct schema_send *r,
			const char *id, const cJSON *wire, long *status, bool *unclear,
			char *msg, size_t msglen)
{
	struct api_answer resp = {0};
	char *esc = names_url_escape(id), *path = NULL;
	cJSON *body = reading_body(c, r, wire);
	int rc = -ENOMEM;
	*status = 0;
	if (esc && body) {
		/* The one place a reading's path is made: "%s" is the identifier, if any. */
		const char *at = strstr(r->path, "%s");
		if (asprintf(&path, "%.*s%s%s", at ? (int)(at - r->path) : (int)strlen(r->path),
			     r->path, at ? esc : "", at ? at + 2 : "") < 0)
			path = NULL;
	}
	if (path) {
		rc = request_as(wb, on, r->method, path, body, true, &resp, msg, msglen);
		*status = resp.answered ? resp.status : 0;
		*unclear = rc < 0 && !resp.refused;
	} else {
		fail(rc, msg, msglen, "out of memory");
	}
	api_answer_clear(&resp);
	cJSON_Delete(body);
	free(path);
	free(esc);
	return rc;
}

/* True when an answer of @status says "not this reading" (nothing was done): the
 * method or path unknown, or with @c->send_other_on_400 the body refused. */
static bool other_reading(const struct schema_collection *c, long status)
{
	return status == 404 || status == 405 || (status == 400 && c->send_other_on_400);
}

/* Request @wire about record @id of @on sent by @c's readings (c->send): once a reading
 * worked, it is the service's, that one only; until then each in turn, while the
 * service says it is not the one.  *@unclear when the last got no clear answer. */
static int send_readings(struct wb *wb, const struct schema_collection *c,
			 const struct schema_collection *on, const char *id, const cJSON *wire,
			 bool *unclear, char *msg, size_t msglen)
{
	size_t slot = schema_collection_index(c), n = 0;
	char first[512] = "";
	while (n < sizeof(c->send) / sizeof(c->send[0]) && c->send[n].method)
		n++;
	unsigned learned = slot < WB_LEARNED ? wb->learned[slot] : 0;
	bool exhausted = true;
	int rc = -EPERM;
	for (size_t k = learned ? learned - 1 : 0; k < n; k++) {
		long status;
		rc = send_reading(wb, c, on, &c->send[k], id, wire, &status, unclear, msg, msglen);
		if (rc == 0 && slot < WB_LEARNED)
			wb->learned[slot] = (unsigned char)(k + 1);
		if (rc == 0 || learned || !other_reading(c, status)) {
			exhausted = false;
			break;
		}
		if (!first[0])
			snprintf(first, sizeof(first), "%s", msg);
	}
	/* Every reading refused as not the service's: the likeliest one's reason. */
	if (rc < 0 && exhausted && first[0] && n > 1)
		snprintf(msg, msglen, "%s (and the other readings of this request too)", first);
	return rc;
}

int wb_act(struct wb *wb, const struct schema_collection *c, const char *id, const char *text,
	   size_t len, struct wb_pending **pending, char *msg, size_t msglen,
	   const struct wb_post_hook *hook)
{
	const struct schema_collection *on = c ? schema_find(c->acts_on) : NULL;
	char err[256];
	cJSON *wire = NULL;
	if (!on)
		return fail(-EPERM, msg, msglen, "the API takes no file in %s", c ? c->name : "?");
	/* A name no record of @on can have is refused before its text is even read. */
	if (on->id_type == SCHEMA_INT && !names_all_digits(id))
		return fail(-EINVAL, msg, msglen, "not sent: '%s' cannot name a record of %s/",
			    id, on->name);
	cJSON *user = parse_text(text, len, msg, msglen);
	int rc = user ? check_template(c, user, true, msg, msglen) : -EINVAL;
	if (rc == 0 && c->deliberate)
		rc = check_deliberate(c, user, id, msg, msglen);
	if (rc == 0 && !(wire = schema_to_wire(c, user, true, err, sizeof(err))))
		rc = fail(-EINVAL, msg, msglen, "%s", err);
	if (rc == 0 && c->must_exist)
		rc = check_ours(wb, c, on, id, msg, msglen);
	if (rc != 0)
		goto out;
	/* The same text as one that got no clear answer: the service may have carried
	 * it out, and no listing can tell (nothing lists a payment or a reminder), so
	 * it is never sent again by itself.  A changed text is the user's new request;
	 * a file removed and written again is too. */
	if (pending && *pending && cJSON_Compare(user, (*pending)->record, true)) {
		rc = fail(-EALREADY, msg, msglen,
			  "not sent again: %s for %s/%s got no clear answer before, and the "
			  "service may have carried it out; check %s/%s on the service (remove "
			  "this file and write it again to send it anyway)",
			  c->what ? c->what : c->name, on->name, id, on->name, id);
		goto out;
	}
	if (hook && hook->fn) {
		/* As a POST's: kept (journaled) before it leaves, so that a daemon
		 * killed while it is out brings the text back unanswered, and that
		 * text is not sent again by itself. */
		struct wb_pending p = {.record = user};
		rc = hook->fn(hook->ud, &p);
		if (rc < 0) {
			fail(rc, msg, msglen, "%s/%s: not sent: it could not be journaled first: %s",
			     c->name, id, log_strerror(-rc));
			goto out;
		}
	}
	bool unclear = false;
	rc = send_readings(wb, c, on, id, wire, &unclear, msg, msglen);
	if (pending) {
		/* What a next save of this file must not send again: the text of a
		 * request that got no clear answer (kept by the save machine and its journal
		 * as a POST's lost answer is); anything else settles it. */
		wb_pending_free(*pending);
		*pending = NULL;
		if (rc < 0 && unclear && (*pending = calloc(1, sizeof(**pending)))) {
			(*pending)->record = user;
			user = NULL;
		}
	}
	if (rc < 0 && unclear) {
		size_t used = strlen(msg);
		snprintf(msg + used, msglen - used, " (the service may have carried it out: "
			 "check %s/%s there; this text is not sent again by itself)", on->name, id);
	}
	if (rc == 0) {
		cache_invalidate(wb->cache, on); /* an invoice's open amount, a draft gone */
		if (c->changes_too)
			cache_invalidate(wb->cache, schema_find(c->changes_too));
	}
out:
	cJSON_Delete(wire);
	cJSON_Delete(user);
	return rc;
}

int wb_delete(const struct wb *wb, const struct schema_collection *c, const char *id, char *msg,
	      size_t msglen)
{
	struct api_answer resp = {0};
	char *path;
	int rc;
	if (!(c->methods & SCHEMA_M_DELETE))
		return fail(-EPERM, msg, msglen, "the API cannot delete %s", c->name);
	path = record_path(c, id);
	if (!path)
		return -ENOMEM;
	rc = request(wb, c, "DELETE", path, NULL, &resp, msg, msglen);
	if (rc == 0 || rc == -ENOENT)
		cache_invalidate(wb->cache, c);
	api_answer_clear(&resp);
	free(path);
	return rc;
}
