// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "initramfs/fsutil.h"
#include "initramfs/kmod.h"

#define KMOD_FILE_MAX	(64u << 20)  /* a module file on disk */
#define KMOD_IMAGE_MAX	(256u << 20) /* a decompressed module */
#define KMOD_TEXT_MAX	(64u << 20)  /* modules.dep, modules.builtin, config */
#define KMOD_WALK_DEPTH 16

enum { KM_NEW, KM_VISITING, KM_DONE };

/* One module file of the tree. */
struct km {
	char *name;
	char *path;
	struct strv deps; /* names */
	bool deps_known;
	int state;
	uint8_t *data; /* file contents once read */
	size_t len;
};

struct km_index {
	struct km *v;
	size_t n;
	size_t cap;
	struct strv builtin;
};

struct km_ctx {
	struct km_index idx;
	struct kmod_set *out;
	struct ierr *err;
	size_t *order; /* indices into idx.v, load order */
	size_t n_order;
};

const char *const kmod_virtio_modules[] = {"virtio_mmio", "virtio_blk", "virtio_net",
					   "virtio_console"};
const size_t kmod_n_virtio_modules = sizeof(kmod_virtio_modules) / sizeof(kmod_virtio_modules[0]);

int kmod_name_normalize(const char *in, char *out, size_t len)
{
	const char *base = strrchr(in, '/');
	size_t n;

	base = base ? base + 1 : in;
	n = strlen(base) - strlen(decomp_suffix(decomp_fmt_of(base)));
	if (n >= 3 && !strncmp(base + n - 3, ".ko", 3))
		n -= 3;
	if (!n)
		return -EINVAL;
	if (n >= len)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[n] = 0;
	return 0;
}

int kmod_kernel_release_from_bzimage(const char *path, char *buf, size_t len)
{
	uint8_t hdr[0x210], ver[KMOD_RELEASE_MAX];
	uint16_t off;
	ssize_t n;
	size_t i;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr + 0x202, "HdrS", 4)) {
		close(fd);
		return n < 0 ? -errno : -EINVAL;
	}
	off = (uint16_t)(hdr[0x20e] | hdr[0x20f] << 8);
	if (!off) {
		close(fd);
		return -EINVAL;
	}
	n = pread(fd, ver, sizeof(ver) - 1, 0x200 + (off_t)off);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	ver[n] = 0;
	for (i = 0; ver[i] && ver[i] != ' '; i++)
		if (ver[i] < 0x21 || ver[i] > 0x7e)
			return -EINVAL;
	if (!i)
		return -EINVAL;
	if (i >= len)
		return -ENAMETOOLONG;
	memcpy(buf, ver, i);
	buf[i] = 0;
	return 0;
}

/* ---- module index ------------------------------------------------------ */

static void km_index_free(struct km_index *x)
{
	for (size_t i = 0; i < x->n; i++) {
		strv_free(&x->v[i].deps);
		free(x->v[i].name);
		free(x->v[i].path);
		free(x->v[i].data);
	}
	free(x->v);
	strv_free(&x->builtin);
	memset(x, 0, sizeof(*x));
}

static struct km *km_find(const struct km_index *x, const char *name)
{
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->v[i].name, name))
			return &x->v[i];
	return NULL;
}

static bool km_is_builtin(const struct km_index *x, const char *name)
{
	return strv_has(&x->builtin, name);
}

/* Add a module file unless its name is known already (the first one found wins). */
static int km_add(struct km_index *x, const char *path, struct km **added)
{
	char name[256];
	struct km *m;

	*added = NULL;
	if (kmod_name_normalize(path, name, sizeof(name)))
		return 0;
	if (km_find(x, name))
		return 0;
	{
		void *nv = fs_grow(x->v, &x->cap, x->n, sizeof(*x->v), 256);

		if (!nv)
			return -ENOMEM;
		x->v = nv;
	}
	m = &x->v[x->n];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->path = strdup(path);
	if (!m->name || !m->path) {
		free(m->name);
		free(m->path);
		return -ENOMEM;
	}
	x->n++;
	*added = m;
	return 0;
}

static int km_add_dep(struct km *m, const char *dep)
{
	char name[256];

	if (kmod_name_normalize(dep, name, sizeof(name)))
		return 0;
	return strv_push(&m->deps, name);
}

