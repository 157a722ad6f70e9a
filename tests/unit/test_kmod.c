// SPDX-License-Identifier: MIT
/*
 * Kernel module picking (src/initramfs/kmod.c, decomp.c): dependency order,
 * built-in and unknown modules, compressed modules against the guest
 * kernel's config (guest-protocol.md §3.3), the tree layouts, and the
 * bzImage release string. Module trees are made at test time; the real
 * Debian module set runs only when KTSTR_TEST_MODULES_DIR points to one.
 */
#include <errno.h>
#include <limits.h>

#include "ifs_testutil.h"
#include "initramfs/kmod.h"

#define REL "6.1.0-test"

static const char *const nodecomp_cfg = "CONFIG_MODULES=y\nCONFIG_MODULE_COMPRESS_XZ=y\n";

/* A release directory under a fresh scratch dir: <tmp>/lib/modules/REL. */
static char *tree(char *rel, size_t len)
{
	char *dir = tu_mkdtemp();

	tu_join(rel, len, dir, "lib/modules/" REL);
	cr_assert_eq(tu_sh("mkdir -p '%s/kernel'", rel), 0);
	return dir;
}

static int resolve(struct kmod_set *s, const char *mdir, const char *cfg, const char *const *names,
		   size_t n, struct ierr *e)
{
	struct kmod_opts o = {.modules_dir = mdir, .config = cfg};

	return kmod_resolve(s, &o, names, n, e);
}

static void expect_order(const struct kmod_set *s, const char *const *want, size_t n)
{
	cr_assert_eq(s->n, n, "got %zu modules", s->n);
	for (size_t i = 0; i < n; i++) {
		char pack[128];

		cr_assert_str_eq(s->v[i].name, want[i], "position %zu", i);
		snprintf(pack, sizeof(pack), "/ktstr/modules/%03zu-%s.ko", i, want[i]);
		cr_assert_str_eq(s->v[i].pack_path, pack);
	}
}

/* ---- bzImage ------------------------------------------------------------ */

static void write_bzimage(const char *path, const char *magic, uint16_t off, const char *ver)
{
	uint8_t img[0x1000] = {0};

	memcpy(img + 0x202, magic, 4);
	img[0x20e] = (uint8_t)off;
	img[0x20f] = (uint8_t)(off >> 8);
	if (ver)
		memcpy(img + 0x200 + off, ver, strlen(ver));
	tu_write(path, img, sizeof(img), 0644);
}

Test(kmod, release_comes_from_the_bzimage_version_string)
{
	char *dir = tu_mkdtemp(), p[PATH_MAX], rel[64];

	tu_join(p, sizeof(p), dir, "bzImage");
	write_bzimage(p, "HdrS", 0x3a0,
		      "6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP");
	cr_assert_eq(kmod_kernel_release_from_bzimage(p, rel, sizeof(rel)), 0);
	cr_assert_str_eq(rel, "6.1.0-56-cloud-amd64");
	cr_assert_eq(kmod_kernel_release_from_bzimage(p, rel, 8), -ENAMETOOLONG);
	tu_rmrf(dir);
}

Test(kmod, a_file_without_setup_header_or_version_is_einval)
{
	char *dir = tu_mkdtemp(), p[PATH_MAX], rel[64];

	tu_join(p, sizeof(p), dir, "bzImage");
	write_bzimage(p, "HdrX", 0x3a0, "6.1.0");
	cr_assert_eq(kmod_kernel_release_from_bzimage(p, rel, sizeof(rel)), -EINVAL);
	write_bzimage(p, "HdrS", 0, NULL);
	cr_assert_eq(kmod_kernel_release_from_bzimage(p, rel, sizeof(rel)), -EINVAL);
	write_bzimage(p, "HdrS", 0x3a0, "\x01\x02");
	cr_assert_eq(kmod_kernel_release_from_bzimage(p, rel, sizeof(rel)), -EINVAL);
	tu_write(p, "short", 5, 0644);
	cr_assert_eq(kmod_kernel_release_from_bzimage(p, rel, sizeof(rel)), -EINVAL);
	cr_assert_eq(kmod_kernel_release_from_bzimage("/nonexistent", rel, sizeof(rel)), -ENOENT);
	tu_rmrf(dir);
}

