/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the virtio-core fuzz targets (fuzz_gm, fuzz_vq,
 * fuzz_mmio): reading fields off the input, failing loudly, silencing logs.
 * Header-only so each target stays one translation unit.
 */
#ifndef KTSTR_TESTS_FUZZ_INPUT_H
#define KTSTR_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

/* A violated invariant must stop libFuzzer with a crash it can minimise. */
#define FZ_CHECK(cond)                    \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* Little-endian field of `bytes` bytes; zeros once the input runs out. */
static inline uint64_t fz_take(struct fz_in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

static inline void fz_log_sink(enum log_level lvl, const char *msg, void *opaque)
{
	(void)lvl;
	(void)msg;
	(void)opaque;
}

/* Guest-triggered warnings are expected by the thousand; printing them is all the cost. */
static inline void fz_quiet_logs(void)
{
	log_set_sink(fz_log_sink, NULL);
}

#endif
