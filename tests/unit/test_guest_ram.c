// SPDX-License-Identifier: MIT
/* The guest RAM mapping: 2 MiB aligned (KVM huge-page backing), exact size, zeroed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/guest_ram.h"

/* msync() on a range answers ENOMEM when part of it is not mapped. */
static bool mapped(const void *p, size_t len)
{
	return msync((void *)p, len, MS_ASYNC) == 0;
}

Test(guest_ram, base_is_2mib_aligned_for_every_size)
{
	static const uint64_t sizes[] = {256ull << 20, (256ull << 20) + 4096, 2ull << 20, 4096,
					 (3ull << 30) + (6ull << 20)};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *ram = guest_ram_map(sizes[i]);

		cr_assert_not_null(ram, "size %llu: %s", (unsigned long long)sizes[i],
				   strerror(errno));
		cr_assert_eq((uintptr_t)ram % GUEST_RAM_ALIGN, 0u, "size %llu: base %p",
			     (unsigned long long)sizes[i], (void *)ram);
		munmap(ram, sizes[i]);
	}
}

Test(guest_ram, exactly_the_requested_bytes_are_mapped_and_zero)
{
	const uint64_t bytes = 64ull << 20;
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *ram = guest_ram_map(bytes);

	cr_assert_not_null(ram);
	cr_assert(mapped(ram, bytes));
	cr_assert_eq(ram[0], 0);
	cr_assert_eq(ram[bytes - 1], 0);
	ram[0] = 1;
	ram[bytes - 1] = 2;
	/* The alignment slack after the end is given back, not left mapped. */
	cr_assert_not(mapped(ram + bytes, (size_t)pg));
	munmap(ram, bytes);
}
