/* Fuzz target: the journal's load path (src/ns/journal.c, over base/diskfile.c
 * and feat/writeback.c's reading of a lost POST), as a mount reads it back.
 *
 * Input: byte 0 picks the form, the rest is
 *   even: a whole file as it lies in the journal directory (header and payload);
 *   odd:  a payload, written by diskfile_write (so the header, length and CRC are
 *         right and the fuzzer reaches the entry's parser), under the name its
 *         entry claims when it has one.
 * Checks: nothing crashes; an entry passed on is valid in every field (a known
 * collection-like name, a file name, a state, a lost POST only with what to look
 * for, the text exactly as long as said) and encodes to a payload that decodes to
 * the same entry; a file is either used or set aside as "<file>.bad", never both
 * and never half; temporaries are removed.
 */
#include "fuzz.h"

#include "base/diskfile.h"
#include "base/names.h"
#include "feat/writeback.h"
#include "ns/journal.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

/* Removes every file of the scratch directory. */
static void clean(void)
{
	DIR *d = opendir(dir);
	const struct dirent *de;
	char path[512];
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

static bool exists(const char *name)
{
	char path[1024];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

struct seen {
	unsigned n;
	char file[300];
};

static void check(void *ud, struct journal_entry *e, const char *file)
{
	struct seen *s = ud;
	char *want = journal_file(e->collection, e->name), *data = NULL;
	size_t len = 0;
	struct journal_entry back;

	s->n++;
	snprintf(s->file, sizeof(s->file), "%s", file);
	/* Under its own name, and every field within its rules. */
	FUZZ_CHECK(want && !strcmp(want, file));
	free(want);
	FUZZ_CHECK(e->state < JOURNAL_NSTATES);
	FUZZ_CHECK(e->err >= 0 && e->err <= 4095 && e->mode <= 07777);
	FUZZ_CHECK(e->mtime_ns >= 0 && e->mtime_ns <= 999999999);
	FUZZ_CHECK(e->text && e->text[e->len] == '\0');
	if (e->state == JOURNAL_UNANSWERED || e->state == JOURNAL_POSTING)
		FUZZ_CHECK(e->pending != NULL && e->id == NULL);
	if (e->state == JOURNAL_REFUSED)
		FUZZ_CHECK(e->pending == NULL);
	if (e->id) {
		char *stem = names_encode(e->id);
		FUZZ_CHECK(stem && !strncmp(e->name, stem, strlen(stem)) &&
			   !strcmp(e->name + strlen(stem), ".json"));
		free(stem);
	}
	/* Written again, it reads back the same. */
	FUZZ_CHECK(journal_encode(e, &data, &len) == 0);
	FUZZ_CHECK(journal_decode(data, len, &back) == 0);
	FUZZ_CHECK(same_str(back.collection, e->collection) && same_str(back.name, e->name) &&
		   same_str(back.id, e->id) && same_str(back.error, e->error));
	FUZZ_CHECK(back.state == e->state && back.err == e->err && back.mode == e->mode &&
		   back.mtime == e->mtime && back.mtime_ns == e->mtime_ns);
	FUZZ_CHECK(back.len == e->len && !memcmp(back.text, e->text, e->len));
	FUZZ_CHECK(!back.pending == !e->pending);
	if (e->pending) {
		/* Compared as printed: cJSON_Compare looks a key up by name, so an
		 * object with a key twice is never equal to itself.  (Found by
		 * fuzz_journal: crash-fe37885c..., a check of the check.) */
		cJSON *a = wb_pending_to_json(e->pending), *b = wb_pending_to_json(back.pending);
		char *pa = a ? cJSON_PrintUnformatted(a) : NULL;
		char *pb = b ? cJSON_PrintUnformatted(b) : NULL;
		FUZZ_CHECK(pa && pb && !strcmp(pa, pb));
		free(pa);
		free(pb);
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
	journal_entry_clear(&back);
	free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal *j = NULL;
	struct seen s = {0};
	char name[300] = "clients=1.json.entry", path[512], other[320];

	if (!dir[0]) {
		/* tmpfs when there is one: diskfile_write fsyncs. */
		snprintf(dir, sizeof(dir), "%s/fuzz_journal.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		FUZZ_CHECK(mkdtemp(dir) != NULL);
	}
	if (size < 1)
		return 0;
	clean();
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	if (data[0] & 1) {
		struct journal_entry e;
		if (journal_decode(body, len, &e) == 0) {
			char *f = journal_file(e.collection, e.name);
			FUZZ_CHECK(f != NULL); /* decode takes only names that can be files */
			snprintf(name, sizeof(name), "%s", f);
			free(f);
			journal_entry_clear(&e);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		FUZZ_CHECK(diskfile_write(path, JOURNAL_KIND, JOURNAL_VERSION, body, len) == 0);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		FILE *f = fopen(path, "wb");
		FUZZ_CHECK(f && fwrite(body, 1, len, f) == len);
		fclose(f);
	}
	/* A torn write's temporary beside it: removed, never read. */
	snprintf(path, sizeof(path), "%s/%s.tmp77", dir, name);
	FILE *t = fopen(path, "wb");
	FUZZ_CHECK(t && fwrite(body, 1, len, t) == len);
	fclose(t);

	FUZZ_CHECK(journal_open(&j, dir) == 0);
	int n = journal_load(j, check, &s);
	FUZZ_CHECK(n >= 0 && (unsigned)n == s.n && s.n <= 1);
	snprintf(other, sizeof(other), "%s.bad", name);
	if (s.n == 1)
		FUZZ_CHECK(!strcmp(s.file, name) && exists(name) && !exists(other));
	else
		FUZZ_CHECK(!exists(name) && exists(other));
	snprintf(other, sizeof(other), "%s.tmp77", name);
	FUZZ_CHECK(!exists(other));
	journal_free(j);
	return 0;
}
