// SPDX-License-Identifier: MIT
/*
 * newc writer (src/initramfs/cpio.c). The archive is read back with a small
 * independent parser that also checks every alignment rule the kernel's
 * init/initramfs.c relies on, and once with the system cpio(1).
 */
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ifs_testutil.h"
#include "initramfs/cpio.h"

struct ent {
	uint32_t f
		[13]; /* ino mode uid gid nlink mtime filesize devmaj devmin rdevmaj rdevmin namesize check */
	const char *name;
	const uint8_t *data;
	size_t hdr_off;
};

enum {
	F_INO,
	F_MODE,
	F_UID,
	F_GID,
	F_NLINK,
	F_MTIME,
	F_SIZE,
	F_DMAJ,
	F_DMIN,
	F_RMAJ,
	F_RMIN,
	F_NSZ
};

static uint32_t hex8(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = (char)p[i];

		cr_assert((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'), "bad hex digit %c", c);
		v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10);
	}
	return v;
}

/* Parse every entry up to and including the trailer; returns the count. */
static size_t parse(const uint8_t *buf, size_t len, struct ent *out, size_t max)
{
	size_t off = 0, n = 0;

	for (;;) {
		struct ent e = {.hdr_off = off};
		size_t name_end, data_end;

		cr_assert_eq(off % 4, 0, "header at %zu not 4-aligned", off);
		cr_assert_leq(off + 110, len);
		cr_assert_eq(memcmp(buf + off, "070701", 6), 0);
		for (int i = 0; i < 13; i++)
			e.f[i] = hex8(buf + off + 6 + 8 * i);
		e.name = (const char *)buf + off + 110;
		cr_assert_eq(strlen(e.name) + 1, e.f[F_NSZ]);
		name_end = off + 110 + e.f[F_NSZ];
		for (size_t i = name_end; i % 4; i++)
			cr_assert_eq(buf[i], 0, "name padding not zero");
		name_end = (name_end + 3) & ~(size_t)3;
		e.data = buf + name_end;
		data_end = name_end + e.f[F_SIZE];
		cr_assert_leq(data_end, len);
		for (size_t i = data_end; i % 4; i++)
			cr_assert_eq(buf[i], 0, "data padding not zero");
		off = (data_end + 3) & ~(size_t)3;
		cr_assert_lt(n, max);
		out[n++] = e;
		if (!strcmp(e.name, "TRAILER!!!"))
			break;
	}
	for (size_t i = off; i < len; i++)
		cr_assert_eq(buf[i], 0, "non-zero byte after the trailer");
	return n;
}

Test(cpio, entries_have_fixed_mtime_root_owner_and_sequential_inodes)
{
	struct cpio c;
	struct ent e[8];
	size_t n;

	cpio_init(&c);
	cr_assert_eq(cpio_add_dir(&c, "/a", 0700), 0);
	cr_assert_eq(cpio_add_file(&c, "/a/f", 0640, "hello", 5), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	n = parse(c.buf, c.len, e, 8);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(e[i].f[F_INO], i + 1);
		cr_assert_eq(e[i].f[F_MTIME], 0);
		cr_assert_eq(e[i].f[F_UID], 0);
		cr_assert_eq(e[i].f[F_GID], 0);
		cr_assert_eq(e[i].f[12], 0, "check field must be 0 for 070701");
	}
	cr_assert_str_eq(e[0].name, "a");
	cr_assert_eq(e[0].f[F_MODE], S_IFDIR | 0700);
	cr_assert_eq(e[0].f[F_NLINK], 2);
	cr_assert_eq(e[1].f[F_MODE], S_IFREG | 0640);
	cr_assert_eq(e[1].f[F_NLINK], 1);
	cr_assert_eq(e[1].f[F_SIZE], 5);
	cr_assert_eq(memcmp(e[1].data, "hello", 5), 0);
	cpio_free(&c);
}

