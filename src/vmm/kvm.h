/* SPDX-License-Identifier: MIT */
/*
 * KVM bring-up for an x86 VM (specs/vmm-x86.md §1.10): /dev/kvm, capability
 * checks, the VM file descriptor, in-kernel irqchip with IOAPIC-only GSI
 * routing (D9), the PIT with its speaker port served in the kernel (D11),
 * TSS and identity-map pages, memory slots, irqfds and ioeventfds.
 */
#ifndef KTSTR_VMM_KVM_H
#define KTSTR_VMM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_MAX_SLOTS 32

struct kvm {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
	int max_vcpus, max_vcpu_id;
	bool x2apic_api; /* KVM_CAP_X2APIC_API enabled on this VM */
	unsigned nr_slots;
	struct kvm_cpuid2 *supported_cpuid; /* KVM_GET_SUPPORTED_CPUID, owned */
};

/*
 * Open /dev/kvm, check the API version and the capabilities we rely on, read
 * the vCPU mmap size and the supported CPUID. On failure `err` (if not NULL)
 * gets a one-line reason for the user. Returns 0 / -errno.
 */
int kvm_open(struct kvm *k, char *err, size_t errlen);

/*
 * Create the VM and its chipset in the order KVM requires: TSS and identity
 * map, irqchip, IOAPIC-only routing, PIT2 (speaker dummy), and, when
 * `x2apic` (max APIC ID >= 255), the x2APIC API with 32-bit IDs. Must run
 * before any vCPU exists. `nr_vcpus` and `max_apic_id` are checked against
 * KVM's limits.
 */
int kvm_create_vm(struct kvm *k, unsigned nr_vcpus, uint32_t max_apic_id, bool x2apic, char *err,
		  size_t errlen);

/* One KVM_SET_USER_MEMORY_REGION slot (host must be page-aligned). */
int kvm_add_memory(struct kvm *k, uint64_t gpa, uint64_t size, void *host);

/* Route eventfd `fd` to `gsi` (edge: a plain pulse per signal, §3.10). */
int kvm_irqfd(struct kvm *k, int fd, uint32_t gsi);
/* MMIO ioeventfd of `len` bytes at `addr`; with `datamatch` only writes of that value. */
int kvm_ioeventfd(struct kvm *k, uint64_t addr, uint32_t len, int fd, bool datamatch,
		  uint64_t value);

void kvm_close(struct kvm *k);

#endif
