// SPDX-License-Identifier: MIT
/*
 * DT_NEEDED closure and ld.so.cache reader (src/initramfs/elfdeps.c,
 * ldcache.c). Real inputs: /bin/ls and its libraries, and tiny libraries and
 * programs compiled with cc at test time into a scratch directory, to pin
 * the loader's search order (ktstr-survey.md §1.2).
 */
#include <elf.h>
#include <errno.h>
#include <limits.h>

#include "ifs_testutil.h"
#include "initramfs/elfdeps.h"
#include "initramfs/ldcache.h"

/* Compile `src` into dir/out with cc and extra flags (a library if flags hold -shared). */
static void cc(const char *dir, const char *out, const char *src, const char *flags)
{
	char path[PATH_MAX];

	tu_join(path, sizeof(path), dir, "src.c");
	tu_write_str(path, src);
	cr_assert_eq(tu_sh("cd '%s' && cc -w -o '%s' src.c %s", dir, out, flags), 0,
		     "cc failed for %s", out);
}

/* dir/lib<name>.so with that soname, exporting <name>_fn() (calling <calls>_fn() if given). */
static void make_lib(const char *dir, const char *name, const char *calls, const char *flags)
{
	char *src, *out, *fl;

	if (calls)
		cr_assert(asprintf(&src,
				   "int %s_fn(void); int %s_fn(void) { return %s_fn() + 1; }\n",
				   calls, name, calls) > 0);
	else
		cr_assert(asprintf(&src, "int %s_fn(void) { return 1; }\n", name) > 0);
	cr_assert(asprintf(&out, "lib%s.so", name) > 0);
	cr_assert(asprintf(&fl, "-shared -fPIC -Wl,-soname,lib%s.so %s", name, flags ? flags : "") >
		  0);
	cc(dir, out, src, fl);
	free(src);
	free(out);
	free(fl);
}

/* dir/prog calling <name>_fn(), linked against libdir/lib<name>.so with extra flags. */
static void make_prog(const char *dir, const char *name, const char *libdir, const char *flags)
{
	char *src, *fl;

	cr_assert(asprintf(&src, "int %s_fn(void); int main(void) { return %s_fn() == 0; }\n", name,
			   name) > 0);
	cr_assert(asprintf(&fl, "-L'%s' -l%s %s", libdir, name, flags ? flags : "") > 0);
	cc(dir, "prog", src, fl);
	free(src);
	free(fl);
}

static const struct elfdep *dep(const struct elfdeps *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

static size_t dep_index(const struct elfdeps *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].name, name))
			return i;
	cr_assert_fail("%s not in the closure", name);
	return 0;
}

static int resolve1(struct elfdeps *d, const char *root, const char *llp, struct ierr *e)
{
	struct elfdeps_opts o = {.ld_library_path = llp};

	return elfdeps_resolve(d, &root, 1, &o, e);
}

/* The directory the closure put libc in (where relocated libraries go too). */
static void libc_dir(const struct elfdeps *d, char *buf, size_t len)
{
	const struct elfdep *c = dep(d, "libc.so.6");
	const char *slash;

	cr_assert_not_null(c, "libc.so.6 not in the closure");
	slash = strrchr(c->pack_path, '/');
	snprintf(buf, len, "%.*s", (int)(slash - c->pack_path), c->pack_path);
}

