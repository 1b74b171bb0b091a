/* Unit tests of the node operations (vfs/vfs.h) over the in-process fake
 * service, without a kernel: the fixed nodes, the root and .factuurfs/, the
 * status and refresh files, the collections (their directories, records, PDFs and
 * balance.json), views/, exports/, templates/, search/ and
 * .factuurfs/deleted/ — their lookups (and the names that cost no call),
 * listings, attributes, reads, parents, link texts and extended attributes, as
 * the FUSE layer gets them through the table.
 */
#include "fake_service.h"
#include "fake_transport.h"
#include "unit_stack.h"
#include "unit.h"

#include "base/events.h"
#include "feat/export.h"
#include "feat/views.h"
#include "feat/writeback.h"
#include "model/facts.h"
#include "model/templates.h"
#include "net/api.h"
#include "ns/save.h"
#include "store/cache.h"
#include "store/deleted.h"
#include "store/pdfstore.h"
#include "store/search.h"
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1000.0
#define UID 1234
#define GID 4321
#define STARTED 1700000000

static struct fake_clock clk;

static double clock_now(void)
{
	return clk.now;
}

static const struct schema_collection *clients, *invoices;

struct env {
	struct unit_stack st;
	struct wb wb;
	struct save *save;
	struct status_sources status;
	struct deleted *deleted;
	struct pdfstore *pdfs;
	char ddir[64];
	struct vfs v;
};

static void env_init(struct env *e)
{
	struct cache_config ccfg = {.ttl = 60, .page_size = 100, .now = clock_now};
	size_t nfixed = 0;
	memset(e, 0, sizeof(*e));
	unit_stack_init(&e->st, &clk, T0, &ccfg);
	fake_service_seed(e->st.svc);
	e->wb = (struct wb){.api = e->st.api, .cache = e->st.cache};
	struct vfs *v = &e->v;
	struct inode_fixed *fixed = NULL;
	snprintf(e->ddir, sizeof(e->ddir), "/tmp/test_vfs.XXXXXX");
	int rc = vfs_init(v, UID, GID, STARTED);
	if (rc == 0)
		rc = (fixed = vfs_fixed(&nfixed)) ? 0 : -ENOMEM;
	if (rc == 0)
		rc = inodes_new(&v->inodes, fixed, nfixed, save_text_free);
	free(fixed);
	struct save_config scfg = {.inodes = v->inodes, .cache = e->st.cache, .wb = &e->wb,
				   .events = e->st.ev, .now = clock_now};
	if (rc == 0)
		rc = save_new(&e->save, &scfg);
	if (rc == 0)
		rc = views_new(&v->views, e->st.cache);
	if (rc == 0)
		rc = exports_new(&v->exports, e->st.cache);
	if (rc == 0)
		rc = search_new(&v->search, e->st.api, e->st.cache, e->st.ev);
	if (rc == 0)
		rc = mkdtemp(e->ddir) ? deleted_open(&e->deleted, e->ddir) : -errno;
	struct pdfstore_config pcfg = {.max = 1 << 20, .api = e->st.api, .events = e->st.ev,
				       .now = clock_now};
	if (rc == 0)
		rc = pdfstore_new(&e->pdfs, &pcfg);
	if (rc < 0) {
		printf("setup failed: %s\n", strerror(-rc));
		exit(1);
	}
	e->status = (struct status_sources){.url = "https://fake.example", .username = "bakker",
					    .mounted = STARTED, .api = e->st.api,
					    .cache = e->st.cache, .events = e->st.ev};
	v->api = e->st.api;
	v->cache = e->st.cache;
	v->pdfs = e->pdfs;
	v->events = e->st.ev;
	v->save = e->save;
	v->deleted = e->deleted;
	v->status = &e->status;
}

