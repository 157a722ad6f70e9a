/* SPDX-License-Identifier: MIT */
/*
 * patgen SEED BYTES: write BYTES bytes of a seeded pseudo-random pattern to
 * stdout. The e2e disk case runs it in the guest (to fill /dev/vda) and in L1
 * (to check the backing file), so both sides must produce the same bytes from
 * the same seed: a fixed xorshift64* stream, little-endian, no libc PRNG whose
 * sequence could differ between builds. Built static by tools/l1-tools.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static uint64_t next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

int main(int argc, char **argv)
{
	static unsigned char buf[CHUNK];
	char *end;
	uint64_t seed, left;

	if (argc != 3) {
		fprintf(stderr, "usage: patgen SEED BYTES\n");
		return 2;
	}
	seed = strtoull(argv[1], &end, 0);
	if (*end) {
		fprintf(stderr, "patgen: bad seed '%s'\n", argv[1]);
		return 2;
	}
	left = strtoull(argv[2], &end, 0);
	if (*end) {
		fprintf(stderr, "patgen: bad size '%s'\n", argv[2]);
		return 2;
	}
	/* xorshift has a fixed point at 0; mix the seed so every value works. */
	uint64_t s = seed ^ 0x9E3779B97F4A7C15ULL;
	if (!s)
		s = 1;
	while (left) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = next(&s);
			for (size_t b = 0; b < 8 && i + b < n; b++)
				buf[i + b] = (unsigned char)(v >> (8 * b));
		}
		for (size_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				fprintf(stderr, "patgen: write: %s\n", strerror(errno));
				return 1;
			}
			off += (size_t)w;
		}
		left -= n;
	}
	return 0;
}
