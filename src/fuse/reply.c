/* reply: a plain reply (see mount.h): a cached "no such name" (dir.c, attr.c).
 * Nothing here looks at a node's kind.
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
