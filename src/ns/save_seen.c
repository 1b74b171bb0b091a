/* save_seen: the versions of records a user here may be editing from (see
 * save_seen.h). */
#include "ns/save_seen.h"

#include <stdlib.h>
#include <string.h>

void save_seen_note(struct save_seen *s, const struct schema_collection *c, const char *id,
		    const char *text, size_t len)
{
	for (size_t i = 0; i < SAVE_SEEN; i++) {
		struct save_seen_version *v = &s->v[i];
		if (v->c == c && v->id && v->len == len && !strcmp(v->id, id) &&
		    (!len || !memcmp(v->text, text, len))) {
			v->serial = ++s->serial;
			return;
		}
	}
	struct save_seen_version *v = &s->v[s->next];
	char *cid = strdup(id), *ctext = malloc(len ? len : 1);
	if (!cid || !ctext) {
		free(cid);
		free(ctext);
		return; /* (a base less to choose from) */
	}
	if (len)
		memcpy(ctext, text, len);
	free(v->id);
	free(v->text);
	*v = (struct save_seen_version){.c = c, .id = cid, .text = ctext, .len = len,
					.serial = ++s->serial};
	s->next = (s->next + 1) % SAVE_SEEN;
}

static int by_newest(const void *a, const void *b)
{
	const struct save_seen_version *x = *(const struct save_seen_version *const *)a;
	const struct save_seen_version *y = *(const struct save_seen_version *const *)b;
	return x->serial < y->serial ? 1 : x->serial > y->serial ? -1 : 0;
}

size_t save_seen_of(const struct save_seen *s, const struct schema_collection *c,
		    const char *id, const struct save_seen_version **out)
{
	size_t n = 0;
	for (size_t i = 0; i < SAVE_SEEN; i++)
		if (s->v[i].c == c && s->v[i].id && !strcmp(s->v[i].id, id))
			out[n++] = &s->v[i];
	qsort(out, n, sizeof(const struct save_seen_version *), by_newest);
	return n;
}

void save_seen_clear(struct save_seen *s)
{
	for (size_t i = 0; i < SAVE_SEEN; i++) {
		free(s->v[i].id);
		free(s->v[i].text);
		s->v[i] = (struct save_seen_version){0};
	}
}
