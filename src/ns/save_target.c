/* save_target: what a save of a node targets (see save_target.h). */
#include "ns/save_target.h"

#include "model/schema.h"

static const struct save_target_rule rules[SAVE_NTARGETS] = {
	[SAVE_T_NONE]    = {.name = "none", .send = SAVE_SEND_NONE},
	/* (It never holds a text: a write is EPERM.) */
	[SAVE_T_FIXED]   = {.name = "fixed record", .record = true, .send = SAVE_SEND_EDIT},
	[SAVE_T_RECORD]  = {.name = "record", .record = true, .send = SAVE_SEND_EDIT},
	[SAVE_T_SCRATCH] = {.name = "scratch", .local = true, .send = SAVE_SEND_NONE},
	[SAVE_T_NEW]     = {.name = "new record", .local = true, .newfile = true,
			    .send = SAVE_SEND_CREATE},
	[SAVE_T_THROUGH] = {.name = "new record through another collection", .local = true,
			    .newfile = true, .through = true, .send = SAVE_SEND_CREATE},
	[SAVE_T_ACT]     = {.name = "request", .local = true, .newfile = true,
			    .named_by_record = true, .send = SAVE_SEND_ACT},
};

enum save_target save_target_kind(int kind, const struct schema_collection *c)
{
	switch (kind) {
	case N_JSON:
		return c && (c->methods & SCHEMA_M_PUT) ? SAVE_T_RECORD : SAVE_T_FIXED;
	case N_SCRATCH:
		return SAVE_T_SCRATCH;
	case N_NEW: {
		/* Where a new file's POST goes is its collection's row (schema_creates). */
		const struct schema_collection *via = c ? schema_creates(c) : c;
		return !c || via == c ? SAVE_T_NEW : via ? SAVE_T_THROUGH : SAVE_T_ACT;
	}
	default:
		return SAVE_T_NONE;
	}
}

enum save_target save_target_of(const struct node *n)
{
	return save_target_kind(n->kind, n->c);
}

const struct save_target_rule *save_target_rule(enum save_target t)
{
	return &rules[(unsigned)t < SAVE_NTARGETS ? t : SAVE_T_NONE];
}

const struct save_target_rule *save_target_rule_of(const struct node *n)
{
	return save_target_rule(save_target_of(n));
}