static int path_in(char *buf, size_t len, const char *dir, const char *rel)
{
	return rel[0] == '/' ? fs_path(buf, len, "%s", rel) : fs_path(buf, len, "%s/%s", dir, rel);
}

/* modules.dep: "kernel/a/b.ko: kernel/c.ko kernel/d.ko" per line. */
static int km_load_dep(struct km_index *x, const char *reldir, char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *tok, *s2 = NULL, path[PATH_MAX];
		struct km *m;
		int ret;

		if (!colon)
			continue;
		*colon = 0;
		if (path_in(path, sizeof(path), reldir, line))
			continue;
		ret = km_add(x, path, &m);
		if (ret)
			return ret;
		if (!m)
			continue;
		m->deps_known = true;
		for (tok = strtok_r(colon + 1, " \t", &s2); tok; tok = strtok_r(NULL, " \t", &s2)) {
			ret = km_add_dep(m, tok);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * No modules.dep: find every module file under the release directory.
 * Entries are sorted so that the result does not depend on readdir order;
 * symlinks (build/, source/) are not followed.
 */
static int km_walk(struct km_index *x, const char *dir, int depth)
{
	struct strv names = {0};
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (depth > KMOD_WALK_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d)
		return -errno;
	while (!ret && (de = readdir(d)))
		if (de->d_name[0] != '.')
			ret = strv_push(&names, de->d_name);
	closedir(d);
	if (!ret && names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; !ret && i < names.n; i++) {
		char path[PATH_MAX];
		struct stat st;
		struct km *m;

		if (fs_path(path, sizeof(path), "%s/%s", dir, names.v[i]) || lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode))
			ret = km_walk(x, path, depth + 1);
		else if (S_ISREG(st.st_mode) && strstr(names.v[i], ".ko"))
			ret = km_add(x, path, &m);
	}
	strv_free(&names);
	return ret;
}

static int km_load_builtin(struct km_index *x, const char *reldir)
{
	char path[PATH_MAX], *save = NULL;
	uint8_t *text;
	size_t len;
	int ret;

	if (fs_path(path, sizeof(path), "%s/modules.builtin", reldir))
		return -ENAMETOOLONG;
	ret = fs_read_file(path, KMOD_TEXT_MAX, &text, &len);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	for (char *l = strtok_r((char *)text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[256];

		if (!kmod_name_normalize(l, name, sizeof(name)) &&
		    (ret = strv_push(&x->builtin, name)))
			break;
	}
	free(text);
	return ret;
}

/* ---- module contents --------------------------------------------------- */

/* Read the file and, if compressed, decompress it into m->data. */
static int km_read(struct km_ctx *c, struct km *m, enum decomp_fmt keep)
{
	enum decomp_fmt fmt = decomp_fmt_of(m->path);
	uint8_t *raw, *plain;
	size_t len, plen;
	int ret;

	if (m->data)
		return 0;
	ret = fs_read_file(m->path, KMOD_FILE_MAX, &raw, &len);
	if (ret)
		return ierr_set(c->err, ret, "module %s: %s: %s", m->name, m->path, strerror(-ret));
	if (fmt == DECOMP_NONE || fmt == keep) {
		m->data = raw;
		m->len = len;
		return 0;
	}
	ret = decomp_buffer(fmt, raw, len, KMOD_IMAGE_MAX, &plain, &plen);
	free(raw);
	if (ret)
		return ierr_set(c->err, ret, "module %s: cannot decompress %s: %s", m->name,
				m->path, ret == -EBADMSG ? "corrupt data" : strerror(-ret));
	m->data = plain;
	m->len = plen;
	return 0;
}

/* "depends=a,b" from the module's .modinfo section (what modpost records). */
static int km_modinfo_deps(struct km_ctx *c, struct km *m, enum decomp_fmt keep)
{
	const uint8_t *img;
	size_t img_len, shstrndx;
	uint8_t *tmp = NULL;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int ret;

	ret = km_read(c, m, keep);
	if (ret)
		return ret;
	img = m->data;
	img_len = m->len;
	/* kept compressed for the guest: decompress a scratch copy to read it */
	if (decomp_fmt_of(m->path) != DECOMP_NONE && decomp_fmt_of(m->path) == keep) {
		ret = decomp_buffer(keep, m->data, m->len, KMOD_IMAGE_MAX, &tmp, &img_len);
		if (ret)
			return ierr_set(c->err, ret, "module %s: cannot decompress %s", m->name,
					m->path);
		img = tmp;
	}
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)img, img_len);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		ret = ierr_set(c->err, -ENOEXEC, "module %s: %s is not an ELF module", m->name,
			       m->path);
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *sname;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(sname = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(sname, ".modinfo") || !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		for (size_t off = 0; off < d->d_size;) {
			const char *s = (const char *)d->d_buf + off;
			size_t sl = strnlen(s, d->d_size - off);

			if (sl > 8 && !strncmp(s, "depends=", 8)) {
				char *list = strndup(s + 8, sl - 8), *save = NULL;

				if (!list) {
					ret = -ENOMEM;
					goto out;
				}
				for (char *t = strtok_r(list, ",", &save); t && !ret;
				     t = strtok_r(NULL, ",", &save))
					ret = km_add_dep(m, t);
				free(list);
				if (ret)
					goto out;
			}
			off += sl + 1;
		}
	}
	m->deps_known = true;
out:
	if (elf)
		elf_end(elf);
	free(tmp);
	return ret;
}

