/* Fuzz target: a listing file kept on disk (store/persist.h), read back through the
 * mount's own load path, cache_listing_load (diskfile_read, persist_read, each record
 * rebuilt from its text).
 *
 * Input: byte 0 picks the listing (bits 1-7: a collection in schema order, then the
 * invoice filters) and how the rest is taken (bit 0): 0, as the whole file; 1, as its
 * payload under a header that is right for it (kind, version, length, CRC), so that
 * the payload's parser is reached past the CRC.
 *
 * Checks: nothing but 0 or -EBADMSG comes back; an accepted file was a whole file of
 * this kind and version; every record it yields has an identifier, its stem, and a
 * text that is UTF-8 and parses as one object; written again with the writer's own
 * format, it reads back the same records and fetch time.
 */
#include "fuzz.h"
#include "model/facts.h"
#include "model/schema.h"
#include "base/names.h"
#include "base/strbuf.h"
#include "store/cache.h"
#include "store/persist.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

static int fd = -1;
static char path[64];

/* Makes the state file hold @data: an unnamed file in memory, read by path. */
static void put_file(const void *data, size_t len)
{
	if (fd < 0) {
		fd = memfd_create("listing", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, data, len, 0) == (ssize_t)len);
}

/* @payload under the header diskfile_write gives it (base/diskfile.h). */
static void put_whole(const char *payload, size_t len)
{
	char head[128];
	int n = snprintf(head, sizeof(head), "factuurfs listing 1 %zu %08lx\n", len,
			 crc32(crc32(0L, Z_NULL, 0), (const Bytef *)payload, (uInt)len));
	char *buf = malloc((size_t)n + len + 1);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, head, (size_t)n);
	if (len)
		memcpy(buf + n, payload, len);
	put_file(buf, (size_t)n + len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t ncoll = schema_ncollections(), nslots = ncoll + facts_nfilters();
	size_t slot = (size_t)(data[0] >> 1) % nslots;
	const struct schema_collection *c =
	    slot < ncoll ? schema_collection_at(slot) : schema_find("invoices");
	const char *filter = slot < ncoll ? NULL : facts_filter_at(slot - ncoll)->name;
	bool wrapped = data[0] & 1;
	if (wrapped)
		put_whole((const char *)data + 1, size - 1);
	else
		put_file(data + 1, size - 1);

	struct cache_listing *l = NULL, *again = NULL;
	time_t fetched = 0, fetched2 = 0;
	bool fresh = false, fresh2 = false;
	int rc = cache_listing_load(c, filter, path, &l, &fetched, &fresh);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc < 0) {
		FUZZ_CHECK(l == NULL);
		return 0;
	}
	if (!wrapped)
		FUZZ_CHECK(size > 20 && !memcmp(data + 1, "factuurfs listing 1 ", 20));
	FUZZ_CHECK(l->n <= size);
	FUZZ_CHECK(!c->single || l->n == 1);

	/* Written again as the writer does, it reads back the same. */
	char name[96];
	struct strbuf b = {0};
	if (filter)
		snprintf(name, sizeof(name), "%s.%s", c->name, filter);
	else
		snprintf(name, sizeof(name), "%s", c->name);
	persist_put_header(&b, name, fetched, true, l->n);
	for (size_t i = 0; i < l->n; i++) {
		const struct cache_record *r = l->recs[i];
		char *stem = names_encode(r->id);
		FUZZ_CHECK(r->id[0] && stem && !strcmp(stem, r->stem));
		free(stem);
		FUZZ_CHECK(strlen(r->text) == r->len);
		FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)r->text, r->len));
		cJSON *o = cJSON_ParseWithLength(r->text, r->len);
		FUZZ_CHECK(cJSON_IsObject(o));
		cJSON_Delete(o);
		persist_put_record(&b, r->id, r->whole, r->text, r->len, r->wire, r->wire_len);
	}
	FUZZ_CHECK(!b.oom);
	put_whole(b.p ? b.p : "", b.len);
	free(b.p);
	rc = cache_listing_load(c, filter, path, &again, &fetched2, &fresh2);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(fetched2 == fetched && again->n == l->n);
	for (size_t i = 0; i < l->n; i++) {
		FUZZ_CHECK(!strcmp(again->recs[i]->id, l->recs[i]->id));
		FUZZ_CHECK(again->recs[i]->whole == l->recs[i]->whole);
		FUZZ_CHECK(again->recs[i]->len == l->recs[i]->len &&
			   !memcmp(again->recs[i]->text, l->recs[i]->text, l->recs[i]->len));
	}
	cache_listing_unref(again);
	cache_listing_unref(l);
	return 0;
}
