// SPDX-License-Identifier: MIT
#include "proto/serial_rec.h"

#include <string.h>

size_t serial_record_encode(uint8_t *dst, size_t cap, const char *header, const void *body,
			    size_t n)
{
	size_t h = strnlen(header, SERIAL_HEADER_MAX);
	size_t total = 1 + h + 1 + n;

	if (h == 0 || total > cap)
		return 0;
	dst[0] = SERIAL_RS;
	for (size_t i = 0; i < h; i++) {
		unsigned char c = (unsigned char)header[i];
		/* A stray LF would end the header early and turn the rest into unframed text. */
		dst[1 + i] = (c < 0x20 || c == 0x7F) ? ' ' : c;
	}
	dst[1 + h] = '\n';
	if (n)
		memcpy(dst + 2 + h, body, n);
	return total;
}
