/* writeback: turns the text a user saved into API calls.
 *
 * Knows the data dictionary and the API, nothing of FUSE: fs.c keeps the
 * buffers and calls these when a file is flushed, fsynced or renamed onto a
 * record name.  Every refusal comes back as -errno with a one-line message
 * for the log and the status file; nothing partial is ever sent (the whole
 * text must parse and convert before a request is made).
 */
#ifndef FACTUURFS_WRITEBACK_H
#define FACTUURFS_WRITEBACK_H

#include <stdbool.h>
#include <stddef.h>

#include "model/schema.h"

struct api;
struct cache;

/* What a POST that got no answer leaves behind, so the next attempt can look
 * for the record it may have created instead of posting blindly again. */
struct wb_pending;
void wb_pending_free(struct wb_pending *p);
/* @p as the journal keeps it (ns/journal.h): {"record": {what was posted},
 * "before": [the identifiers listed before the POST] or null}; NULL on ENOMEM.
 * The caller owns the result. */
cJSON *wb_pending_to_json(const struct wb_pending *p);
/* The reverse: a new pending (the caller's), or NULL when @j is not such an
 * object (a record that is no object, an identifier that is no non-empty
 * string) or on ENOMEM. */
struct wb_pending *wb_pending_from_json(const cJSON *j);

/* What wb_create tells its caller while it works, so that the save machine (ns/save_keep.c) can
 * journal it at once. */
struct wb_post_hook {
	/* Just before a POST leaves, with what its lost answer would leave
	 * behind: a daemon killed while the POST is out never sends it again.
	 * A -errno return stops the POST: the save fails with it. */
	int (*fn)(void *ud, const struct wb_pending *p);
	/* As soon as the text is known to have become record @id of @in (the
	 * POST's answer named it, or the listing shows the record a lost POST
	 * made), before anything else: a daemon killed before the save returns
	 * must not post it again.  May be NULL. */
	void (*created)(void *ud, const struct schema_collection *in, const char *id);
	void *ud;
};

/* Collections whose learned reading a struct wb keeps (schema_collection_index). */
#define WB_LEARNED 32

struct wb {
	struct api *api;
	struct cache *cache;
	/* Per write-only collection (by schema_collection_index), which of its .send
	 * readings the service took: 0 none yet, else its index + 1.  Written by wb_act,
	 * read by any thread: atomic. */
	_Atomic unsigned char learned[WB_LEARNED];
};

/* The versions of a record a user's text may have started from (its bases), and
 * what a save leaves to keep with the text for the next one (the save machine keeps it,
 * in the journal too). */
struct wb_bases {
	/* The version the text began from (pythonic text; NULL: not known, the record
	 * as the mount holds it stands for it). */
	const char *own;
	size_t own_len;
	/* Other versions of the record a user here may hold (served to a read, left
	 * by a conflict), the newest first. */
	const char *const *seen;
	const size_t *seen_lens;
	size_t nseen;
	/* Out (malloc'd, the caller frees it; NULL: nothing new): the base the text
	 * has from now on.  The one it started from; after a conflict, that one with
	 * the service's values of the conflicting fields (the user has been told
	 * them: the same text saved again keeps the user's); once the service took
	 * the text, the text itself. */
	char *keep;
	size_t keep_len;
};

/* The errno of a save refused because a field it changes was changed on the
 * service meanwhile, to another value (a conflict): "Device or resource busy".
 * Not EAGAIN, which is the spent budget's. */
#define WB_CONFLICT EBUSY

/* Saves @text as record @id of @c, merged (model/merge.h): its base is chosen from
 * @bases (may be NULL) by merge_pick_base; only the fields @text changed from it
 * are changed, on the record as the service has it now, read just before the PUT
 * (wb_edit in feat/writeback.c says why).  0 with *@sent false when it changes
 * nothing (no call), or when the service already holds every change (one GET); 0
 * with *@sent true after the GET and the PUT, and then in @msg a notice of the
 * fields the service sets that the text held otherwise and that were ignored (""
 * when none); -WB_CONFLICT, after the GET only,
 * when a field was changed on both sides to different values, @msg naming it and
 * its values. */
int wb_edit(const struct wb *wb, const struct schema_collection *c, const char *id,
	    const char *text, size_t len, struct wb_bases *bases, bool *sent, char *msg,
	    size_t msglen);

/* What wb_create and wb_act return for a template saved as it is: nothing sent, nothing
 * refused; the text stays a new file (@msg says so). */
#define WB_UNSENT 1

/* Creates a record of @c from @text (POST).  On success *@new_id is the new
 * identifier (malloc'd) and *@in the collection it landed in (invoices_saved
 * for an invoice with action "save").  A POST whose answer is not a clear one
 * — none after it left, a 3xx, a 5xx, a 2xx whose body is not what the API
 * answers (a maintenance page, garbage) and whose record the listing does not
 * show — fails with *@pending set: the service may have made the record.
 * *@pending carries it into the next attempt: when it did make the record,
 * that record is adopted (*@new_id) and a text changed since is sent as an
 * edit of it (wb_edit); if that edit is refused, the return is its -errno and
 * *@new_id is still set (the record exists).  Only a clear refusal (a 4xx, or
 * nothing sent) leaves no pending.  @hook (may be NULL): see above. */
int wb_create(const struct wb *wb, const struct schema_collection *c, const char *text,
	      size_t len, struct wb_pending **pending, char **new_id,
	      const struct schema_collection **in, char *msg, size_t msglen,
	      const struct wb_post_hook *hook);

/* Sends @text, a new file <@id>.json of write-only collection @c (@c->acts_on set): a
 * payment of invoice @id ({"amount": "full", "date": .., "method": ..}), a reminder, a
 * draft to send.  Refused with -EINVAL and no call when it does not convert, or, for a
 * deliberate collection, when it holds anything but @c's fields or does not name @id
 * inside; with -ENOENT and no call when @c->must_exist and @c->acts_on lists no @id
 * (its listing read, from the cache).  Then one request in the reading learned for
 * @c, or, until one is, @c->send in order while they are refused as not this
 * reading (schema.h); the listings it changes are dropped.  Each request is sent
 * once (api_call_once: an action is not idempotent).  @pending (may be NULL) is
 * what the file's last save left: a request that got no clear answer (a 5xx, a
 * 3xx, a cut, a timeout) sets it to that text, which is then refused with
 * -EALREADY and no call while it is unchanged (the service may have carried it
 * out; only the user can tell); any other outcome clears it.  The caller owns
 * *@pending.  @hook (may be NULL): its fn as for wb_create, just before the
 * request leaves (created is not called). */
int wb_act(struct wb *wb, const struct schema_collection *c, const char *id, const char *text,
	   size_t len, struct wb_pending **pending, char *msg, size_t msglen,
	   const struct wb_post_hook *hook);

/* Deletes record @id of @c. */
int wb_delete(const struct wb *wb, const struct schema_collection *c, const char *id, char *msg,
	      size_t msglen);

#endif
