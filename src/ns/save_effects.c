/* save_effects: what the kernel must be told (see save_effects.h). */
#include "ns/save_effects.h"

#include <stdio.h>

void save_effects_now(struct save_effects *fx, fuse_ino_t ino)
{
	for (size_t i = 0; i < fx->nnow; i++)
		if (fx->now[i] == ino)
			return;
	if (fx->nnow < sizeof(fx->now) / sizeof(fx->now[0]))
		fx->now[fx->nnow++] = ino;
}

void save_effects_entry(struct save_effects *fx, fuse_ino_t parent, const char *name)
{
	if (fx->nentries < sizeof(fx->entries) / sizeof(fx->entries[0])) {
		fx->entries[fx->nentries].parent = parent;
		snprintf(fx->entries[fx->nentries].name, sizeof(fx->entries[0].name), "%s", name);
		fx->nentries++;
	}
}