Test(kmod, release_of_the_real_kernel_if_present)
{
	const char *d = getenv("KTSTR_TEST_MODULES_DIR");
	char rel[128];

	/* 6.1 packages keep it in boot/, the split 7.x ones next to the modules */
	if (!d ||
	    tu_sh("ls '%s'/boot/vmlinuz-* '%s'/usr/lib/modules/*/vmlinuz 2>/dev/null | grep -q .",
		  d, d)) {
		fprintf(stderr, "SKIPPED: KTSTR_TEST_MODULES_DIR with a vmlinuz not set\n");
		cr_skip_test("no real kernel");
	}
	char cmd[PATH_MAX + 64], path[PATH_MAX];
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "ls '%s'/boot/vmlinuz-* '%s'/usr/lib/modules/*/vmlinuz 2>/dev/null | head -1", d,
		 d);
	f = popen(cmd, "r");
	cr_assert_not_null(fgets(path, sizeof(path), f));
	pclose(f);
	path[strcspn(path, "\n")] = 0;
	cr_assert_eq(kmod_kernel_release_from_bzimage(path, rel, sizeof(rel)), 0);
	cr_assert(strstr(path, rel), "release %s not in the file name %s", rel, path);
}

/* ---- names and order ---------------------------------------------------- */

Test(kmod, names_are_normalised_like_modprobe)
{
	char out[64];

	cr_assert_eq(kmod_name_normalize("kernel/drivers/char/hw_random/virtio-rng.ko.xz", out,
					 sizeof(out)),
		     0);
	cr_assert_str_eq(out, "virtio_rng");
	cr_assert_eq(kmod_name_normalize("virtio-net", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "virtio_net");
	cr_assert_eq(kmod_name_normalize("a.ko.zst", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "a");
	cr_assert_eq(kmod_name_normalize(".ko", out, sizeof(out)), -EINVAL);
	cr_assert_eq(kmod_name_normalize("abcdef", out, 4), -ENAMETOOLONG);
}

/* virtio_mmio -> virtio, virtio_ring; virtio -> virtio_ring (modules.dep lists the closure) */
static void virtio_tree(const char *rel)
{
	tu_put(rel, "modules.dep",
	       "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko "
	       "kernel/drivers/virtio/virtio_ring.ko\n"
	       "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
	       "kernel/drivers/virtio/virtio_ring.ko:\n"
	       "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
	       "kernel/drivers/virtio/virtio_ring.ko\n"
	       "kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko\n");
	tu_put(rel, "kernel/drivers/virtio/virtio_mmio.ko", "MMIO");
	tu_put(rel, "kernel/drivers/virtio/virtio.ko", "VIRTIO");
	tu_put(rel, "kernel/drivers/virtio/virtio_ring.ko", "RING");
	tu_put(rel, "kernel/drivers/block/virtio_blk.ko", "BLK");
	tu_put(rel, "kernel/drivers/char/hw_random/virtio-rng.ko", "RNG");
	tu_put(rel, "modules.builtin", "kernel/drivers/virtio/virtio_anchor.ko\n");
}

Test(kmod, dependencies_come_first_and_each_module_once)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel));
	const char *names[] = {"virtio_mmio", "virtio_blk", "virtio"};
	const char *want[] = {"virtio_ring", "virtio", "virtio_mmio", "virtio_blk"};
	struct kmod_set s;
	struct ierr e = {0};

	virtio_tree(rel);
	cr_assert_eq(resolve(&s, rel, NULL, names, 3, &e), 0, "%s", e.msg);
	expect_order(&s, want, 4);
	cr_assert_eq(s.v[2].len, 4);
	cr_assert_eq(memcmp(s.v[2].data, "MMIO", 4), 0);
	cr_assert_str_eq(s.release, REL);
	kmod_set_free(&s);
	tu_rmrf(dir);
}

