// SPDX-License-Identifier: MIT
/*
 * Byte buffers of the console ports. The capture side appends guest chunks
 * of up to 32 KiB and hands everything over to the host at once; the input
 * side is consumed from the front chunk by chunk. Keeping the bytes
 * contiguous makes both sides a single guest copy per descriptor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/console_int.h"

#define VC_BUF_MIN	4096u
#define VC_BUF_HINT_MAX (256u * 1024)

void vc_buf_free(struct vc_buf *b)
{
	free(b->mem);
	*b = (struct vc_buf){0};
}

/* Make room for n more bytes after the data, moving or growing as needed. */
static int vc_buf_room(struct vc_buf *b, size_t n)
{
	size_t need, ncap;
	uint8_t *m;

	if (n > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + n;
	if (b->off + need <= b->cap)
		return 0;
	if (need <= b->cap) {
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
		return 0;
	}
	/* After a handover, start at the size the last round needed: no regrowth. */
	ncap = b->cap ? b->cap : MAX(b->hint, (size_t)VC_BUF_MIN);
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (b->off) {
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
	}
	m = realloc(b->mem, ncap);
	if (!m)
		return -ENOMEM;
	b->mem = m;
	b->cap = ncap;
	return 0;
}

uint8_t *vc_buf_reserve(struct vc_buf *b, size_t n)
{
	if (vc_buf_room(b, n))
		return NULL;
	return b->mem + b->off + b->len;
}

void vc_buf_commit(struct vc_buf *b, size_t n)
{
	b->len += n;
}

int vc_buf_append(struct vc_buf *b, const void *p, size_t n)
{
	uint8_t *dst;

	if (!n)
		return 0;
	dst = vc_buf_reserve(b, n);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, p, n);
	vc_buf_commit(b, n);
	return 0;
}

/* Rare (one unfinished frame per run): reuse the gap at the front when it fits. */
int vc_buf_prepend(struct vc_buf *b, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (b->off < n) {
		if (vc_buf_room(b, n))
			return -ENOMEM;
		memmove(b->mem + n, b->mem + b->off, b->len);
		b->off = n;
	}
	b->off -= n;
	b->len += n;
	memcpy(b->mem + b->off, p, n);
	return 0;
}

void vc_buf_consume(struct vc_buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

/* Hand the bytes over without copying when they start at the allocation. */
size_t vc_buf_take(struct vc_buf *b, uint8_t **out)
{
	size_t n = b->len;

	*out = NULL;
	if (!n)
		return 0;
	if (b->off)
		memmove(b->mem, b->mem + b->off, n);
	*out = b->mem;
	*b = (struct vc_buf){.hint = MIN(b->cap, (size_t)VC_BUF_HINT_MAX)};
	return n;
}

size_t vc_buf_read(struct vc_buf *b, void *dst, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (n)
		memcpy(dst, vc_buf_data(b), n);
	vc_buf_consume(b, n);
	return n;
}
