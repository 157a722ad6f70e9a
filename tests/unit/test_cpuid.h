/* SPDX-License-Identifier: MIT */
/*
 * Synthetic KVM_GET_SUPPORTED_CPUID tables for the CPUID tests
 * (specs/vmm-x86.md §5 #19-#21): an Intel host, an AMD Zen 3 host, a Zen 1
 * host and QEMU's qemu64 model (AMD family 6 without TOPOEXT or XSAVE), plus
 * a Linux topology model that reads a generated table back.
 */
#ifndef KTSTR_TESTS_TEST_CPUID_H
#define KTSTR_TESTS_TEST_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "topo/topo.h"

enum test_host { HOST_INTEL, HOST_ZEN3, HOST_QEMU64, HOST_ZEN1, HOST_COUNT };

struct host_table {
	const char *name;
	unsigned n;
	struct kvm_cpuid_entry2 e[64];
};

/* Fills t with the supported table of host h. */
void host_table_init(struct host_table *t, enum test_host h);

/* Append an entry (the test tables never exceed 64). */
struct kvm_cpuid_entry2 *host_table_add(struct host_table *t, uint32_t fn, uint32_t idx,
					uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx);

/* Which Linux topology code the model imitates. */
enum linux_rules { LINUX_6_1, LINUX_6_9 };

/* What the model derives for one CPU. */
struct linux_cpu_topo {
	uint32_t apicid;
	uint32_t pkg_id;
	uint32_t die_id;
	uint32_t core_id;
	uint32_t llc_id;
	bool llc_known;
};

/*
 * Run the model over the tables of every CPU (tables[cpu], counts[cpu]) and
 * check that SMT groups, LLC groups and packages equal the requested ones.
 * Returns true when they do; *why gets a reason otherwise.
 */
bool linux_model_matches(const struct topo_layout *l, struct kvm_cpuid_entry2 *const *tables,
			 const unsigned *counts, enum linux_rules rules, const char **why);

#endif