/* guest-protocol §3.0: NNN is zero-padded so that lexical order is load order */
Test(kmod, lexical_order_of_the_packed_names_is_load_order_beyond_ten)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel)), dep[4096] = "", file[64];
	const char *names[] = {"m11"};
	struct kmod_set s;
	struct ierr e = {0};
	size_t o = 0;

	/* a chain m11 -> m10 -> ... -> m0: twelve modules, load order m0 first */
	for (int i = 0; i < 12; i++) {
		o += (size_t)snprintf(dep + o, sizeof(dep) - o, "kernel/m%d.ko:", i);
		for (int k = i - 1; k >= 0; k--)
			o += (size_t)snprintf(dep + o, sizeof(dep) - o, " kernel/m%d.ko", k);
		o += (size_t)snprintf(dep + o, sizeof(dep) - o, "\n");
		snprintf(file, sizeof(file), "kernel/m%d.ko", i);
		tu_put(rel, file, "M");
	}
	tu_put(rel, "modules.dep", dep);
	cr_assert_eq(resolve(&s, rel, NULL, names, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(s.n, 12);
	for (size_t i = 0; i < s.n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "m%zu", i);
		cr_assert_str_eq(s.v[i].name, want);
		if (i)
			cr_assert_lt(strcmp(s.v[i - 1].pack_path, s.v[i].pack_path), 0,
				     "%s sorts after %s", s.v[i - 1].pack_path, s.v[i].pack_path);
	}
	cr_assert_str_eq(s.v[10].pack_path, "/ktstr/modules/010-m10.ko");
	kmod_set_free(&s);
	tu_rmrf(dir);
}

Test(kmod, a_dash_in_the_file_name_matches_an_underscore_in_the_request)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel));
	const char *names[] = {"virtio-rng"};
	const char *want[] = {"virtio_ring", "virtio", "virtio_rng"};
	struct kmod_set s;
	struct ierr e = {0};

	virtio_tree(rel);
	cr_assert_eq(resolve(&s, rel, NULL, names, 1, &e), 0, "%s", e.msg);
	expect_order(&s, want, 3);
	kmod_set_free(&s);
	tu_rmrf(dir);
}

Test(kmod, a_built_in_module_is_skipped_silently)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel));
	const char *names[] = {"virtio_anchor", "virtio_ring"};
	const char *want[] = {"virtio_ring"};
	struct kmod_set s;
	struct ierr e = {0};

	virtio_tree(rel);
	cr_assert_eq(resolve(&s, rel, NULL, names, 2, &e), 0, "%s", e.msg);
	expect_order(&s, want, 1);
	cr_assert_eq(s.n_builtin, 1);
	kmod_set_free(&s);
	tu_rmrf(dir);
}

/* A tree with this modules.dep (and empty module files) refuses names[0] with code. */
static void resolve_fails(const char *dep_text, const char *const *files, const char *name,
			  int code, const char *needle)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel));
	struct kmod_set s;
	struct ierr e = {0};

	if (dep_text) {
		tu_put(rel, "modules.dep", dep_text);
		for (; *files; files++)
			tu_put(rel, *files, "M");
	} else {
		virtio_tree(rel);
	}
	cr_assert_eq(resolve(&s, rel, NULL, &name, 1, &e), code, "message: %s", e.msg);
	cr_assert(strstr(e.msg, needle), "'%s' not in the message: %s", needle, e.msg);
	cr_assert_eq(s.n, 0);
	tu_rmrf(dir);
}

Test(kmod, an_unknown_module_is_an_error_naming_it)
{
	resolve_fails(NULL, NULL, "virtio_gpu", -ENOENT, "virtio_gpu");
}

Test(kmod, a_missing_dependency_names_it_and_its_user)
{
	static const char *const files[] = {"kernel/net.ko", NULL};

	resolve_fails("kernel/net.ko: kernel/failover.ko\n", files, "net", -ENOENT,
		      "failover (needed by net)");
}

Test(kmod, a_dependency_cycle_is_eloop)
{
	static const char *const files[] = {"kernel/a.ko", "kernel/b.ko", NULL};

	resolve_fails("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", files, "a", -ELOOP,
		      "cycle");
}

/* ---- layouts ------------------------------------------------------------ */