static void env_fini(struct env *e)
{
	char cmd[128];
	vfs_fini(&e->v);
	search_free(e->v.search);
	exports_free(e->v.exports);
	views_free(e->v.views);
	save_free(e->save);
	inodes_free(e->v.inodes);
	deleted_free(e->deleted);
	pdfstore_free(e->pdfs);
	unit_stack_fini(&e->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->ddir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", e->ddir);
}

static unsigned gets(struct env *e)
{
	return fake_service_calls(e->st.svc, "GET", NULL);
}

/* The child @name of @dir, or NULL (how long that holds in *@neg, if given). */
static struct node *lookup(struct env *e, fuse_ino_t dir, const char *name, double *neg)
{
	struct node *d = inode_get(e->v.inodes, dir), *n = NULL;
	double held = VFS_FOREVER;
	const struct vfs_ops *k = d ? vfs_ops_of(&e->v, d->kind) : NULL;
	if (!CHECK(d && k->lookup))
		return NULL;
	int rc = k->lookup(&e->v, d, name, &n, &held);
	if (!unit_check(rc == 0, __FILE__, __LINE__, name)) {
		printf("  lookup %s: %s\n", name, strerror(-rc));
		return NULL;
	}
	if (neg)
		*neg = held;
	return n;
}

/* The names of @dir's listing (without "." and ".."), comma-separated into @out;
 * their count, or -errno. */
static int listing(struct env *e, fuse_ino_t dir, char *out, size_t size)
{
	struct node *d = inode_get(e->v.inodes, dir);
	const struct vfs_ops *k = d ? vfs_ops_of(&e->v, d->kind) : NULL;
	struct vfs_list s = {0};
	char name[1024];
	size_t used = 0;
	int count = 0;
	out[0] = '\0';
	if (!CHECK(d && k->list && k->entry))
		return -ENOTDIR;
	int rc = k->list(&e->v, d, &s);
	for (size_t i = 0; rc == 0; i++) {
		struct node *n = NULL;
		if (!k->entry(&e->v, d, &s, i, name, sizeof(name), &n))
			break;
		CHECK(n != NULL);
		if (n)
			vfs_put(&e->v, n);
		used += (size_t)snprintf(out + used, size - used, "%s%s", count ? "," : "", name);
		count++;
	}
	vfs_list_free(&s);
	return rc < 0 ? rc : count;
}

/* The whole text of @n (malloc'd, NUL-terminated), read @chunk bytes at a time. */
static char *read_all(struct env *e, struct node *n, size_t chunk, size_t *len)
{
	char *all = NULL;
	size_t got = 0;
	for (;;) {
		struct vfs_read rd = {.pid = getpid()};
		int rc = vfs_node_read(&e->v, n, chunk, (off_t)got, &rd);
		if (!CHECK(rc == 0)) {
			vfs_read_done(&rd);
			free(all);
			return NULL;
		}
		all = realloc(all, got + rd.len + 1);
		memcpy(all + got, rd.data, rd.len);
		got += rd.len;
		all[got] = '\0';
		size_t one = rd.len;
		vfs_read_done(&rd);
		if (one == 0)
			break;
	}
	if (len)
		*len = got;
	return all;
}

static int attr(struct env *e, struct node *n, struct stat *st, double *timeout)
{
	double t;
	return vfs_node_attr(&e->v, n, st, timeout ? timeout : &t);
}

/* The value of xattr @name among @x, or NULL. */
static const char *xattr_value(const struct vfs_xattr *x, size_t nx, const char *name)
{
	for (size_t i = 0; i < nx; i++)
		if (!strcmp(x[i].name, name))
			return x[i].value;
	return NULL;
}

/* ---- the fixed nodes, the root and .factuurfs/ ----------------------------------------- */

static void test_root(void)
{
	struct env e;
	struct stat st;
	double neg = 0;
	char names[4096], want[4096];
	size_t used = 0;
	env_init(&e);

	struct node *root = inode_get(e.v.inodes, INO_ROOT);
	CHECK(root && root->kind == N_ROOT);
	struct node *ctl = inode_get(e.v.inodes, INO_CTL);
	CHECK(ctl && ctl->kind == N_CTL);
	CHECK(inode_get(e.v.inodes, INO_DELETED)->kind == N_DELDIR);

	/* .factuurfs, the collections (balance as a file), views, exports, templates,
	 * search. */
	used += (size_t)snprintf(want, sizeof(want), ".factuurfs");
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		used += (size_t)snprintf(want + used, sizeof(want) - used,
					 c->single ? ",%s.json" : ",%s", c->name);
	}
	snprintf(want + used, sizeof(want) - used, ",views,exports,templates,search");
	CHECK(listing(&e, INO_ROOT, names, sizeof(names)) == (int)(5 + schema_ncollections()));
	CHECK_STR(names, want);

	CHECK(lookup(&e, INO_ROOT, ".factuurfs", NULL) == ctl);
	CHECK(lookup(&e, INO_ROOT, "invoices", NULL)->ino == inode_coll_ino(invoices));
	CHECK(lookup(&e, INO_ROOT, "views", NULL)->ino == INO_VIEWS);
	CHECK(lookup(&e, INO_ROOT, "search", NULL)->ino == INO_SEARCH);
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		char file[96];
		snprintf(file, sizeof(file), "%s.json", c->name);
		if (c->single) {
			struct node *n = lookup(&e, INO_ROOT, file, NULL);
			CHECK(n && n->kind == N_SINGLE && n->c == c);
			CHECK(lookup(&e, INO_ROOT, c->name, NULL) == NULL);
		} else {
			CHECK(lookup(&e, INO_ROOT, file, NULL) == NULL);
		}
	}
	CHECK(lookup(&e, INO_ROOT, "nosuch", &neg) == NULL);
	CHECK(neg == VFS_FOREVER); /* the root's names never change */

	CHECK(attr(&e, root, &st, NULL) == 0);
	CHECK(st.st_mode == (S_IFDIR | 0700));
	CHECK(st.st_uid == UID && st.st_gid == GID);
	CHECK(st.st_nlink == 3 + schema_ncollections() + 4);
	CHECK(st.st_ctime == STARTED && st.st_mtime == STARTED);
	CHECK(vfs_parent(&e.v, root) == INO_ROOT);
	CHECK(vfs_parent(&e.v, ctl) == INO_ROOT);

	CHECK(listing(&e, INO_CTL, names, sizeof(names)) == 3);
	CHECK_STR(names, "status,refresh,deleted");
	CHECK(lookup(&e, INO_CTL, "refresh", NULL)->ino == INO_REFRESH);
	CHECK(lookup(&e, INO_CTL, "deleted", NULL)->ino == INO_DELETED);
	CHECK(lookup(&e, INO_CTL, "nosuch", NULL) == NULL);
	CHECK(gets(&e) == 0); /* none of it asked the service */

	/* Only collection directories take new names; a kind whose table is empty
	 * has no attributes. */
	CHECK(!vfs_takes_names(&e.v, root));
	struct node *coll = inode_get(e.v.inodes, inode_coll_ino(clients));
	CHECK(vfs_takes_names(&e.v, coll));
	struct vfs_read rd = {0};
	CHECK(vfs_node_read(&e.v, root, 10, 0, &rd) == -EISDIR);
	static const struct vfs_ops dir_ops = {.list = NULL};
	vfs_set_ops(&e.v, N_COLL, &dir_ops);
	CHECK(!vfs_takes_names(&e.v, coll));
	CHECK(attr(&e, coll, &st, NULL) == -ENOENT);
	CHECK(vfs_ops_of(&e.v, N_COLL) == &dir_ops);
	env_fini(&e);
}

