/* SPDX-License-Identifier: MIT */
/*
 * In-memory writer of "newc" cpio archives (the format the kernel's
 * init/initramfs.c unpacks, magic "070701").
 *
 * Paths are given absolute or relative ("/init" and "init" are the same
 * entry) and stored without the leading '/', so that `cpio -idm` extracts
 * them below the current directory. Missing parent directories are created
 * once, mode 0755. Output is deterministic: mtime 0, uid/gid 0, inode numbers
 * counted from 1 in the order entries are added, so two builds of the same
 * inputs are byte-identical.
 */
#ifndef KTSTR_INITRAMFS_CPIO_H
#define KTSTR_INITRAMFS_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_HDR_SIZE  110u
#define CPIO_NAME_MAX  4095u /* bytes of a stored path, without the NUL (the kernel's PATH_MAX) */
#define CPIO_FILE_MAX  0xffffffffull
#define CPIO_PERM_HOST (-1) /* cpio_add_host_file: keep the host file's permission bits */

struct cpio_node;

struct cpio {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint32_t next_ino;
	bool finished;
	/* every path added so far, for de-duplication (open addressing) */
	struct cpio_node *nodes;
	size_t nodes_cap;
	size_t nodes_len;
};

void cpio_init(struct cpio *c);
void cpio_free(struct cpio *c);

/*
 * Each adder returns 0, -EINVAL for a path that is empty or has a "." or
 * ".." component, -ENAMETOOLONG, -EEXIST if the path is already in the
 * archive (a directory added twice is not an error: the second call does
 * nothing), -ENOTDIR if a parent is already something else than a
 * directory, -EFBIG for a file larger than newc can describe, -ENOMEM, or
 * -EBUSY after cpio_finish(). `perm` is the permission bits (07777).
 */
int cpio_add_dir(struct cpio *c, const char *path, uint32_t perm);
int cpio_add_file(struct cpio *c, const char *path, uint32_t perm, const void *data, size_t len);
/* Read host_path whole; perm CPIO_PERM_HOST takes the host file's bits. Errors of open/read too. */
int cpio_add_host_file(struct cpio *c, const char *path, int perm, const char *host_path);
int cpio_add_symlink(struct cpio *c, const char *path, const char *target);
int cpio_add_chardev(struct cpio *c, const char *path, uint32_t perm, uint32_t major,
		     uint32_t minor);

/* 0 and the entry's full mode (S_IFMT | perm) if path is in the archive, else -ENOENT. */
int cpio_lookup(const struct cpio *c, const char *path, uint32_t *mode);

/*
 * Append the TRAILER!!! entry and zero-pad to a multiple of 512 bytes (what
 * cpio(1) expects; the kernel skips zero padding between archives). After
 * this the archive is c->buf[0 .. c->len).
 */
int cpio_finish(struct cpio *c);

/* Hand the buffer to the caller (free() it); the writer is left empty. */
uint8_t *cpio_take(struct cpio *c, size_t *len);

#endif
