/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the initramfs tests (test_cpio, test_elfdeps, test_kmod,
 * test_lz4legacy, test_initramfs): scratch directories and small files made
 * at test time, and running host tools (cc, cpio, lz4, xz). Everything is
 * static so each test file gets its own copy without extra link symbols.
 */
#ifndef KTSTR_TESTS_IFS_TESTUTIL_H
#define KTSTR_TESTS_IFS_TESTUTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *tu_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char *p;

	cr_assert(asprintf(&p, "%s/ktstr-ifs-XXXXXX", t && *t ? t : "/tmp") > 0);
	cr_assert_not_null(mkdtemp(p), "mkdtemp %s", p);
	return p;
}

/* Run a shell command built with printf rules; returns its exit status (or -1). */
static inline __attribute__((format(printf, 1, 2))) int tu_sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int st, n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	cr_assert(n > 0);
	st = system(cmd);
	free(cmd);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void tu_rmrf(char *dir)
{
	if (dir && strlen(dir) > 8)
		tu_sh("rm -rf '%s'", dir);
	free(dir);
}

static inline bool tu_have(const char *tool)
{
	return tu_sh("command -v %s >/dev/null 2>&1", tool) == 0;
}

/* Skip (loudly: the reason is printed, not just counted) when a host tool is missing. */
#define tu_require(tool)                                                                           \
	do {                                                                                       \
		if (!tu_have(tool)) {                                                              \
			fprintf(stderr, "SKIPPED: '%s' is not installed on this machine\n", tool); \
			cr_skip_test("'%s' is not installed", tool);                               \
		}                                                                                  \
	} while (0)

/* Write a file (parents must exist) with the given mode. */
static inline void tu_write(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	cr_assert(fd >= 0, "create %s", path);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

static inline void tu_write_str(const char *path, const char *s)
{
	tu_write(path, s, strlen(s), 0644);
}

/* Whole file into a malloc'd buffer (NUL-terminated past *len). */
static inline uint8_t *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	cr_assert_not_null(f, "open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* path = dir + "/" + rel, asserted to fit. */
static inline void tu_join(char *buf, size_t len, const char *dir, const char *rel)
{
	int n = snprintf(buf, len, "%s/%s", dir, rel);

	cr_assert(n > 0 && (size_t)n < len);
}

/* dir/rel with its parent directories; the content is the text itself. */
static inline void tu_put(const char *dir, const char *rel, const char *text)
{
	char path[4096];

	tu_join(path, sizeof(path), dir, rel);
	cr_assert_eq(tu_sh("mkdir -p \"$(dirname '%s')\"", path), 0);
	tu_write_str(path, text);
}

/* path is the console node the kernel needs: char 5:1, mode 0600 (guest-protocol.md §3.0). */
static inline void tu_assert_console(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s missing", path);
	cr_assert(S_ISCHR(st.st_mode), "%s not a char device", path);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(major(st.st_rdev), 5);
	cr_assert_eq(minor(st.st_rdev), 1);
}

#endif
