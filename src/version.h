/* version: what the binary was built from, for --version. */
#ifndef FACTUURFS_VERSION_H
#define FACTUURFS_VERSION_H

/* The git commit of the checkout it was built from ("f69e1a9c3d2e", with "-dirty" for
 * uncommitted changes), or "" when built from a release tarball.  version.c is made
 * from src/version.c.in by meson's vcs_tag at every build. */
extern const char version_commit[];

#endif
