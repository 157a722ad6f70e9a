/* SPDX-License-Identifier: MIT */
/* The host mapping behind guest RAM. */
#ifndef KTSTR_VMM_GUEST_RAM_H
#define KTSTR_VMM_GUEST_RAM_H

#include <stdint.h>

#define GUEST_RAM_ALIGN (2ull << 20)

/*
 * bytes of zeroed, lazily faulted anonymous memory whose base is
 * GUEST_RAM_ALIGN aligned, advised for transparent huge pages; NULL with
 * errno set on failure. Release it with munmap(ram, bytes).
 */
uint8_t *guest_ram_map(uint64_t bytes);

#endif