Test(elfdeps, ls_closure_has_libc_and_the_interpreter_under_both_paths)
{
	struct elfdeps d;
	struct ierr e = {0};
	const struct elfdep *ld1 = NULL, *ld2 = NULL;
	char req[PATH_MAX], real[PATH_MAX];
	FILE *f;

	cr_assert_eq(resolve1(&d, "/bin/ls", NULL, &e), 0, "%s", e.msg);
	cr_assert_not_null(dep(&d, "libc.so.6"));
	/* the requested interpreter path, read independently from the ELF with readelf */
	f = popen("readelf -l /bin/ls | sed -n 's/.*interpreter: \\(.*\\)]/\\1/p'", "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(req, sizeof(req), f));
	pclose(f);
	req[strcspn(req, "\n")] = 0;
	cr_assert_not_null(realpath(req, real));
	for (size_t i = 0; i < d.n; i++) {
		if (!d.v[i].interp)
			continue;
		if (!strcmp(d.v[i].pack_path, real))
			ld1 = &d.v[i];
		if (!strcmp(d.v[i].pack_path, req))
			ld2 = &d.v[i];
	}
	cr_assert_not_null(ld1, "interpreter not packed at its canonical path %s", real);
	cr_assert_not_null(ld2, "interpreter not packed at its requested path %s", req);
	cr_assert_str_eq(ld1->real_path, ld2->real_path);
	cr_assert_lt(ld1 - d.v, ld2 - d.v, "canonical first: the requested path becomes the link");
	for (size_t i = 0; i < d.n; i++) {
		cr_assert_eq(d.v[i].pack_path[0], '/');
		cr_assert_eq(access(d.v[i].host_path, R_OK), 0, "%s", d.v[i].host_path);
	}
	elfdeps_free(&d);
}

Test(elfdeps, closure_matches_what_ldd_reports_for_ls)
{
	struct elfdeps d;
	struct ierr e = {0};
	char line[512];
	size_t seen = 0;
	FILE *f;

	tu_require("ldd");
	cr_assert_eq(resolve1(&d, "/bin/ls", NULL, &e), 0, "%s", e.msg);
	f = popen("ldd /bin/ls", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char name[256], path[256], real[PATH_MAX];
		const struct elfdep *x;

		if (sscanf(line, " %255s => %255s", name, path) != 2)
			continue;
		x = dep(&d, name);
		cr_assert_not_null(x, "ldd lists %s, the closure does not", name);
		cr_assert_not_null(realpath(path, real));
		cr_assert_str_eq(x->real_path, real, "%s resolved elsewhere than ldd", name);
		seen++;
	}
	pclose(f);
	cr_assert_gt(seen, 0);
	elfdeps_free(&d);
}

Test(elfdeps, a_static_binary_or_a_script_has_no_dependencies)
{
	char *dir = tu_mkdtemp(), path[PATH_MAX];
	const char *roots[2];
	struct elfdeps d;
	struct ierr e = {0};

	tu_require("cc");
	tu_join(path, sizeof(path), dir, "script.sh");
	tu_write(path, "#!/bin/sh\necho hi\n", 18, 0755);
	roots[0] = path;
	if (tu_sh("cd '%s' && printf 'int main(void){return 0;}' > s.c && cc -static -o st s.c "
		  "2>/dev/null",
		  dir) == 0) {
		static char st[PATH_MAX];

		tu_join(st, sizeof(st), dir, "st");
		roots[1] = st;
	} else {
		fprintf(stderr, "NOTE: cc -static unavailable, using /bin/busybox if static\n");
		roots[1] = "/bin/busybox";
		if (access(roots[1], R_OK))
			cr_skip_test("no static binary available");
	}
	cr_assert_eq(elfdeps_resolve(&d, roots, 2, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(d.n, 0);
	elfdeps_free(&d);
	tu_rmrf(dir);
}

Test(elfdeps, runpath_with_origin_is_followed_and_the_library_moves_next_to_libc)
{
	char *dir = tu_mkdtemp(), bin[PATH_MAX], lib[PATH_MAX], want[PATH_MAX], cdir[PATH_MAX];
	struct elfdeps d;
	struct ierr e = {0};
	const struct elfdep *t;

	tu_require("cc");
	tu_join(bin, sizeof(bin), dir, "bin");
	tu_join(lib, sizeof(lib), dir, "lib");
	cr_assert_eq(tu_sh("mkdir -p '%s' '%s'", bin, lib), 0);
	make_lib(lib, "t", NULL, NULL);
	make_prog(bin, "t", lib, "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'");
	tu_join(bin, sizeof(bin), dir, "bin/prog");
	cr_assert_eq(resolve1(&d, bin, NULL, &e), 0, "%s", e.msg);
	t = dep(&d, "libt.so");
	cr_assert_not_null(t);
	tu_join(want, sizeof(want), dir, "bin/../lib/libt.so");
	cr_assert_str_eq(t->host_path, want, "the path the loader opens, $ORIGIN expanded");
	cr_assert_str_eq(t->needed_by, bin);
	/* $ORIGIN means another directory in the guest: packed where the loader looks anyway */
	libc_dir(&d, cdir, sizeof(cdir));
	tu_join(want, sizeof(want), cdir, "libt.so");
	cr_assert_str_eq(t->pack_path, want);
	elfdeps_free(&d);
	tu_rmrf(dir);
}

Test(elfdeps, rpath_of_the_loader_chain_finds_a_transitive_library)
{
	char *dir = tu_mkdtemp(), lib[PATH_MAX], prog[PATH_MAX];
	struct elfdeps d;
	struct ierr e = {0};
	const struct elfdep *a, *b;

	tu_require("cc");
	tu_join(lib, sizeof(lib), dir, "lib");
	cr_assert_eq(tu_sh("mkdir -p '%s'", lib), 0);
	make_lib(lib, "b", NULL, NULL);
	/* liba has no search path of its own: libb is found through the program's DT_RPATH */
	make_lib(lib, "a", "b", "-L. -lb");
	make_prog(dir, "a", lib,
		  "-Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/lib' -Wl,-rpath-link,lib");
	tu_join(prog, sizeof(prog), dir, "prog");
	cr_assert_eq(resolve1(&d, prog, NULL, &e), 0, "%s", e.msg);
	a = dep(&d, "liba.so");
	b = dep(&d, "libb.so");
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_str_eq(b->needed_by, a->host_path);
	/* breadth first: everything the program needs comes before what its libraries need */
	cr_assert_lt(dep_index(&d, "liba.so"), dep_index(&d, "libb.so"));
	cr_assert_lt(dep_index(&d, "libc.so.6"), dep_index(&d, "libb.so"));
	elfdeps_free(&d);
	tu_rmrf(dir);
}

/*
 * Two libt.so, in A and B; the program is linked with one search-path kind
 * (dtags) pointing at A, and LD_LIBRARY_PATH points at B. want: "A" or "B".
 */
static void pick(const char *dtags, const char *want)
{
	char *dir = tu_mkdtemp(), a[PATH_MAX], b[PATH_MAX], *fl, prog[PATH_MAX], suffix[16];
	struct ierr e = {0};
	struct elfdeps d;
	const struct elfdep *t;

	tu_require("cc");
	tu_join(a, sizeof(a), dir, "A");
	tu_join(b, sizeof(b), dir, "B");
	cr_assert_eq(tu_sh("mkdir -p '%s' '%s'", a, b), 0);
	make_lib(a, "t", NULL, NULL);
	make_lib(b, "t", NULL, NULL);
	cr_assert(asprintf(&fl, "%s -Wl,-rpath,'%s'", dtags, a) > 0);
	make_prog(dir, "t", a, fl);
	free(fl);
	tu_join(prog, sizeof(prog), dir, "prog");
	cr_assert_eq(resolve1(&d, prog, b, &e), 0, "%s", e.msg);
	t = dep(&d, "libt.so");
	cr_assert_not_null(t);
	snprintf(suffix, sizeof(suffix), "/%s/libt.so", want);
	cr_assert(strstr(t->host_path, suffix), "got %s", t->host_path);
	elfdeps_free(&d);
	tu_rmrf(dir);
}

Test(elfdeps, rpath_comes_before_ld_library_path)
{
	pick("-Wl,--disable-new-dtags", "A");
}

Test(elfdeps, ld_library_path_comes_before_runpath)
{
	pick("-Wl,--enable-new-dtags", "B");
}

Test(elfdeps, a_candidate_that_is_not_a_matching_elf_is_skipped)
{
	char *dir = tu_mkdtemp(), a[PATH_MAX], b[PATH_MAX], fake[PATH_MAX], prog[PATH_MAX];
	char *llp;
	struct elfdeps d;
	struct ierr e = {0};
	const struct elfdep *t;

	tu_require("cc");
	tu_join(a, sizeof(a), dir, "A");
	tu_join(b, sizeof(b), dir, "B");
	cr_assert_eq(tu_sh("mkdir -p '%s' '%s'", a, b), 0);
	make_lib(b, "t", NULL, NULL);
	make_prog(dir, "t", b, NULL);
	/* A holds a file of the right name that the loader would reject */
	tu_join(fake, sizeof(fake), a, "libt.so");
	tu_write_str(fake, "not an ELF file\n");
	cr_assert(asprintf(&llp, "%s:%s", a, b) > 0);
	tu_join(prog, sizeof(prog), dir, "prog");
	cr_assert_eq(resolve1(&d, prog, llp, &e), 0, "%s", e.msg);
	free(llp);
	t = dep(&d, "libt.so");
	cr_assert_not_null(t);
	cr_assert(strstr(t->host_path, "/B/libt.so"), "got %s", t->host_path);
	elfdeps_free(&d);
	tu_rmrf(dir);
}

Test(elfdeps, a_missing_library_error_names_it_and_who_needs_it)
{
	char *dir = tu_mkdtemp(), lib[PATH_MAX], prog[PATH_MAX];
	struct elfdeps d;
	struct ierr e = {0};

	tu_require("cc");
	tu_join(lib, sizeof(lib), dir, "lib");
	cr_assert_eq(tu_sh("mkdir -p '%s'", lib), 0);
	make_lib(lib, "gone", NULL, NULL);
	make_prog(dir, "gone", lib, NULL);
	cr_assert_eq(tu_sh("rm -f '%s/libgone.so'", lib), 0);
	tu_join(prog, sizeof(prog), dir, "prog");
	cr_assert_eq(resolve1(&d, prog, NULL, &e), -ENOENT);
	cr_assert_eq(e.code, -ENOENT);
	cr_assert(strstr(e.msg, "libgone.so"), "message: %s", e.msg);
	cr_assert(strstr(e.msg, prog), "message: %s", e.msg);
	cr_assert_eq(d.n, 0, "nothing returned on error");
	tu_rmrf(dir);
}

Test(elfdeps, a_missing_or_broken_root_is_named)
{
	char *dir = tu_mkdtemp(), trunc[PATH_MAX];
	struct elfdeps d;
	struct ierr e = {0};
	uint8_t *ls;
	size_t len;

	cr_assert_eq(resolve1(&d, "/nonexistent/tool", NULL, &e), -ENOENT);
	cr_assert(strstr(e.msg, "/nonexistent/tool"), "message: %s", e.msg);
	/* an ELF header whose program headers lie past the end of the file */
	ls = tu_slurp("/bin/ls", &len);
	tu_join(trunc, sizeof(trunc), dir, "trunc");
	tu_write(trunc, ls, 64, 0755);
	free(ls);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(resolve1(&d, trunc, NULL, &e), -ENOEXEC);
	cr_assert(strstr(e.msg, "trunc"), "message: %s", e.msg);
	tu_rmrf(dir);
}

Test(elfdeps, identical_files_share_a_real_path)
{
	const char *roots[] = {"/bin/ls", "/bin/cp"};
	struct elfdeps d;
	struct ierr e = {0};
	size_t libc = 0;

	cr_assert_eq(elfdeps_resolve(&d, roots, 2, NULL, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < d.n; i++)
		libc += !strcmp(d.v[i].name, "libc.so.6");
	cr_assert_eq(libc, 1, "a soname is resolved once for all roots");
	for (size_t i = 0; i < d.n; i++) {
		char real[PATH_MAX];

		cr_assert_not_null(realpath(d.v[i].host_path, real));
		cr_assert_str_eq(d.v[i].real_path, real);
	}
	elfdeps_free(&d);
}

/* ---- ld.so.cache -------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A synthetic cache: entries {key, value, hwcap}; strings after the table. */
static uint8_t *make_cache(const char *const (*ents)[2], const uint64_t *hwcap, uint32_t n,
			   size_t *len)
{
	size_t strings = 48 + 24 * (size_t)n, cap = strings + 1024, o = strings;
	uint8_t *c = calloc(1, cap);

	memcpy(c, "glibc-ld.so.cache1.1", 20);
	put32(c + 20, n);
	c[28] = 2; /* little-endian */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *e = c + 48 + 24 * i;

		put32(e, 0x0303);
		for (int k = 0; k < 2; k++) {
			size_t l = strlen(ents[i][k]) + 1;

			put32(e + 4 + 4 * k, (uint32_t)o);
			memcpy(c + o, ents[i][k], l);
			o += l;
		}
		memcpy(e + 16, &hwcap[i], 8);
	}
	put32(c + 24, (uint32_t)(o - strings));
	*len = o;
	return c;
}

Test(ldcache, lookup_returns_baseline_entries_in_file_order)
{
	static const char *const ents[][2] = {
		{"libx.so.1", "/opt/hw/libx.so.1"},
		{"libx.so.1", "/usr/lib/libx.so.1"},
		{"liby.so.2", "/usr/lib/liby.so.2"},
		{"libx.so.1", "/lib/libx.so.1"},
	};
	const uint64_t hw[] = {1ull << 62 | 2, 0, 0, 0};
	struct ldcache lc;
	uint32_t it = 0;
	size_t len;
	uint8_t *img = make_cache(ents, hw, 4, &len);

	cr_assert_eq(ldcache_parse(&lc, img, len), 0);
	cr_assert_str_eq(ldcache_next(&lc, "libx.so.1", &it), "/usr/lib/libx.so.1");
	cr_assert_str_eq(ldcache_next(&lc, "libx.so.1", &it), "/lib/libx.so.1");
	cr_assert_null(ldcache_next(&lc, "libx.so.1", &it));
	it = 0;
	cr_assert_null(ldcache_next(&lc, "libz.so.1", &it));
	ldcache_free(&lc);
	free(img);
}

Test(ldcache, bad_magic_big_endian_and_short_tables_are_refused)
{
	static const char *const ents[][2] = {{"liba.so", "/a"}};
	const uint64_t hw[] = {0};
	struct ldcache lc;
	size_t len;
	uint8_t *img = make_cache(ents, hw, 1, &len);

	cr_assert_eq(ldcache_parse(&lc, img, 47), -EINVAL, "shorter than the header");
	cr_assert_eq(ldcache_parse(&lc, img, 48 + 23), -EINVAL, "table past the end");
	img[28] = 3;
	cr_assert_eq(ldcache_parse(&lc, img, len), -EINVAL, "big-endian cache");
	img[28] = 2;
	img[0] = 'G';
	cr_assert_eq(ldcache_parse(&lc, img, len), -EINVAL, "magic");
	free(img);
}

Test(ldcache, string_offsets_outside_the_file_are_ignored)
{
	static const char *const ents[][2] = {{"liba.so", "/a"}};
	const uint64_t hw[] = {0};
	struct ldcache lc;
	uint32_t it = 0;
	size_t len;
	uint8_t *img = make_cache(ents, hw, 1, &len);

	put32(img + 48 + 8, (uint32_t)len + 100); /* value past the end */
	cr_assert_eq(ldcache_parse(&lc, img, len), 0);
	cr_assert_null(ldcache_next(&lc, "liba.so", &it));
	/* a string running into the end of the file without its NUL */
	put32(img + 48 + 8, (uint32_t)len - 1);
	img[len - 1] = 'x';
	it = 0;
	cr_assert_null(ldcache_next(&lc, "liba.so", &it));
	ldcache_free(&lc);
	free(img);
}

Test(ldcache, the_host_cache_knows_where_libc_is)
{
	struct ldcache lc;
	uint32_t it = 0;
	const char *p;
	char a[PATH_MAX], b[PATH_MAX];
	struct elfdeps d;
	struct ierr e = {0};

	if (ldcache_load(&lc, LDCACHE_DEFAULT_PATH)) {
		fprintf(stderr, "SKIPPED: no readable %s in the new format\n",
			LDCACHE_DEFAULT_PATH);
		cr_skip_test("no ld.so.cache");
	}
	p = ldcache_next(&lc, "libc.so.6", &it);
	cr_assert_not_null(p);
	cr_assert_not_null(realpath(p, a));
	/* the same file the closure of ls uses */
	cr_assert_eq(resolve1(&d, "/bin/ls", NULL, &e), 0, "%s", e.msg);
	cr_assert_not_null(realpath(dep(&d, "libc.so.6")->host_path, b));
	cr_assert_str_eq(a, b);
	elfdeps_free(&d);
	ldcache_free(&lc);
}
