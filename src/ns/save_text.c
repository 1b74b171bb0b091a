/* save_text: a text of the user's in a node, and its limits (see save_text.h). */
#include "ns/save_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/vec.h"
#include "feat/writeback.h"
#include "ns/save_i.h"

void save_text_step(struct text *t, enum save_event ev)
{
	enum save_state next = save_state_next(t->state, ev);
	if (next == SAVE_NSTATES) {
		log_msg(LOG_ERR, "save: no transition from %s on event %d",
			save_state_name(t->state), (int)ev);
		return;
	}
	t->state = next;
	t->steps++;
}

void save_text_set_error(struct text *t, const char *reason)
{
	free(t->error);
	/* Without memory for the reason it is still refused, only unexplained. */
	t->error = reason ? strdup(reason) : NULL;
}

void save_text_free(struct text *t)
{
	if (!t)
		return;
	if (t->total)
		atomic_fetch_sub(t->total, t->cap);
	wb_pending_free(t->pending);
	free(t->error);
	free(t->data);
	free(t->base);
	/* (Its journal entry stays: at unmount that is the point.) */
	free(t->jfile);
	free(t);
}

struct text *save_text_of(struct save *s, struct node *n)
{
	if (!n->text && (n->text = calloc(1, sizeof(*n->text))))
		n->text->total = &s->texts_total;
	return n->text;
}

bool save_text_orphan(struct save *s, struct text *t)
{
	if (s->norphans == s->orphans_cap &&
	    vec_grow(&s->orphans, &s->orphans_cap, s->norphans + 1, sizeof(*s->orphans)) < 0)
		return false;
	s->orphans[s->norphans++] = t->jfile;
	t->jfile = NULL;
	return true;
}

void save_text_drop(struct save *s, struct node *n)
{
	struct text *t = n->text;
	if (t && t->jfile && !save_text_orphan(s, t))
		log_msg(LOG_ERR, "journal: %s stays (out of memory)", t->jfile);
	save_text_free(t);
	n->text = NULL;
}

int save_text_reserve(struct text *t, size_t len)
{
	if (len <= t->cap)
		return 0;
	/* A record is a few KiB of JSON: a bigger file is not one, and an
	 * endless writer must not take the daemon's memory. */
	if (len > SAVE_TEXT_MAX)
		return -EFBIG;
	size_t cap = t->cap ? t->cap : 4096;
	while (cap < len)
		cap *= 2;
	if (cap > SAVE_TEXT_MAX)
		cap = SAVE_TEXT_MAX;
	size_t grow = cap - t->cap;
	if (atomic_fetch_add(t->total, grow) + grow > SAVE_TEXTS_MAX) {
		atomic_fetch_sub(t->total, grow);
		return -ENOSPC;
	}
	char *data = realloc(t->data, cap);
	if (!data) {
		atomic_fetch_sub(t->total, grow);
		return -ENOMEM;
	}
	t->data = data;
	t->cap = cap;
	return 0;
}

/* A change by the user, now. */
static void touched(struct save *s, struct node *n, struct text *t)
{
	struct timespec now = clock_wall();
	t->gen++;
	save_text_step(t, SAVE_EV_WRITE);
	save_notice_drop(&s->notices, n->ino); /* it was about the text saved before */
	inode_set_times(s->inodes, n, NULL, &now);
}

int save_text_write(struct save *s, struct node *n, const char *data, size_t size, off_t off)
{
	struct text *t = save_text_of(s, n);
	if (!t)
		return -ENOMEM;
	if (off < 0 || (size_t)off > SIZE_MAX - size)
		return -EINVAL;
	if ((size_t)off + size > SAVE_TEXT_MAX) {
		/* The close that follows says why (save_commit), rather than the
		 * parse of the part that fit. */
		if ((size_t)off + size > t->cut)
			t->cut = (size_t)off + size;
		touched(s, n, t);
		return -EFBIG;
	}
	int rc = save_text_reserve(t, (size_t)off + size);
	if (rc < 0)
		return rc;
	if ((size_t)off > t->len)
		memset(t->data + t->len, 0, (size_t)off - t->len);
	/* A write of nothing to a text never written has no buffer: memcpy(NULL, ..., 0)
	 * is undefined. */
	if (size)
		memcpy(t->data + off, data, size);
	if ((size_t)off + size > t->len)
		t->len = (size_t)off + size;
	touched(s, n, t);
	return 0;
}

int save_text_truncate(struct save *s, struct node *n, off_t size)
{
	struct text *t = save_text_of(s, n);
	if (!t)
		return -ENOMEM;
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > SAVE_TEXT_MAX)
		return -EFBIG;
	int rc = save_text_reserve(t, (size_t)size);
	if (rc < 0)
		return rc;
	if (size == 0)
		t->cut = 0; /* written anew from nothing: whole again */
	if ((size_t)size > t->len)
		memset(t->data + t->len, 0, (size_t)size - t->len);
	t->len = (size_t)size;
	touched(s, n, t);
	return 0;
}

int save_text_keep_refused(struct save *s, struct node *n, struct text *from)
{
	int rc = save_text_truncate(s, n, 0);
	if (rc == 0)
		rc = save_text_write(s, n, from->data, from->len, 0);
	if (rc == 0) {
		n->text->state = from->pending ? SAVE_UNANSWERED : SAVE_REFUSED;
		n->text->steps++;
		n->text->pending = from->pending;
		from->pending = NULL;
		n->text->sent_gen = n->text->gen;
		n->text->sent_rc = from->sent_rc ? from->sent_rc : -EINVAL;
		save_text_set_error(n->text, from->error ? from->error : "refused");
	}
	return rc;
}