Test(kmod, an_unpacked_package_root_is_searched_in_usr_lib_modules)
{
	char *dir = tu_mkdtemp(), rel[PATH_MAX];
	const char *names[] = {"virtio_mmio"};
	struct kmod_set s;
	struct ierr e = {0};
	struct kmod_opts o = {.modules_dir = dir};

	tu_join(rel, sizeof(rel), dir, "usr/lib/modules/" REL);
	virtio_tree(rel);
	/* one release below the root: found without naming it */
	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), 0, "%s", e.msg);
	cr_assert_str_eq(s.release, REL);
	cr_assert_str_eq(s.release_dir, rel);
	cr_assert_eq(s.n, 3);
	kmod_set_free(&s);
	/* a second release makes the root ambiguous unless the release is given */
	tu_join(rel, sizeof(rel), dir, "usr/lib/modules/7.2.0-other");
	virtio_tree(rel);
	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), -EINVAL);
	cr_assert(strstr(e.msg, dir), "message: %s", e.msg);
	o.release = "7.2.0-other";
	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), 0, "%s", e.msg);
	cr_assert_str_eq(s.release_dir, rel);
	kmod_set_free(&s);
	o.release = "9.9.9";
	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), -ENOENT);
	cr_assert(strstr(e.msg, "9.9.9"), "message: %s", e.msg);
	tu_rmrf(dir);
}

Test(kmod, the_default_tree_needs_a_release_and_says_where_it_looked)
{
	const char *names[] = {"virtio"};
	struct kmod_opts o = {.release = "0.0.0-ktstr-none"};
	struct kmod_set s;
	struct ierr e = {0};

	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), -ENOENT);
	cr_assert(strstr(e.msg, "0.0.0-ktstr-none") && strstr(e.msg, "lib/modules"), "message: %s",
		  e.msg);
	o.release = NULL;
	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), -EINVAL);
	cr_assert(strstr(e.msg, "release"), "message: %s", e.msg);
}

Test(kmod, a_missing_tree_can_mean_built_in_drivers)
{
	const char *names[] = {"virtio_mmio"};
	struct kmod_opts o = {.modules_dir = "/nonexistent/ktstr-mods", .missing_tree_ok = true};
	struct kmod_set s;
	struct ierr e = {0};

	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), 0, "%s", e.msg);
	cr_assert(s.no_tree);
	cr_assert_eq(s.n, 0);
	kmod_set_free(&s);
	o.missing_tree_ok = false;
	cr_assert_eq(kmod_resolve(&s, &o, names, 1, &e), -ENOENT);
	cr_assert(strstr(e.msg, "/nonexistent/ktstr-mods"), "message: %s", e.msg);
}

Test(kmod, without_modules_dep_the_modinfo_depends_list_is_used)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel));
	const char *names[] = {"virtio_net"};
	const char *want[] = {"virtio_ring", "virtio", "failover", "net_failover", "virtio_net"};
	static const struct {
		const char *file, *deps;
	} mods[] = {
		{"kernel/drivers/net/virtio_net.ko", "virtio_ring,virtio,net_failover"},
		{"kernel/drivers/net/net_failover.ko", "failover"},
		{"kernel/net/core/failover.ko", ""},
		{"kernel/drivers/virtio/virtio.ko", "virtio_ring"},
		{"kernel/drivers/virtio/virtio_ring.ko", ""},
	};
	struct kmod_set s;
	struct ierr e = {0};

	tu_require("cc");
	/* relocatable objects with a .modinfo section, as modpost leaves them */
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		char path[PATH_MAX];

		tu_join(path, sizeof(path), rel, mods[i].file);
		cr_assert_eq(tu_sh("mkdir -p \"$(dirname '%s')\" && printf '%%s' "
				   "'__attribute__((section(\".modinfo\"),used)) const char "
				   "mi[] = \"license=GPL\\0depends=%s\\0name=x\";' > '%s.c' && "
				   "cc -c -o '%s' '%s.c' && rm '%s.c'",
				   path, mods[i].deps, path, path, path, path),
			     0);
	}
	cr_assert_eq(resolve(&s, rel, NULL, names, 1, &e), 0, "%s", e.msg);
	expect_order(&s, want, 5);
	kmod_set_free(&s);
	tu_rmrf(dir);
}

/* ---- compression -------------------------------------------------------- */

