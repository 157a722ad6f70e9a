/* SPDX-License-Identifier: MIT */
/* Small host-file helpers shared by the initramfs builder's parts. */
#ifndef KTSTR_INITRAMFS_FSUTIL_H
#define KTSTR_INITRAMFS_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Read a regular file whole into a malloc'd buffer (NUL-terminated one byte
 * past *len, so text files can be parsed as strings). -EISDIR for a
 * directory, -EFBIG above max bytes, other -errno from open/read.
 */
int fs_read_file(const char *path, size_t max, uint8_t **data, size_t *len);

/* snprintf into buf; -ENAMETOOLONG if it did not fit. */
int fs_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

bool fs_is_dir(const char *path);
bool fs_is_file(const char *path);

#endif