/* Depth-first, dependencies before the module: the order finit_module needs. */
static int km_visit(struct km_ctx *c, struct km *m, const char *needed_by)
{
	int ret;

	if (m->state == KM_DONE)
		return 0;
	if (m->state == KM_VISITING)
		return ierr_set(c->err, -ELOOP, "module %s: dependency cycle (through %s)", m->name,
				needed_by ? needed_by : m->name);
	m->state = KM_VISITING;
	if (!m->deps_known) {
		ret = km_modinfo_deps(c, m, c->out->guest_fmt);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < m->deps.n; i++) {
		struct km *d = km_find(&c->idx, m->deps.v[i]);

		if (!d) {
			if (km_is_builtin(&c->idx, m->deps.v[i])) {
				c->out->n_builtin++;
				continue;
			}
			return ierr_set(c->err, -ENOENT, "module %s (needed by %s) not found in %s",
					m->deps.v[i], m->name, c->out->release_dir);
		}
		/* km_find may return a pointer that a later realloc moves: the index is complete here */
		ret = km_visit(c, d, m->name);
		if (ret)
			return ret;
	}
	m->state = KM_DONE;
	if (c->n_order >= KMOD_MAX_MODULES)
		return ierr_set(c->err, -E2BIG, "more than %u modules to load", KMOD_MAX_MODULES);
	c->order[c->n_order++] = (size_t)(m - c->idx.v);
	return 0;
}

/* ---- locating the tree and the config ---------------------------------- */

static bool is_release_dir(const char *dir)
{
	static const char *const marks[] = {"modules.dep", "modules.order", "modules.builtin",
					    "kernel"};
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (!fs_path(p, sizeof(p), "%s/%s", dir, marks[i]) && access(p, F_OK) == 0)
			return true;
	return false;
}

/* The only release directory below parent, if there is exactly one. */
static int single_release(const char *parent, char *rel, size_t rlen, int *count)
{
	struct dirent *de;
	DIR *d = opendir(parent);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char p[PATH_MAX];

		if (de->d_name[0] == '.' || fs_path(p, sizeof(p), "%s/%s", parent, de->d_name) ||
		    !is_release_dir(p))
			continue;
		if (!(*count)++)
			snprintf(rel, rlen, "%s", de->d_name);
	}
	closedir(d);
	return 0;
}

