// SPDX-License-Identifier: MIT
/*
 * The initramfs builder (src/initramfs/initramfs.c) end to end, against the
 * contract of guest-protocol.md §3.0: archives are extracted with the
 * system cpio(1) (and lz4(1) for the compressed form) and the tree is
 * checked; as root the packed binaries are run in a chroot to prove their
 * libraries are all there.
 */
#include <errno.h>
#include <limits.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "ifs_testutil.h"
#include "initramfs/elfstrip.h"
#include "initramfs/initramfs.h"

#define CHROOT "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "

static const char *const argv3[] = {"/bin/sh", "-c", "echo hi"};

static void rel_is(const char *link, const char *target, const char *want)
{
	char buf[PATH_MAX];

	cr_assert_eq(initramfs_rel_link(link, target, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, want, "%s -> %s", link, target);
}

Test(initramfs, symlink_targets_are_relative_to_the_link)
{
	char small[8];

	rel_is("/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	       "../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
	rel_is("/bin/sh", "/bin/busybox", "busybox");
	rel_is("/a/b/c/l", "/a/x", "../../x");
	rel_is("/l", "/a/b", "a/b");
	rel_is("/a/b/l", "/a/b/c/d", "c/d");
	rel_is("/ab/l", "/a/f", "../a/f");
	cr_assert_eq(initramfs_rel_link("lib/l", "/x", small, sizeof(small)), -EINVAL);
	cr_assert_eq(initramfs_rel_link("/a/b/c/l", "/x/yyyy", small, sizeof(small)),
		     -ENAMETOOLONG);
}

/* A two-module tree (b needs a) with modules.dep; returns the release dir in rel. */
static void fake_modules(const char *dir, char *rel, size_t len)
{
	tu_join(rel, len, dir, "mods/lib/modules/6.1.0-t");
	tu_put(rel, "modules.dep", "kernel/b.ko: kernel/a.ko\nkernel/a.ko:\n");
	tu_put(rel, "kernel/a.ko", "AAAA");
	tu_put(rel, "kernel/b.ko", "BB");
}

static int build(struct initramfs_opts *o, struct initramfs *r, struct ierr *e)
{
	memset(e, 0, sizeof(*e));
	return initramfs_build(o, r, e);
}

static void save(const char *dir, const char *name, const struct initramfs *r, char *path,
		 size_t len)
{
	tu_join(path, len, dir, name);
	tu_write(path, r->data, r->len, 0644);
}

/* Names in archive order, as cpio -t lists them; returns how many. */
static size_t list(const char *archive, char names[][128], size_t max)
{
	char cmd[PATH_MAX + 64];
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < '%s'", archive);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (n < max && fgets(names[n], 128, f)) {
		names[n][strcspn(names[n], "\n")] = 0;
		n++;
	}
	pclose(f);
	return n;
}

static void file_is(const char *root, const char *rel, const void *want, size_t wlen, mode_t mode)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *data;
	size_t len;

	tu_join(path, sizeof(path), root, rel);
	cr_assert_eq(lstat(path, &st), 0, "%s missing", rel);
	cr_assert(S_ISREG(st.st_mode), "%s not a file", rel);
	cr_assert_eq(st.st_mode & 07777, mode, "%s mode %o", rel, st.st_mode & 07777);
	data = tu_slurp(path, &len);
	cr_assert_eq(len, wlen, "%s: %zu bytes", rel, len);
	cr_assert_eq(memcmp(data, want, len), 0, "%s content", rel);
	free(data);
}

static void link_is(const char *root, const char *rel, const char *want)
{
	char path[PATH_MAX], buf[PATH_MAX];
	ssize_t n;

	tu_join(path, sizeof(path), root, rel);
	n = readlink(path, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0, "%s is not a symlink", rel);
	buf[n] = 0;
	cr_assert_str_eq(buf, want, "%s", rel);
}

static void extract(const char *archive, const char *to)
{
	int rc;

	cr_assert_eq(tu_sh("mkdir -p '%s'", to), 0);
	/* without root cpio cannot create /dev/console and says so: its status counts as root only */
	rc = tu_sh("cd '%s' && cpio -idm --quiet < '%s' 2>/dev/null", to, archive);
	if (geteuid() == 0)
		cr_assert_eq(rc, 0, "cpio -idm failed");
}

