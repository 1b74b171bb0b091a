/* views: status, year and client directories of invoices (see views.h). */
#include "feat/views.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "base/names.h"
#include "base/vec.h"
#include "model/facts.h"
#include "model/schema.h"
#include "model/vat.h"

static const char *const group_names[VIEWS_NGROUPS] = {"status", "year", "client", "quarter"};

/* One derived directory: its name and its invoices. */
struct vdir {
	char *key;                 /* year or clientnr while building */
	char *name;
	size_t *pos, n, cap;       /* positions in the invoices listing, while building */
	struct cache_listing *l;
	UT_hash_handle hh;         /* by key while building, then by name */
};

/* The directories of a group, derived from the listings they come from
 * (references held: the pointers identify the snapshot). */
struct vindex {
	struct cache_listing *inv, *cli;
	struct vdir *dirs;         /* by name */
	char **names;              /* sorted */
	size_t n;
};

struct views {
	struct cache *cache;
	pthread_mutex_t lock;                   /* protects indexes */
	struct vindex *indexes[VIEWS_NGROUPS];  /* the last built, by group */
};

const char *views_group_name(enum views_group g)
{
	return g < VIEWS_NGROUPS ? group_names[g] : NULL;
}

int views_group_find(const char *name)
{
	for (int g = 0; g < VIEWS_NGROUPS; g++)
		if (!strcmp(name, group_names[g]))
			return g;
	return -1;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

bool views_name_plausible(enum views_group g, const char *name)
{
	size_t k = strspn(name, "0123456789");
	switch (g) {
	case VIEWS_STATUS:
		return facts_filter_find(name) != NULL;
	case VIEWS_YEAR:
		return strlen(name) == 4 && digits(name, 4);
	case VIEWS_CLIENT:
		return k > 0 && (name[k] == '\0' || !strncmp(name + k, " - ", 3));
	case VIEWS_QUARTER:
		return vat_quarter_valid(name);
	default:
		return false;
	}
}

static void vdir_free(struct vdir *d)
{
	free(d->key);
	free(d->name);
	free(d->pos);
	cache_listing_unref(d->l);
	free(d);
}

static void vindex_free(struct vindex *x)
{
	struct vdir *d, *t;
	if (!x)
		return;
	HASH_ITER(hh, x->dirs, d, t) {
		assert(!d->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(x->dirs, d);
		vdir_free(d);
	}
	free(x->names);
	cache_listing_unref(x->inv);
	cache_listing_unref(x->cli);
	free(x);
}

/* The builder's directory @key, made (named @name) on first sight. */
static struct vdir *builder_dir(struct vdir **b, const char *key, const char *name)
{
	struct vdir *d = NULL;
	HASH_FIND_STR(*b, key, d);
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->key = strdup(key)) || !(d->name = strdup(name))) {
		if (d)
			vdir_free(d);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, *b, d->key, strlen(d->key), d);
	return d;
}

static int builder_add(struct vdir *d, size_t pos)
{
	if (d->n == d->cap && vec_grow(&d->pos, &d->cap, d->n + 1, sizeof(*d->pos)) < 0)
		return -ENOMEM;
	d->pos[d->n++] = pos;
	return 0;
}

/* "<nr> - <name>" with @name in the file-name codec, cut to NAME_MAX bytes on
 * a character boundary (never inside a %XX escape or a UTF-8 sequence);
 * "<nr>" when there is no name. */
