// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "initramfs/cpio.h"
#include "initramfs/elfdeps.h"
#include "initramfs/elfstrip.h"
#include "initramfs/fsutil.h"
#include "initramfs/initramfs.h"
#include "initramfs/kmod.h"
#include "initramfs/lz4legacy.h"

#define REL_MAX_DEPTH 128

/* Split an absolute path into its components (pointers into path); -1 if too deep. */
static int split_path(const char *path, const char **comp, size_t *clen)
{
	int n = 0;

	for (const char *p = path; *p;) {
		size_t l;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		l = strcspn(p, "/");
		if (n == REL_MAX_DEPTH)
			return -1;
		comp[n] = p;
		clen[n++] = l;
		p += l;
	}
	return n;
}

int initramfs_rel_link(const char *link_path, const char *target, char *buf, size_t len)
{
	const char *lc[REL_MAX_DEPTH], *tc[REL_MAX_DEPTH];
	size_t ll[REL_MAX_DEPTH], tl[REL_MAX_DEPTH], o = 0;
	int nl, nt, k = 0;

	if (link_path[0] != '/' || target[0] != '/')
		return -EINVAL;
	nl = split_path(link_path, lc, ll);
	nt = split_path(target, tc, tl);
	if (nl < 1 || nt < 1)
		return nl < 0 || nt < 0 ? -ENAMETOOLONG : -EINVAL;
	nl--; /* the link's own name is not a directory to climb out of */
	while (k < nl && k < nt - 1 && ll[k] == tl[k] && !memcmp(lc[k], tc[k], ll[k]))
		k++;
	buf[0] = 0;
	for (int i = k; i < nl; i++) {
		if (o + 3 >= len)
			return -ENAMETOOLONG;
		memcpy(buf + o, "../", 4);
		o += 3;
	}
	for (int i = k; i < nt; i++) {
		if (o + tl[i] + 1 >= len)
			return -ENAMETOOLONG;
		memcpy(buf + o, tc[i], tl[i]);
		o += tl[i];
		buf[o++] = i + 1 < nt ? '/' : 0;
	}
	return 0;
}

struct ib {
	struct cpio cpio;
	const struct initramfs_opts *o;
	struct initramfs *out;
	struct ierr *err;
};

static int add_host(struct ib *b, const char *pack, int perm, const char *host, const char *what)
{
	int ret = cpio_add_host_file(&b->cpio, pack, perm, host);

	if (ret == -ENOENT)
		return ierr_set(b->err, ret, "%s %s: no such file", what, host);
	if (ret == -EISDIR)
		return ierr_set(b->err, ret, "%s %s: is a directory, not a file", what, host);
	if (ret == -EEXIST)
		return ierr_set(b->err, ret, "%s %s: %s is already in the initramfs", what, host,
				pack);
	if (ret)
		return ierr_set(b->err, ret, "%s %s: %s", what, host, strerror(-ret));
	return 0;
}

/* /init: the ktstr binary, debug sections dropped unless asked to keep them. */
static int add_init(struct ib *b, const char *init)
{
	uint8_t *raw, *small;
	size_t len, slen;
	int ret;

	if (b->o->keep_debug)
		return add_host(b, INITRAMFS_INIT, 0755, init, "ktstr binary");
	ret = fs_read_file(init, CPIO_FILE_MAX, &raw, &len);
	if (ret)
		return ierr_set(b->err, ret, "ktstr binary %s: %s", init,
				ret == -ENOENT ? "no such file" : strerror(-ret));
	ret = elfstrip_debug(raw, len, &small, &slen);
	if (ret == 0) {
		free(raw);
		raw = small;
		len = slen;
	} else if (ret != -ENOMEM) {
		/* an unusual layout is packed as it is: only the size suffers */
		log_debug("initramfs: %s not stripped (%s)", init, strerror(-ret));
	} else {
		free(raw);
		return ierr_set(b->err, ret, "out of memory");
	}
	ret = cpio_add_file(&b->cpio, INITRAMFS_INIT, 0755, raw, len);
	free(raw);
	if (ret)
		return ierr_set(b->err, ret, "/init: %s", strerror(-ret));
	return 0;
}