/* ---- .factuurfs/status and .factuurfs/refresh ------------------------------------------- */

static void test_status(void)
{
	struct env e;
	struct stat st;
	double timeout = 1;
	size_t len = 0;
	env_init(&e);
	struct node *n = lookup(&e, INO_CTL, "status", NULL);
	if (!CHECK(n && n->kind == N_STATUS))
		goto out;
	/* The kernel's reference, as the reply takes it; then the node is given back. */
	inode_ref(e.v.inodes, n);
	vfs_put(&e.v, n);
	CHECK(vfs_ops_of(&e.v, N_STATUS)->name_every_open);
	CHECK(!vfs_ops_of(&e.v, N_REFRESH)->name_every_open);
	char *text = read_all(&e, n, 7, &len);
	CHECK(text && text[0] == '{' && strstr(text, "\"bakker\""));
	CHECK(attr(&e, n, &st, &timeout) == 0);
	CHECK(st.st_mode == (S_IFREG | 0400) && st.st_size == (off_t)len);
	CHECK(timeout == 0);
	struct vfs_read rd = {0};
	CHECK(vfs_node_read(&e.v, n, 5, 3, &rd) == 0 && rd.len == 5 &&
	      text && !memcmp(rd.data, text + 3, 5));
	vfs_read_done(&rd);
	CHECK(vfs_node_read(&e.v, n, 5, (off_t)len, &rd) == 0 && rd.len == 0);
	vfs_read_done(&rd);

	/* A change makes a new rendering on a node of its own; the one open keeps its text. */
	events_touch(e.st.ev);
	struct node *newer = lookup(&e, INO_CTL, "status", NULL);
	CHECK(newer && newer != n && newer->ino != n->ino);
	if (newer)
		vfs_put(&e.v, newer);
	char *again = read_all(&e, n, 4096, NULL);
	CHECK_STR(again, text);
	free(again);
	/* Forgotten by the kernel: its rendering goes with it. */
	fuse_ino_t old = n->ino;
	inode_forget(e.v.inodes, old, 1);
	events_touch(e.st.ev);
	struct node *third = lookup(&e, INO_CTL, "status", NULL);
	if (third)
		vfs_put(&e.v, third);
	CHECK(inode_get(e.v.inodes, old) == NULL);
	free(text);
out:
	env_fini(&e);
}

static void test_refresh(void)
{
	struct env e;
	struct stat st;
	struct cache_listing *l = NULL;
	struct vfs_dropped d;
	env_init(&e);
	struct node *n = lookup(&e, INO_CTL, "refresh", NULL);
	const struct vfs_ops *k = n ? vfs_ops_of(&e.v, n->kind) : NULL;
	if (!CHECK(n && k->write))
		goto out;
	CHECK(attr(&e, n, &st, NULL) == 0);
	CHECK(st.st_mode == (S_IFREG | 0200) && st.st_size == 0 && st.st_mtime == STARTED);
	char *text = read_all(&e, n, 100, NULL);
	CHECK_STR(text, "");
	free(text);

	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	unsigned before = fake_service_calls(e.st.svc, "GET", "clients");
	static const char path[] = "/clients/1.json\n";
	CHECK(k->write(&e.v, n, path, strlen(path), 0, &d) == 0);
	CHECK(!d.all && d.c == clients);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0); /* dropped: asked again */
	cache_listing_unref(l);
	CHECK(fake_service_calls(e.st.svc, "GET", "clients") == before + 1);

	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		char file[96];
		snprintf(file, sizeof(file), "%s.json", c->name);
		if (c->single && CHECK(k->write(&e.v, n, file, strlen(file), 0, &d) == 0))
			CHECK(d.c == c && !d.all);
	}
	static const char *const every[] = {"1", "", "views/status", "nosuch/x"};
	for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
		CHECK(k->write(&e.v, n, every[i], strlen(every[i]), 0, &d) == 0);
		CHECK(unit_check(d.all && !d.c, __FILE__, __LINE__, every[i]));
	}
