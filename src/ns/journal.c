/* journal: the unsaved texts of a mount, on disk (see journal.h). */
#include "ns/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diskfile.h"
#include "base/log.h"
#include "base/safedir.h"
#include "base/names.h"
#include "base/vec.h"
#include "feat/writeback.h"

#define SUFFIX ".entry"
/* A name a POST made a record of (journal_made_file): not a text. */
#define MADE_SUFFIX ".made"
#define SET_ASIDE ".bad"
/* A file name within NAME_MAX with diskfile's ".tmp<tid>" after it. */
#define FILE_MAX 230

static const char *const state_names[JOURNAL_NSTATES] = {
	"refused", "unanswered", "waiting", "posting", "created",
};

struct journal {
	char *dir;
	/* dir, opened and checked (base/safedir.h); every entry is opened in it.
	 * Swapped for a new one when the directory was removed (journal_write);
	 * the callers order their calls (the save machine's jlock, ns/save_i.h), so no lock. */
	int fd;
};

void journal_entry_clear(struct journal_entry *e)
{
	free(e->collection);
	free(e->name);
	free(e->id);
	free(e->error);
	wb_pending_free(e->pending);
	free(e->made_in);
	free(e->made_id);
	free(e->base);
	free(e->text);
	memset(e, 0, sizeof(*e));
}

/* A collection's name as the dictionary spells them: [a-z0-9_], short. */
static bool collection_ok(const char *c)
{
	size_t n = strlen(c);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '_'))
			return false;
	return true;
}

/* A name a directory can hold. */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= 255 && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

