/* SPDX-License-Identifier: MIT */
/*
 * Shared-library closure of ELF files, so that a dynamically linked binary
 * packed into the initramfs finds everything it needs in the guest, where
 * there is no /etc/ld.so.cache and no LD_LIBRARY_PATH.
 *
 * Every DT_NEEDED name is looked up in the dynamic loader's order
 * (ld.so(8)): a name with a '/' is a path; else DT_RPATH of the requesting
 * object and of the objects that loaded it (only when the requester has no
 * DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, the default
 * directories (multiarch first). $ORIGIN is expanded. A candidate must be an
 * ELF of the requester's class and machine, as the loader also checks. The
 * walk is breadth-first, so the list is in the order the loader meets the
 * libraries.
 *
 * Where a library is packed: at the path it was found if that directory is
 * one the loader searches by default; otherwise (RPATH/RUNPATH, especially
 * with $ORIGIN, which points elsewhere in the guest; LD_LIBRARY_PATH;
 * directories known only through ld.so.cache) next to the C library, which
 * is always in a default directory. The interpreter (PT_INTERP) is listed
 * twice: under its canonical path and under the path the binary asks for.
 * Entries with the same real_path are the same file: the builder packs the
 * first one and makes the others symlinks.
 */
#ifndef KTSTR_INITRAMFS_ELFDEPS_H
#define KTSTR_INITRAMFS_ELFDEPS_H

#include <stddef.h>

#include "initramfs/ierr.h"

struct elfdep {
	char *name;	 /* the DT_NEEDED string, or the PT_INTERP path */
	char *host_path; /* where it was found (the path the host loader would open) */
	char *real_path; /* realpath(host_path): identical files share it */
	char *pack_path; /* absolute path inside the initramfs */
	char *needed_by; /* host path of the first object that asked for it */
	int interp;	 /* 1 for the two interpreter entries */
};

struct elfdeps {
	struct elfdep *v;
	size_t n;
	size_t cap;
};

struct elfdeps_opts {
	const char *ld_library_path; /* as the LD_LIBRARY_PATH variable; NULL = none */
	const char *ld_so_cache;     /* NULL = /etc/ld.so.cache; "" = do not use a cache */
};

/*
 * Closure of roots[0..n) (the roots themselves are not listed). A root that
 * is not an ELF file (a script, data) or is static contributes nothing.
 * Errors: -ENOENT and a message naming the missing library (or
 * interpreter) and the object that needs it, or the root that does not
 * exist; -ENOEXEC for a truncated or malformed ELF, naming it; -ENOMEM.
 */
int elfdeps_resolve(struct elfdeps *out, const char *const *roots, size_t n,
		    const struct elfdeps_opts *opts, struct ierr *err);
void elfdeps_free(struct elfdeps *d);

#endif