out:
	env_fini(&e);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- views/ ---------------------------------------------------------------------------- */

static void test_views(void)
{
	struct env e;
	struct stat st;
	double neg = 0, timeout = 0;
	char names[4096], want[4096] = "";
	size_t used = 0;
	env_init(&e);
	CHECK(listing(&e, INO_VIEWS, names, sizeof(names)) == VIEWS_NGROUPS);
	CHECK_STR(names, "status,year,client,quarter");
	CHECK(attr(&e, inode_get(e.v.inodes, INO_VIEWS), &st, NULL) == 0);
	CHECK(S_ISDIR(st.st_mode) && st.st_nlink == 2 + VIEWS_NGROUPS);
	struct node *status = lookup(&e, INO_VIEWS, "status", NULL);
	CHECK(status && status->ino == INO_VGROUP0 + VIEWS_STATUS);
	CHECK(vfs_parent(&e.v, status) == INO_VIEWS);
	CHECK(lookup(&e, INO_VIEWS, "nosuch", NULL) == NULL);

	/* views/status/: one directory per filter, sorted, fixed for the mount, no call. */
	const char *filters[64];
	size_t nf = facts_nfilters() < 64 ? facts_nfilters() : 64;
	for (size_t i = 0; i < nf; i++)
		filters[i] = facts_filter_at(i)->name;
	qsort(filters, nf, sizeof(filters[0]), by_name);
	for (size_t i = 0; i < nf; i++)
		used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s", i ? "," : "",
					 filters[i]);
	CHECK(listing(&e, INO_VGROUP0 + VIEWS_STATUS, names, sizeof(names)) ==
	      (int)facts_nfilters());
	CHECK_STR(names, want);
	CHECK(attr(&e, status, &st, &timeout) == 0 && timeout == VFS_FOREVER);
	CHECK(lookup(&e, INO_VGROUP0 + VIEWS_STATUS, "no such filter", &neg) == NULL);
	CHECK(lookup(&e, INO_VGROUP0 + VIEWS_YEAR, "19x9", &neg) == NULL);
	CHECK(gets(&e) == 0);

	/* views/status/open/: the invoices the filter finds, one call, as links. */
	struct node *open = lookup(&e, INO_VGROUP0 + VIEWS_STATUS, "open", NULL);
	if (!CHECK(open && open->kind == N_VDIR))
		goto out;
	CHECK(vfs_parent(&e.v, open) == INO_VGROUP0 + VIEWS_STATUS);
	CHECK(listing(&e, open->ino, names, sizeof(names)) == 2);
	CHECK_STR(names, "2026-0001.json,2026-0001.pdf");
	CHECK(fake_service_calls(e.st.svc, "GET", "invoices") == 1);
	struct node *link = lookup(&e, open->ino, "2026-0001.pdf", NULL);
	if (!CHECK(link && link->kind == N_VLINK))
		goto out;
	const struct vfs_ops *k = vfs_ops_of(&e.v, N_VLINK);
	char *t = k->link(&e.v, link);
	CHECK_STR(t, "../../../invoices/2026-0001.pdf");
	CHECK(attr(&e, link, &st, NULL) == 0);
	CHECK(S_ISLNK(st.st_mode) && t && st.st_size == (off_t)strlen(t));
	free(t);
	struct vfs_read rd = {0};
	CHECK(vfs_node_read(&e.v, link, 10, 0, &rd) == -EINVAL);
	CHECK(lookup(&e, open->ino, "2026-0002.json", &neg) == NULL);
	CHECK(neg > 0 && neg <= 60);  /* until the listing's TTL */
	CHECK(lookup(&e, open->ino, "2026-0001.txt", NULL) == NULL);

	/* views/year/: from the invoices listing. */
	CHECK(listing(&e, INO_VGROUP0 + VIEWS_YEAR, names, sizeof(names)) == 1);
	CHECK_STR(names, "2026");
	CHECK(lookup(&e, INO_VGROUP0 + VIEWS_YEAR, "1999", &neg) == NULL && neg == 1.0);
	struct node *year = lookup(&e, INO_VGROUP0 + VIEWS_YEAR, "2026", NULL);
	CHECK(year && year->kind == N_VDIR);
	if (year)
		CHECK(attr(&e, year, &st, &timeout) == 0 && timeout > 0);
