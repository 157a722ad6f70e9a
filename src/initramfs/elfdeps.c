// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "initramfs/elfdeps.h"
#include "initramfs/fsutil.h"
#include "initramfs/ldcache.h"

#define ED_MAX_NEEDED 4096u

/* What the closure needs from one ELF file. */
struct elf_info {
	bool is_elf;
	int cls;
	int machine;
	char *interp;
	char **needed;
	size_t n_needed;
	char *rpath;
	char *runpath;
};

/* One object of the walk (a root or a library), with the loader that pulled it in. */
struct ed_obj {
	char *path;	    /* host path used for $ORIGIN */
	struct elf_info ei; /* parsed once, when the object is queued */
	int loader;	    /* index in the object list, -1 for a root */
};

struct ed_walk {
	struct elfdeps *out;
	const struct elfdeps_opts *opts;
	struct ierr *err;
	struct ldcache cache;
	bool have_cache;
	struct ed_obj *objs;
	size_t n_objs;
	size_t cap_objs;
};

static void elf_info_free(struct elf_info *ei)
{
	for (size_t i = 0; i < ei->n_needed; i++)
		free(ei->needed[i]);
	free(ei->needed);
	free(ei->interp);
	free(ei->rpath);
	free(ei->runpath);
	memset(ei, 0, sizeof(*ei));
}

/* File offset of a virtual address, through the PT_LOAD that maps it. */
static bool va_to_off(Elf *elf, size_t phnum, uint64_t va, uint64_t *off)
{
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (va >= ph.p_vaddr && va - ph.p_vaddr < ph.p_filesz) {
			*off = va - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

/* A NUL-terminated string at [off, off + max) of the raw file, copied; NULL if out of bounds. */
static char *raw_str(const char *raw, size_t size, uint64_t off, uint64_t max)
{
	const char *s, *nul;

	if (off >= size)
		return NULL;
	if (max > size - off)
		max = size - off;
	s = raw + off;
	nul = memchr(s, 0, max);
	return nul ? strndup(s, (size_t)(nul - s)) : NULL;
}

/*
 * Read PT_INTERP and the dynamic section through the program headers only:
 * that is all the loader uses, and it works on binaries whose section
 * headers were stripped.
 */
static int elf_info_parse(Elf *elf, struct elf_info *ei)
{
	uint64_t dyn_off = 0, dyn_size = 0, strtab_va = 0, strsz = 0, strtab_off;
	uint64_t rpath = UINT64_MAX, runpath = UINT64_MAX;
	size_t phnum, size, n_dyn, n_need = 0;
	GElf_Ehdr eh;
	Elf_Data *dd;
	const char *raw;

	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	raw = elf_rawfile(elf, &size);
	if (!raw)
		return -ENOEXEC;
	ei->cls = gelf_getclass(elf);
	ei->machine = eh.e_machine;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			return -ENOEXEC;
		if (ph.p_type == PT_INTERP && !ei->interp) {
			ei->interp = raw_str(raw, size, ph.p_offset, ph.p_filesz);
			if (!ei->interp)
				return -ENOEXEC;
		} else if (ph.p_type == PT_DYNAMIC) {
			dyn_off = ph.p_offset;
			dyn_size = ph.p_filesz;
		}
	}
	if (!dyn_size)
		return 0; /* static */
	if (dyn_off > size || dyn_size > size - dyn_off)
		return -ENOEXEC;
	dd = elf_getdata_rawchunk(elf, (int64_t)dyn_off, dyn_size, ELF_T_DYN);
	if (!dd)
		return -ENOEXEC;
	n_dyn = dd->d_size / gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
	/* first pass: locate the string table and count DT_NEEDED */
	for (size_t i = 0; i < n_dyn; i++) {
		GElf_Dyn d;

		if (!gelf_getdyn(dd, (int)i, &d) || d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_STRTAB)
			strtab_va = d.d_un.d_ptr;
		else if (d.d_tag == DT_STRSZ)
			strsz = d.d_un.d_val;
		else if (d.d_tag == DT_NEEDED)
			n_need++;
		else if (d.d_tag == DT_RPATH)
			rpath = d.d_un.d_val;
		else if (d.d_tag == DT_RUNPATH)
			runpath = d.d_un.d_val;
	}
	if (!n_need && rpath == UINT64_MAX && runpath == UINT64_MAX)
		return 0;
	if (n_need > ED_MAX_NEEDED || !va_to_off(elf, phnum, strtab_va, &strtab_off) ||
	    strtab_off > size || strsz > size - strtab_off)
		return -ENOEXEC;
	ei->needed = calloc(n_need ? n_need : 1, sizeof(*ei->needed));
	if (!ei->needed)
		return -ENOMEM;
	for (size_t i = 0; i < n_dyn; i++) {
		GElf_Dyn d;

		if (!gelf_getdyn(dd, (int)i, &d) || d.d_tag == DT_NULL)
			break;
		if (d.d_tag != DT_NEEDED)
			continue;
		if (d.d_un.d_val >= strsz)
			return -ENOEXEC;
		ei->needed[ei->n_needed] =
			raw_str(raw, size, strtab_off + d.d_un.d_val, strsz - d.d_un.d_val);
		if (!ei->needed[ei->n_needed])
			return -ENOEXEC;
		ei->n_needed++;
	}
	if (rpath != UINT64_MAX) {
		if (rpath >= strsz ||
		    !(ei->rpath = raw_str(raw, size, strtab_off + rpath, strsz - rpath)))
			return -ENOEXEC;
	}
	if (runpath != UINT64_MAX) {
		if (runpath >= strsz ||
		    !(ei->runpath = raw_str(raw, size, strtab_off + runpath, strsz - runpath)))
			return -ENOEXEC;
	}
	return 0;
}

/* 0 with is_elf false for a non-ELF file; -errno if it cannot be opened; -ENOEXEC if broken. */
static int elf_info_read(const char *path, struct elf_info *ei)
{
	Elf *elf;
	int fd, ret = 0;

	memset(ei, 0, sizeof(*ei));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		ei->is_elf = true;
		ret = elf_info_parse(elf, ei);
	}
	if (elf)
		elf_end(elf);
	close(fd);
	if (ret)
		elf_info_free(ei);
	return ret;
}