Test(initramfs, the_archive_holds_the_whole_contract_and_runs_in_a_chroot)
{
	char *dir = tu_mkdtemp(), rel[PATH_MAX], script[PATH_MAX], archive[PATH_MAX];
	char root[PATH_MAX], names[512][128];
	const char *env[] = {"A=1", "B=x y"};
	const char *includes[] = {"/bin/ls", script};
	const char *mods[] = {"b"};
	struct initramfs_opts o = {
		.includes = includes,
		.n_includes = 2,
		.modules = mods,
		.n_modules = 1,
		.argv = argv3,
		.argc = 3,
		.env = env,
		.n_env = 2,
		.cwd = "/tmp",
	};
	struct initramfs r;
	struct ierr e;
	uint8_t *self, *stripped;
	size_t n, len, slen;

	tu_require("cpio");
	tu_join(script, sizeof(script), dir, "hello.sh");
	tu_write(script, "#!/bin/sh\necho hello\n", 21, 0750);
	fake_modules(dir, rel, sizeof(rel));
	o.kmod.modules_dir = rel;
	if (access("/bin/busybox", X_OK) == 0)
		o.busybox_path = "/bin/busybox";
	else
		fprintf(stderr, "NOTE: no /bin/busybox (busybox-static): /bin/sh not checked\n");
	cr_assert_eq(build(&o, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(r.n_modules, 2);
	cr_assert_gt(r.n_libs, 0);
	cr_assert_eq(r.len, r.cpio_len);
	save(dir, "a.cpio", &r, archive, sizeof(archive));
	tu_join(root, sizeof(root), dir, "root");
	extract(archive, root);

	/* /init is this very test binary (default /proc/self/exe), without debug sections */
	self = tu_slurp("/proc/self/exe", &len);
	cr_assert_eq(elfstrip_debug(self, len, &stripped, &slen), 0);
	file_is(root, "init", stripped, slen, 0755);
	free(stripped);
	free(self);
	file_is(root, "ktstr/exec.argv", "/bin/sh\0-c\0echo hi", 19, 0644);
	file_is(root, "ktstr/exec.env", "A=1\0B=x y", 10, 0644);
	file_is(root, "ktstr/exec.cwd", "/tmp", 4, 0644);
	file_is(root, "ktstr/.complete", "", 0, 0644);
	file_is(root, "ktstr/modules/000-a.ko", "AAAA", 4, 0644);
	file_is(root, "ktstr/modules/001-b.ko", "BB", 2, 0644);
	file_is(root, "include/hello.sh", "#!/bin/sh\necho hello\n", 21, 0750);
	if (o.busybox_path)
		link_is(root, "bin/sh", "busybox");

	/* .complete is the last entry: a truncated unpack cannot have it */
	n = list(archive, names, 512);
	cr_assert_gt(n, 10);
	cr_assert_str_eq(names[n - 1], "ktstr/.complete");
	cr_assert_str_eq(names[0], "dev");
	cr_assert_str_eq(names[1], "dev/console");

	if (geteuid() != 0) {
		fprintf(stderr,
			"SKIPPED PART: not root: /dev/console node and chroot runs of /init "
			"and /include/ls not checked\n");
	} else {
		tu_join(script, sizeof(script), root, "dev/console");
		tu_assert_console(script);
		/*
		 * every library of /init and of the include is there, under paths the
		 * loader finds (CHROOT clears Criterion's BXFI_* variables, which would
		 * make the copy of this binary act as a test worker)
		 */
#ifdef __SANITIZE_ADDRESS__
		/* a sanitizer build needs /proc/self/maps, which the bare chroot lacks */
		fprintf(stderr, "NOTE: sanitizer build: chroot run of /init skipped\n");
#else
		cr_assert_eq(tu_sh(CHROOT "'%s' /init --version >/dev/null 2>&1", root), 0,
			     "/init does not start in the chroot");
#endif
		cr_assert_eq(tu_sh(CHROOT "'%s' /include/ls /ktstr | grep -q exec.argv", root), 0,
			     "/include/ls does not run in the chroot");
		if (o.busybox_path)
			cr_assert_eq(tu_sh(CHROOT "'%s' /bin/sh -c 'test -f /init'", root), 0);
	}
	initramfs_free(&r);
	tu_rmrf(dir);
}

Test(initramfs, the_lz4_form_decodes_to_the_plain_archive)
{
	char *dir = tu_mkdtemp(), zp[PATH_MAX], out[PATH_MAX];
	struct initramfs_opts o = {.argv = argv3, .argc = 3};
	struct initramfs plain, z;
	struct ierr e;
	uint8_t *back;
	size_t len;

	tu_require("lz4");
	cr_assert_eq(build(&o, &plain, &e), 0, "%s", e.msg);
	o.lz4 = true;
	cr_assert_eq(build(&o, &z, &e), 0, "%s", e.msg);
	cr_assert_eq(z.cpio_len, plain.len);
	cr_assert_lt(z.len, plain.len);
	cr_assert_eq(memcmp(z.data, "\x02\x21\x4c\x18", 4), 0, "legacy LZ4 magic");
	save(dir, "a.lz4", &z, zp, sizeof(zp));
	tu_join(out, sizeof(out), dir, "a.cpio");
	cr_assert_eq(tu_sh("lz4 -d -q -f '%s' '%s'", zp, out), 0);
	back = tu_slurp(out, &len);
	cr_assert_eq(len, plain.len);
	cr_assert_eq(memcmp(back, plain.data, len), 0);
	free(back);
	initramfs_free(&plain);
	initramfs_free(&z);
	tu_rmrf(dir);
}

Test(initramfs, keep_debug_packs_init_byte_for_byte)
{
	char *dir = tu_mkdtemp(), archive[PATH_MAX], root[PATH_MAX];
	struct initramfs_opts o = {.argv = argv3, .argc = 3, .keep_debug = true};
	struct initramfs r;
	struct ierr e;
	uint8_t *self;
	size_t len;

	tu_require("cpio");
	cr_assert_eq(build(&o, &r, &e), 0, "%s", e.msg);
	save(dir, "a.cpio", &r, archive, sizeof(archive));
	tu_join(root, sizeof(root), dir, "root");
	extract(archive, root);
	self = tu_slurp("/proc/self/exe", &len);
	file_is(root, "init", self, len, 0755);
	free(self);
	initramfs_free(&r);
	tu_rmrf(dir);
}

Test(initramfs, two_builds_of_the_same_inputs_are_identical)
{
	const char *includes[] = {"/bin/ls"};
	struct initramfs_opts o = {.includes = includes, .n_includes = 1, .argv = argv3, .argc = 3};
	struct initramfs a, b;
	struct ierr e;

	cr_assert_eq(build(&o, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(build(&o, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(a.len, b.len);
	cr_assert_eq(memcmp(a.data, b.data, a.len), 0);
	initramfs_free(&a);
	initramfs_free(&b);
}

Test(initramfs, optional_parts_are_absent_when_not_asked_for)
{
	char *dir = tu_mkdtemp(), archive[PATH_MAX], names[256][128];
	struct initramfs_opts o = {.argv = argv3, .argc = 1};
	struct initramfs r;
	struct ierr e;
	size_t n;

	tu_require("cpio");
	cr_assert_eq(build(&o, &r, &e), 0, "%s", e.msg);
	save(dir, "a.cpio", &r, archive, sizeof(archive));
	n = list(archive, names, 256);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_neq(names[i], "bin/sh");
		cr_assert_str_neq(names[i], "ktstr/modules");
		cr_assert_str_neq(names[i], "ktstr/exec.env");
		cr_assert_str_neq(names[i], "ktstr/exec.cwd");
		cr_assert_str_neq(names[i], "include");
	}
	cr_assert_str_eq(names[n - 1], "ktstr/.complete");
	initramfs_free(&r);
	tu_rmrf(dir);
}

static void build_fails(struct initramfs_opts *o, int code, const char *needle)
{
	struct initramfs r;
	struct ierr e;

	cr_assert_eq(build(o, &r, &e), code, "message: %s", e.msg);
	cr_assert(strstr(e.msg, needle), "'%s' not in the message: %s", needle, e.msg);
	cr_assert_null(r.data);
}

Test(initramfs, a_missing_include_is_named)
{
	const char *includes[] = {"/bin/ls", "/nonexistent/tool"};
	struct initramfs_opts o = {.includes = includes, .n_includes = 2, .argv = argv3, .argc = 3};

	build_fails(&o, -ENOENT, "/nonexistent/tool");
}

Test(initramfs, an_included_directory_or_duplicate_name_is_refused)
{
	const char *dirs[] = {"/tmp"};
	const char *twice[] = {"/bin/ls", "/usr/bin/ls"};
	struct initramfs_opts o = {.includes = dirs, .n_includes = 1, .argv = argv3, .argc = 3};

	build_fails(&o, -EISDIR, "/tmp");
	o.includes = twice;
	o.n_includes = 2;
	build_fails(&o, -EEXIST, "/include/ls");
}

Test(initramfs, a_missing_binary_or_library_is_named)
{
	char *dir = tu_mkdtemp(), prog[PATH_MAX];
	const char *includes[] = {prog};
	struct initramfs_opts o = {.init_path = "/nonexistent/ktstr", .argv = argv3, .argc = 3};

	build_fails(&o, -ENOENT, "/nonexistent/ktstr");
	tu_require("cc");
	cr_assert_eq(tu_sh("cd '%s' && echo 'int f(void){return 0;}' > l.c && "
			   "cc -shared -fPIC -Wl,-soname,libvanish.so -o libvanish.so l.c && "
			   "echo 'int f(void); int main(void){return f();}' > p.c && "
			   "cc -o prog p.c -L. -lvanish && rm libvanish.so",
			   dir),
		     0);
	tu_join(prog, sizeof(prog), dir, "prog");
	o.init_path = NULL;
	o.includes = includes;
	o.n_includes = 1;
	build_fails(&o, -ENOENT, "libvanish.so");
	build_fails(&o, -ENOENT, prog);
	tu_rmrf(dir);
}

Test(initramfs, a_bad_command_or_environment_is_refused)
{
	const char *empty[] = {""};
	const char *bad_env[] = {"A=1", "NOEQUALS"};
	const char *empty_key[] = {"=x"};
	char *big = malloc(INITRAMFS_ARGV_MAX + 1);
	const char *big_argv[] = {"/bin/true", big};
	struct initramfs_opts o = {.argv = argv3, .argc = 0};

	build_fails(&o, -EINVAL, "command");
	o.argv = empty;
	o.argc = 1;
	build_fails(&o, -EINVAL, "command");
	o.argv = argv3;
	o.argc = 3;
	o.env = bad_env;
	o.n_env = 2;
	build_fails(&o, -EINVAL, "NOEQUALS");
	o.env = empty_key;
	o.n_env = 1;
	build_fails(&o, -EINVAL, "=x");
	o.env = NULL;
	o.n_env = 0;
	memset(big, 'a', INITRAMFS_ARGV_MAX);
	big[INITRAMFS_ARGV_MAX] = 0;
	o.argv = big_argv;
	o.argc = 2;
	build_fails(&o, -E2BIG, "exec.argv");
	free(big);
}

Test(initramfs, an_unknown_module_fails_the_build)
{
	char *dir = tu_mkdtemp(), rel[PATH_MAX];
	const char *mods[] = {"a", "virtio_gpu"};
	struct initramfs_opts o = {.modules = mods, .n_modules = 2, .argv = argv3, .argc = 3};

	fake_modules(dir, rel, sizeof(rel));
	o.kmod.modules_dir = rel;
	build_fails(&o, -ENOENT, "virtio_gpu");
	tu_rmrf(dir);
}

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* The figure: ktstr + busybox + the real kernel's virtio modules. */
Test(initramfs, real_virtio_modules_figures, .timeout = 120)
{
	const char *d = getenv("KTSTR_TEST_MODULES_DIR");
	struct initramfs_opts o = {.modules = kmod_virtio_modules,
				   .n_modules = kmod_n_virtio_modules,
				   .argv = argv3,
				   .argc = 3};
	struct initramfs r;
	struct ierr e;
	struct timespec t;
	double ms[3];
	size_t sz[3];

	if (!d) {
		fprintf(stderr,
			"SKIPPED: real-module initramfs figures: set KTSTR_TEST_MODULES_DIR to "
			"an unpacked linux-image-*-cloud-amd64 package\n");
		cr_skip_test("KTSTR_TEST_MODULES_DIR not set");
	}
	o.kmod.modules_dir = d;
	o.init_path = access("ktstr", X_OK) == 0 ? "ktstr" : NULL;
	o.busybox_path = access("/bin/busybox", X_OK) == 0 ? "/bin/busybox" : NULL;
	for (int i = 0; i < 3; i++) {
		o.lz4 = i > 0;
		o.lz4_level = i == 2 ? 9 : 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_eq(build(&o, &r, &e), 0, "%s", e.msg);
		ms[i] = ms_since(&t);
		sz[i] = r.len;
		cr_assert_geq(r.n_modules, 4);
		initramfs_free(&r);
	}
	fprintf(stderr,
		"initramfs figures (/init=%s, busybox=%s, %s): cpio %zu bytes in %.1f ms; "
		"lz4 fast %zu bytes in %.1f ms; lz4hc-9 %zu bytes in %.1f ms\n",
		o.init_path ? o.init_path : "unit-tests binary", o.busybox_path ? "yes" : "no", d,
		sz[0], ms[0], sz[1], ms[1], sz[2], ms[2]);
}