Test(cpio, names_and_data_of_every_length_keep_four_byte_alignment)
{
	struct cpio c;
	struct ent e[64];
	uint8_t data[8] = "abcdefg";
	size_t n;

	cpio_init(&c);
	/* every residue of name length and data length modulo 4 */
	for (int nl = 1; nl <= 8; nl++)
		for (int dl = 0; dl <= 5; dl++) {
			char name[32];

			snprintf(name, sizeof(name), "%.*s%d", nl, "nnnnnnnn", dl);
			cr_assert_eq(cpio_add_file(&c, name, 0644, data, (size_t)dl), 0);
		}
	cr_assert_eq(cpio_finish(&c), 0);
	n = parse(c.buf, c.len, e, 64); /* asserts every alignment and padding byte */
	cr_assert_eq(n, 8 * 6 + 1);
	for (size_t i = 0; i + 1 < n; i++)
		cr_assert_eq(memcmp(e[i].data, data, e[i].f[F_SIZE]), 0);
	cpio_free(&c);
}

Test(cpio, missing_parents_are_created_once_before_the_entry)
{
	struct cpio c;
	struct ent e[16];
	size_t n;

	cpio_init(&c);
	cr_assert_eq(cpio_add_file(&c, "/x/y/z/f1", 0644, "1", 1), 0);
	cr_assert_eq(cpio_add_file(&c, "/x/y/f2", 0644, "2", 1), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	n = parse(c.buf, c.len, e, 16);
	cr_assert_eq(n, 6);
	cr_assert_str_eq(e[0].name, "x");
	cr_assert_str_eq(e[1].name, "x/y");
	cr_assert_str_eq(e[2].name, "x/y/z");
	cr_assert_str_eq(e[3].name, "x/y/z/f1");
	cr_assert_str_eq(e[4].name, "x/y/f2");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(e[i].f[F_MODE], S_IFDIR | 0755);
	cpio_free(&c);
}

Test(cpio, a_directory_added_twice_is_one_entry)
{
	struct cpio c;
	struct ent e[8];

	cpio_init(&c);
	cr_assert_eq(cpio_add_dir(&c, "/d", 0755), 0);
	cr_assert_eq(cpio_add_dir(&c, "d/", 0700), 0);
	cr_assert_eq(cpio_add_file(&c, "/d/f", 0644, NULL, 0), 0); /* parent exists: no new dir */
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(parse(c.buf, c.len, e, 8), 3);
	cr_assert_eq(e[0].f[F_MODE], S_IFDIR | 0755, "the first mode stays");
	cpio_free(&c);
}

Test(cpio, duplicate_paths_are_refused_whatever_their_spelling)
{
	struct cpio c;
	uint32_t mode;

	cpio_init(&c);
	cr_assert_eq(cpio_add_file(&c, "/lib/libc.so.6", 0644, "x", 1), 0);
	cr_assert_eq(cpio_add_file(&c, "lib//libc.so.6", 0644, "y", 1), -EEXIST);
	cr_assert_eq(cpio_add_symlink(&c, "/lib/libc.so.6", "other"), -EEXIST);
	cr_assert_eq(cpio_add_dir(&c, "/lib/libc.so.6", 0755), -EEXIST);
	cr_assert_eq(cpio_lookup(&c, "//lib/libc.so.6/", &mode), 0);
	cr_assert_eq(mode, S_IFREG | 0644);
	cr_assert_eq(cpio_lookup(&c, "/lib/other", NULL), -ENOENT);
	cpio_free(&c);
}

Test(cpio, a_path_below_a_non_directory_is_enotdir)
{
	struct cpio c;

	cpio_init(&c);
	cr_assert_eq(cpio_add_symlink(&c, "/lib64", "usr/lib"), 0);
	cr_assert_eq(cpio_add_file(&c, "/lib64/ld.so", 0755, "x", 1), -ENOTDIR);
	cr_assert_eq(cpio_add_file(&c, "/f", 0644, "x", 1), 0);
	cr_assert_eq(cpio_add_dir(&c, "/f/d", 0755), -ENOTDIR);
	cpio_free(&c);
}

Test(cpio, dot_dot_dot_and_empty_paths_are_refused)
{
	static const char *const bad[] = {"", "/", "//", "../etc/passwd", "/a/../b", "/a/./b", "."};
	struct cpio c;

	cpio_init(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cpio_add_file(&c, bad[i], 0644, "x", 1), -EINVAL, "path '%s'", bad[i]);
	cr_assert_eq(c.len, 0, "nothing written for refused paths");
	/* names that only look like dots are fine */
	cr_assert_eq(cpio_add_file(&c, "/a/..b/.c", 0644, "x", 1), 0);
	cpio_free(&c);
}

Test(cpio, overlong_names_and_symlink_targets_are_refused)
{
	char *longp = malloc(CPIO_NAME_MAX + 2);
	struct cpio c;

	memset(longp, 'a', CPIO_NAME_MAX + 1);
	longp[CPIO_NAME_MAX + 1] = 0;
	cpio_init(&c);
	cr_assert_eq(cpio_add_file(&c, longp, 0644, "x", 1), -ENAMETOOLONG);
	cr_assert_eq(cpio_add_symlink(&c, "/l", longp), -ENAMETOOLONG);
	cr_assert_eq(cpio_add_symlink(&c, "/l", ""), -EINVAL);
	longp[CPIO_NAME_MAX] = 0; /* exactly the limit */
	cr_assert_eq(cpio_add_file(&c, longp, 0644, "x", 1), 0);
	cpio_free(&c);
	free(longp);
}

Test(cpio, char_device_carries_major_minor_in_rdev_fields)
{
	struct cpio c;
	struct ent e[4];

	cpio_init(&c);
	cr_assert_eq(cpio_add_chardev(&c, "/dev/console", 0600, 5, 1), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(parse(c.buf, c.len, e, 4), 3);
	cr_assert_eq(e[1].f[F_MODE], S_IFCHR | 0600);
	cr_assert_eq(e[1].f[F_RMAJ], 5);
	cr_assert_eq(e[1].f[F_RMIN], 1);
	cr_assert_eq(e[1].f[F_DMAJ], 0);
	cr_assert_eq(e[1].f[F_SIZE], 0);
	cpio_free(&c);
}

Test(cpio, symlink_target_is_the_entry_data_without_nul)
{
	struct cpio c;
	struct ent e[4];

	cpio_init(&c);
	cr_assert_eq(cpio_add_symlink(&c, "/sh", "busybox"), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(parse(c.buf, c.len, e, 4), 2);
	cr_assert_eq(e[0].f[F_MODE], S_IFLNK | 0777);
	cr_assert_eq(e[0].f[F_SIZE], 7);
	cr_assert_eq(memcmp(e[0].data, "busybox", 7), 0);
	cpio_free(&c);
}

Test(cpio, trailer_ends_the_archive_which_is_padded_to_512_bytes)
{
	struct cpio c;
	struct ent e[4];
	size_t n;

	cpio_init(&c);
	cr_assert_eq(cpio_add_file(&c, "/f", 0644, "abc", 3), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	n = parse(c.buf, c.len, e, 4);
	cr_assert_str_eq(e[n - 1].name, "TRAILER!!!");
	cr_assert_eq(e[n - 1].f[F_INO], 0);
	cr_assert_eq(e[n - 1].f[F_MODE], 0);
	cr_assert_eq(e[n - 1].f[F_NLINK], 1);
	cr_assert_eq(c.len % 512, 0);
	cr_assert_eq(cpio_add_file(&c, "/g", 0644, "abc", 3), -EBUSY);
	cr_assert_eq(cpio_finish(&c), -EBUSY);
	cpio_free(&c);
}

static void build_sample(struct cpio *c)
{
	cpio_init(c);
	cr_assert_eq(cpio_add_chardev(c, "/dev/console", 0600, 5, 1), 0);
	cr_assert_eq(cpio_add_file(c, "/init", 0755,
				   "\x7f"
				   "ELF",
				   4),
		     0);
	cr_assert_eq(cpio_add_symlink(c, "/bin/sh", "busybox"), 0);
	cr_assert_eq(cpio_add_file(c, "/ktstr/exec.argv", 0644, "a\0b\0", 4), 0);
	cr_assert_eq(cpio_finish(c), 0);
}

Test(cpio, two_builds_of_the_same_inputs_are_byte_identical)
{
	struct cpio a, b;

	build_sample(&a);
	build_sample(&b);
	cr_assert_eq(a.len, b.len);
	cr_assert_eq(memcmp(a.buf, b.buf, a.len), 0);
	cpio_free(&a);
	cpio_free(&b);
}

Test(cpio, many_paths_stay_unique_across_table_growth)
{
	struct cpio c;
	char p[32];

	cpio_init(&c);
	for (int i = 0; i < 3000; i++) {
		snprintf(p, sizeof(p), "/d%d/f%d", i % 7, i);
		cr_assert_eq(cpio_add_file(&c, p, 0644, &i, sizeof(i)), 0);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(p, sizeof(p), "/d%d/f%d", i % 7, i);
		cr_assert_eq(cpio_lookup(&c, p, NULL), 0);
		cr_assert_eq(cpio_add_file(&c, p, 0644, "x", 1), -EEXIST);
	}
	cr_assert_eq(c.nodes_len, 3000 + 7);
	cpio_free(&c);
}

Test(cpio, host_file_keeps_its_mode_unless_one_is_given)
{
	char *dir = tu_mkdtemp(), path[512];
	struct cpio c;
	struct ent e[8];

	tu_join(path, sizeof(path), dir, "tool");
	tu_write(path, "#!/bin/sh\n", 10, 0751);
	cpio_init(&c);
	cr_assert_eq(cpio_add_host_file(&c, "/a", CPIO_PERM_HOST, path), 0);
	cr_assert_eq(cpio_add_host_file(&c, "/b", 0600, path), 0);
	cr_assert_eq(cpio_add_host_file(&c, "/c", CPIO_PERM_HOST, "/nonexistent/x"), -ENOENT);
	cr_assert_eq(cpio_add_host_file(&c, "/d", CPIO_PERM_HOST, dir), -EISDIR);
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(parse(c.buf, c.len, e, 8), 3);
	cr_assert_eq(e[0].f[F_MODE], S_IFREG | 0751);
	cr_assert_eq(e[1].f[F_MODE], S_IFREG | 0600);
	cr_assert_eq(memcmp(e[0].data, "#!/bin/sh\n", 10), 0);
	cpio_free(&c);
	tu_rmrf(dir);
}

Test(cpio, system_cpio_extracts_the_same_tree)
{
	char *dir = tu_mkdtemp(), path[512];
	struct cpio c;
	struct stat st;
	uint8_t *data;
	size_t len;
	char link[64];
	ssize_t ll;
	int rc;

	tu_require("cpio");
	build_sample(&c);
	tu_join(path, sizeof(path), dir, "a.cpio");
	tu_write(path, c.buf, c.len, 0644);
	/* without root cpio cannot mknod /dev/console and exits non-zero: checked only as root */
	rc = tu_sh("cd '%s' && mkdir x && cd x && cpio -idm --quiet < ../a.cpio "
		   "2>/dev/null",
		   dir);
	if (geteuid() == 0)
		cr_assert_eq(rc, 0, "cpio -idm failed");
	tu_join(path, sizeof(path), dir, "x/init");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	cr_assert_eq(st.st_mtime, 0, "mtime 0 kept by cpio -m");
	data = tu_slurp(path, &len);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(data,
			    "\x7f"
			    "ELF",
			    4),
		     0);
	free(data);
	tu_join(path, sizeof(path), dir, "x/bin/sh");
	ll = readlink(path, link, sizeof(link) - 1);
	cr_assert_eq(ll, 7);
	cr_assert_eq(memcmp(link, "busybox", 7), 0);
	tu_join(path, sizeof(path), dir, "x/ktstr/exec.argv");
	data = tu_slurp(path, &len);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(data, "a\0b\0", 4), 0);
	free(data);
	if (geteuid() == 0) {
		tu_join(path, sizeof(path), dir, "x/dev/console");
		tu_assert_console(path);
	} else {
		fprintf(stderr, "NOTE: not root, /dev/console node not checked after extraction\n");
	}
	cpio_free(&c);
	tu_rmrf(dir);
}
