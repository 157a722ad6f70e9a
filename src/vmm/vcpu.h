/* SPDX-License-Identifier: MIT */
/*
 * One KVM vCPU: creation with id = APIC ID (D3), the shared kvm_run page,
 * initial state (CPUID, MSRs, BSP registers, LAPIC LINT pins; §1.7-§1.10),
 * and the run loop that turns exits into bus accesses or a stop reason
 * (§1.11). APs are created in the same way and wait inside KVM_RUN until the
 * guest's BSP starts them with INIT/SIPI (§1.12).
 */
#ifndef KTSTR_VMM_VCPU_H
#define KTSTR_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvm;
struct bus;

/* Signal used to kick a vCPU thread out of KVM_RUN (installed by vcpu_signal_setup()). */
#define VCPU_KICK_SIGNAL SIGUSR1

/* Why a run loop ended. */
enum vcpu_stop {
	VCPU_STOP_NONE = 0,
	VCPU_STOP_KICKED,	/* vcpu_kick(): someone else ended the VM */
	VCPU_STOP_SHUTDOWN,	/* KVM_EXIT_SHUTDOWN: triple fault */
	VCPU_STOP_FAIL_ENTRY,	/* KVM_EXIT_FAIL_ENTRY */
	VCPU_STOP_INTERNAL,	/* KVM_EXIT_INTERNAL_ERROR */
	VCPU_STOP_SYS_POWEROFF, /* KVM_EXIT_SYSTEM_EVENT shutdown */
	VCPU_STOP_SYS_RESET,	/* KVM_EXIT_SYSTEM_EVENT reset */
	VCPU_STOP_SYS_CRASH,	/* KVM_EXIT_SYSTEM_EVENT crash */
	VCPU_STOP_UNKNOWN_EXIT, /* an exit reason this VMM does not handle */
	VCPU_STOP_IOCTL_ERROR,	/* KVM_RUN failed */
};

#define VCPU_REASON_LEN 512

struct vcpu {
	unsigned index;	  /* guest CPU number */
	uint32_t apic_id; /* = KVM vCPU id */
	int fd;
	struct kvm_run *run;
	int run_size;
	pthread_t thread;
	bool thread_started;
	_Atomic bool stop; /* set by vcpu_kick() */
	enum vcpu_stop stop_reason;
	char reason[VCPU_REASON_LEN]; /* one line for fatal stops, with registers */
	uint64_t first_run_ns;	      /* CLOCK_MONOTONIC of the first KVM_RUN, 0 before */
	uint64_t exits_io, exits_mmio, exits_other;
};

/* Install the no-op kick handler (no SA_RESTART, so KVM_RUN returns EINTR). Idempotent. */
int vcpu_signal_setup(void);

/* KVM_CREATE_VCPU(apic_id) and map kvm_run. 0 / -errno. */
int vcpu_create(struct vcpu *v, struct kvm *k, unsigned index, uint32_t apic_id);

struct vcpu_boot {
	const struct kvm_cpuid_entry2 *cpuid;
	unsigned nr_cpuid;
	bool bsp;
	bool x2apic;	/* pre-enable x2APIC (§3.11) */
	uint64_t entry; /* BSP rip */
};

/*
 * Initial state in KVM's required order (§1.10 step 12): CPUID, MSRs, then
 * for the BSP sregs/regs/FPU, then the LAPIC (after apic_base is final).
 * 0 or -errno with the failing ioctl named in v->reason.
 */
int vcpu_setup(struct vcpu *v, const struct vcpu_boot *b);

/*
 * Run until stopped: port I/O and MMIO exits go to `bus`; a kick, a fatal
 * exit or a system event ends the loop with v->stop_reason (and v->reason
 * for fatal ones). v->first_run_ns records the first KVM_RUN (boot timing).
 */
enum vcpu_stop vcpu_run(struct vcpu *v, struct bus *bus);

/* Ask the vCPU thread to leave KVM_RUN and return from vcpu_run(). Any thread. */
void vcpu_kick(struct vcpu *v);

void vcpu_destroy(struct vcpu *v);

/* "[vCPU n rip=... cr3=...]" into buf (empty if the registers cannot be read). */
void vcpu_describe(struct vcpu *v, char *buf, size_t len);

/* "triple fault", "KVM internal error", ... for a stop reason. */
const char *vcpu_stop_name(enum vcpu_stop s);

#endif