static int add_includes(struct ib *b)
{
	for (size_t i = 0; i < b->o->n_includes; i++) {
		const char *host = b->o->includes[i], *base = strrchr(host, '/');
		char pack[PATH_MAX];
		struct stat st;
		int ret;

		base = base ? base + 1 : host;
		if (stat(host, &st) < 0)
			return ierr_set(b->err, -errno, "--include %s: %s", host, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return ierr_set(b->err, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
					"--include %s: not a regular file", host);
		if (!*base || fs_path(pack, sizeof(pack), INITRAMFS_INCLUDE_DIR "/%s", base))
			return ierr_set(b->err, -EINVAL, "--include %s: bad file name", host);
		if (cpio_lookup(&b->cpio, pack, NULL) == 0)
			return ierr_set(b->err, -EEXIST,
					"--include %s: another include is already named %s", host,
					pack);
		ret = add_host(b, pack, CPIO_PERM_HOST, host, "--include");
		if (ret)
			return ret;
	}
	return 0;
}

/* Pack the closure; a file already packed under another path becomes a symlink to it. */
static int add_libs(struct ib *b, const char *init)
{
	const char **roots;
	struct elfdeps d;
	struct elfdeps_opts eo = {.ld_library_path = b->o->ld_library_path,
				  .ld_so_cache = b->o->ld_so_cache};
	size_t n = 0;
	int ret;

	roots = calloc(2 + b->o->n_includes, sizeof(*roots));
	if (!roots)
		return ierr_set(b->err, -ENOMEM, "out of memory");
	roots[n++] = init;
	if (b->o->busybox_path)
		roots[n++] = b->o->busybox_path;
	for (size_t i = 0; i < b->o->n_includes; i++)
		roots[n++] = b->o->includes[i];
	ret = elfdeps_resolve(&d, roots, n, &eo, b->err);
	free(roots);
	if (ret)
		return ret;
	for (size_t i = 0; i < d.n && !ret; i++) {
		const struct elfdep *e = &d.v[i];
		const struct elfdep *first = NULL;
		char rel[PATH_MAX];

		if (cpio_lookup(&b->cpio, e->pack_path, NULL) == 0)
			continue; /* two names that relocate to the same place */
		for (size_t k = 0; k < i && !first; k++)
			if (!strcmp(d.v[k].real_path, e->real_path) &&
			    strcmp(d.v[k].pack_path, e->pack_path))
				first = &d.v[k];
		if (first) {
			ret = initramfs_rel_link(e->pack_path, first->pack_path, rel, sizeof(rel));
			if (!ret)
				ret = cpio_add_symlink(&b->cpio, e->pack_path, rel);
			if (ret)
				ierr_set(b->err, ret, "library %s: cannot link %s: %s", e->name,
					 e->pack_path, strerror(-ret));
		} else {
			ret = add_host(b, e->pack_path, CPIO_PERM_HOST, e->host_path, "library");
		}
		b->out->n_libs++;
	}
	elfdeps_free(&d);
	return ret;
}

static int add_modules(struct ib *b)
{
	struct kmod_set s;
	int ret;

	if (!b->o->n_modules)
		return 0;
	ret = kmod_resolve(&s, &b->o->kmod, b->o->modules, b->o->n_modules, b->err);
	if (ret)
		return ret;
	/* the directory only when there is something to load (absent = nothing to do, §3.3) */
	ret = s.n ? cpio_add_dir(&b->cpio, INITRAMFS_MODULE_DIR, 0755) : 0;
	for (size_t i = 0; i < s.n && !ret; i++) {
		ret = cpio_add_file(&b->cpio, s.v[i].pack_path, 0644, s.v[i].data, s.v[i].len);
		if (ret)
			ierr_set(b->err, ret, "module %s: %s", s.v[i].name, strerror(-ret));
	}
	b->out->n_modules = s.n;
	b->out->n_builtin = s.n_builtin;
	b->out->no_module_tree = s.no_tree;
	kmod_set_free(&s);
	return ret;
}

/* NUL-terminated strings back to back, as /ktstr/exec.argv and exec.env hold them. */
static int add_strings(struct ib *b, const char *path, const char *const *v, size_t n)
{
	size_t total = 0, o = 0;
	char *buf;
	int ret;

	for (size_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if (total > INITRAMFS_ARGV_MAX)
		return ierr_set(b->err, -E2BIG, "%s: %zu bytes, more than the guest accepts (%u)",
				path, total, INITRAMFS_ARGV_MAX);
	buf = malloc(total ? total : 1);
	if (!buf)
		return ierr_set(b->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;

		memcpy(buf + o, v[i], l);
		o += l;
	}
	ret = cpio_add_file(&b->cpio, path, 0644, buf, total);
	free(buf);
	if (ret)
		ierr_set(b->err, ret, "%s: %s", path, strerror(-ret));
	return ret;
}

static int add_exec(struct ib *b)
{
	const struct initramfs_opts *o = b->o;
	int ret;

	if (!o->argc || !o->argv || !o->argv[0] || !o->argv[0][0])
		return ierr_set(b->err, -EINVAL, "the command to run is empty");
	for (size_t i = 0; i < o->n_env; i++) {
		const char *eq = strchr(o->env[i], '=');

		if (!eq || eq == o->env[i])
			return ierr_set(b->err, -EINVAL, "environment entry '%s' is not KEY=VALUE",
					o->env[i]);
	}
	ret = add_strings(b, INITRAMFS_ARGV, o->argv, o->argc);
	if (!ret && o->n_env)
		ret = add_strings(b, INITRAMFS_ENV, o->env, o->n_env);
	if (!ret && o->cwd) {
		if (!o->cwd[0])
			return ierr_set(b->err, -EINVAL, "the working directory is empty");
		ret = cpio_add_file(&b->cpio, INITRAMFS_CWD, 0644, o->cwd, strlen(o->cwd));
		if (ret)
			ierr_set(b->err, ret, INITRAMFS_CWD ": %s", strerror(-ret));
	}
	return ret;
}

static int build(struct ib *b)
{
	const struct initramfs_opts *o = b->o;
	const char *init = o->init_path ? o->init_path : "/proc/self/exe";
	int ret;

	/* the kernel opens /dev/console for PID 1 before anything is mounted */
	ret = cpio_add_dir(&b->cpio, "/dev", 0755);
	if (!ret)
		ret = cpio_add_chardev(&b->cpio, INITRAMFS_CONSOLE, 0600, 5, 1);
	if (ret)
		return ierr_set(b->err, ret, "/dev/console: %s", strerror(-ret));
	ret = add_init(b, init);
	if (ret)
		return ret;
	if (o->busybox_path) {
		ret = add_host(b, INITRAMFS_BUSYBOX, 0755, o->busybox_path, "busybox");
		if (ret)
			return ret;
		ret = cpio_add_symlink(&b->cpio, INITRAMFS_SH, "busybox");
		if (ret)
			return ierr_set(b->err, ret, "/bin/sh: %s", strerror(-ret));
	}
	ret = add_includes(b);
	if (!ret)
		ret = add_libs(b, init);
	if (!ret)
		ret = add_modules(b);
	if (!ret)
		ret = add_exec(b);
	if (ret)
		return ret;
	/* written last: the guest treats its absence as a truncated unpack (§3.1 step 5) */
	ret = cpio_add_file(&b->cpio, INITRAMFS_COMPLETE, 0644, NULL, 0);
	if (!ret)
		ret = cpio_finish(&b->cpio);
	if (ret)
		return ierr_set(b->err, ret, "initramfs: %s", strerror(-ret));
	return 0;
}

int initramfs_build(const struct initramfs_opts *o, struct initramfs *out, struct ierr *err)
{
	struct ib b = {.o = o, .out = out, .err = err};
	uint8_t *raw;
	size_t raw_len;
	int ret;

	memset(out, 0, sizeof(*out));
	cpio_init(&b.cpio);
	ret = build(&b);
	if (ret) {
		cpio_free(&b.cpio);
		return ret;
	}
	raw = cpio_take(&b.cpio, &raw_len);
	cpio_free(&b.cpio);
	out->cpio_len = raw_len;
	if (!o->lz4) {
		out->data = raw;
		out->len = raw_len;
		return 0;
	}
	ret = lz4l_compress(raw, raw_len, o->lz4_level, &out->data, &out->len);
	free(raw);
	if (ret)
		return ierr_set(err, ret, "initramfs: LZ4 compression failed: %s", strerror(-ret));
	log_debug("initramfs: %zu bytes, %zu compressed, %zu libraries, %zu modules", out->cpio_len,
		  out->len, out->n_libs, out->n_modules);
	return 0;
}

void initramfs_free(struct initramfs *r)
{
	free(r->data);
	memset(r, 0, sizeof(*r));
}