static int find_release_dir(struct kmod_set *s, const struct kmod_opts *o, struct ierr *err)
{
	static const char *const subs[] = {"lib/modules", "usr/lib/modules", "."};
	/* "" so that the default tree reads /lib/modules/<release>, not //lib/... */
	const char *root = o->modules_dir ? o->modules_dir : "";
	char rel[KMOD_RELEASE_MAX] = "";
	int count = 0;

	if (o->release && fs_path(rel, sizeof(rel), "%s", o->release))
		return ierr_set(err, -ENAMETOOLONG, "kernel release too long");
	if (o->modules_dir && is_release_dir(o->modules_dir)) {
		const char *base = strrchr(o->modules_dir, '/');

		snprintf(s->release_dir, sizeof(s->release_dir), "%s", o->modules_dir);
		if (!rel[0])
			snprintf(rel, sizeof(rel), "%s",
				 base && base[1] ? base + 1 : o->modules_dir);
		snprintf(s->release, sizeof(s->release), "%s", rel);
		return 0;
	}
	if (!rel[0]) {
		if (!o->modules_dir)
			return ierr_set(err, -EINVAL,
					"no kernel release given to find /lib/modules/<release>");
		for (size_t i = 0; i < 3; i++) {
			char p[PATH_MAX];

			if (!fs_path(p, sizeof(p), "%s/%s", root, subs[i]))
				single_release(p, rel, sizeof(rel), &count);
		}
		if (count != 1)
			return ierr_set(
				err, count ? -EINVAL : -ENOENT,
				count ? "%s holds modules of several kernels: give the release"
				      : "%s: no kernel module tree found",
				root);
	}
	for (size_t i = 0; i < 3; i++) {
		char p[PATH_MAX];

		if (!fs_path(p, sizeof(p), "%s/%s/%s", root, subs[i], rel) && is_release_dir(p)) {
			snprintf(s->release_dir, sizeof(s->release_dir), "%s", p);
			snprintf(s->release, sizeof(s->release), "%s", rel);
			return 0;
		}
	}
	return ierr_set(
		err, -ENOENT,
		"no modules for kernel %s under %s (looked in lib/modules and usr/lib/modules)",
		rel, *root ? root : "/");
}

/* The format the guest kernel decompresses itself, from its config text. */
static enum decomp_fmt config_guest_fmt(const char *text)
{
	static const struct {
		const char *opt;
		enum decomp_fmt fmt;
	} fmts[] = {
		{"CONFIG_MODULE_COMPRESS_XZ=y", DECOMP_XZ},
		{"CONFIG_MODULE_COMPRESS_ZSTD=y", DECOMP_ZSTD},
		{"CONFIG_MODULE_COMPRESS_GZIP=y", DECOMP_GZIP},
	};
	bool decompress = false;
	enum decomp_fmt fmt = DECOMP_NONE;

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t n = strcspn(l, "\n");

		if (n == 26 && !strncmp(l, "CONFIG_MODULE_DECOMPRESS=y", 26))
			decompress = true;
		for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
			if (n == strlen(fmts[i].opt) && !strncmp(l, fmts[i].opt, n))
				fmt = fmts[i].fmt;
	}
	return decompress ? fmt : DECOMP_NONE;
}

static int load_config(struct kmod_set *s, const struct kmod_opts *o, struct ierr *err)
{
	char cands[4][PATH_MAX];
	size_t nc = 0, rl = strlen(s->release_dir);
	uint8_t *text = NULL;
	size_t len;
	int ret = -ENOENT;

	if (o->config) {
		ret = fs_read_file(o->config, KMOD_TEXT_MAX, &text, &len);
		if (ret)
			return ierr_set(err, ret, "kernel config %s: %s", o->config,
					strerror(-ret));
		snprintf(s->config_path, sizeof(s->config_path), "%s", o->config);
	} else {
		char suffix[KMOD_RELEASE_MAX + 16];
		size_t sl;

		fs_path(cands[nc++], PATH_MAX, "%s/config-%s", s->release_dir, s->release);
		fs_path(cands[nc++], PATH_MAX, "%s/config", s->release_dir);
		/* an unpacked package keeps it in <root>/boot next to <root>/[usr/]lib/modules */
		snprintf(suffix, sizeof(suffix), "/lib/modules/%s", s->release);
		sl = strlen(suffix);
		if (rl > sl && !strcmp(s->release_dir + rl - sl, suffix)) {
			size_t root_len = rl - sl;

			if (root_len >= 4 && !strncmp(s->release_dir + root_len - 4, "/usr", 4))
				root_len -= 4;
			fs_path(cands[nc++], PATH_MAX, "%.*s/boot/config-%s", (int)root_len,
				s->release_dir, s->release);
		}
		fs_path(cands[nc++], PATH_MAX, "/boot/config-%s", s->release);
		for (size_t i = 0; i < nc && ret; i++) {
			ret = fs_read_file(cands[i], KMOD_TEXT_MAX, &text, &len);
			if (!ret)
				snprintf(s->config_path, sizeof(s->config_path), "%s", cands[i]);
		}
		if (ret) {
			log_info("initramfs: no kernel config for %s: modules are packed "
				 "uncompressed",
				 s->release);
			return 0;
		}
	}
	s->guest_fmt = config_guest_fmt((const char *)text);
	free(text);
	return 0;
}

