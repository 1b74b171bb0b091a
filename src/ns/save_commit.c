/* save_commit: a commit of a node's text (see save_commit.h). */
#include "ns/save_commit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/log.h"
#include "base/names.h"
#include "feat/writeback.h"
#include "model/jsontext.h"
#include "ns/save_i.h"
#include "ns/save_keep.h"
#include "ns/save_target.h"
#include "ns/save_text.h"
#include "store/times.h"

/* What a commit of @n sent and how it went. */
struct sent {
	enum save_target target;
	const struct save_target_rule *rule;    /* the target's */
	const struct schema_collection *c, *in; /* in: where a new record landed */
	char *id, *new_id, *lname;
	char what[1100];
	bool changed;    /* a PUT went out (not: the same text again) */
	struct wb_pending *pending;
	/* The text sent (a copy), and the text's state when it left. */
	char *copy;
	size_t len, cut;
	unsigned long gen;
	/* A record's: the bases its save chooses from (copies), and what it leaves. */
	char **btexts;
	size_t *blens, nb;
	struct wb_bases bases;
};

static void sent_clear(struct sent *x)
{
	free(x->id);
	free(x->new_id);
	free(x->lname);
	free(x->copy);
	wb_pending_free(x->pending);
	for (size_t i = 0; i < x->nb; i++)
		free(x->btexts[i]);
	free(x->btexts);
	free(x->blens);
	free(x->bases.keep);
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* "clients/1.json", as the status file names a record's file. */
static void record_path(const struct node *n, char *buf, size_t len)
{
	char *stem = n->id ? names_encode(n->id) : NULL;
	snprintf(buf, len, "%s/%s.json", n->c ? n->c->name : "?", stem ? stem : "?");
	free(stem);
}

/* With s->lock held: the bases record @n's text @t may have started from, copied
 * into @x: its own, and the versions seen of the record, newest first.  False on
 * ENOMEM. */
static bool bases_of(struct save *s, const struct node *n, const struct text *t, struct sent *x)
{
	const struct save_seen_version *v[SAVE_SEEN] = {0};
	size_t nv = save_seen_of(&s->seen, n->c, n->id, v);
	/* [0]: its own base (or NULL), then the versions seen. */
	x->btexts = calloc(nv + 1, sizeof(*x->btexts));
	x->blens = calloc(nv + 1, sizeof(*x->blens));
	if (!x->btexts || !x->blens)
		return false;
	x->nb = nv + 1;
	if (t->base && !(x->btexts[0] = strndup(t->base, t->base_len)))
		return false;
	x->blens[0] = t->base ? t->base_len : 0;
	for (size_t i = 0; i < nv; i++) {
		if (!(x->btexts[i + 1] = malloc(v[i]->len ? v[i]->len : 1)))
			return false;
		if (v[i]->len)
			memcpy(x->btexts[i + 1], v[i]->text, v[i]->len);
		x->blens[i + 1] = v[i]->len;
	}
	x->bases = (struct wb_bases){.own = x->btexts[0], .own_len = x->blens[0],
				     .seen = (const char *const *)x->btexts + 1,
				     .seen_lens = x->blens + 1, .nseen = nv};
	return true;
}

/* A new file of @c, which @via's POST makes (a draft: invoices'), asks for @c: its
 * `action` is @c's restore_action, or it is refused before any call (an invoice
 * written into invoices_saved/ must never be sent to its client).  A text that is
 * not JSON is left to wb_create to say so. */
static int check_through(const struct schema_collection *c, const struct schema_collection *via,
			 const char *text, size_t len, char *msg, size_t msglen)
{
	char err[64];
	cJSON *rec = jt_parse(text, len, err, sizeof(err));
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "action");
	int rc = 0;
	if (rec && !(cJSON_IsString(a) && !strcmp(a->valuestring, c->restore_action))) {
		snprintf(msg, msglen, "a new file in %s/ is made through %s/ (a POST with \"action\": "
			 "\"%s\"): this one %s; not sent", c->name, via->name, c->restore_action,
			 cJSON_IsString(a) ? "asks for another action" : "has no \"action\"");
		rc = -EINVAL;
	}
	cJSON_Delete(rec);
	return rc;
}