/* One module "m" compressed with tool (xz, zstd, gzip) into m.ko<ext>; returns its plain text. */
static const char *compressed_tree(const char *rel, const char *tool, const char *ext)
{
	static const char text[] = "module image: the same bytes must come back out\n";
	char path[PATH_MAX];

	tu_require(tool);
	tu_join(path, sizeof(path), rel, "kernel/m.ko");
	tu_write_str(path, text);
	cr_assert_eq(tu_sh("%s -q '%s'", tool, path), 0);
	if (!strcmp(tool, "zstd"))
		cr_assert_eq(tu_sh("rm -f '%s'", path), 0);
	tu_put(rel, "modules.dep", "");
	cr_assert_eq(tu_sh("printf 'kernel/m.ko%s:\\n' > '%s/modules.dep'", ext, rel), 0);
	return text;
}

static void expect_plain(const struct kmod_set *s, const char *text)
{
	cr_assert_eq(s->n, 1);
	cr_assert_str_eq(s->v[0].pack_path, "/ktstr/modules/000-m.ko");
	cr_assert_eq(s->v[0].len, strlen(text));
	cr_assert_eq(memcmp(s->v[0].data, text, s->v[0].len), 0);
}

/* A module compressed with tool, a guest config (NULL: none), and the plain image expected. */
static void decompressed_for(const char *tool, const char *ext, const char *config,
			     enum decomp_fmt guest_fmt)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel)), cfg[PATH_MAX];
	const char *names[] = {"m"};
	const char *text = compressed_tree(rel, tool, ext);
	struct kmod_set s;
	struct ierr e = {0};

	tu_join(cfg, sizeof(cfg), dir, "config");
	if (config)
		tu_write_str(cfg, config);
	cr_assert_eq(resolve(&s, rel, config ? cfg : NULL, names, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(s.guest_fmt, guest_fmt);
	if (!config)
		cr_assert_str_eq(s.config_path, "");
	expect_plain(&s, text);
	kmod_set_free(&s);
	tu_rmrf(dir);
}

/*
 * guest-protocol §3.3 and §5.8 #100 (host half): MODULE_COMPRESS_* without
 * MODULE_DECOMPRESS means the kernel cannot unpack modules itself
 */
Test(kmod, an_xz_module_is_decompressed_when_the_guest_cannot)
{
	decompressed_for("xz", ".xz", nodecomp_cfg, DECOMP_NONE);
}

Test(kmod, a_zstd_module_is_decompressed_when_the_guest_cannot)
{
	decompressed_for("zstd", ".zst", nodecomp_cfg, DECOMP_NONE);
}

Test(kmod, a_gzip_module_is_decompressed_when_the_guest_cannot)
{
	decompressed_for("gzip", ".gz", nodecomp_cfg, DECOMP_NONE);
}

Test(kmod, a_module_in_another_format_than_the_guests_is_decompressed)
{
	decompressed_for("gzip", ".gz",
			 "CONFIG_MODULE_COMPRESS_ZSTD=y\nCONFIG_MODULE_DECOMPRESS=y\n",
			 DECOMP_ZSTD);
}

Test(kmod, without_a_config_every_module_is_shipped_uncompressed)
{
	decompressed_for("xz", ".xz", NULL, DECOMP_NONE);
}

/* guest-protocol §3.3 and §5.8 #100 (host half) */
Test(kmod, a_module_in_the_guests_own_format_is_shipped_compressed)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel)), cfg[PATH_MAX], file[PATH_MAX];
	const char *names[] = {"m"};
	struct kmod_set s;
	struct ierr e = {0};
	uint8_t *raw;
	size_t len;

	compressed_tree(rel, "xz", ".xz");
	tu_join(cfg, sizeof(cfg), dir, "config");
	tu_write_str(cfg, "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n");
	cr_assert_eq(resolve(&s, rel, cfg, names, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(s.guest_fmt, DECOMP_XZ);
	cr_assert_str_eq(s.v[0].pack_path, "/ktstr/modules/000-m.ko.xz");
	tu_join(file, sizeof(file), rel, "kernel/m.ko.xz");
	raw = tu_slurp(file, &len);
	cr_assert_eq(s.v[0].len, len);
	cr_assert_eq(memcmp(s.v[0].data, raw, len), 0, "the file itself, untouched");
	free(raw);
	kmod_set_free(&s);
	tu_rmrf(dir);
}

Test(kmod, the_config_is_found_in_the_package_boot_directory)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel)), boot[PATH_MAX];
	const char *names[] = {"m"};
	struct kmod_set s;
	struct ierr e = {0};

	compressed_tree(rel, "xz", ".xz");
	tu_put(dir, "boot/config-" REL,
	       "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n");
	cr_assert_eq(resolve(&s, rel, NULL, names, 1, &e), 0, "%s", e.msg);
	tu_join(boot, sizeof(boot), dir, "boot/config-" REL);
	cr_assert_str_eq(s.config_path, boot);
	cr_assert_str_eq(s.v[0].pack_path, "/ktstr/modules/000-m.ko.xz");
	kmod_set_free(&s);
	tu_rmrf(dir);
}