/* FNV-1a, 64 bits: a name too long to spell out gets its hash. */
static uint64_t fnv1a(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *s = a; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (const char *s = b; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static char *file_of(const char *collection, const char *name, const char *suffix)
{
	char *enc, *file = NULL;
	if (!collection_ok(collection) || !name_ok(name) || !(enc = names_encode(name)))
		return NULL;
	/* "clients=1.json.entry": the directory reads as what it holds.  A
	 * name too long for that (with the encoding's %XX) gets a hash; the
	 * entry inside says its real name either way. */
	int rc = strlen(collection) + 1 + strlen(enc) + strlen(suffix) <= FILE_MAX
			 ? asprintf(&file, "%s=%s%s", collection, enc, suffix)
			 : asprintf(&file, "%s=#%016llx%s", collection,
				    (unsigned long long)fnv1a(collection, name), suffix);
	free(enc);
	return rc < 0 ? NULL : file;
}

char *journal_file(const char *collection, const char *name)
{
	return file_of(collection, name, SUFFIX);
}

char *journal_made_file(const char *collection, const char *name)
{
	return file_of(collection, name, MADE_SUFFIX);
}

/* ---- the payload --------------------------------------------------------------------- */

int journal_encode(const struct journal_entry *e, char **out, size_t *len)
{
	cJSON *j = cJSON_CreateObject(), *pending = NULL, *mtime, *made;
	char *line = NULL;
	int rc = -ENOMEM;
	*out = NULL;
	*len = 0;
	if (!j || e->state >= JOURNAL_NSTATES)
		goto out;
	bool ok = cJSON_AddStringToObject(j, "collection", e->collection) &&
		  cJSON_AddStringToObject(j, "name", e->name) &&
		  (!e->id || cJSON_AddStringToObject(j, "id", e->id)) &&
		  cJSON_AddStringToObject(j, "state", state_names[e->state]) &&
		  cJSON_AddNumberToObject(j, "errno", e->err) &&
		  (!e->error || cJSON_AddStringToObject(j, "error", e->error)) &&
		  cJSON_AddNumberToObject(j, "mode", e->mode & 07777) &&
		  (mtime = cJSON_AddArrayToObject(j, "mtime")) &&
		  cJSON_AddItemToArray(mtime, cJSON_CreateNumber((double)e->mtime)) &&
		  cJSON_AddItemToArray(mtime, cJSON_CreateNumber((double)e->mtime_ns)) &&
		  cJSON_AddNumberToObject(j, "length", (double)e->len);
	/* (An optional member: an older reader passes over it.) */
	if (ok && e->base)
		ok = cJSON_AddStringToObject(j, "base", e->base) != NULL;
	if (ok && e->made_in && e->made_id)
		ok = (made = cJSON_AddObjectToObject(j, "made")) &&
		     cJSON_AddStringToObject(made, "collection", e->made_in) &&
		     cJSON_AddStringToObject(made, "id", e->made_id);
	if (ok && e->pending) {
		pending = wb_pending_to_json(e->pending);
		ok = pending && cJSON_AddItemToObject(j, "pending", pending);
		if (!ok)
			cJSON_Delete(pending);
	}
	if (!ok || !(line = cJSON_PrintUnformatted(j)))
		goto out;
	/* One line (cJSON escapes every newline in a string), then the text. */
	size_t n = strlen(line);
	char *buf = malloc(n + 1 + e->len);
	if (!buf)
		goto out;
	memcpy(buf, line, n); /* NOLINT(bugprone-not-null-terminated-result): the newline ends it */
	buf[n] = '\n';
	if (e->len)
		memcpy(buf + n + 1, e->text, e->len);
	*out = buf;
	*len = n + 1 + e->len;
	rc = 0;
out:
	free(line);
	cJSON_Delete(j);
	return rc;
}

/* A member that must be a string (NULL when it is not). */
static const char *str_of(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A member that must be a whole number in [@lo, @hi]. */
static bool int_of(const cJSON *v, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
	    v->valuedouble > hi || floor(v->valuedouble) != v->valuedouble)
		return false;
	*out = v->valuedouble;
	return true;
}

static int dup_to(char **to, const char *s)
{
	return s && !(*to = strdup(s)) ? -ENOMEM : 0;
}

/* The entry line @j's names: its collection, name, state and identifier
 * (into @e->state and the out parameters, @j's).  False when one is missing or
 * not what it must be. */
static bool decode_names(const cJSON *j, struct journal_entry *e, const char **coll,
			 const char **name, const char **id, const char **error)
{
	const char *state;
	*coll = str_of(j, "collection");
	*name = str_of(j, "name");
	state = str_of(j, "state");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "id");
	*id = str_of(j, "id");
	if (!*coll || !*name || !state || !collection_ok(*coll) || !name_ok(*name) || (v && !*id))
		return false;
	for (e->state = 0; e->state < JOURNAL_NSTATES; e->state++)
		if (!strcmp(state, state_names[e->state]))
			break;
	if (e->state == JOURNAL_NSTATES)
		return false;
	if (*id) {
		/* A record: its name is its identifier's file name, nothing else. */
		char *want = names_encode(*id);
		bool same = want && strlen(*name) == strlen(want) + 5 &&
			    !strncmp(*name, want, strlen(want)) &&
			    !strcmp(*name + strlen(want), ".json");
		free(want);
		if (!same)
			return false;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "error");
	*error = str_of(j, "error");
	return !(v && !*error);
}

/* The entry line @j's numbers into @e: errno, mode, mtime, and the text's
 * length, which must be @rest (what follows the line). */
static bool decode_numbers(const cJSON *j, struct journal_entry *e, size_t rest)
{
	double num, sec, nsec;
	if (!int_of(cJSON_GetObjectItemCaseSensitive(j, "errno"), 0, 4095, &num))
		return false;
	e->err = (int)num;
	if (!int_of(cJSON_GetObjectItemCaseSensitive(j, "mode"), 0, 07777, &num))
		return false;
	e->mode = (unsigned)num;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "mtime");
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 ||
	    !int_of(cJSON_GetArrayItem(v, 0), -1e15, 1e15, &sec) ||
	    !int_of(cJSON_GetArrayItem(v, 1), 0, 999999999, &nsec))
		return false;
	e->mtime = (int64_t)sec;
	e->mtime_ns = (long)nsec;
	/* The text is the rest, exactly as long as the line says. */
	return int_of(cJSON_GetObjectItemCaseSensitive(j, "length"), 0, (double)DISKFILE_MAX,
		      &num) && (size_t)num == rest;
}

/* The entry line @j's lost POST (into @e->pending) and the record a created
 * entry's file became (@made_in, @made_id: @j's), each only in the states that
 * have one; @id the record's identifier, if the entry is a record's. */
