/* SPDX-License-Identifier: MIT */
/*
 * Reader of glibc's /etc/ld.so.cache in its current binary format
 * ("glibc-ld.so.cache1.1", the only one glibc >= 2.32 writes). The file is
 * parsed directly rather than by running ldconfig -p: no subprocess, and the
 * same code works on a sysroot's cache.
 *
 * Layout (little-endian on the hosts we run on): a 48-byte header
 * {magic[17], version[3], u32 nlibs, u32 len_strings, u8 flags, u8 pad[3],
 * u32 extension_offset, u32 unused[3]} then nlibs 24-byte entries
 * {i32 flags, u32 key, u32 value, u32 osversion, u64 hwcap}. key (soname)
 * and value (path) are offsets from the start of the file.
 */
#ifndef KTSTR_INITRAMFS_LDCACHE_H
#define KTSTR_INITRAMFS_LDCACHE_H

#include <stddef.h>
#include <stdint.h>

#define LDCACHE_DEFAULT_PATH "/etc/ld.so.cache"

struct ldcache {
	uint8_t *data; /* owned when loaded from a file */
	size_t len;
	uint32_t nlibs;
	int owned;
};

/* Load and validate a cache file: 0, -ENOENT etc. from open, -EINVAL if not the 1.1 format. */
int ldcache_load(struct ldcache *lc, const char *path);
/* Validate an in-memory image (not copied; must outlive lc). */
int ldcache_parse(struct ldcache *lc, const uint8_t *data, size_t len);
void ldcache_free(struct ldcache *lc);

/*
 * The next path recorded for soname, starting at entry *iter (start with 0).
 * Only entries without a hardware-capability tag are returned: those are the
 * baseline builds, which also run on whatever CPU model the guest gets.
 * Returns NULL when there are no more.
 */
const char *ldcache_next(const struct ldcache *lc, const char *soname, uint32_t *iter);

#endif
