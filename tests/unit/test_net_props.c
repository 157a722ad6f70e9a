// SPDX-License-Identifier: MIT
/*
 * virtio-net properties over random chains with a fixed seed
 * (specs/virtio-net.md §12 #132–#134; the open-ended versions run in
 * tests/fuzz/fuzz_net.c), plus a differential check that the DIRECT (one
 * copy) and STAGED (scratch buffer) devices leave identical guest memory and
 * counters behind.
 */
#include <criterion/criterion.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

#include "unit/test_net.h"

#define MIB	  (1ull << 20)
#define RQ	  8u /* both rings */
#define RX_WIN_LO 0x40000ull
#define RX_WIN_HI 0xF0000ull
#define STEPS	  400u
#define FRAME_MAX 200u

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	/* xorshift64*: deterministic, good enough to spread chain shapes. */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

struct scenario {
	bool random_tx, random_rx;
	uint64_t tx_addr_lo; /* random TX addresses start here (keeps TX off the RX buffer) */
};

static void setup(enum vnet_copy_mode mode)
{
	nt_make(mode, NULL, true);
	nt_walk_to_features_ok();
	nt_setup_rx(RQ);
	nt_setup_tx(RQ);
	nt_driver_ok();
}

static uint64_t pick_addr(struct rng *r, uint64_t lo, uint64_t hi)
{
	switch (below(r, 10)) {
	case 0:
		return UINT64_MAX - below(r, 64);
	case 1:
	case 2:
		return MIB + below(r, 15 * MIB); /* unmapped */
	default:
		return lo + below(r, hi - lo);
	}
}

static uint32_t pick_len(struct rng *r)
{
	switch (below(r, 10)) {
	case 0:
		return (uint32_t)below(r, 8 * MIB);
	case 1:
		return (uint32_t)below(r, 70000);
	default:
		return (uint32_t)below(r, 128);
	}
}

/* 1–8 random descriptors in slots 0..7 of queue q, then publish a head (sometimes >= size). */
static void random_chain(struct rng *r, uint16_t q, uint64_t lo, uint64_t hi, bool rx)
{
	unsigned n = 1 + (unsigned)below(r, 8);

	for (unsigned i = 0; i < n; i++) {
		uint32_t len = pick_len(r);
		uint16_t flags = (uint16_t)below(r, 8);

		/* RX buffers stay small so device writes never reach the rings or the TX frames. */
		if (rx)
			len = (uint32_t)below(r, 300);
		vdrv_set_desc(&NT.v, q, i, pick_addr(r, lo, hi), len, flags,
			      (uint16_t)below(r, 10));
	}
	vdrv_publish(&NT.v, q, (uint16_t)below(r, RQ + 2));
}

static uint16_t rx_outstanding(void)
{
	return (uint16_t)(NT.v.q[VNET_RXQ].avail_idx - vq_next_avail(vdev_queue(NT.d, VNET_RXQ)));
}

/* A TX frame with a random header and a random payload; returns the payload length. */
static uint32_t random_frame(struct rng *r, uint8_t *payload)
{
	uint8_t hdr[VNET_HDR_LEN];
	uint32_t n = (uint32_t)below(r, FRAME_MAX + 1);

	for (unsigned i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)rnd(r);
	for (uint32_t i = 0; i < n; i++)
		payload[i] = (uint8_t)rnd(r);
	vdrv_wmem(&NT.v, NT_TX_BUF, hdr, sizeof(hdr));
	vdrv_wmem(&NT.v, NT_TX_BUF + VNET_HDR_LEN, payload, n);
	nt_post1(VNET_TXQ, NT_TX_BUF, VNET_HDR_LEN + n, false);
	return n;
}

static void run(struct rng *r, const struct scenario *sc, struct vnet_snapshot *trace)
{
	uint8_t payload[FRAME_MAX];

	for (unsigned step = 0; step < STEPS; step++) {
		struct vnet_snapshot before = nt_snap(), after;
		uint16_t tx_used = vdrv_used_idx(&NT.v, VNET_TXQ);

		if (!rx_outstanding()) {
			if (sc->random_rx)
				random_chain(r, VNET_RXQ, RX_WIN_LO, RX_WIN_HI, true);
			else
				nt_post1(VNET_RXQ, NT_RX_BUF, 256, true);
		}
		if (sc->random_tx)
			random_chain(r, VNET_TXQ, sc->tx_addr_lo, MIB, false);
		else
			random_frame(r, payload);
		nt_kick_tx();

		after = nt_snap();
		for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
			cr_assert_geq(vnet_snapshot_field(&after, k),
				      vnet_snapshot_field(&before, k), "step %u: %s went down",
				      step, vnet_counter_name(k));
		cr_assert(vdrv_used_idx(&NT.v, VNET_TXQ) != tx_used ||
				  vnet_snapshot_events(&after) > vnet_snapshot_events(&before),
			  "step %u: a kick with a published chain made no progress", step);
		cr_assert_not(nt_needs_reset(), "step %u: well-formed rings got poisoned", step);
		if (trace)
			trace[step] = after;
	}
}

