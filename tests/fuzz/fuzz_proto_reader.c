// SPDX-License-Identifier: MIT
/*
 * specs/guest-protocol.md §5.3 #31: arbitrary bytes in arbitrary feed splits.
 * The first input byte picks host or guest configuration and a split seed;
 * the invariant checked is the buffer bound of §1.6.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *opaque, const struct proto_event *ev)
{
	uint64_t *sum = opaque;
	if (ev->kind == PROTO_EV_FRAME && ev->len)
		*sum += ev->payload[0] + ev->payload[ev->len - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader r;
	struct proto_reader_result res;
	uint64_t sum = 0;
	uint8_t mode, step;
	size_t pos;

	if (size < 2)
		return 0;
	mode = data[0];
	step = data[1];
	struct proto_reader_cfg cfg = {
		.max_payload = (mode & 1) ? PROTO_GUEST_RX_MAX : PROTO_MAX_PAYLOAD,
		.resync = !(mode & 1),
		.dir = (mode & 2) ? PROTO_H2G : PROTO_G2H,
	};
	proto_reader_init(&r, &cfg);
	for (pos = 2; pos < size;) {
		size_t n = (size_t)(step % 97) + 1;
		if (n > size - pos)
			n = size - pos;
		proto_reader_feed(&r, data + pos, n, sink, &sum);
		if (r.len > PROTO_HDR_SIZE + cfg.max_payload + n)
			__builtin_trap();
		pos += n;
		step = (uint8_t)(step * 31 + 7);
	}
	proto_reader_finish(&r, &res);
	proto_reader_destroy(&r);
	return 0;
}
