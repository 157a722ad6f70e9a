/* SPDX-License-Identifier: MIT */
/*
 * Error reports of the initramfs builder. Every function returns 0 / -errno;
 * the message says which file or name was at fault, because the user has to
 * act on it (issue 7: "a clear error naming the file"). The CLI prints
 * `msg` as is; the builder itself logs nothing at error level.
 */
#ifndef KTSTR_INITRAMFS_IERR_H
#define KTSTR_INITRAMFS_IERR_H

struct ierr {
	int code;      /* the -errno also returned */
	char msg[768]; /* one line, no trailing newline */
};

/* Record a failure (e may be NULL) and return `code` so callers can `return ierr_set(...)`. */
int ierr_set(struct ierr *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
