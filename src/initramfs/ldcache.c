// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "initramfs/fsutil.h"
#include "initramfs/ldcache.h"

#define LDC_MAGIC      "glibc-ld.so.cache1.1"
#define LDC_MAGIC_LEN  20u
#define LDC_HDR	       48u
#define LDC_ENTRY      24u
#define LDC_FLAGS_OFF  28u
#define LDC_ENDIAN_BIG 3u
#define LDC_MAX_FILE   (64u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int ldcache_parse(struct ldcache *lc, const uint8_t *data, size_t len)
{
	uint32_t nlibs;

	memset(lc, 0, sizeof(*lc));
	if (len < LDC_HDR || memcmp(data, LDC_MAGIC, LDC_MAGIC_LEN))
		return -EINVAL;
	/* a big-endian cache cannot describe this (little-endian) host's libraries */
	if (data[LDC_FLAGS_OFF] == LDC_ENDIAN_BIG)
		return -EINVAL;
	nlibs = le32(data + 20);
	if (nlibs > (len - LDC_HDR) / LDC_ENTRY)
		return -EINVAL;
	lc->data = (uint8_t *)data;
	lc->len = len;
	lc->nlibs = nlibs;
	return 0;
}

int ldcache_load(struct ldcache *lc, const char *path)
{
	uint8_t *data;
	size_t len;
	int ret;

	memset(lc, 0, sizeof(*lc));
	ret = fs_read_file(path, LDC_MAX_FILE, &data, &len);
	if (ret)
		return ret;
	ret = ldcache_parse(lc, data, len);
	if (ret) {
		free(data);
		return ret;
	}
	lc->owned = 1;
	return 0;
}

void ldcache_free(struct ldcache *lc)
{
	if (lc->owned)
		free(lc->data);
	memset(lc, 0, sizeof(*lc));
}

/* A string at off, only if it ends inside the file. */
static const char *ldc_str(const struct ldcache *lc, uint32_t off)
{
	if (off >= lc->len || !memchr(lc->data + off, 0, lc->len - off))
		return NULL;
	return (const char *)lc->data + off;
}

const char *ldcache_next(const struct ldcache *lc, const char *soname, uint32_t *iter)
{
	for (; *iter < lc->nlibs; (*iter)++) {
		const uint8_t *e = lc->data + LDC_HDR + (size_t)*iter * LDC_ENTRY;
		const char *key = ldc_str(lc, le32(e + 4));
		const char *val = ldc_str(lc, le32(e + 8));

		if (!key || !val || le64(e + 16) != 0 || strcmp(key, soname))
			continue;
		(*iter)++;
		return val;
	}
	return NULL;
}