out:
	env_fini(&e);
}

/* ---- exports/ and templates/ ----------------------------------------------------------- */

static void test_exports(void)
{
	struct env e;
	struct stat st;
	double timeout = 0;
	char names[4096];
	size_t len = 0;
	env_init(&e);
	/* Its attributes cost nothing until the invoices are listed. */
	CHECK(attr(&e, inode_get(e.v.inodes, INO_EXPORTS), &st, NULL) == 0);
	CHECK(st.st_mtime == STARTED && gets(&e) == 0);
	CHECK(lookup(&e, INO_EXPORTS, "nonsense.txt", NULL) == NULL);
	CHECK(gets(&e) == 0);

	int count = listing(&e, INO_EXPORTS, names, sizeof(names));
	CHECK(count >= (int)export_count());
	CHECK(strstr(names, "clients.csv") && strstr(names, "invoices.xlsx"));
	struct node *n = lookup(&e, INO_EXPORTS, "clients.csv", NULL);
	if (!CHECK(n && n->kind == N_EXPORT && n->ino == INO_EXPORT0 + (fuse_ino_t)export_find("clients.csv")))
		goto out;
	char *text = read_all(&e, n, 16, &len);
	CHECK(text && strstr(text, "Bakkerij De Korst"));
	CHECK(attr(&e, n, &st, &timeout) == 0);
	CHECK(st.st_mode == (S_IFREG | 0400) && st.st_size == (off_t)len && timeout > 0);
	struct vfs_read rd = {0};
	CHECK(vfs_node_read(&e.v, n, 7, 5, &rd) == 0 && rd.len == 7 &&
	      text && !memcmp(rd.data, text + 5, 7));
	vfs_read_done(&rd);
	free(text);
	/* A quarter's export is there while an invoice is dated in it. */
	struct node *q = lookup(&e, INO_EXPORTS, "btw-2026-Q1.csv", NULL);
	CHECK(q && q->kind == N_EXPORT && strstr(names, "btw-2026-Q1.csv"));
	double neg = 0;
	CHECK(lookup(&e, INO_EXPORTS, "btw-1999-Q1.csv", &neg) == NULL && neg == 1.0);
out:
	env_fini(&e);
}

static void test_templates(void)
{
	struct env e;
	struct stat st;
	char names[4096], first[64];
	size_t len = 0, want_len = 0;
	env_init(&e);
	CHECK(listing(&e, INO_TEMPLATES, names, sizeof(names)) == (int)templates_count());
	if (!CHECK(templates_count() > 0 && templates_name(0, first, sizeof(first))))
		goto out;
	CHECK(!strncmp(names, first, strlen(first)));
	struct node *n = lookup(&e, INO_TEMPLATES, first, NULL);
	if (!CHECK(n && n->ino == INO_TEMPLATE0))
		goto out;
	char *want = templates_text(0, &want_len);
	char *text = read_all(&e, n, 10, &len);
	CHECK(want && text && len == want_len && !memcmp(text, want, len));
	CHECK(attr(&e, n, &st, NULL) == 0 && st.st_size == (off_t)want_len);
	CHECK(st.st_mode == (S_IFREG | 0400) && st.st_mtime == STARTED);
	free(want);
	free(text);
	CHECK(lookup(&e, INO_TEMPLATES, "nosuch.json", NULL) == NULL);
	CHECK(gets(&e) == 0);
out:
	env_fini(&e);
}

/* ---- search/ --------------------------------------------------------------------------- */

#define UTRECHT                                                                                    \
	"[{\"clientnr\":\"1\",\"contact\":\"Jan de Vries\",\"company\":\"Bakkerij De Korst\","     \
	"\"city\":\"Utrecht\",\"country\":\"146\",\"reference\":[],\"active\":\"1\"}]"