static char *client_dirname(const char *nr, const char *name)
{
	char *enc = name && *name ? names_encode(name) : NULL, *out = NULL;
	if (!enc) {
		out = strdup(nr);
		return out;
	}
	if (asprintf(&out, "%s - %s", nr, enc) < 0)
		out = NULL;
	free(enc);
	if (!out)
		return NULL;
	size_t len = strlen(out), min = strlen(nr) + 3;
	while (len > NAME_MAX && len > min) {
		len--;
		while (len > min && (((unsigned char)out[len] & 0xC0) == 0x80 ||
				     out[len - 1] == '%' || (len >= 2 && out[len - 2] == '%')))
			len--;
	}
	out[len] = '\0';
	return out;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory of @g an invoice with facts @f is in, into *@d (made in @b when new;
 * NULL when it is in none: no date, no client). */
static int invoice_dir(enum views_group g, struct vdir **b, const struct facts *f,
		       struct vdir **d)
{
	char key[32];
	*d = NULL;
	if (g == VIEWS_YEAR) {
		if (strlen(f->date) < 4 || !digits(f->date, 4))
			return 0;
		snprintf(key, sizeof(key), "%.4s", f->date);
		*d = builder_dir(b, key, key);
	} else if (g == VIEWS_QUARTER) {
		if (!vat_quarter_of(f->date, key, sizeof(key)))
			return 0;
		*d = builder_dir(b, key, key);
	} else {
		if (!f->clientnr[0])
			return 0;
		HASH_FIND_STR(*b, f->clientnr, *d);
		if (*d)
			return 0;
		/* A client gone from the clients listing: named by the invoice's own copy
		 * of its name. */
		char *dn = client_dirname(f->clientnr, f->name);
		*d = dn ? builder_dir(b, f->clientnr, dn) : NULL;
		free(dn);
	}
	return *d ? 0 : -ENOMEM;
}

/* Builds the directories of @g (YEAR, QUARTER or CLIENT) from @inv (and @cli). */
static struct vindex *vindex_build(enum views_group g, struct cache_listing *inv,
				   struct cache_listing *cli)
{
	struct vindex *x = calloc(1, sizeof(*x));
	struct vdir *b = NULL, *d, *t;
	int rc = 0;
	if (!x)
		return NULL;
	if (g == VIEWS_CLIENT) {
		/* Every client has a directory, with or without invoices. */
		for (size_t i = 0; i < cli->n && rc == 0; i++) {
			const struct facts *f = cache_record_facts(cli->recs[i]);
			char *dn = digits(cli->recs[i]->id, strlen(cli->recs[i]->id))
					   ? client_dirname(cli->recs[i]->id, f ? f->name : NULL) : NULL;
			if (dn && !builder_dir(&b, cli->recs[i]->id, dn))
				rc = -ENOMEM;
			free(dn);
		}
	}
	for (size_t i = 0; i < inv->n && rc == 0; i++) {
		const struct facts *f = cache_record_facts(inv->recs[i]);
		d = NULL;
		if (!f)
			continue;
		rc = invoice_dir(g, &b, f, &d);
		if (d && rc == 0)
			rc = builder_add(d, i);
	}
	/* Into directories keyed by name, each with its listing. */
	x->names = calloc(HASH_COUNT(b) + 1, sizeof(*x->names));
	if (!x->names)
		rc = -ENOMEM;
	HASH_ITER(hh, b, d, t) {
		assert(!d->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(b, d);
		struct vdir *dup = NULL;
		if (rc == 0)
			HASH_FIND_STR(x->dirs, d->name, dup);
		if (rc < 0 || dup || !(d->l = cache_listing_subset(inv, d->pos, d->n))) {
			rc = rc < 0 || dup ? rc : -ENOMEM;
			vdir_free(d);
			continue;
		}
		if (cli) {
			/* Its names come from both listings: it holds while both do. */
			if (cache_time_after(cli->changed, d->l->changed))
				d->l->changed = cli->changed;
			if (cli->fetched < d->l->fetched)
				d->l->fetched = cli->fetched;
		}
		free(d->pos);
		d->pos = NULL;
		HASH_ADD_KEYPTR(hh, x->dirs, d->name, strlen(d->name), d);
		x->names[x->n++] = d->name;
	}
	if (rc < 0) {
		vindex_free(x);
		return NULL;
	}
	qsort(x->names, x->n, sizeof(*x->names), cmp_name);
	cache_listing_ref(inv);
	x->inv = inv;
	if (cli)
		cache_listing_ref(cli);
	x->cli = cli;
	return x;
}

/* The index of @g for the current listings, with v->lock held on success
 * (the caller unlocks). */
static int vindex_get(struct views *v, enum views_group g, struct vindex **out)
{
	struct cache *cache = v->cache;
	struct cache_listing *inv = NULL, *cli = NULL;
	int rc = cache_listing_get(cache, schema_invoices(), &inv);
	if (rc == 0 && g == VIEWS_CLIENT)
		rc = cache_listing_get(cache, schema_clients(), &cli);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&v->lock);
	struct vindex *x = v->indexes[g];
	if (!x || x->inv != inv || x->cli != cli) {
		struct vindex *fresh = vindex_build(g, inv, cli);
		if (!fresh) {
			pthread_mutex_unlock(&v->lock);
			rc = -ENOMEM;
			goto out;
		}
		vindex_free(x);
		v->indexes[g] = x = fresh;
	}
	*out = x;
out:
	cache_listing_unref(inv);
	cache_listing_unref(cli);
	return rc;
}

int views_names(struct views *vw, enum views_group g, char ***names, size_t *n,
		struct timespec *changed, double *ttl_left)
{
	struct cache *cache = vw->cache;
	struct vindex *x;
	char **v;
	size_t k = 0;
	*names = NULL;
	*n = 0;
	*changed = (struct timespec){0};
	*ttl_left = -1; /* fixed */
	if (g == VIEWS_STATUS) {
		v = calloc(facts_nfilters() + 1, sizeof(*v));
		for (size_t i = 0; v && i < facts_nfilters(); i++)
			if ((v[k] = strdup(facts_filter_at(i)->name)))
				k++;
		if (!v)
			return -ENOMEM;
		qsort(v, k, sizeof(*v), cmp_name);
		*names = v;
		*n = k;
		return 0;
	}
	int rc = vindex_get(vw, g, &x);
	if (rc < 0)
		return rc;
	v = calloc(x->n + 1, sizeof(*v));
	for (size_t i = 0; v && i < x->n; i++)
		if ((v[k] = strdup(x->names[i])))
			k++;
	*changed = x->inv->changed;
	*ttl_left = cache_listing_ttl_left(cache, x->inv);
	if (x->cli) {
		double left = cache_listing_ttl_left(cache, x->cli);
		if (cache_time_after(x->cli->changed, *changed))
			*changed = x->cli->changed;
		if (left < *ttl_left)
			*ttl_left = left;
	}
	pthread_mutex_unlock(&vw->lock);
	if (!v)
		return -ENOMEM;
	*names = v;
	*n = k;
	return 0;
}

void views_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int views_dir(struct views *v, enum views_group g, const char *name,
	      struct cache_listing **out)
{
	struct vindex *x;
	struct vdir *d = NULL;
	if (!views_name_plausible(g, name))
		return -ENOENT;
	if (g == VIEWS_STATUS)
		return cache_listing_get_filtered(v->cache, schema_invoices(), name, out);
	int rc = vindex_get(v, g, &x);
	if (rc < 0)
		return rc;
	HASH_FIND_STR(x->dirs, name, d);
	if (d) {
		cache_listing_ref(d->l);
		*out = d->l;
	}
	pthread_mutex_unlock(&v->lock);
	return d ? 0 : -ENOENT;
}

bool views_held(struct views *v, enum views_group g, const char *name)
{
	struct cache *cache = v->cache;
	const struct schema_collection *inv = schema_invoices();
	switch (g) {
	case VIEWS_STATUS:
		return name ? cache_has_filtered(cache, inv, name) : false;
	case VIEWS_YEAR:
	case VIEWS_QUARTER:
		return cache_has_listing(cache, inv);
	case VIEWS_CLIENT:
		return cache_has_listing(cache, inv) &&
		       cache_has_listing(cache, schema_clients());
	default:
		return false;
	}
}

int views_new(struct views **out, struct cache *cache)
{
	struct views *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->cache = cache;
	pthread_mutex_init(&v->lock, NULL);
	*out = v;
	return 0;
}

void views_free(struct views *v)
{
	if (!v)
		return;
	for (int g = 0; g < VIEWS_NGROUPS; g++)
		vindex_free(v->indexes[g]);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
