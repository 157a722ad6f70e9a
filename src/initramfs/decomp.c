// SPDX-License-Identifier: MIT
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "initramfs/decomp.h"

enum decomp_fmt decomp_fmt_of(const char *name)
{
	size_t n = strlen(name);

	if (n >= 3 && !strcmp(name + n - 3, ".xz"))
		return DECOMP_XZ;
	if (n >= 4 && !strcmp(name + n - 4, ".zst"))
		return DECOMP_ZSTD;
	if (n >= 3 && !strcmp(name + n - 3, ".gz"))
		return DECOMP_GZIP;
	return DECOMP_NONE;
}

const char *decomp_suffix(enum decomp_fmt fmt)
{
	switch (fmt) {
	case DECOMP_XZ:
		return ".xz";
	case DECOMP_ZSTD:
		return ".zst";
	case DECOMP_GZIP:
		return ".gz";
	default:
		return "";
	}
}

/* Output buffer that doubles up to a limit; each decoder writes into its free tail. */
struct obuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;
};

static int obuf_grow(struct obuf *o)
{
	size_t cap;
	uint8_t *np;

	if (o->cap >= o->max)
		return -EFBIG;
	cap = o->cap ? o->cap * 2 : 256 * 1024;
	if (cap > o->max || cap < o->cap)
		cap = o->max;
	np = realloc(o->p, cap);
	if (!np)
		return -ENOMEM;
	o->p = np;
	o->cap = cap;
	return 0;
}

static int unxz(const uint8_t *in, size_t len, struct obuf *o)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;
	int ret = 0;

	if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = len;
	do {
		if (o->len == o->cap && (ret = obuf_grow(o)))
			break;
		s.next_out = o->p + o->len;
		s.avail_out = o->cap - o->len;
		r = lzma_code(&s, LZMA_FINISH);
		o->len = o->cap - s.avail_out;
		if (r != LZMA_OK && r != LZMA_STREAM_END) {
			ret = r == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
			break;
		}
		/* no progress with output room left means the input ended early */
		if (r == LZMA_OK && s.avail_out && !s.avail_in) {
			ret = -EBADMSG;
			break;
		}
	} while (r != LZMA_STREAM_END);
	lzma_end(&s);
	return ret;
}

static int unzstd(const uint8_t *in, size_t len, struct obuf *o)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer ib = {in, len, 0};
	size_t r = 1;
	int ret = 0;

	if (!dc)
		return -ENOMEM;
	while (ib.pos < ib.size || r != 0) {
		ZSTD_outBuffer ob;

		if (o->len == o->cap && (ret = obuf_grow(o)))
			break;
		ob = (ZSTD_outBuffer){o->p, o->cap, o->len};
		r = ZSTD_decompressStream(dc, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(r)) {
			ret = -EBADMSG;
			break;
		}
		/* r != 0 with all input used and room left: the frame is truncated */
		if (r && ib.pos == ib.size && ob.pos < ob.size) {
			ret = -EBADMSG;
			break;
		}
	}
	ZSTD_freeDCtx(dc);
	return ret;
}

static int ungzip(const uint8_t *in, size_t len, struct obuf *o)
{
	z_stream z;
	int r, ret = 0;

	memset(&z, 0, sizeof(z));
	/* 15 + 32: largest window, accept both the gzip and the zlib wrapper */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	if (len > UINT32_MAX) {
		inflateEnd(&z);
		return -EFBIG;
	}
	do {
		size_t room;

		if (o->len == o->cap && (ret = obuf_grow(o)))
			break;
		room = o->cap - o->len;
		z.next_out = o->p + o->len;
		z.avail_out = (uInt)(room > UINT32_MAX ? UINT32_MAX : room);
		r = inflate(&z, Z_NO_FLUSH);
		o->len += (room > UINT32_MAX ? UINT32_MAX : room) - z.avail_out;
		if (r == Z_BUF_ERROR && z.avail_in == 0) {
			ret = -EBADMSG;
			break;
		}
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
			ret = r == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			break;
		}
	} while (r != Z_STREAM_END);
	inflateEnd(&z);
	return ret;
}

int decomp_buffer(enum decomp_fmt fmt, const uint8_t *in, size_t len, size_t max, uint8_t **out,
		  size_t *out_len)
{
	struct obuf o = {.max = max};
	int ret;

	switch (fmt) {
	case DECOMP_XZ:
		ret = unxz(in, len, &o);
		break;
	case DECOMP_ZSTD:
		ret = unzstd(in, len, &o);
		break;
	case DECOMP_GZIP:
		ret = ungzip(in, len, &o);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret) {
		free(o.p);
		return ret;
	}
	*out = o.p ? o.p : malloc(1);
	*out_len = o.len;
	return *out ? 0 : -ENOMEM;
}
