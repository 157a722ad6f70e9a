/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the initramfs builder's parts: host files, paths, arrays. */
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

/*
 * Make room for element `len` of a growable array v (*cap elements of elem
 * bytes), doubling from `first`. Returns the array (moved or not), or NULL
 * when out of memory or on size overflow, v then being still valid.
 */
void *fs_grow(void *v, size_t *cap, size_t len, size_t elem, size_t first);

/* A list of owned strings. */
struct strv {
	char **v;
	size_t n;
	size_t cap;
};

/* Append a copy of s: 0 or -ENOMEM. */
int strv_push(struct strv *sv, const char *s);
bool strv_has(const struct strv *sv, const char *s);
void strv_free(struct strv *sv);

#endif
