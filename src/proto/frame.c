// SPDX-License-Identifier: MIT
/* Frame header, tags and CRC (specs/guest-protocol.md §1.2–§1.4). */
#include "proto/frame.h"

#include <endian.h>
#include <pthread.h>
#include <string.h>

#include "base/compiler.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t proto_crc32(uint32_t prev, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t c = ~prev;

	pthread_once(&crc_once, crc_table_init);
	while (n--)
		c = crc_table[(c ^ *b++) & 0xFF] ^ (c >> 8);
	return ~c;
}

bool proto_tag_chars_ok(uint32_t tag)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		uint8_t c = (uint8_t)(tag >> shift);
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

bool proto_hdr_valid(const struct proto_hdr *h, uint32_t max_payload)
{
	return h->reserved == 0 && h->len <= max_payload && proto_tag_chars_ok(h->tag);
}

void proto_hdr_decode(const uint8_t raw[PROTO_HDR_SIZE], struct proto_hdr *h)
{
	uint32_t w[4];

	memcpy(w, raw, sizeof(w));
	h->tag = le32toh(w[0]);
	h->len = le32toh(w[1]);
	h->crc = le32toh(w[2]);
	h->reserved = le32toh(w[3]);
}

static const uint32_t g2h_tags[] = {
	PROTO_HELO, PROTO_LIFE, PROTO_SOUT, PROTO_SERR, PROTO_EXCX, PROTO_DMSG, PROTO_IERR,
	PROTO_CRSH, PROTO_PONG, PROTO_DONE, PROTO_SRDY, PROTO_KADR, PROTO_SCST, PROTO_STIM,
	PROTO_STEN, PROTO_SCEN, PROTO_SCPP, PROTO_SCRR, PROTO_TEST, PROTO_EXIT, PROTO_SCDX,
	PROTO_SCLG, PROTO_PMET, PROTO_RAWO, PROTO_PRAW, PROTO_WPRF, PROTO_PROB, PROTO_SNRQ,
	PROTO_KORQ, PROTO_BLBS, PROTO_BLBD, PROTO_BLBE,
};

static const uint32_t h2g_tags[] = {
	PROTO_PING, PROTO_SHUT, PROTO_SIGN, PROTO_SINP, PROTO_SEOF,
	PROTO_SNRP, PROTO_KORP, PROTO_HSIG, PROTO_BREQ,
};

bool proto_tag_known(uint32_t tag, enum proto_dir dir)
{
	const uint32_t *t = dir == PROTO_G2H ? g2h_tags : h2g_tags;
	size_t n = dir == PROTO_G2H ? ARRAY_SIZE(g2h_tags) : ARRAY_SIZE(h2g_tags);

	for (size_t i = 0; i < n; i++)
		if (t[i] == tag)
			return true;
	return false;
}

const char *proto_tag_str(uint32_t tag, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)(tag >> (24 - 8 * i));
		buf[i] = (c >= 0x20 && c < 0x7F) ? c : '?';
	}
	buf[4] = '\0';
	return buf;
}

size_t proto_encode(uint8_t *dst, size_t cap, uint32_t tag, const void *p, uint32_t n)
{
	uint32_t w[4];

	if (n > PROTO_MAX_PAYLOAD || cap < PROTO_HDR_SIZE || cap - PROTO_HDR_SIZE < n)
		return 0;
	w[0] = htole32(tag);
	w[1] = htole32(n);
	w[2] = htole32(n ? proto_crc32(0, p, n) : 0);
	w[3] = 0;
	memcpy(dst, w, sizeof(w));
	if (n)
		memmove(dst + PROTO_HDR_SIZE, p, n);
	return PROTO_HDR_SIZE + (size_t)n;
}

size_t proto_chunk(size_t total, size_t chunk, uint32_t *sizes, size_t max)
{
	size_t n = 0;

	if (chunk == 0)
		return 0;
	while (total) {
		size_t take = total < chunk ? total : chunk;
		if (sizes && n < max)
			sizes[n] = (uint32_t)take;
		n++;
		total -= take;
	}
	return n;
}