static bool decode_links(const cJSON *j, struct journal_entry *e, const char *id,
			 const char **made_in, const char **made_id)
{
	/* A lost POST is only ever kept with what to look for: without it, the
	 * next save would post blindly again. */
	const cJSON *pending = cJSON_GetObjectItemCaseSensitive(j, "pending");
	bool needs = e->state == JOURNAL_UNANSWERED || e->state == JOURNAL_POSTING;
	bool may = needs || e->state == JOURNAL_WAITING;
	if ((needs && !pending) || (pending && !may) || (id && needs))
		return false;
	if (pending && !(e->pending = wb_pending_from_json(pending)))
		return false;
	/* The record a created entry's file became, and only there. */
	const cJSON *made = cJSON_GetObjectItemCaseSensitive(j, "made");
	if (made) {
		*made_in = str_of(made, "collection");
		*made_id = str_of(made, "id");
	}
	return !((e->state == JOURNAL_CREATED) != (made != NULL) ||
		 (made && (!cJSON_IsObject(made) || !*made_in || !collection_ok(*made_in) ||
			   !*made_id || !**made_id)) ||
		 (e->state == JOURNAL_CREATED && (id || pending)));
}

int journal_decode(const char *data, size_t len, struct journal_entry *e)
{
	const char *nl = memchr(data, '\n', len), *end = NULL;
	const char *coll, *name, *id, *error, *made_in = NULL, *made_id = NULL;
	cJSON *j = NULL;
	int rc = -EBADMSG;
	memset(e, 0, sizeof(*e));
	if (!nl)
		return -EBADMSG;
	size_t head = (size_t)(nl - data);
	j = cJSON_ParseWithLengthOpts(data, head, &end, false);
	/* The line is one object and nothing else. */
	if (!cJSON_IsObject(j) || end != nl || !decode_names(j, e, &coll, &name, &id, &error) ||
	    !decode_numbers(j, e, len - head - 1) || !decode_links(j, e, id, &made_in, &made_id))
		goto out;
	rc = -ENOMEM;
	e->len = len - head - 1;
	if (!(e->text = malloc(e->len + 1)))
		goto out;
	if (e->len)
		memcpy(e->text, nl + 1, e->len);
	e->text[e->len] = '\0';
	/* A record's base, when it has one: a string, or the entry is not whole. */
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "base");
	const char *base = str_of(j, "base");
	if (v && (!base || !id)) {
		rc = -EBADMSG;
		goto out;
	}
	if (dup_to(&e->base, base))
		goto out;
	e->base_len = base ? strlen(base) : 0;
	if (dup_to(&e->collection, coll) || dup_to(&e->name, name) || dup_to(&e->id, id) ||
	    dup_to(&e->error, error) || dup_to(&e->made_in, made_in) ||
	    dup_to(&e->made_id, made_id))
		goto out;
	rc = 0;
out:
	cJSON_Delete(j);
	if (rc < 0)
		journal_entry_clear(e);
	return rc;
}

/* ---- the directory ------------------------------------------------------------------- */

int journal_open(struct journal **out, const char *dir)
{
	struct journal *j = calloc(1, sizeof(*j));
	int rc = j && (j->dir = strdup(dir)) ? safedir_open(AT_FDCWD, NULL, dir, SAFEDIR_CREATE)
					   : -ENOMEM;
	if (j)
		j->fd = rc;
	if (rc < 0) {
		journal_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->dir);
	free(j);
}

const char *journal_dir(const struct journal *j)
{
	return j->dir;
}

int journal_write(struct journal *j, const char *file, const void *data, size_t len)
{
	int rc = diskfile_writeat(j->fd, file, JOURNAL_KIND, JOURNAL_VERSION, data, len);
	/* The directory was removed under us (a cache cleaned by hand): made
	 * again, once, and used from then on. */
	if (rc == -ENOENT) {
		int fd = safedir_open(AT_FDCWD, NULL, j->dir, SAFEDIR_CREATE);
		if (fd >= 0) {
			close(j->fd);
			j->fd = fd;
			rc = diskfile_writeat(j->fd, file, JOURNAL_KIND, JOURNAL_VERSION, data, len);
		} else {
			rc = fd; /* why the directory cannot be had */
		}
	}
	return rc;
}

