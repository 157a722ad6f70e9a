// SPDX-License-Identifier: MIT
#include "vmm/guest_ram.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/*
 * Untouched anonymous memory: the guest faults in only what it uses. The base
 * is 2 MiB aligned because KVM maps a guest 2 MiB page with one large page
 * only when guest-physical and host-virtual addresses agree modulo 2 MiB;
 * mmap() alone gives 4 KiB alignment on kernels before 6.7, and then every
 * transparent huge page is split into 4 KiB mappings in the nested page
 * tables (more faults and TLB misses).
 */
uint8_t *guest_ram_map(uint64_t bytes)
{
	uint64_t len = bytes + GUEST_RAM_ALIGN, head;
	uint8_t *raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *ram;

	if (raw == MAP_FAILED)
		return NULL;
	ram = (uint8_t *)(((uintptr_t)raw + GUEST_RAM_ALIGN - 1) &
			  ~(uintptr_t)(GUEST_RAM_ALIGN - 1));
	head = (uint64_t)(ram - raw);
	if (head)
		munmap(raw, head);
	if (len - head > bytes)
		munmap(ram + bytes, len - head - bytes);
	/*
	 * 2 MiB pages where the host allows them: far fewer faults while the
	 * kernel is copied in and decompressed, and cheaper guest TLB misses.
	 */
	madvise(ram, bytes, MADV_HUGEPAGE);
	return ram;
}