/* Sends @x's text of @n the way its target says (the lock dropped meanwhile):
 * 0, -errno, or WB_UNSENT. */
static int send_text(struct save *s, struct node *n, struct sent *x, char *msg, size_t msglen)
{
	struct save_posting po = {.s = s, .n = n, .lname = x->lname, .text = x->copy,
				  .len = x->len};
	struct wb_post_hook hook = {.fn = save_keep_posting, .created = save_keep_created,
				    .ud = &po};
	struct wb_post_hook *h = s->journal && x->lname ? &hook : NULL;
	const struct schema_collection *via;
	int rc;
	switch (x->rule->send) {
	case SAVE_SEND_EDIT:
		return wb_edit(s->wb, x->c, x->id, x->copy, x->len, &x->bases, &x->changed, msg,
			       msglen);
	case SAVE_SEND_ACT:
		return wb_act(s->wb, x->c, x->id, x->copy, x->len, &x->pending, msg, msglen, h);
	case SAVE_SEND_CREATE:
		via = schema_creates(x->c);
		rc = x->rule->through ? check_through(x->c, via, x->copy, x->len, msg, msglen) : 0;
		if (rc < 0)
			return rc;
		return wb_create(s->wb, via, x->copy, x->len, &x->pending, &x->new_id, &x->in, msg,
				 msglen, h);
	case SAVE_SEND_NONE:
		break;
	}
	return -EPERM; /* (save_commit sends nothing of these) */
}

/* With s->lock held: new file @n is the record a POST made (x->new_id: a
 * POST that names no record is not taken, wb_create), and the kernel is told. */
static void made(struct save *s, struct node *n, struct sent *x, struct save_effects *fx)
{
	fuse_ino_t dir = inode_coll_ino(x->c);
	events_change(s->events, "created %s/%s from %s", x->in->name, x->new_id, x->what);
	inode_make_record(s->inodes, n, x->in, x->new_id);
	/* The name the user wrote stays usable, but the record is listed under
	 * its id from now on. */
	if (x->lname)
		inode_local_add(s->inodes, dir, x->lname, n, LE_HIDDEN, 0);
	save_effects_now(fx, dir);
	if (x->in && x->in != x->c)
		save_effects_now(fx, inode_coll_ino(x->in));
	fx->views = true;
}

/* The service took a save of ours changing record @id of @c: its file's time is
 * no earlier than now (store/times.h). */
static void saved_now(struct save *s, const struct schema_collection *c, const char *id)
{
	char *stem = c && id ? names_encode(id) : NULL;
	if (stem)
		times_saved(s->times, c, stem, clock_wall());
	free(stem);
}

/* With s->lock held: the request @n stood for was carried out: its name is
 * free for the next one (@n a scratch file), and what it changed is told. */
static void acted(struct save *s, struct node *n, struct sent *x, struct save_effects *fx)
{
	fuse_ino_t dir = inode_coll_ino(x->c);
	saved_now(s, schema_find(x->c->acts_on), x->id);
	events_change(s->events, "%s %s (%s)", x->c->done, x->id, x->what);
	inode_set_kind(s->inodes, n, N_SCRATCH);
	if (x->lname)
		inode_local_del(s->inodes, dir, x->lname);
	/* It changes its record (an invoice's open amount and status; a draft
	 * gone) and what it lists, and maybe another listing (a new invoice). */
	const struct schema_collection *on = schema_find(x->c->acts_on);
	struct node *r;
	if (on && (r = inode_find_record(s->inodes, on, N_JSON, x->id)))
		save_effects_now(fx, r->ino);
	if (on && (r = inode_find_record(s->inodes, on, N_PDF, x->id)))
		save_effects_now(fx, r->ino);
	if (on)
		save_effects_now(fx, inode_coll_ino(on));
	if (x->c->changes_too)
		save_effects_now(fx, inode_coll_ino(schema_find(x->c->changes_too)));
}

/* With s->lock held: what the service took becomes what @n is — a new file
 * the record (its name kept usable, not listed), a payment's name free for
 * the next one — and the kernel is told. */