static void elf_lib_init(void)
{
	static bool done;

	if (!done) {
		elf_version(EV_CURRENT);
		done = true;
	}
}

/* The loader's own check: an ELF of the same class and machine as the requester. */
static bool elf_matches(const char *path, int cls, int machine)
{
	Elf *elf;
	GElf_Ehdr eh;
	bool ok = false;
	int fd;

	if (!fs_is_file(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh))
		ok = gelf_getclass(elf) == cls && eh.e_machine == machine;
	if (elf)
		elf_end(elf);
	close(fd);
	return ok;
}

static const char *multiarch_triplet(int machine)
{
	switch (machine) {
	case EM_X86_64:
		return "x86_64-linux-gnu";
	case EM_AARCH64:
		return "aarch64-linux-gnu";
	case EM_386:
		return "i386-linux-gnu";
	default:
		return NULL;
	}
}

/* The loader's built-in directories, most specific first; returns how many were written. */
static size_t default_dirs(int cls, int machine, char dirs[6][64])
{
	const char *t = multiarch_triplet(machine);
	size_t n = 0;

	if (t) {
		snprintf(dirs[n++], 64, "/lib/%s", t);
		snprintf(dirs[n++], 64, "/usr/lib/%s", t);
	}
	snprintf(dirs[n++], 64, "/lib%s", cls == ELFCLASS64 ? "64" : "32");
	snprintf(dirs[n++], 64, "/usr/lib%s", cls == ELFCLASS64 ? "64" : "32");
	snprintf(dirs[n++], 64, "/lib");
	snprintf(dirs[n++], 64, "/usr/lib");
	return n;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* "dir" + "/" + name with $ORIGIN / ${ORIGIN} in dir replaced; 0 or -ENAMETOOLONG. */
static int expand_candidate(char *buf, size_t len, const char *dir, size_t dlen, const char *origin,
			    const char *name)
{
	size_t o = 0;

	for (size_t i = 0; i < dlen;) {
		const char *rep = NULL;
		size_t skip = 0;

		if (!strncmp(dir + i, "$ORIGIN", 7) && dlen - i >= 7)
			rep = origin, skip = 7;
		else if (!strncmp(dir + i, "${ORIGIN}", 9) && dlen - i >= 9)
			rep = origin, skip = 9;
		if (rep) {
			size_t rl = strlen(rep);

			if (o + rl >= len)
				return -ENAMETOOLONG;
			memcpy(buf + o, rep, rl);
			o += rl;
			i += skip;
			continue;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		buf[o++] = dir[i++];
	}
	return fs_path(buf + o, len - o, "%s%s", o && buf[o - 1] == '/' ? "" : "/", name);
}

/* Try each directory of a ':'-separated list (an empty element means the current directory). */
static bool search_list(const char *list, const char *origin, const char *name, int cls,
			int machine, char *found, size_t flen)
{
	const char *p = list;

	while (p) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);

		/* $LIB and $PLATFORM depend on the loader build; such entries are skipped */
		if (!memmem(p, dlen, "$LIB", 4) && !memmem(p, dlen, "$PLATFORM", 9) &&
		    !memmem(p, dlen, "${LIB}", 6) && !memmem(p, dlen, "${PLATFORM}", 11)) {
			if (!expand_candidate(found, flen, dlen ? p : ".", dlen ? dlen : 1, origin,
					      name) &&
			    elf_matches(found, cls, machine))
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Search a DT_RPATH/DT_RUNPATH list of object o, whose directory is $ORIGIN. */
static bool search_origin_list(const struct ed_obj *o, const char *list, const char *name, int cls,
			       int machine, char *found, size_t flen)
{
	char *origin = dir_of(o->path);
	bool hit;

	if (!origin)
		return false;
	hit = search_list(list, origin, name, cls, machine, found, flen);
	free(origin);
	return hit;
}

static bool search_lib(struct ed_walk *w, int req, const char *name, char *found, size_t flen)
{
	const struct ed_obj *o = &w->objs[req];
	const int cls = o->ei.cls, machine = o->ei.machine;
	char dirs[6][64];
	size_t nd;

	/* DT_RPATH of the requester and its loaders, unless the requester has DT_RUNPATH */
	for (int l = req; !o->ei.runpath && l >= 0; l = w->objs[l].loader)
		if (w->objs[l].ei.rpath && search_origin_list(&w->objs[l], w->objs[l].ei.rpath,
							      name, cls, machine, found, flen))
			return true;
	if (w->opts && w->opts->ld_library_path && *w->opts->ld_library_path &&
	    search_list(w->opts->ld_library_path, ".", name, cls, machine, found, flen))
		return true;
	if (o->ei.runpath && search_origin_list(o, o->ei.runpath, name, cls, machine, found, flen))
		return true;
	if (w->have_cache) {
		uint32_t it = 0;
		const char *p;

		while ((p = ldcache_next(&w->cache, name, &it)))
			if (!fs_path(found, flen, "%s", p) && elf_matches(found, cls, machine))
				return true;
	}
	nd = default_dirs(cls, machine, dirs);
	for (size_t i = 0; i < nd; i++)
		if (!fs_path(found, flen, "%s/%s", dirs[i], name) &&
		    elf_matches(found, cls, machine))
			return true;
	return false;
}

/* Queue an object; its parsed info moves into the list (*ei is left empty). */
static int obj_push(struct ed_walk *w, const char *path, struct elf_info *ei, int loader)
{
	struct ed_obj *o;

	{
		void *nv = fs_grow(w->objs, &w->cap_objs, w->n_objs, sizeof(*w->objs), 32);

		if (!nv)
			return -ENOMEM;
		w->objs = nv;
	}
	o = &w->objs[w->n_objs];
	o->path = strdup(path);
	if (!o->path)
		return -ENOMEM;
	o->ei = *ei;
	memset(ei, 0, sizeof(*ei));
	o->loader = loader;
	w->n_objs++;
	return 0;
}

static const struct elfdep *dep_by_name(const struct elfdeps *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

static bool dep_real_seen(const struct elfdeps *d, const char *real, size_t before)
{
	for (size_t i = 0; i < before && i < d->n; i++)
		if (!strcmp(d->v[i].real_path, real))
			return true;
	return false;
}

static int dep_push(struct elfdeps *d, const char *name, const char *host, const char *real,
		    const char *pack, const char *needed_by, int interp)
{
	struct elfdep *e;

	{
		void *nv = fs_grow(d->v, &d->cap, d->n, sizeof(*d->v), 32);

		if (!nv)
			return -ENOMEM;
		d->v = nv;
	}
	e = &d->v[d->n++];
	e->name = strdup(name);
	e->host_path = strdup(host);
	e->real_path = strdup(real);
	e->pack_path = strdup(pack);
	e->needed_by = strdup(needed_by);
	e->interp = interp;
	if (!e->name || !e->host_path || !e->real_path || !e->pack_path || !e->needed_by)
		return -ENOMEM;
	return 0;
}

/* Absolute form of a found path for packing (a relative DT_NEEDED path is taken from /). */
static int abs_pack(char *buf, size_t len, const char *found)
{
	return fs_path(buf, len, "%s%s", found[0] == '/' ? "" : "/", found);
}

/*
 * Queue a newly found file for scanning unless the same file (real path) was
 * already scanned: a library reached under two names is walked once.
 */
static int scan_queue(struct ed_walk *w, const char *host, const char *real, int loader,
		      size_t dep_index)
{
	struct elf_info ei;
	int ret;

	if (dep_real_seen(w->out, real, dep_index))
		return 0;
	ret = elf_info_read(host, &ei);
	if (ret || !ei.is_elf) {
		elf_info_free(&ei);
		return ierr_set(w->err, ret ? ret : -ENOEXEC, "%s: cannot read it as ELF (%s)",
				host, strerror(ret ? -ret : ENOEXEC));
	}
	ret = obj_push(w, host, &ei, loader);
	elf_info_free(&ei);
	return ret;
}

static int add_interp(struct ed_walk *w, int req, const char *interp)
{
	const struct ed_obj *o = &w->objs[req];
	char real[PATH_MAX];
	size_t idx;
	int ret;

	if (dep_by_name(w->out, interp))
		return 0;
	if (!realpath(interp, real) || !elf_matches(real, o->ei.cls, o->ei.machine))
		return ierr_set(w->err, -ENOENT,
				"interpreter %s (needed by %s) not found on the host", interp,
				o->path);
	idx = w->out->n;
	/* canonical first, so the requested path is the one that becomes a symlink */
	ret = dep_push(w->out, interp, real, real, real, o->path, 1);
	if (!ret && strcmp(real, interp))
		ret = dep_push(w->out, interp, interp, real, interp, o->path, 1);
	if (ret)
		return ierr_set(w->err, ret, "out of memory");
	return scan_queue(w, real, real, req, idx);
}

static int add_needed(struct ed_walk *w, int req, const char *name)
{
	char found[PATH_MAX], real[PATH_MAX], pack[PATH_MAX];
	const char *needer = w->objs[req].path;
	size_t idx;
	int ret;

	if (dep_by_name(w->out, name))
		return 0;
	if (strchr(name, '/')) {
		if (fs_path(found, sizeof(found), "%s", name) ||
		    !elf_matches(found, w->objs[req].ei.cls, w->objs[req].ei.machine))
			return ierr_set(w->err, -ENOENT, "%s (needed by %s) not found", name,
					needer);
	} else if (!search_lib(w, req, name, found, sizeof(found))) {
		return ierr_set(w->err, -ENOENT,
				"shared library %s (needed by %s) not found in RPATH, "
				"LD_LIBRARY_PATH, RUNPATH, ld.so.cache or the default directories",
				name, needer);
	}
	if (!realpath(found, real))
		return ierr_set(w->err, -errno, "%s: %s", found, strerror(errno));
	ret = abs_pack(pack, sizeof(pack), found);
	if (ret)
		return ierr_set(w->err, ret, "%s: path too long", found);
	idx = w->out->n;
	ret = dep_push(w->out, name, found, real, pack, needer, 0);
	if (ret)
		return ierr_set(w->err, ret, "out of memory");
	return scan_queue(w, found, real, req, idx);
}

static bool in_default_dir(const char *pack, int cls, int machine)
{
	char dirs[6][64];
	size_t nd = default_dirs(cls, machine, dirs);
	char *d = dir_of(pack);
	bool ok = false;

	for (size_t i = 0; d && i < nd && !ok; i++)
		ok = !strcmp(d, dirs[i]);
	free(d);
	return ok;
}

/*
 * Move libraries found outside the default directories next to the C
 * library (see the header for why). The C library is recognised by its
 * soname prefix "libc.so."; without one, the first default directory that
 * exists on the host is used.
 */
static int relocate(struct elfdeps *d, int cls, int machine)
{
	char dirs[6][64], target[PATH_MAX] = "";
	size_t nd;

	for (size_t i = 0; i < d->n; i++)
		if (!strncmp(d->v[i].name, "libc.so.", 8) &&
		    in_default_dir(d->v[i].pack_path, cls, machine)) {
			char *dd = dir_of(d->v[i].pack_path);

			if (!dd)
				return -ENOMEM;
			snprintf(target, sizeof(target), "%s", dd);
			free(dd);
			break;
		}
	nd = default_dirs(cls, machine, dirs);
	for (size_t i = 0; !target[0] && i < nd; i++)
		if (fs_is_dir(dirs[i]))
			snprintf(target, sizeof(target), "%s", dirs[i]);
	if (!target[0])
		snprintf(target, sizeof(target), "/lib");
	for (size_t i = 0; i < d->n; i++) {
		struct elfdep *e = &d->v[i];
		const char *base;
		char *np;

		if (e->interp || in_default_dir(e->pack_path, cls, machine))
			continue;
		base = strrchr(e->pack_path, '/') + 1;
		if (asprintf(&np, "%s/%s", target, base) < 0)
			return -ENOMEM;
		free(e->pack_path);
		e->pack_path = np;
	}
	return 0;
}

int elfdeps_resolve(struct elfdeps *out, const char *const *roots, size_t n,
		    const struct elfdeps_opts *opts, struct ierr *err)
{
	struct ed_walk w = {.out = out, .opts = opts, .err = err};
	const char *cache = opts && opts->ld_so_cache ? opts->ld_so_cache : LDCACHE_DEFAULT_PATH;
	int ret = 0, cls = 0, machine = 0;

	memset(out, 0, sizeof(*out));
	elf_lib_init();
	/* an unreadable or old-format cache only costs the cache step */
	if (*cache && ldcache_load(&w.cache, cache) == 0)
		w.have_cache = true;

	for (size_t i = 0; i < n; i++) {
		struct elf_info ei;
		char real[PATH_MAX];

		if (!realpath(roots[i], real)) {
			ret = ierr_set(err, -errno, "%s: %s", roots[i], strerror(errno));
			goto out;
		}
		ret = elf_info_read(real, &ei);
		if (ret) {
			ierr_set(err, ret, "%s: %s", roots[i],
				 ret == -ENOEXEC ? "malformed ELF file" : strerror(-ret));
			goto out;
		}
		if (ei.is_elf && !cls) {
			cls = ei.cls;
			machine = ei.machine;
		}
		if (ei.is_elf)
			ret = obj_push(&w, real, &ei, -1);
		elf_info_free(&ei);
		if (ret)
			goto out;
	}

	/*
	 * breadth-first: objects are appended while the list is walked, so it is
	 * indexed afresh each time (the array moves when it grows)
	 */
	for (size_t i = 0; i < w.n_objs && !ret; i++) {
		if (w.objs[i].ei.interp)
			ret = add_interp(&w, (int)i, w.objs[i].ei.interp);
		for (size_t k = 0; !ret && k < w.objs[i].ei.n_needed; k++)
			ret = add_needed(&w, (int)i, w.objs[i].ei.needed[k]);
	}
	if (ret)
		goto out;
	if (cls)
		ret = relocate(out, cls, machine);
out:
	for (size_t i = 0; i < w.n_objs; i++) {
		free(w.objs[i].path);
		elf_info_free(&w.objs[i].ei);
	}
	free(w.objs);
	if (w.have_cache)
		ldcache_free(&w.cache);
	if (ret)
		elfdeps_free(out);
	return ret;
}

void elfdeps_free(struct elfdeps *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].name);
		free(d->v[i].host_path);
		free(d->v[i].real_path);
		free(d->v[i].pack_path);
		free(d->v[i].needed_by);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