int journal_put(struct journal *j, const struct journal_entry *e)
{
	char *file = e->state == JOURNAL_CREATED ? journal_made_file(e->collection, e->name)
						 : journal_file(e->collection, e->name);
	char *data = NULL;
	size_t len = 0;
	int rc = file ? journal_encode(e, &data, &len) : -EINVAL;
	if (rc == 0)
		rc = journal_write(j, file, data, len);
	free(data);
	free(file);
	return rc;
}

int journal_drop(struct journal *j, const char *file)
{
	/* Durable: an entry that came back after a power cut would show a
	 * text the service already took as unsaved again. */
	return safedir_remove(j->fd, file, true);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* diskfile's temporary name of an entry: "<file>.entry.tmp<digits>" (or
 * ".made.tmp<digits>"), at the end (a name may hold ".entry.tmp" in its
 * middle: "x.entry.tmpy.json"). */
static bool is_temp(const char *name)
{
	size_t n = strlen(name), d = 0;
	while (d < n && name[n - 1 - d] >= '0' && name[n - 1 - d] <= '9')
		d++;
	static const char *const tails[] = {SUFFIX ".tmp", MADE_SUFFIX ".tmp"};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		size_t k = strlen(tails[i]);
		if (d > 0 && n - d >= k && !strncmp(name + n - d - k, tails[i], k))
			return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Renames entry @name of @j to "<name>.bad": never read again, kept for the user. */
static void set_aside(struct journal *j, const char *name, const char *why)
{
	char *bad = NULL;
	if (asprintf(&bad, "%s%s", name, SET_ASIDE) < 0)
		return;
	int rc = safedir_rename(j->fd, name, bad, false);
	if (rc == 0)
		log_msg(LOG_WARNING, "journal: %s/%s is %s: set aside as %s, not used", j->dir,
			name, why, bad);
	else
		log_msg(LOG_ERR, "journal: %s/%s is %s and cannot be set aside: %s", j->dir, name,
			why, log_strerror(-rc));
	free(bad);
}

/* Reads entry file @name of @j into @e: 0, or -errno (-EBADMSG: set it aside). */
static int load_one(struct journal *j, const char *name, struct journal_entry *e)
{
	char *data = NULL, *want = NULL;
	size_t len = 0;
	int rc = diskfile_readat(j->fd, j->dir, name, JOURNAL_KIND, JOURNAL_VERSION, &data, &len, NULL);
	if (rc == 0)
		rc = journal_decode(data, len, e);
	/* Under its own name only: a file copied or renamed by hand would
	 * show a text twice, or under a name it does not know (a created
	 * entry's is a .made file, a text's an .entry). */
	if (rc == 0) {
		want = e->state == JOURNAL_CREATED ? journal_made_file(e->collection, e->name)
						   : journal_file(e->collection, e->name);
		if (!want || strcmp(want, name) != 0) {
			journal_entry_clear(e);
			rc = -EBADMSG;
		}
	}
	if (rc == -EBADMSG)
		set_aside(j, name, "not a whole journal entry of this version");
	else if (rc < 0)
		log_msg(LOG_ERR, "journal: %s/%s: %s", j->dir, name, log_strerror(-rc));
	free(want);
	free(data);
	return rc;
}

int journal_load(struct journal *j,
		 void (*fn)(void *ud, struct journal_entry *e, const char *file), void *ud)
{
	DIR *d = safedir_list(j->fd);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int count = 0;
	const struct dirent *de;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (is_temp(de->d_name)) {
			/* A write that never reached its rename: the entry is
			 * what the name holds (or nothing). */
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (!ends_with(de->d_name, SUFFIX) && !ends_with(de->d_name, MADE_SUFFIX))
			continue;
		if (n == cap && vec_grow(&names, &cap, n + 1, sizeof(*names)) < 0)
			break;
		if ((names[n] = strdup(de->d_name)))
			n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	/* The names POSTs made records of first: an entry of the same name
	 * (the POST's own, whose removal a kill cut short) finds it taken. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct journal_entry e;
			if (!names[i] || ends_with(names[i], MADE_SUFFIX) != (pass == 0))
				continue;
			if (load_one(j, names[i], &e) == 0) {
				fn(ud, &e, names[i]);
				journal_entry_clear(&e);
				count++;
			}
			free(names[i]);
			names[i] = NULL;
		}
	}
	free(names);
	return count;
}