static void test_search(void)
{
	struct env e;
	struct stat st;
	double neg = 0;
	char names[4096], want[4096] = "";
	size_t used = 0;
	size_t area = schema_nsearch_areas();
	env_init(&e);
	for (size_t i = 0; i < schema_nsearch_areas(); i++) {
		used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s", i ? "," : "",
					 schema_search_area_at(i)->name);
		if (schema_search_area_at(i) == clients)
			area = i;
	}
	CHECK(listing(&e, INO_SEARCH, names, sizeof(names)) == (int)schema_nsearch_areas());
	CHECK_STR(names, want);
	CHECK(attr(&e, inode_get(e.v.inodes, INO_SEARCH), &st, NULL) == 0);
	CHECK(st.st_nlink == 2 + schema_nsearch_areas());
	if (!CHECK(area < schema_nsearch_areas()))
		goto out;
	struct node *a = lookup(&e, INO_SEARCH, "clients", NULL);
	CHECK(a && a->ino == INO_SAREA0 + area && vfs_parent(&e.v, a) == INO_SEARCH);

	/* A name that cannot be a query is no directory, for good, without a call. */
	CHECK(lookup(&e, INO_SAREA0 + area, "x.swp", &neg) == NULL && neg == VFS_FOREVER);
	CHECK(gets(&e) == 0);

	fake_service_fail(e.st.svc, "GET", "search/clients/all/utrecht",
			  &(struct fake_answer){.status = 200, .body = UTRECHT,
						.content_type = "application/json"},
			  false, -1);
	struct node *q = lookup(&e, INO_SAREA0 + area, "utrecht", NULL);
	if (!CHECK(q && q->kind == N_SDIR))
		goto out;
	CHECK(vfs_parent(&e.v, q) == INO_SAREA0 + area);
	CHECK(listing(&e, q->ino, names, sizeof(names)) == 1);
	CHECK_STR(names, "1.json");
	CHECK(listing(&e, INO_SAREA0 + area, names, sizeof(names)) == 1);
	CHECK_STR(names, "utrecht");
	CHECK(fake_service_calls(e.st.svc, "GET", "search/clients/all/utrecht") == 1);
	struct node *link = lookup(&e, q->ino, "1.json", NULL);
	if (!CHECK(link && link->kind == N_SLINK))
		goto out;
	char *t = vfs_ops_of(&e.v, N_SLINK)->link(&e.v, link);
	CHECK_STR(t, "../../../clients/1.json");
	CHECK(attr(&e, link, &st, NULL) == 0 && S_ISLNK(st.st_mode));
	CHECK(t && st.st_size == (off_t)strlen(t));
	free(t);
	CHECK(lookup(&e, q->ino, "1.pdf", NULL) == NULL); /* clients have no PDFs */
	CHECK(lookup(&e, q->ino, "2.json", NULL) == NULL);
out:
	env_fini(&e);
}

/* ---- .factuurfs/deleted/ --------------------------------------------------------------- */

static void test_deleted(void)
{
	struct env e;
	struct stat st;
	double neg = 1, timeout = 1;
	char names[4096];
	static const char text[] = "{\"clientnr\": \"2\", \"contact\": \"Els Bos\"}\n";
	env_init(&e);
	CHECK(deleted_keep(e.deleted, "clients", "2.json", text, strlen(text)) == 0);

	int shown = 0;
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		shown += !c->single && (c->methods & SCHEMA_M_DELETE);
	}
	CHECK(listing(&e, INO_DELETED, names, sizeof(names)) == shown);
	CHECK(strstr(names, "clients") != NULL);
	struct node *dir = inode_get(e.v.inodes, INO_DELETED);
	CHECK(vfs_parent(&e.v, dir) == INO_CTL);
	CHECK(attr(&e, dir, &st, &timeout) == 0 && timeout == 0);
	struct node *coll = lookup(&e, INO_DELETED, "clients", NULL);
	if (!CHECK(coll && coll->kind == N_DELCOLL && coll->c == clients))
		goto out;
	CHECK(vfs_parent(&e.v, coll) == INO_DELETED);
	CHECK(lookup(&e, INO_DELETED, "nosuch", NULL) == NULL);
	CHECK(listing(&e, coll->ino, names, sizeof(names)) == 1);
	CHECK_STR(names, "2.json");
	CHECK(attr(&e, coll, &st, NULL) == 0 && st.st_mtime != STARTED);

	struct node *f = lookup(&e, coll->ino, "2.json", NULL);
	if (!CHECK(f && f->kind == N_DELFILE))
		goto out;
	size_t len = 0;
	char *got = read_all(&e, f, 8, &len);
	CHECK_STR(got, text);
	free(got);
	CHECK(attr(&e, f, &st, &timeout) == 0);
	CHECK(st.st_mode == (S_IFREG | 0400) && st.st_size == (off_t)strlen(text));
	CHECK(timeout == 0);
	CHECK(lookup(&e, coll->ino, "3.json", &neg) == NULL && neg == 0);
	CHECK(gets(&e) == 0);
out:
	env_fini(&e);
}

/* ---- extended attributes ---------------------------------------------------------------- */