/* spec §12 #132 */
Test(net_props, random_tx_chains_never_crash_and_always_progress, .fini = nt_teardown)
{
	struct rng r = {0x9E3779B97F4A7C15ull};
	struct scenario sc = {.random_tx = true};

	setup(VNET_COPY_DIRECT);
	run(&r, &sc, NULL);
	cr_assert_gt(nt_snap().tx_chain_invalid, 0);
	cr_assert_gt(nt_snap().tx_packets, 0);
}

/* spec §12 #133 */
Test(net_props, random_rx_chains_never_crash_and_always_progress, .fini = nt_teardown)
{
	struct rng r = {0xD1B54A32D192ED03ull};
	struct scenario sc = {.random_rx = true};
	struct vnet_snapshot s;

	setup(VNET_COPY_DIRECT);
	run(&r, &sc, NULL);
	s = nt_snap();
	cr_assert_gt(s.rx_packets, 0);
	cr_assert_gt(s.rx_chain_invalid + s.rx_write_failed, 0);
	cr_assert_eq(s.tx_packets, STEPS, "every well-formed TX frame completes");
}

/* spec §12 #134 */
Test(net_props, random_tx_header_never_reaches_the_guest, .fini = nt_teardown)
{
	static const uint8_t rx_hdr[VNET_HDR_LEN] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	struct rng r = {0x243F6A8885A308D3ull};
	uint8_t payload[FRAME_MAX], got[VNET_HDR_LEN + FRAME_MAX];
	uint64_t bytes = 0;

	setup(VNET_COPY_DIRECT);
	for (unsigned i = 0; i < STEPS; i++) {
		uint32_t n;
		uint32_t len = ~0u;

		nt_post1(VNET_RXQ, NT_RX_BUF, 256, true);
		n = random_frame(&r, payload);
		nt_kick_tx();
		cr_assert(vdrv_pop_used(&NT.v, VNET_RXQ, NULL, &len));
		cr_assert_eq(len, VNET_HDR_LEN + n);
		vdrv_rmem(&NT.v, NT_RX_BUF, got, len);
		cr_assert_arr_eq(got, rx_hdr, VNET_HDR_LEN, "step %u: RX header changed", i);
		cr_assert_arr_eq(got + VNET_HDR_LEN, payload, n, "step %u: frame changed", i);
		bytes += n;
	}
	NT_EXPECT(.tx_packets = STEPS, .tx_bytes = bytes, .rx_packets = STEPS, .rx_bytes = bytes);
}

/* DIRECT and STAGED must be indistinguishable to a guest that does not alias TX and RX. */
static void differential(const struct scenario *sc, uint64_t seed)
{
	struct vnet_snapshot *ta = calloc(STEPS, sizeof(*ta)), *tb = calloc(STEPS, sizeof(*tb));
	uint8_t *mem = malloc(MIB);
	struct rng r;

	cr_assert(ta && tb && mem);
	r.s = seed;
	setup(VNET_COPY_DIRECT);
	run(&r, sc, ta);
	memcpy(mem, NT.v.host[0], MIB);
	nt_teardown();

	r.s = seed;
	setup(VNET_COPY_STAGED);
	run(&r, sc, tb);
	for (unsigned i = 0; i < STEPS; i++)
		cr_assert(vnet_snapshot_equal(&ta[i], &tb[i]), "counters differ at step %u", i);
	cr_assert_eq(memcmp(mem, NT.v.host[0], MIB), 0, "guest memory differs");
	nt_teardown();
	free(mem);
	free(ta);
	free(tb);
}

Test(net_props, direct_and_staged_agree_on_random_tx)
{
	struct scenario sc = {.random_tx = true, .tx_addr_lo = RX_WIN_LO};

	differential(&sc, 0x0123456789ABCDEFull);
}

Test(net_props, direct_and_staged_agree_on_random_rx)
{
	struct scenario sc = {.random_rx = true};

	differential(&sc, 0xFEDCBA9876543210ull);
}