static void taken(struct save *s, struct node *n, struct sent *x, bool same,
		  struct save_effects *fx)
{
	switch (x->rule->send) {
	case SAVE_SEND_EDIT:
		if (x->changed) {
			events_change(s->events, "updated %s", x->what);
			saved_now(s, x->c, x->id); /* (nothing sent: no save, no new time) */
		}
		break;
	case SAVE_SEND_ACT:
		acted(s, n, x, fx);
		break;
	case SAVE_SEND_CREATE:
		if (x->new_id)
			made(s, n, x, fx);
		break;
	case SAVE_SEND_NONE:
		break;
	}
	struct text *t = n->text;
	if (same && save_target_rule_of(n)->record) {
		save_text_drop(s, n); /* the record's text takes over */
	} else if (t) {
		save_text_set_error(t, NULL); /* this save went through */
	}
	save_effects_now(fx, n->ino);
	fx->views = true; /* a change may move invoices between views */
}

/* With s->lock held: waits for a commit of @n's text in flight (another
 * descriptor's close).  True when its outcome is this one's (*@rc): nothing
 * was written since. */
static bool wait_in_flight(struct save *s, struct node *n, bool fsync, int *rc)
{
	struct text *t = n->text;
	while (t && t->state == SAVE_SENDING) {
		unsigned long gen = t->gen;
		pthread_cond_wait(&s->done, &s->lock);
		t = n->text;
		if (!t || (t->gen == gen && t->sent_gen == gen && !(fsync && t->sent_rc < 0))) {
			*rc = t ? t->sent_rc : 0;
			return true;
		}
	}
	return false;
}

/* With s->lock held: @n's text @t has something to send.  FLUSH comes on every
 * close, and first before anything is written (a shell's `>` dups and
 * closes): nothing new, or nothing yet, is nothing to send.  fsync sends a
 * refused text again. */
static bool to_send(const struct node *n, const struct text *t, bool fsync)
{
	bool again = fsync && (t && (t->state == SAVE_REFUSED || t->state == SAVE_UNANSWERED));
	return t && save_target_rule_of(n)->send != SAVE_SEND_NONE &&
	       (t->state == SAVE_EDITED || again) && !blank(t->data, t->len);
}

/* With s->lock held: nothing to send; but a kept text whose entry could not
 * be written is tried again (true), and close() says if it still cannot be. */
static bool behind(const struct save *s, const struct node *n, const struct text *t)
{
	return t && s->journal && save_target_rule_of(n)->send != SAVE_SEND_NONE && !t->cut &&
	       (t->state == SAVE_REFUSED || t->state == SAVE_UNANSWERED ||
		t->state == SAVE_WAITING) &&
	       !(t->jfile && t->jsteps == t->steps && t->jgen == t->gen);
}

/* With s->lock held: @n's text @t leaves (SENDING): what is sent, and what
 * of @n the outcome needs, into @x. */
static int commit_start(struct save *s, struct node *n, struct text *t, struct sent *x)
{
	if (!(x->copy = malloc(t->len ? t->len : 1)))
		return -ENOMEM;
	memcpy(x->copy, t->data, t->len);
	x->len = t->len;
	x->cut = t->cut;
	x->gen = t->gen;
	x->target = save_target_of(n);
	x->rule = save_target_rule(x->target);
	x->c = n->c;
	x->id = n->id ? strdup(n->id) : NULL;
	x->pending = t->pending;
	t->pending = NULL;
	t->sent_gen = x->gen;
	save_text_step(t, SAVE_EV_SEND);
	inode_set_busy(s->inodes, n, true);
	if (x->rule->record) {
		record_path(n, x->what, sizeof(x->what));
		if (!bases_of(s, n, t, x))
			log_msg(LOG_WARNING, "%s: out of memory: saved against the record as held",
				x->what);
	} else {
		/* The name the user wrote: hidden or freed once committed. */
		x->lname = inode_local_name(s->inodes, n);
		snprintf(x->what, sizeof(x->what), "%s/%s", x->c->name, x->lname ? x->lname : "?");
	}
	return 0;
}

/* With s->lock held: what record @n's text starts from now, after a save that
 * left one (@rc its outcome).  A conflict's (the service's values of its
 * fields, so the same text saved again keeps the user's) is also a version a
 * user here holds: an editor that writes a new file at each save (vim) finds
 * it there. */