static void test_xattrs(void)
{
	struct env e;
	struct vfs_xattr x[VFS_XATTR_MAX];
	struct cache_listing *l = NULL;
	env_init(&e);
	struct node *dir = inode_get(e.v.inodes, inode_coll_ino(invoices));
	struct node *inv = inode_record(e.v.inodes, invoices, N_JSON, "2026-0001");
	struct node *pdf = inode_record(e.v.inodes, invoices, N_PDF, "2026-0001");
	struct node *cli = inode_record(e.v.inodes, clients, N_JSON, "1");
	/* Nothing listed: nothing to say, and nothing asked. */
	CHECK(vfs_coll_xattrs(&e.v, dir, x) == 0);
	CHECK(vfs_record_xattrs(&e.v, inv, x) == 0);
	CHECK(gets(&e) == 0);

	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0);
	cache_listing_unref(l);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(vfs_coll_xattrs(&e.v, dir, x) == 1);
	CHECK(!strcmp(x[0].name, "user.factuurfs.fetched") && strlen(x[0].value) == 20);
	size_t nx = vfs_record_xattrs(&e.v, inv, x);
	CHECK_STR(xattr_value(x, nx, "user.factuurfs.total"), "121.00");
	CHECK(xattr_value(x, nx, "user.factuurfs.status") != NULL);
	CHECK(xattr_value(x, nx, "user.factuurfs.client") &&
	      !strncmp(xattr_value(x, nx, "user.factuurfs.client"), "1", 1));
	CHECK(xattr_value(x, nx, "user.factuurfs.fetched") != NULL);
	CHECK(vfs_record_xattrs(&e.v, pdf, x) == nx);
	/* A record without invoice facts: when its listing was fetched. */
	CHECK(vfs_record_xattrs(&e.v, cli, x) == 1 && !strcmp(x[0].name, "user.factuurfs.fetched"));
	struct node *gone = inode_record(e.v.inodes, clients, N_JSON, "99");
	CHECK(vfs_record_xattrs(&e.v, gone, x) == 0);
	/* A view's directory has none; the kind's come after the save's error. */
	CHECK(vfs_xattrs(&e.v, inode_get(e.v.inodes, INO_VIEWS), x) == 0);
	static const struct vfs_ops with_xattrs = {.xattrs = vfs_record_xattrs};
	vfs_set_ops(&e.v, N_JSON, &with_xattrs);
	CHECK(vfs_xattrs(&e.v, inv, x) == nx);
	env_fini(&e);
}

/* ---- the collections -------------------------------------------------------------------- */

