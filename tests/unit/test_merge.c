/* Unit tests of model/merge.c: which version a text started from, and the
 * three-way merge of a save (a field changed elsewhere survives; one changed on
 * both sides is a conflict, named with its three values). */
#include <stdlib.h>
#include <string.h>

#include "model/merge.h"
#include "model/schema.h"
#include "unit.h"

static const struct schema_collection *clients;

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	if (!j)
		printf("bad fixture: %s\n", s);
	return j;
}

static char *print(const cJSON *j)
{
	return j ? cJSON_PrintUnformatted(j) : NULL;
}

#define V0 "{\"clientnr\":1,\"city\":\"Arnhem\",\"phone\":\"1\",\"timestamp\":\"2026-01-01\"}"
#define V1 "{\"clientnr\":1,\"city\":\"Arnhem\",\"phone\":\"2\",\"timestamp\":\"2026-02-02\"}"

static void test_distance_and_base(void)
{
	cJSON *v0 = J(V0), *v1 = J(V1);
	cJSON *mine = J("{\"clientnr\":1,\"city\":\"Zwolle\",\"phone\":\"1\","
			"\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_distance(v0, v0) == 0);
	CHECK(merge_distance(v0, v1) == 2);
	CHECK(merge_distance(mine, v0) == 1 && merge_distance(mine, v1) == 3);
	/* A member only one has counts. */
	cJSON *less = J("{\"clientnr\":1,\"city\":\"Arnhem\",\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_distance(less, v0) == 1 && merge_distance(v0, less) == 1);

	/* The text read before the newer version was shown: the older one is nearer. */
	const cJSON *cands[] = {v1, v0};
	CHECK(merge_pick_base(mine, v1, cands, 2) == 1);
	/* Nothing nearer than the version it began from: that one. */
	cJSON *mine1 = J("{\"clientnr\":1,\"city\":\"Zwolle\",\"phone\":\"2\","
			 "\"timestamp\":\"2026-02-02\"}");
	CHECK(merge_pick_base(mine1, v1, cands, 2) == -1);
	/* A text equal to an older version is taken as meant (a copy put back), not
	 * as that version unchanged. */
	CHECK(merge_pick_base(v0, v1, cands, 2) == -1);
	/* The nearest of several (NULL entries skipped). */
	cJSON *va =
	    J("{\"clientnr\":1,\"city\":\"Zwolle\",\"phone\":\"9\",\"timestamp\":\"2026-01-01\"}");
	const cJSON *tie[] = {NULL, va, v0};
	cJSON *mine2 = J("{\"clientnr\":1,\"city\":\"Kampen\",\"phone\":\"1\","
			 "\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_distance(mine2, va) == 2 && merge_distance(mine2, v0) == 1);
	CHECK(merge_pick_base(mine2, v1, tie, 3) == 2);
	cJSON_Delete(v0);
	cJSON_Delete(v1);
	cJSON_Delete(mine);
	cJSON_Delete(less);
	cJSON_Delete(mine1);
	cJSON_Delete(va);
	cJSON_Delete(mine2);
}

static void test_merge(void)
{
	struct merge_result r;
	cJSON *base = J(V0), *theirs = J(V1);
	/* Another field: both kept; the read-only timestamp is theirs. */
	cJSON *mine = J("{\"clientnr\":1,\"city\":\"Zwolle\",\"phone\":\"1\","
			"\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_records(clients, base, mine, theirs, &r) == 0);
	CHECK(r.changed == 1 && r.conflicts == 0 && !r.resolved);
	char *m = print(r.merged);
	CHECK_STR(m, "{\"clientnr\":1,\"city\":\"Zwolle\",\"phone\":\"2\","
		     "\"timestamp\":\"2026-02-02\"}");
	free(m);
	merge_result_clear(&r);
	cJSON_Delete(mine);

	/* The same field changed to the same value on both sides: no conflict. */
	mine =
	    J("{\"clientnr\":1,\"city\":\"Arnhem\",\"phone\":\"2\",\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_records(clients, base, mine, theirs, &r) == 0);
	CHECK(r.changed == 1 && r.conflicts == 0 && cJSON_Compare(r.merged, theirs, true));
	merge_result_clear(&r);
	cJSON_Delete(mine);

	/* To different values: a conflict, with its three values; the resolved base
	 * holds theirs, so the same text merged against it keeps mine. */
	mine =
	    J("{\"clientnr\":1,\"city\":\"Arnhem\",\"phone\":\"3\",\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_records(clients, base, mine, theirs, &r) == 0);
	CHECK(r.conflicts == 1 && !r.merged && !r.more);
	CHECK_STR(r.field, "phone");
	CHECK_STR(r.base_v ? r.base_v->valuestring : NULL, "1");
	CHECK_STR(r.mine_v ? r.mine_v->valuestring : NULL, "3");
	CHECK_STR(r.theirs_v ? r.theirs_v->valuestring : NULL, "2");
	cJSON *resolved = cJSON_Duplicate(r.resolved, true);
	merge_result_clear(&r);
	CHECK(merge_records(clients, resolved, mine, theirs, &r) == 0);
	CHECK(r.conflicts == 0 && r.changed == 1);
	m = print(cJSON_GetObjectItemCaseSensitive(r.merged, "phone"));
	CHECK_STR(m, "\"3\"");
	free(m);
	merge_result_clear(&r);
	cJSON_Delete(resolved);
	cJSON_Delete(mine);

	/* Two conflicts: the first named, the other listed; a field mine dropped is
	 * a change too (gone from the merge). */
	cJSON *t2 = J("{\"clientnr\":1,\"city\":\"Utrecht\",\"phone\":\"2\",\"notes\":\"x\"}");
	mine =
	    J("{\"clientnr\":1,\"city\":\"Zwolle\",\"phone\":\"3\",\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_records(clients, base, mine, t2, &r) == 0);
	CHECK(r.conflicts == 2);
	CHECK_STR(r.field, "city");
	CHECK_STR(r.more, "phone");
	merge_result_clear(&r);
	cJSON_Delete(mine);
	mine = J("{\"clientnr\":1,\"city\":\"Arnhem\",\"timestamp\":\"2026-01-01\"}");
	CHECK(merge_records(clients, base, mine, theirs, &r) == 0);
	/* (phone dropped here, changed there: a conflict with "nothing" on our side) */
	CHECK(r.conflicts == 1 && !r.mine_v);
	merge_result_clear(&r);
	CHECK(merge_records(clients, base, mine, base, &r) == 0);
	CHECK(r.conflicts == 0 && r.changed == 1 &&
	      !cJSON_GetObjectItemCaseSensitive(r.merged, "phone"));
	merge_result_clear(&r);
	cJSON_Delete(mine);
	cJSON_Delete(t2);

	/* What the service computes is never the user's change. */
	mine =
	    J("{\"clientnr\":7,\"city\":\"Arnhem\",\"phone\":\"1\",\"timestamp\":\"2030-01-01\"}");
	CHECK(merge_records(clients, base, mine, theirs, &r) == 0);
	CHECK(r.changed == 0 && cJSON_Compare(r.merged, theirs, true));
	merge_result_clear(&r);
	cJSON_Delete(mine);
	cJSON_Delete(base);
	cJSON_Delete(theirs);
}

int main(void)
{
	clients = schema_find("clients");
	CHECK(clients != NULL);
	test_distance_and_base();
	test_merge();
	return unit_report();
}
