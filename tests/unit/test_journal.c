/* Unit tests of ns/journal.c, the unsaved texts on disk: what is put reads
 * back field for field and byte for byte; a payload cut anywhere, a changed
 * field that breaks a rule, a lost POST without what to look for, a file
 * under a name that is not its own, a torn temporary: never used, set aside
 * (or removed, for temporaries), never half-read.  (What is journaled when,
 * and the restore, are test_save.c's test_journal_*.)
 */
#include "unit.h"

#include "base/diskfile.h"
#include "feat/writeback.h"
#include "ns/journal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_journal.XXXXXX";

static char *at(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/j/%s", dir, name);
	return path;
}

static bool exists(const char *name)
{
	struct stat st;
	return stat(at(name), &st) == 0;
}

static unsigned nfiles(void)
{
	char path[512];
	unsigned n = 0;
	snprintf(path, sizeof(path), "%s/j", dir);
	DIR *d = opendir(path);
	const struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* What journal_load passed, copied. */
struct seen {
	unsigned n;
	struct journal_entry e[8];
	char file[8][256];
};

static void collect(void *ud, struct journal_entry *e, const char *file)
{
	struct seen *s = ud;
	if (s->n < 8) {
		s->e[s->n] = *e; /* taken whole: the loader's copy is emptied */
		memset(e, 0, sizeof(*e));
		snprintf(s->file[s->n], sizeof(s->file[0]), "%s", file);
		s->n++;
	}
}

static void seen_clear(struct seen *s)
{
	for (unsigned i = 0; i < s->n; i++)
		journal_entry_clear(&s->e[i]);
	memset(s, 0, sizeof(*s));
}

static struct wb_pending *pending_of(const char *json)
{
	cJSON *j = cJSON_Parse(json);
	struct wb_pending *p = wb_pending_from_json(j);
	cJSON_Delete(j);
	return p;
}

/* Payload @data with @from replaced by @to (the length field kept). */
static char *patched(const char *data, size_t len, const char *from, const char *to,
		     size_t *outlen)
{
	const char *p = memmem(data, len, from, strlen(from));
	if (!p)
		return NULL;
	size_t head = (size_t)(p - data), tail = len - head - strlen(from);
	char *out = malloc(head + strlen(to) + tail + 1);
	memcpy(out, data, head);
	memcpy(out + head, to, strlen(to));
	memcpy(out + head + strlen(to), p + strlen(from), tail);
	*outlen = head + strlen(to) + tail;
	return out;
}

static void test_names(void)
{
	char *f = journal_file("clients", "1.json");
	CHECK_STR(f, "clients=1.json.entry");
	free(f);
	f = journal_file("invoices", "2026/0001.json");
	CHECK(f == NULL); /* no such file name: a record's has %2F */
	f = journal_file("invoices", "2026%2F0001.json");
	CHECK_STR(f, "invoices=2026%252F0001.json.entry");
	free(f);
	CHECK(journal_file("Clients", "1.json") == NULL);
	CHECK(journal_file("clients", "") == NULL && journal_file("clients", "..") == NULL);
	/* Too long to spell out: a hash, still within NAME_MAX with a temporary's suffix. */
	char lng[256];
	memset(lng, 'x', 250);
	strcpy(lng + 250, ".json");
	f = journal_file("products", lng);
	CHECK(f && strlen(f) < 200 && !strncmp(f, "products=#", 10));
	char *g = journal_file("products", lng);
	CHECK_STR(f, g);
	lng[0] = 'y';
	char *h = journal_file("products", lng);
	CHECK(f && h && strcmp(f, h) != 0);
	free(f);
	free(g);
	free(h);
}

static void test_round_trip(void)
{
	struct journal *j = NULL;
	struct seen s = {0};
	char bin[] = "{\"a\":\n\"\x01\xff\"}\0tail";
	struct journal_entry rec = {
		.collection = "clients", .name = "1.json", .id = "1",
		.state = JOURNAL_REFUSED, .err = EINVAL, .error = "line 1, column 3: invalid JSON",
		.mode = 0600, .mtime = 1767225600, .mtime_ns = 123456789,
		.text = bin, .len = sizeof(bin) - 1,
	};
	struct journal_entry nw = {
		.collection = "products", .name = "koek.json", .state = JOURNAL_UNANSWERED,
		.err = ECONNRESET, .error = "POST products: no answer", .mode = 0640,
		.pending = pending_of("{\"record\": {\"code\": \"K\"}, \"before\": [\"2\", \"1\"]}"),
		.text = "{\"code\": \"K\"}", .len = 13,
	};
	struct journal_entry tpl = {
		.collection = "products", .name = "t.json", .state = JOURNAL_WAITING,
		.text = "", .len = 0,
	};

	CHECK(nw.pending != NULL);
	CHECK(journal_open(&j, at("")) == 0);
	struct stat st;
	CHECK(stat(at(""), &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(journal_put(j, &rec) == 0 && journal_put(j, &nw) == 0 && journal_put(j, &tpl) == 0);
	CHECK(stat(at("clients=1.json.entry"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(journal_load(j, collect, &s) == 3 && s.n == 3);
	/* In the order of the file names. */
	CHECK_STR(s.file[0], "clients=1.json.entry");
	CHECK_STR(s.file[1], "products=koek.json.entry");
	CHECK_STR(s.file[2], "products=t.json.entry");
	struct journal_entry *e = &s.e[0];
	CHECK_STR(e->collection, "clients");
	CHECK_STR(e->name, "1.json");
	CHECK_STR(e->id, "1");
	CHECK(e->state == JOURNAL_REFUSED && e->err == EINVAL && e->mode == 0600);
	CHECK_STR(e->error, "line 1, column 3: invalid JSON");
	CHECK(e->mtime == 1767225600 && e->mtime_ns == 123456789);
	CHECK(e->len == sizeof(bin) - 1 && !memcmp(e->text, bin, e->len) && !e->pending);
	e = &s.e[1];
	CHECK(e->state == JOURNAL_UNANSWERED && !e->id && e->err == ECONNRESET && e->pending);
	cJSON *pj = e->pending ? wb_pending_to_json(e->pending) : NULL;
	char *ps = pj ? cJSON_PrintUnformatted(pj) : NULL;
	/* The identifiers listed before, sorted. */
	CHECK_STR(ps, "{\"record\":{\"code\":\"K\"},\"before\":[\"1\",\"2\"]}");
	free(ps);
	cJSON_Delete(pj);
	e = &s.e[2];
	CHECK(e->state == JOURNAL_WAITING && e->len == 0 && e->text && !e->error);
	seen_clear(&s);

	/* Dropped: gone, and dropping again is no error. */
	CHECK(journal_drop(j, "products=t.json.entry") == 0);
	CHECK(journal_drop(j, "products=t.json.entry") == 0);
	CHECK(!exists("products=t.json.entry"));
	CHECK(journal_drop(j, "clients=1.json.entry") == 0);
	CHECK(journal_drop(j, "products=koek.json.entry") == 0);
	CHECK(nfiles() == 0);
	/* The directory removed under a mount: made again. */
	char d[512];
	snprintf(d, sizeof(d), "%s/j", dir);
	CHECK(rmdir(d) == 0);
	CHECK(journal_put(j, &tpl) == 0 && exists("products=t.json.entry"));
	CHECK(journal_drop(j, "products=t.json.entry") == 0);
	wb_pending_free(nw.pending);
	journal_free(j);
}

static void test_decode_refuses(void)
{
	struct journal_entry e, ok = {
		.collection = "products", .name = "koek.json", .state = JOURNAL_POSTING,
		.mode = 0600,
		.pending = pending_of("{\"record\": {\"code\": \"K\"}, \"before\": null}"),
		.text = "{\"code\": \"K\"}\n", .len = 14,
	};
	char *data = NULL, *bad;
	size_t len = 0, blen;

	CHECK(journal_encode(&ok, &data, &len) == 0);
	CHECK(journal_decode(data, len, &e) == 0 && e.pending && e.state == JOURNAL_POSTING);
	journal_entry_clear(&e);
	/* Cut anywhere: never whole. */
	unsigned refused = 0;
	for (size_t n = 0; n < len; n++)
		refused += journal_decode(data, n, &e) == -EBADMSG && !e.text && !e.name;
	CHECK(refused == len);
	/* Fields that break a rule. */
	static const char *const breaks[][2] = {
		{"\"state\":\"posting\"", "\"state\":\"sent\""},
		{"\"collection\":\"products\"", "\"collection\":\"../x\""},
		{"\"name\":\"koek.json\"", "\"name\":\"a/b.json\""},
		{"\"name\":\"koek.json\"", "\"name\":7"},
		{"\"errno\":0", "\"errno\":-1"},
		{"\"errno\":0", "\"errno\":1.5"},
		{"\"mode\":384", "\"mode\":99999"},
		{"\"length\":14", "\"length\":13"},
		{"\"before\":null", "\"before\":[3]"},
		{"\"record\":{\"code\":\"K\"}", "\"record\":[]"},
		/* A lost POST without what to look for would post blindly again. */
		{",\"pending\":{\"record\":{\"code\":\"K\"},\"before\":null}", ""},
		{"{\"collection\"", "{\"id\":\"koek\",\"collection\""},
		{"\"mtime\":[0,0]", "\"mtime\":[0,1e10]"},
		{"\n{\"code\"", " \n{\"code\""},
	};
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		bad = patched(data, len, breaks[i][0], breaks[i][1], &blen);
		if (!CHECK(bad != NULL)) {
			printf("  (no \"%s\" in %.*s)\n", breaks[i][0], (int)len, data);
			continue;
		}
		if (!CHECK(journal_decode(bad, blen, &e) == -EBADMSG))
			printf("  (taken with %s)\n", breaks[i][1]);
		journal_entry_clear(&e);
		free(bad);
	}
	/* A record's name is its identifier's file name. */
	struct journal_entry rec = {
		.collection = "invoices", .name = "2026%2F1.json", .id = "2026/1",
		.state = JOURNAL_REFUSED, .err = EPERM, .text = "x", .len = 1,
	};
	char *rdata = NULL;
	size_t rlen = 0;
	CHECK(journal_encode(&rec, &rdata, &rlen) == 0);
	CHECK(journal_decode(rdata, rlen, &e) == 0);
	CHECK_STR(e.id, "2026/1");
	journal_entry_clear(&e);
	bad = patched(rdata, rlen, "\"id\":\"2026/1\"", "\"id\":\"2026/2\"", &blen);
	CHECK(bad && journal_decode(bad, blen, &e) == -EBADMSG);
	free(bad);
	free(rdata);
	free(data);
	wb_pending_free(ok.pending);
}

static void put_raw(const char *name, const char *bytes, size_t len)
{
	FILE *f = fopen(at(name), "wb");
	if (!f || fwrite(bytes, 1, len, f) != len) {
		perror(name);
		exit(1);
	}
	fclose(f);
}

/* A created name: its own kind of file, read before the texts, and only whole. */
static void test_created(void)
{
	struct journal *j = NULL;
	struct seen s = {0};
	struct journal_entry made = {
		.collection = "products", .name = "koek.json", .state = JOURNAL_CREATED,
		.mode = 0600, .made_in = "products", .made_id = "285",
		.text = "{\"code\": \"K\"}", .len = 13,
	};
	struct journal_entry text = {
		.collection = "products", .name = "koek.json", .state = JOURNAL_POSTING,
		.mode = 0600,
		.pending = pending_of("{\"record\": {\"code\": \"K\"}, \"before\": null}"),
		.text = "{\"code\": \"K\"}", .len = 13,
	};
	char *f = journal_made_file("products", "koek.json"), *data = NULL, *bad;
	size_t len = 0, blen;
	struct journal_entry e;

	CHECK_STR(f, "products=koek.json.made");
	free(f);
	CHECK(journal_open(&j, at("")) == 0);
	CHECK(journal_put(j, &text) == 0 && journal_put(j, &made) == 0);
	CHECK(exists("products=koek.json.made") && exists("products=koek.json.entry"));
	/* The .made first, though its name sorts after. */
	CHECK(journal_load(j, collect, &s) == 2 && s.n == 2);
	CHECK_STR(s.file[0], "products=koek.json.made");
	CHECK(s.e[0].state == JOURNAL_CREATED && !s.e[0].pending && !s.e[0].id);
	CHECK_STR(s.e[0].made_in, "products");
	CHECK_STR(s.e[0].made_id, "285");
	CHECK_STR(s.file[1], "products=koek.json.entry");
	CHECK(s.e[1].state == JOURNAL_POSTING && !s.e[1].made_id);
	seen_clear(&s);
	/* A created entry under a text's name, a text's under a .made name: set aside. */
	CHECK(journal_encode(&made, &data, &len) == 0);
	CHECK(diskfile_write(at("products=x.json.entry"), JOURNAL_KIND, JOURNAL_VERSION, data,
			     len) == 0);
	bad = patched(data, len, "\"name\":\"koek.json\"", "\"name\":\"x.json\"", &blen);
	CHECK(bad && diskfile_write(at("products=x.json.entry"), JOURNAL_KIND, JOURNAL_VERSION,
				    bad, blen) == 0);
	free(bad);
	char *tdata = NULL;
	size_t tlen = 0;
	CHECK(journal_encode(&text, &tdata, &tlen) == 0);
	CHECK(diskfile_write(at("products=koek.json.made"), JOURNAL_KIND, JOURNAL_VERSION, tdata,
			     tlen) == 0);
	CHECK(journal_load(j, collect, &s) == 1 && s.n == 1);
	CHECK_STR(s.file[0], "products=koek.json.entry");
	seen_clear(&s);
	CHECK(exists("products=x.json.entry.bad") && exists("products=koek.json.made.bad"));
	/* Fields that break its rules. */
	static const char *const breaks[][2] = {
		{"\"state\":\"created\"", "\"state\":\"refused\""},
		{",\"made\":{\"collection\":\"products\",\"id\":\"285\"}", ""},
		{"\"id\":\"285\"", "\"id\":\"\""},
		{"\"id\":\"285\"", "\"id\":285"},
		{"\"made\":{\"collection\":\"products\"", "\"made\":{\"collection\":\"../p\""},
		{"{\"collection\"", "{\"id\":\"koek\",\"collection\""},
	};
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		bad = patched(data, len, breaks[i][0], breaks[i][1], &blen);
		if (!CHECK(bad != NULL)) {
			printf("  (no \"%s\" in %.*s)\n", breaks[i][0], (int)len, data);
			continue;
		}
		if (!CHECK(journal_decode(bad, blen, &e) == -EBADMSG))
			printf("  (taken with %s)\n", breaks[i][1]);
		journal_entry_clear(&e);
		free(bad);
	}
	/* A temporary of a .made write whose rename never came: removed. */
	put_raw("products=y.json.made.tmp77", "x", 1);
	CHECK(journal_load(j, collect, &s) == 1);
	seen_clear(&s);
	CHECK(!exists("products=y.json.made.tmp77"));
	CHECK(journal_drop(j, "products=koek.json.entry") == 0);
	CHECK(unlink(at("products=x.json.entry.bad")) == 0 &&
	      unlink(at("products=koek.json.made.bad")) == 0);
	free(tdata);
	free(data);
	wb_pending_free(text.pending);
	journal_free(j);
}

static void test_load_sets_aside(void)
{
	struct journal *j = NULL;
	struct seen s = {0};
	struct journal_entry good = {
		.collection = "clients", .name = "2.json", .id = "2", .state = JOURNAL_REFUSED,
		.err = EINVAL, .text = "{", .len = 1,
	};
	char *data = NULL;
	size_t len = 0;

	CHECK(journal_open(&j, at("")) == 0);
	CHECK(journal_put(j, &good) == 0);
	/* Torn: the header, half a payload. */
	CHECK(journal_encode(&good, &data, &len) == 0);
	CHECK(diskfile_write(at("clients=3.json.entry"), JOURNAL_KIND, JOURNAL_VERSION, data,
			     len) == 0); /* whole, but named for 3.json: not its own name */
	put_raw("clients=4.json.entry", "factuurfs journal 1 100 00000000\n{\"col", 38);
	/* Another version of the format. */
	CHECK(diskfile_write(at("clients=5.json.entry"), JOURNAL_KIND, JOURNAL_VERSION + 1, data,
			     len) == 0);
	/* A temporary whose rename never came; a file of someone else's. */
	put_raw("clients=2.json.entry.tmp4242", "factuurfs journal 1", 19);
	/* (Found by fuzz_journal: ".entry.tmp" inside a name is not the suffix.) */
	put_raw("clients=x.entry.tmpy.json.entry.tmp9", "x", 1);
	put_raw("notes.txt", "mine", 4);
	CHECK(journal_load(j, collect, &s) == 1 && s.n == 1);
	CHECK_STR(s.file[0], "clients=2.json.entry");
	seen_clear(&s);
	CHECK(exists("clients=2.json.entry"));
	CHECK(!exists("clients=3.json.entry") && exists("clients=3.json.entry.bad"));
	CHECK(!exists("clients=4.json.entry") && exists("clients=4.json.entry.bad"));
	CHECK(!exists("clients=5.json.entry") && exists("clients=5.json.entry.bad"));
	CHECK(!exists("clients=2.json.entry.tmp4242") && exists("notes.txt"));
	CHECK(!exists("clients=x.entry.tmpy.json.entry.tmp9"));
	/* Set aside once: the next load reads the good one only, sets nothing aside. */
	CHECK(journal_load(j, collect, &s) == 1 && nfiles() == 5);
	seen_clear(&s);
	free(data);
	journal_free(j);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_round_trip();
	test_decode_refuses();
	test_created();
	test_load_sets_aside();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	return unit_report();
}
