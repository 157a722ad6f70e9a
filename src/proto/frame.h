/* SPDX-License-Identifier: MIT */
/*
 * Host <-> guest framing on the bulk port (specs/guest-protocol.md §1).
 *
 * A frame is a 16-byte little-endian header {tag, len, crc, reserved} and
 * `len` payload bytes; the CRC (CRC-32/ISO-HDLC) covers the payload only.
 * Shared by the host reader and the guest init.
 */
#ifndef KTSTR_PROTO_FRAME_H
#define KTSTR_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_HDR_SIZE	    16u
#define PROTO_MAX_PAYLOAD   (16u * 1024 * 1024)
#define PROTO_ATOMIC_FRAME  32768u
#define PROTO_CHUNK	    (PROTO_ATOMIC_FRAME - PROTO_HDR_SIZE)
#define PROTO_GUEST_RX_MAX  (1024u * 1024)
#define PROTO_VERSION_MAJOR 1
#define PROTO_VERSION_MINOR 0

/* Four ASCII characters read as a big-endian u32 (stored LE on the wire). */
#define PROTO_TAG(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

enum proto_tag {
	/* guest -> host, M1 */
	PROTO_HELO = PROTO_TAG('H', 'E', 'L', 'O'),
	PROTO_LIFE = PROTO_TAG('L', 'I', 'F', 'E'),
	PROTO_SOUT = PROTO_TAG('S', 'O', 'U', 'T'),
	PROTO_SERR = PROTO_TAG('S', 'E', 'R', 'R'),
	PROTO_EXCX = PROTO_TAG('E', 'X', 'C', 'X'),
	PROTO_DMSG = PROTO_TAG('D', 'M', 'S', 'G'),
	PROTO_IERR = PROTO_TAG('I', 'E', 'R', 'R'),
	PROTO_CRSH = PROTO_TAG('C', 'R', 'S', 'H'),
	PROTO_PONG = PROTO_TAG('P', 'O', 'N', 'G'),
	PROTO_DONE = PROTO_TAG('D', 'O', 'N', 'E'),
	/* host -> guest, M1 */
	PROTO_PING = PROTO_TAG('P', 'I', 'N', 'G'),
	PROTO_SHUT = PROTO_TAG('S', 'H', 'U', 'T'),
	PROTO_SIGN = PROTO_TAG('S', 'I', 'G', 'N'),
	PROTO_SINP = PROTO_TAG('S', 'I', 'N', 'P'),
	PROTO_SEOF = PROTO_TAG('S', 'E', 'O', 'F'),
	/* guest -> host, later milestones (defined now so the wire never changes) */
	PROTO_SRDY = PROTO_TAG('S', 'R', 'D', 'Y'),
	PROTO_KADR = PROTO_TAG('K', 'A', 'D', 'R'),
	PROTO_SCST = PROTO_TAG('S', 'C', 'S', 'T'),
	PROTO_STIM = PROTO_TAG('S', 'T', 'I', 'M'),
	PROTO_STEN = PROTO_TAG('S', 'T', 'E', 'N'),
	PROTO_SCEN = PROTO_TAG('S', 'C', 'E', 'N'),
	PROTO_SCPP = PROTO_TAG('S', 'C', 'P', 'P'),
	PROTO_SCRR = PROTO_TAG('S', 'C', 'R', 'R'),
	PROTO_TEST = PROTO_TAG('T', 'E', 'S', 'T'),
	PROTO_EXIT = PROTO_TAG('E', 'X', 'I', 'T'),
	PROTO_SCDX = PROTO_TAG('S', 'C', 'D', 'X'),
	PROTO_SCLG = PROTO_TAG('S', 'C', 'L', 'G'),
	PROTO_PMET = PROTO_TAG('P', 'M', 'E', 'T'),
	PROTO_RAWO = PROTO_TAG('R', 'A', 'W', 'O'),
	PROTO_PRAW = PROTO_TAG('P', 'R', 'A', 'W'),
	PROTO_WPRF = PROTO_TAG('W', 'P', 'R', 'F'),
	PROTO_PROB = PROTO_TAG('P', 'R', 'O', 'B'),
	PROTO_SNRQ = PROTO_TAG('S', 'N', 'R', 'Q'),
	PROTO_KORQ = PROTO_TAG('K', 'O', 'R', 'Q'),
	PROTO_BLBS = PROTO_TAG('B', 'L', 'B', 'S'),
	PROTO_BLBD = PROTO_TAG('B', 'L', 'B', 'D'),
	PROTO_BLBE = PROTO_TAG('B', 'L', 'B', 'E'),
	/* host -> guest, later */
	PROTO_SNRP = PROTO_TAG('S', 'N', 'R', 'P'),
	PROTO_KORP = PROTO_TAG('K', 'O', 'R', 'P'),
	PROTO_HSIG = PROTO_TAG('H', 'S', 'I', 'G'),
	PROTO_BREQ = PROTO_TAG('B', 'R', 'E', 'Q'),
};

enum proto_dir { PROTO_G2H, PROTO_H2G };

struct proto_hdr {
	uint32_t tag, len, crc, reserved;
};
_Static_assert(sizeof(struct proto_hdr) == PROTO_HDR_SIZE, "frame header is 16 bytes");

/* CRC-32 (ISO-HDLC); start with prev = 0; incremental calls chain. */
uint32_t proto_crc32(uint32_t prev, const void *p, size_t n);

/* Each of the four tag characters is A-Z or 0-9. */
bool proto_tag_chars_ok(uint32_t tag);
/* Valid iff reserved == 0, len <= max_payload and the tag characters are OK (§1.2). */
bool proto_hdr_valid(const struct proto_hdr *h, uint32_t max_payload);
void proto_hdr_decode(const uint8_t raw[PROTO_HDR_SIZE], struct proto_hdr *h);
/* Known tag for that direction (§2.1), M1 and later ones alike. */
bool proto_tag_known(uint32_t tag, enum proto_dir dir);
/* "SOUT" for PROTO_SOUT; buf must hold 5 bytes; non-printable characters become '?'. */
const char *proto_tag_str(uint32_t tag, char buf[5]);

/*
 * Encode one frame into dst. Returns the frame size, or 0 when it does not fit
 * in cap or n exceeds PROTO_MAX_PAYLOAD (the reserved field is always 0).
 */
size_t proto_encode(uint8_t *dst, size_t cap, uint32_t tag, const void *p, uint32_t n);

/*
 * Split a byte stream into payload pieces of at most PROTO_CHUNK bytes (so
 * each frame is one atomic write). Returns the number of pieces; with
 * sizes != NULL stores up to max piece lengths.
 */
size_t proto_chunk(size_t total, size_t chunk, uint32_t *sizes, size_t max);

#endif
