/* reply: two plain replies (see mount.h): a cached "no such name" (dir.c,
 * attr.c), and a READ answered from text in memory (the collections' handlers).
 * The attributes they build on are vfs/attr.c's.  Nothing here looks at a node's
 * kind.
 */
#include "fuse/mount.h"

#include <string.h>

void reply_negative(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.entry_timeout = timeout; /* ino 0: a cached "no such name" */
	fuse_reply_entry(req, &e);
}

void reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	fuse_reply_buf(req, text + off, size);
}
