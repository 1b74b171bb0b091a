/* save_notice: what a save the service took left to tell (see save_notice.h). */
#include "ns/save_notice.h"

#include <stdlib.h>
#include <string.h>

static long notice_at(const struct save_notices *ns, fuse_ino_t ino)
{
	for (size_t i = 0; i < ns->n; i++)
		if (ns->at[i].ino == ino)
			return (long)i;
	return -1;
}

const char *save_notice_get(const struct save_notices *ns, fuse_ino_t ino)
{
	long i = notice_at(ns, ino);
	return i < 0 ? NULL : ns->at[i].text;
}

void save_notice_drop(struct save_notices *ns, fuse_ino_t ino)
{
	long i = notice_at(ns, ino);
	if (i < 0)
		return;
	free(ns->at[i].text);
	memmove(&ns->at[i], &ns->at[i + 1], (ns->n - (size_t)i - 1) * sizeof(ns->at[0]));
	ns->n--;
}

void save_notice_keep(struct save_notices *ns, fuse_ino_t ino, const char *text)
{
	char *copy = strdup(text);
	save_notice_drop(ns, ino);
	if (!copy)
		return;
	if (ns->n == SAVE_NOTICES) {
		free(ns->at[0].text);
		memmove(&ns->at[0], &ns->at[1], (SAVE_NOTICES - 1) * sizeof(ns->at[0]));
		ns->n--;
	}
	ns->at[ns->n].ino = ino;
	ns->at[ns->n++].text = copy;
}

void save_notice_clear(struct save_notices *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->at[i].text);
	ns->n = 0;
}