static void test_coll(void)
{
	struct env e;
	struct stat st;
	double timeout, neg = 0;
	char names[4096];
	env_init(&e);
	static const char pdf[] = "%PDF-1.4\n1 0 obj << /Title (A) >> endobj\nxref\n0 2\n"
				  "0000000000 65535 f \n0000000009 00000 n \ntrailer\n"
				  "<< /Size 2 /Root 1 0 R >>\nstartxref\n41\n%%EOF\n";
	fake_service_pdf(e.st.svc, "2026-0001", pdf, strlen(pdf));
	fuse_ino_t cdir = inode_coll_ino(clients), idir = inode_coll_ino(invoices);
	struct node *cd = inode_get(e.v.inodes, cdir), *id = inode_get(e.v.inodes, idir);

	/* A directory never listed: its attributes cost no call. */
	CHECK(attr(&e, cd, &st, &timeout) == 0);
	CHECK(st.st_mode == (S_IFDIR | 0700) && st.st_mtime == STARTED && timeout == 1.0);
	CHECK(gets(&e) == 0);
	CHECK(vfs_parent(&e.v, cd) == INO_ROOT);
	CHECK(vfs_takes_names(&e.v, cd) && vfs_takes_names(&e.v, id));

	/* Its records, one file each; an invoice has its PDF beside it. */
	CHECK(listing(&e, cdir, names, sizeof(names)) == 2);
	CHECK_STR(names, "1.json,2.json");
	CHECK(listing(&e, idir, names, sizeof(names)) == 2);
	CHECK_STR(names, "2026-0001.json,2026-0001.pdf");
	unsigned listed = gets(&e);
	CHECK(listed == 2);

	/* A record's name, and names that are none: no call, held for the listing's TTL. */
	struct node *cli = lookup(&e, cdir, "1.json", NULL);
	CHECK(cli && cli->kind == N_JSON && cli->c == clients && !strcmp(cli->id, "1"));
	CHECK(lookup(&e, cdir, "nosuch", &neg) == NULL && neg == VFS_FOREVER); /* no record's */
	CHECK(lookup(&e, cdir, "1.pdf", NULL) == NULL); /* clients have no PDFs */
	/* A new record's name may be made here: never held as missing. */
	CHECK(lookup(&e, cdir, "3.json", &neg) == NULL && neg == 0);
	struct node *inv = lookup(&e, idir, "2026-0001.json", NULL);
	struct node *pdfn = lookup(&e, idir, "2026-0001.pdf", NULL);
	CHECK(inv && inv->kind == N_JSON && pdfn && pdfn->kind == N_PDF);
	/* A record's name not in the listing: missing while the listing holds. */
	CHECK(lookup(&e, idir, "2026-0099.pdf", &neg) == NULL && neg > 0 && neg <= 60);
	CHECK(gets(&e) == listed);
	if (!cli || !inv || !pdfn) {
		env_fini(&e);
		return;
	}
	/* Records take no names; a collection's directory is the parent of neither. */
	CHECK(!vfs_takes_names(&e.v, cli));

	/* A client's JSON: its size is its text's, writable (clients take PUT). */
	size_t len = 0;
	char *text = read_all(&e, cli, 7, &len);
	CHECK(text && text[0] == '{' && strstr(text, "\"Bakkerij De Korst\""));
	CHECK(attr(&e, cli, &st, &timeout) == 0);
	CHECK(st.st_mode == (S_IFREG | 0600) && st.st_size == (off_t)len && len > 0);
	CHECK(timeout > 0 && timeout <= 60);
	CHECK(!vfs_ops_of(&e.v, N_JSON)->size_unknown(&e.v, cli));
	/* A read into a slice: @size bytes from @off, nothing past the end. */
	struct vfs_read rd = {.pid = getpid()};
	CHECK(vfs_node_read(&e.v, cli, 5, 3, &rd) == 0 && rd.len == 5 && text &&
	      !memcmp(rd.data, text + 3, 5));
	vfs_read_done(&rd);
	CHECK(rd.len == 0 && !rd.data);
	CHECK(vfs_node_read(&e.v, cli, 100, (off_t)len - 2, &rd) == 0 && rd.len == 2);
	vfs_read_done(&rd);
	CHECK(vfs_node_read(&e.v, cli, 100, (off_t)len, &rd) == 0 && rd.len == 0);
	vfs_read_done(&rd);
	free(text);
	/* An invoice is read-only (no PUT). */
	CHECK(attr(&e, inv, &st, NULL) == 0 && st.st_mode == (S_IFREG | 0400));

	/* A PDF never fetched: the placeholder, asked again every time, its name held. */
	const struct vfs_ops *pk = vfs_ops_of(&e.v, N_PDF);
	CHECK(pk->name_keeps && !vfs_ops_of(&e.v, N_JSON)->name_keeps);
	CHECK(pk->size_unknown(&e.v, pdfn));
	CHECK(attr(&e, pdfn, &st, &timeout) == 0);
	CHECK(st.st_mode == (S_IFREG | 0400) && st.st_size == 32 * 1024 && timeout == 0);
	unsigned pdf_gets = fake_service_calls(e.st.svc, "GET", "invoices_pdf/2026-0001");
	CHECK(pdf_gets == 0);
	/* Fetched for its size: the true one from then on. */
	CHECK(pk->fetch_size(&e.v, pdfn, getpid()) == 0);
	CHECK(fake_service_calls(e.st.svc, "GET", "invoices_pdf/2026-0001") == 1);
	CHECK(!pk->size_unknown(&e.v, pdfn));
	CHECK(attr(&e, pdfn, &st, &timeout) == 0);
	CHECK(st.st_size == (off_t)strlen(pdf) && timeout > 0);
	char *bytes = read_all(&e, pdfn, 16, &len);
	CHECK(bytes && len == strlen(pdf) && !memcmp(bytes, pdf, len));
	free(bytes);
	CHECK(pdfn->reads == 0); /* every read was given back */
	CHECK(fake_service_calls(e.st.svc, "GET", "invoices_pdf/2026-0001") == 1);
	/* A read past its end: the kernel is to ask for the attributes again. */
	CHECK(vfs_node_read(&e.v, pdfn, 10, (off_t)len + 10, &rd) == 0 && rd.len == 0 &&
	      rd.attrs_stale && pdfn->reads == 1);
	vfs_read_done(&rd);
	CHECK(pdfn->reads == 0);
	CHECK(vfs_node_read(&e.v, pdfn, 10, 0, &rd) == 0 && rd.len == 10 && !rd.attrs_stale);
	vfs_read_done(&rd);

	/* Their extended attributes come through the table: an invoice's facts, and when
	 * the listing of a collection's directory was fetched. */
	struct vfs_xattr x[VFS_XATTR_MAX];
	size_t nx = vfs_xattrs(&e.v, pdfn, x);
	CHECK(nx >= 2 && xattr_value(x, nx, "user.factuurfs.status") != NULL);
	CHECK(vfs_xattrs(&e.v, cd, x) == 1 && !strcmp(x[0].name, "user.factuurfs.fetched"));

	/* The record files' names after their stems. */
	CHECK_STR(vfs_ops_of(&e.v, N_JSON)->suffix, ".json");
	CHECK_STR(pk->suffix, ".pdf");

	/* balance.json: read-only, its size its text's (none from the fake service). */
	struct node *bal = lookup(&e, INO_ROOT, "balance.json", NULL);
	text = bal ? read_all(&e, bal, 4096, &len) : NULL;
	CHECK(text != NULL);
	CHECK(bal && attr(&e, bal, &st, NULL) == 0 && st.st_mode == (S_IFREG | 0400) &&
	      st.st_size == (off_t)len);
	free(text);
	env_fini(&e);
}

int main(void)
{
	clients = schema_find("clients");
	invoices = schema_find("invoices");
	test_root();
	test_coll();
	test_status();
	test_refresh();
	test_views();
	test_exports();
	test_templates();
	test_search();
	test_deleted();
	test_xattrs();
	return unit_report();
}
