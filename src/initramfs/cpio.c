// SPDX-License-Identifier: MIT
/*
 * newc cpio writer. Layout of one entry: a 110-byte ASCII header ("070701"
 * then 13 fields of 8 upper-case hex digits), the NUL-terminated name, zero
 * padding so that header + name ends on a 4-byte boundary, the data, zero
 * padding to the next 4-byte boundary. The kernel (init/initramfs.c) checks
 * exactly this alignment, so it is computed in one place (pad4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "initramfs/cpio.h"
#include "initramfs/fsutil.h"

struct cpio_node {
	char *path; /* NULL = free slot */
	uint32_t mode;
};

#define CPIO_TRAILER "TRAILER!!!"
#define CPIO_BLOCK   512u

void cpio_init(struct cpio *c)
{
	memset(c, 0, sizeof(*c));
	c->next_ino = 1;
}

void cpio_free(struct cpio *c)
{
	for (size_t i = 0; i < c->nodes_cap; i++)
		free(c->nodes[i].path);
	free(c->nodes);
	free(c->buf);
	cpio_init(c);
}

uint8_t *cpio_take(struct cpio *c, size_t *len)
{
	uint8_t *buf = c->buf;

	*len = c->len;
	c->buf = NULL;
	c->len = c->cap = 0;
	return buf;
}

static size_t pad4(size_t n)
{
	return (4 - (n & 3)) & 3;
}

/*
 * Canonical stored form: no leading or trailing '/', no empty, "." or ".."
 * components (a ".." would let an archive write outside the extraction
 * directory of cpio(1); "." entries have no use here).
 */
static int cpio_normalize(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p = in;

	while (*p) {
		const char *s;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return -EINVAL;
		if (o + (o ? 1 : 0) + n >= outlen || o + (o ? 1 : 0) + n > CPIO_NAME_MAX)
			return -ENAMETOOLONG;
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	if (!o)
		return -EINVAL;
	out[o] = 0;
	return 0;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static struct cpio_node *node_slot(const struct cpio *c, const char *path)
{
	size_t mask = c->nodes_cap - 1, i;

	if (!c->nodes_cap)
		return NULL;
	for (i = hash_str(path) & mask;; i = (i + 1) & mask) {
		struct cpio_node *n = &c->nodes[i];

		if (!n->path || !strcmp(n->path, path))
			return n;
	}
}

static int node_grow(struct cpio *c)
{
	struct cpio_node *old = c->nodes;
	size_t old_cap = c->nodes_cap, cap = old_cap ? old_cap * 2 : 64;

	c->nodes = calloc(cap, sizeof(*c->nodes));
	if (!c->nodes) {
		c->nodes = old;
		return -ENOMEM;
	}
	c->nodes_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].path)
			*node_slot(c, old[i].path) = old[i];
	free(old);
	return 0;
}

int cpio_lookup(const struct cpio *c, const char *path, uint32_t *mode)
{
	char norm[CPIO_NAME_MAX + 1];
	struct cpio_node *n;

	if (cpio_normalize(path, norm, sizeof(norm)))
		return -ENOENT;
	n = node_slot(c, norm);
	if (!n || !n->path)
		return -ENOENT;
	if (mode)
		*mode = n->mode;
	return 0;
}

static int node_insert(struct cpio *c, const char *norm, uint32_t mode)
{
	struct cpio_node *n;
	int ret;

	/* keep the load factor under 1/2 so probing stays short */
	if ((c->nodes_len + 1) * 2 > c->nodes_cap) {
		ret = node_grow(c);
		if (ret)
			return ret;
	}
	n = node_slot(c, norm);
	n->path = strdup(norm);
	if (!n->path)
		return -ENOMEM;
	n->mode = mode;
	c->nodes_len++;
	return 0;
}

static int buf_reserve(struct cpio *c, size_t extra)
{
	size_t need, cap;
	uint8_t *nb;

	if (__builtin_add_overflow(c->len, extra, &need))
		return -ENOMEM;
	if (need <= c->cap)
		return 0;
	cap = c->cap ? c->cap : 64 * 1024;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, 2, &cap))
			return -ENOMEM;
	}
	nb = realloc(c->buf, cap);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	c->cap = cap;
	return 0;
}

static void put_hex8(uint8_t *p, uint32_t v)
{
	static const char digits[] = "0123456789ABCDEF";

	for (int i = 7; i >= 0; i--, v >>= 4)
		p[i] = (uint8_t)digits[v & 0xf];
}