/* ---- entry point ------------------------------------------------------- */

static int build_index(struct km_ctx *c)
{
	const char *reldir = c->out->release_dir;
	char path[PATH_MAX];
	uint8_t *text;
	size_t len;
	int ret;

	ret = km_load_builtin(&c->idx, reldir);
	if (ret)
		return ierr_set(c->err, ret, "%s/modules.builtin: %s", reldir, strerror(-ret));
	if (fs_path(path, sizeof(path), "%s/modules.dep", reldir))
		return ierr_set(c->err, -ENAMETOOLONG, "%s: path too long", reldir);
	ret = fs_read_file(path, KMOD_TEXT_MAX, &text, &len);
	if (ret == 0) {
		ret = km_load_dep(&c->idx, reldir, (char *)text);
		free(text);
	} else if (ret == -ENOENT) {
		log_debug("initramfs: %s has no modules.dep, reading .modinfo instead", reldir);
		ret = km_walk(&c->idx, reldir, 0);
	}
	if (ret)
		return ierr_set(c->err, ret, "%s: cannot index modules: %s", reldir,
				strerror(-ret));
	return 0;
}

static int emit_modules(struct km_ctx *c)
{
	struct kmod_set *s = c->out;

	s->v = calloc(c->n_order ? c->n_order : 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_order; i++) {
		struct km *m = &c->idx.v[c->order[i]];
		struct kmod_module *e = &s->v[s->n];
		enum decomp_fmt f = decomp_fmt_of(m->path);
		int ret = km_read(c, m, s->guest_fmt);

		if (ret)
			return ret;
		if (asprintf(&e->pack_path, KMOD_PACK_DIR "/%03zu-%s.ko%s", i, m->name,
			     f == s->guest_fmt ? decomp_suffix(f) : "") < 0) {
			e->pack_path = NULL;
			return -ENOMEM;
		}
		s->n++;
		e->name = m->name;
		e->host_path = m->path;
		e->data = m->data;
		e->len = m->len;
		/* ownership moves to the set */
		m->name = m->path = NULL;
		m->data = NULL;
	}
	return 0;
}

int kmod_resolve(struct kmod_set *out, const struct kmod_opts *o, const char *const *names,
		 size_t n, struct ierr *err)
{
	struct km_ctx c = {.out = out, .err = err};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = find_release_dir(out, o, err);
	if (ret == -ENOENT && o->missing_tree_ok) {
		log_info("initramfs: %s: no kernel modules packed",
			 err ? err->msg : "no module tree");
		out->no_tree = true;
		return 0;
	}
	if (!ret)
		ret = load_config(out, o, err);
	if (!ret)
		ret = build_index(&c);
	if (ret)
		goto out;
	c.order = calloc(KMOD_MAX_MODULES, sizeof(*c.order));
	if (!c.order) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char name[256];
		struct km *m;

		if (kmod_name_normalize(names[i], name, sizeof(name))) {
			ret = ierr_set(err, -EINVAL, "bad module name '%s'", names[i]);
			goto out;
		}
		m = km_find(&c.idx, name);
		if (!m) {
			if (km_is_builtin(&c.idx, name)) {
				out->n_builtin++;
				continue;
			}
			ret = ierr_set(err, -ENOENT, "module %s not found in %s (nor built in)",
				       names[i], out->release_dir);
			goto out;
		}
		ret = km_visit(&c, m, NULL);
		if (ret)
			goto out;
	}
	ret = emit_modules(&c);
	if (ret == -ENOMEM)
		ierr_set(err, ret, "out of memory");
out:
	free(c.order);
	km_index_free(&c.idx);
	if (ret)
		kmod_set_free(out);
	return ret;
}

void kmod_set_free(struct kmod_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].host_path);
		free(s->v[i].pack_path);
		free(s->v[i].data);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