Test(kmod, a_named_config_that_does_not_exist_is_an_error)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel));
	const char *names[] = {"virtio"};
	struct kmod_set s;
	struct ierr e = {0};

	virtio_tree(rel);
	cr_assert_eq(resolve(&s, rel, "/nonexistent/config", names, 1, &e), -ENOENT);
	cr_assert(strstr(e.msg, "/nonexistent/config"), "message: %s", e.msg);
	tu_rmrf(dir);
}

Test(kmod, a_corrupt_compressed_module_is_named)
{
	char rel[PATH_MAX], *dir = tree(rel, sizeof(rel)), path[PATH_MAX];
	const char *names[] = {"m"};
	struct kmod_set s;
	struct ierr e = {0};
	uint8_t *raw;
	size_t len;

	compressed_tree(rel, "xz", ".xz");
	tu_join(path, sizeof(path), rel, "kernel/m.ko.xz");
	raw = tu_slurp(path, &len);
	tu_write(path, raw, len / 2, 0644); /* truncated */
	free(raw);
	cr_assert_eq(resolve(&s, rel, NULL, names, 1, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "m.ko.xz"), "message: %s", e.msg);
	tu_rmrf(dir);
}

/* ---- the real thing (opt-in) -------------------------------------------- */

static size_t pos(const struct kmod_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return i;
	cr_assert_fail("%s not picked", name);
	return 0;
}

Test(kmod, debian_virtio_modules_resolve_in_load_order)
{
	const char *d = getenv("KTSTR_TEST_MODULES_DIR");
	struct kmod_opts o = {.modules_dir = d};
	struct kmod_set s;
	struct ierr e = {0};

	if (!d) {
		fprintf(stderr,
			"SKIPPED: real-module test: set KTSTR_TEST_MODULES_DIR to an unpacked "
			"linux-image-*-cloud-amd64 package (dpkg-deb -x)\n");
		cr_skip_test("KTSTR_TEST_MODULES_DIR not set");
	}
	cr_assert_eq(kmod_resolve(&s, &o, kmod_virtio_modules, kmod_n_virtio_modules, &e), 0, "%s",
		     e.msg);
	/* 6.1 has virtio and virtio_ring as modules; 7.x builds them in */
	if (s.n_builtin == 0) {
		cr_assert_lt(pos(&s, "virtio_ring"), pos(&s, "virtio"));
		cr_assert_lt(pos(&s, "virtio"), pos(&s, "virtio_mmio"));
	}
	cr_assert_lt(pos(&s, "failover"), pos(&s, "net_failover"));
	cr_assert_lt(pos(&s, "net_failover"), pos(&s, "virtio_net"));
	for (size_t i = 0; i < s.n; i++) {
		/* an ELF image unless shipped in the guest's own compressed format */
		if (decomp_fmt_of(s.v[i].pack_path) == DECOMP_NONE)
			cr_assert_eq(memcmp(s.v[i].data,
					    "\x7f"
					    "ELF",
					    4),
				     0, "%s", s.v[i].name);
	}
	fprintf(stderr, "real modules (%s, config %s): %zu picked, %zu built in\n", s.release,
		s.config_path[0] ? s.config_path : "none", s.n, s.n_builtin);
	kmod_set_free(&s);
}