/* Append one raw entry; `name` is already normalised (or the trailer). */
static int emit(struct cpio *c, const char *name, uint32_t ino, uint32_t mode, uint32_t nlink,
		uint32_t rmajor, uint32_t rminor, const void *data, size_t len)
{
	size_t namesz = strlen(name) + 1;
	size_t head = CPIO_HDR_SIZE + namesz, total;
	uint32_t fields[13] = {
		ino, mode, 0, 0, nlink, 0, (uint32_t)len, 0, 0, rmajor, rminor, (uint32_t)namesz,
		0};
	uint8_t *p;
	int ret;

	if ((uint64_t)len > CPIO_FILE_MAX)
		return -EFBIG;
	total = head + pad4(head) + len + pad4(len);
	ret = buf_reserve(c, total);
	if (ret)
		return ret;
	p = c->buf + c->len;
	memcpy(p, "070701", 6);
	for (unsigned i = 0; i < 13; i++)
		put_hex8(p + 6 + 8 * i, fields[i]);
	memcpy(p + CPIO_HDR_SIZE, name, namesz);
	memset(p + head, 0, pad4(head));
	p += head + pad4(head);
	if (len)
		memcpy(p, data, len);
	memset(p + len, 0, pad4(len));
	c->len += total;
	return 0;
}

static int add_entry(struct cpio *c, const char *norm, uint32_t mode, uint32_t rmajor,
		     uint32_t rminor, const void *data, size_t len);

/* Create every missing ancestor of norm as a 0755 directory, outermost first. */
static int add_parents(struct cpio *c, const char *norm)
{
	char buf[CPIO_NAME_MAX + 1];
	size_t n = strlen(norm);
	int ret;

	memcpy(buf, norm, n + 1);
	for (size_t i = 0; i < n; i++) {
		uint32_t mode;

		if (buf[i] != '/')
			continue;
		buf[i] = 0;
		if (cpio_lookup(c, buf, &mode) == 0) {
			if (!S_ISDIR(mode))
				return -ENOTDIR;
		} else {
			ret = add_entry(c, buf, S_IFDIR | 0755, 0, 0, NULL, 0);
			if (ret)
				return ret;
		}
		buf[i] = '/';
	}
	return 0;
}

static int add_entry(struct cpio *c, const char *norm, uint32_t mode, uint32_t rmajor,
		     uint32_t rminor, const void *data, size_t len)
{
	uint32_t ino;
	int ret;

	if ((uint64_t)len > CPIO_FILE_MAX)
		return -EFBIG;
	ret = add_parents(c, norm);
	if (ret)
		return ret;
	ret = node_insert(c, norm, mode);
	if (ret)
		return ret;
	ino = c->next_ino++;
	return emit(c, norm, ino, mode, S_ISDIR(mode) ? 2 : 1, rmajor, rminor, data, len);
}

static int add_checked(struct cpio *c, const char *path, uint32_t mode, uint32_t rmajor,
		       uint32_t rminor, const void *data, size_t len)
{
	char norm[CPIO_NAME_MAX + 1];
	uint32_t old;
	int ret;

	if (c->finished)
		return -EBUSY;
	ret = cpio_normalize(path, norm, sizeof(norm));
	if (ret)
		return ret;
	if (cpio_lookup(c, norm, &old) == 0)
		return S_ISDIR(old) && S_ISDIR(mode) ? 0 : -EEXIST;
	return add_entry(c, norm, mode, rmajor, rminor, data, len);
}

int cpio_add_dir(struct cpio *c, const char *path, uint32_t perm)
{
	return add_checked(c, path, S_IFDIR | (perm & 07777), 0, 0, NULL, 0);
}

int cpio_add_file(struct cpio *c, const char *path, uint32_t perm, const void *data, size_t len)
{
	return add_checked(c, path, S_IFREG | (perm & 07777), 0, 0, data, len);
}

int cpio_add_host_file(struct cpio *c, const char *path, int perm, const char *host_path)
{
	struct stat st;
	uint8_t *data;
	size_t len;
	int ret;

	if (stat(host_path, &st) < 0)
		return -errno;
	ret = fs_read_file(host_path, CPIO_FILE_MAX, &data, &len);
	if (ret)
		return ret;
	ret = cpio_add_file(c, path, perm == CPIO_PERM_HOST ? st.st_mode : (uint32_t)perm, data,
			    len);
	free(data);
	return ret;
}

int cpio_add_symlink(struct cpio *c, const char *path, const char *target)
{
	size_t n = strlen(target);

	/* the kernel reads the target as the entry's data and caps it at PATH_MAX */
	if (!n)
		return -EINVAL;
	if (n > CPIO_NAME_MAX)
		return -ENAMETOOLONG;
	return add_checked(c, path, S_IFLNK | 0777, 0, 0, target, n);
}

int cpio_add_chardev(struct cpio *c, const char *path, uint32_t perm, uint32_t major,
		     uint32_t minor)
{
	return add_checked(c, path, S_IFCHR | (perm & 07777), major, minor, NULL, 0);
}

int cpio_finish(struct cpio *c)
{
	size_t pad;
	int ret;

	if (c->finished)
		return -EBUSY;
	ret = emit(c, CPIO_TRAILER, 0, 0, 1, 0, 0, NULL, 0);
	if (ret)
		return ret;
	pad = (CPIO_BLOCK - (c->len % CPIO_BLOCK)) % CPIO_BLOCK;
	ret = buf_reserve(c, pad);
	if (ret)
		return ret;
	memset(c->buf + c->len, 0, pad);
	c->len += pad;
	c->finished = true;
	return 0;
}