static void rebase(struct save *s, struct node *n, struct text *t, struct sent *x, int rc)
{
	if (!x->bases.keep || !save_target_rule_of(n)->record || n->c != x->c || !n->id ||
	    !x->id || strcmp(n->id, x->id) != 0)
		return;
	if (rc == -WB_CONFLICT)
		save_seen_note(&s->seen, x->c, x->id, x->bases.keep, x->bases.keep_len);
	free(t->base);
	t->base = x->bases.keep;
	t->base_len = x->bases.keep_len;
	x->bases.keep = NULL;
}

/* With s->lock held: the outcome @rc of sending @x moves @n's text along the
 * table.  What the commit returns. */
static int commit_end(struct save *s, struct node *n, struct sent *x, int rc, const char *msg,
		      struct save_effects *fx)
{
	struct text *t = save_text_of(s, n);
	if (!t)
		return rc < 0 ? rc : -ENOMEM;
	bool same = t->gen == x->gen; /* nothing written while it was sent */
	t->sent_rc = rc == WB_UNSENT ? 0 : rc;
	rebase(s, n, t, x, rc);
	if (rc == WB_UNSENT) {
		/* A template copied as it is: a new file waiting for its edit
		 * (still carrying a POST that got no answer, if one did). */
		t->pending = x->pending;
		x->pending = NULL;
		save_text_step(t, same ? SAVE_EV_UNSENT : SAVE_EV_NEWER);
		log_msg(LOG_INFO, "%s: %s", x->what, msg);
		return 0;
	}
	if (rc < 0) {
		save_text_set_error(t, msg);
		t->pending = x->pending;
		x->pending = NULL;
		save_text_step(t, !same ? SAVE_EV_NEWER : t->pending ? SAVE_EV_LOST : SAVE_EV_REFUSED);
		/* A POST that got no answer had made the record, and the edit
		 * since was refused: the file is that record now, its text the
		 * refused edit (never a second POST). */
		if (x->new_id && x->rule->newfile)
			made(s, n, x, fx);
		return rc;
	}
	save_text_step(t, same ? SAVE_EV_TAKEN : SAVE_EV_NEWER);
	taken(s, n, x, same, fx);
	/* Saved, with something to tell (fields the service sets, ignored): a
	 * notice, in the change log, the log and the file's attribute. */
	if (msg[0] && x->rule->record) {
		char notice[600];
		snprintf(notice, sizeof(notice), "saved; %s", msg);
		save_notice_keep(&s->notices, n->ino, notice);
		events_change(s->events, "%s: %s", x->what, notice);
	}
	return rc;
}

int save_commit(struct save *s, struct node *n, bool fsync, struct save_effects *fx)
{
	char msg[512] = "";
	struct sent x = {0};
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (wait_in_flight(s, n, fsync, &rc)) {
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	struct text *t = n->text;
	if (!to_send(n, t, fsync)) {
		bool again = behind(s, n, t);
		pthread_mutex_unlock(&s->lock);
		return again ? save_keep(s, n) : 0;
	}
	rc = commit_start(s, n, t, &x);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		sent_clear(&x);
		return rc;
	}

	if (x.cut) {
		snprintf(msg, sizeof(msg),
			 "file too large: a file here holds at most %zu bytes (1 MiB), and %zu or "
			 "more were written; not sent: its first %zu bytes are kept under this name "
			 "until rm or the unmount, and not journaled (they are not the whole text)",
			 SAVE_TEXT_MAX, x.cut, x.len);
		rc = -EFBIG;
	} else {
		rc = send_text(s, n, &x, msg, sizeof(msg));
	}

	pthread_mutex_lock(&s->lock);
	rc = commit_end(s, n, &x, rc, msg, fx);
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		events_refused(s->events, x.what, "saved", msg);
	/* Before close() returns: what the service does not have is on disk
	 * (or close() says it is not: a text kept only in memory must not
	 * pass for safe, and the disk's errno wins over a refusal's: the
	 * refusal is in the status file, the lost safety only here). */
	int jrc = save_keep(s, n);
	if (jrc < 0)
		rc = jrc;
	inode_set_busy(s->inodes, n, false); /* last touch: @n may go now */
	sent_clear(&x);
	return rc;
}
