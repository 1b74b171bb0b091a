/* dir: names in a collection directory (see dir.h). */
#include "ns/dir.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"

/* How long "no such name" holds for a name that cannot be a record. */
#define DIR_FOREVER 86400.0

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && !strcmp(s + n - m, suffix);
}

/* The identifier a name in collection @c stands for, or NULL when the name
 * cannot be a record (so it never reaches the API); *@kind says which file. */
static char *record_name(const struct schema_collection *c, const char *name,
			 enum node_kind *kind)
{
	char *id;
	if (names_is_scratch(name) || !(c->methods & SCHEMA_M_LIST))
		return NULL;
	*kind = N_JSON;
	id = names_record_id(name, ".json");
	if (!id && c->pdf_path) {
		*kind = N_PDF;
		id = names_record_id(name, ".pdf");
	}
	if (id && c->id_type == SCHEMA_INT && !names_all_digits(id)) {
		free(id);
		id = NULL;
	}
	return id;
}

char *dir_listed_record(struct cache *cache, const struct schema_collection *c,
			const char *name, enum node_kind *kind, int *err, double *ttl_left)
{
	struct cache_listing *l = NULL;
	char *id = record_name(c, name, kind);
	*err = 0;
	if (ttl_left)
		*ttl_left = DIR_FOREVER;
	if (!id)
		return NULL;
	/* Found by a search (store/search.h): there, without listing the collection. */
	struct cache_record *found = NULL;
	double left = 0;
	if (cache_found_peek(cache, c, id, &found, &left) == 0) {
		cache_record_unref(found);
		if (ttl_left)
			*ttl_left = left;
		return id;
	}
	*err = cache_listing_get(cache, c, &l);
	if (*err < 0) {
		free(id);
		return NULL;
	}
	if (ttl_left)
		*ttl_left = cache_listing_ttl_left(cache, l);
	if (cache_listing_find(l, id) < 0) {
		free(id);
		id = NULL;
	}
	cache_listing_unref(l);
	return id;
}

int dir_new_kind(const struct schema_collection *c, const char *name)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	for (const char *q = name; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return -EINVAL;
	if (!ends_with(name, ".json") || names_is_scratch(name) || name[0] == '.')
		return N_SCRATCH;
	if (strchr(name, '%')) {
		char *id = names_record_id(name, ".json");
		bool canonical = id != NULL;
		free(id);
		if (!canonical)
			return -EINVAL;
	}
	if (schema_creates(c))
		return N_NEW;
	if (!(c->methods & SCHEMA_M_LIST) && (c->methods & SCHEMA_M_PUT))
		return N_NEW; /* invoices_payment/<invoicenr>.json */
	return -EPERM;
}

int dir_lookup(struct inodes *t, struct cache *cache, struct node *dir, const char *name,
	       double now, struct node **out, double *neg)
{
	enum node_kind kind;
	int flags, err;
	double until, left;
	*out = NULL;
	*neg = DIR_FOREVER;
	struct node *n = inode_local(t, dir->ino, name, &flags, &until);
	if (n && (flags & LE_REPLACING)) {
		if (now < until) {
			*neg = 0;
			return 0;
		}
		inode_local_del(t, dir->ino, name); /* nothing came: the record shows again */
		n = NULL;
	}
	if (n) {
		*out = n;
		return 0;
	}
	char *id = dir_listed_record(cache, dir->c, name, &kind, &err, &left);
	if (err < 0)
		return err;
	if (id)
		*out = inode_record(t, dir->c, kind, id);
	free(id);
	if (*out)
		return 0;
	/* A name that may be created here (a new *.json) is not cached as
	 * missing: it may appear under a rename that failed (the refused text
	 * kept there), and an entry notice for it cannot be sent while the
	 * rename holds the directory. */
	*neg = dir_new_kind(dir->c, name) == N_NEW ? 0 : left;
	return 0;
}
