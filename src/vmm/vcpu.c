// SPDX-License-Identifier: MIT
#include "vmm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "vmm/boot_x86.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

int vcpu_signal_setup(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *v, struct kvm *k, unsigned index, uint32_t apic_id)
{
	memset(v, 0, sizeof(*v));
	v->index = index;
	v->apic_id = apic_id;
	v->run = MAP_FAILED;
	/* D3: the vCPU id is the APIC ID, which is what KVM puts in the LAPIC ID register. */
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)apic_id);
	if (v->fd < 0) {
		int r = -errno;
		snprintf(v->reason, sizeof(v->reason), "KVM_CREATE_VCPU(%u): %s", apic_id,
			 strerror(-r));
		return r;
	}
	v->run_size = k->vcpu_mmap_size;
	v->run = mmap(NULL, (size_t)v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int r = -errno;
		snprintf(v->reason, sizeof(v->reason), "mmap kvm_run of vCPU %u: %s", index,
			 strerror(-r));
		return r;
	}
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run != MAP_FAILED && v->run)
		munmap(v->run, (size_t)v->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = MAP_FAILED;
	v->fd = -1;
}

static int vcpu_ioctl(struct vcpu *v, unsigned long req, void *arg, const char *what)
{
	if (ioctl(v->fd, req, arg) < 0) {
		int r = -errno;
		snprintf(v->reason, sizeof(v->reason), "%s on vCPU %u: %s", what, v->index,
			 strerror(-r));
		return r;
	}
	return 0;
}

static int set_cpuid(struct vcpu *v, const struct vcpu_boot *b)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + b->nr_cpuid * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = b->nr_cpuid;
	memcpy(c->entries, b->cpuid, b->nr_cpuid * sizeof(c->entries[0]));
	int r = vcpu_ioctl(v, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
	return r;
}

/* struct kvm_msrs ends in a flexible array: give it room for our list (ISO C, no GNU extension). */
union msr_buf {
	struct kvm_msrs hdr;
	uint8_t bytes[sizeof(struct kvm_msrs) + BOOT_MAX_MSRS * sizeof(struct kvm_msr_entry)];
};

/* KVM's MISC_ENABLE reset value: §1.8 ORs fast strings into it rather than overwriting it. */
static uint64_t misc_enable_reset(struct vcpu *v)
{
	union msr_buf m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = BOOT_MSR_MISC_ENABLE;
	if (ioctl(v->fd, KVM_GET_MSRS, &m) == 1)
		return m.hdr.entries[0].data;
	return BOOT_MISC_ENABLE_RESET;
}

static int set_msrs(struct vcpu *v, const struct vcpu_boot *b)
{
	union msr_buf m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = boot_msr_entries(m.hdr.entries, misc_enable_reset(v), b->bsp, b->x2apic);
	/* KVM_SET_MSRS returns how many entries it accepted: a short count is a failure. */
	int n = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (n < 0 || (unsigned)n != m.hdr.nmsrs) {
		int r = n < 0 ? -errno : -EINVAL;
		snprintf(v->reason, sizeof(v->reason),
			 "KVM_SET_MSRS on vCPU %u: %d of %u accepted (MSR 0x%x refused)", v->index,
			 n < 0 ? 0 : n, m.hdr.nmsrs,
			 n >= 0 && (unsigned)n < m.hdr.nmsrs ? m.hdr.entries[n].index : 0);
		return r;
	}
	return 0;
}

static int set_bsp_state(struct vcpu *v, const struct vcpu_boot *b)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	int r;

	r = vcpu_ioctl(v, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (r)
		return r;
	boot_setup_sregs(&sregs, b->x2apic);
	r = vcpu_ioctl(v, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	if (r)
		return r;
	memset(&regs, 0, sizeof(regs));
	boot_setup_regs(&regs, b->entry);
	r = vcpu_ioctl(v, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	if (r)
		return r;
	memset(&fpu, 0, sizeof(fpu));
	boot_setup_fpu(&fpu);
	return vcpu_ioctl(v, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

static int set_lapic(struct vcpu *v, const struct vcpu_boot *b)
{
	struct kvm_lapic_state lapic;
	int r = vcpu_ioctl(v, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");

	if (r)
		return r;
	boot_lapic_patch(&lapic, b->bsp, true);
	return vcpu_ioctl(v, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

int vcpu_setup(struct vcpu *v, const struct vcpu_boot *b)
{
	int r = set_cpuid(v, b);

	if (!r)
		r = set_msrs(v, b);
	if (!r && b->bsp)
		r = set_bsp_state(v, b);
	if (!r)
		r = set_lapic(v, b);
	return r;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vcpu_describe(struct vcpu *v, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_mp_state mp = {0};

	if (!len)
		return;
	buf[0] = '\0';
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	/* Halted (waiting for an interrupt) versus spinning is what a hang report needs first. */
	bool halted =
		ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0 && mp.mp_state == KVM_MP_STATE_HALTED;
	snprintf(buf, len,
		 "[vCPU %u rip=0x%llx cpl=%u%s rsp=0x%llx rflags=0x%llx cs=0x%x cr0=0x%llx"
		 " cr2=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx]",
		 v->index, r.rip, s.cs.selector & 3u, halted ? " halted" : "", r.rsp, r.rflags,
		 s.cs.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}

/* Append the registers that explain a crash to v->reason (best effort). */
static void append_registers(struct vcpu *v)
{
	size_t n = strlen(v->reason);

	if (n + 1 < sizeof(v->reason)) {
		v->reason[n] = ' ';
		vcpu_describe(v, v->reason + n + 1, sizeof(v->reason) - n - 1);
	}
}

static enum vcpu_stop fatal(struct vcpu *v, enum vcpu_stop why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum vcpu_stop fatal(struct vcpu *v, enum vcpu_stop why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	append_registers(v);
	v->stop_reason = why;
	return why;
}

static void handle_io(struct vcpu *v, struct bus *bus)
{
	struct kvm_run *run = v->run;
	uint64_t span = (uint64_t)run->io.size * run->io.count;

	/* KVM fills these, but a bad offset would make us scribble over our own memory. */
	if (run->io.size == 0 || run->io.data_offset + span > (uint64_t)v->run_size)
		return;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size)
		bus_pio(bus, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, p, run->io.size);
}

static enum vcpu_stop handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		v->stop_reason = VCPU_STOP_SYS_POWEROFF;
		break;
	case KVM_SYSTEM_EVENT_RESET:
		v->stop_reason = VCPU_STOP_SYS_RESET;
		break;
	default:
		return fatal(v, VCPU_STOP_SYS_CRASH, "system event %u", v->run->system_event.type);
	}
	return v->stop_reason;
}

enum vcpu_stop vcpu_run(struct vcpu *v, struct bus *bus)
{
	struct kvm_run *run = v->run;

	v->stop_reason = VCPU_STOP_NONE;
	for (;;) {
		if (atomic_load_explicit(&v->stop, memory_order_acquire))
			return v->stop_reason = VCPU_STOP_KICKED;
		if (!v->first_run_ns)
			v->first_run_ns = mono_ns();
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int e = errno;
			if (e == EINTR || e == EAGAIN) {
				/* A kick: immediate_exit did its job; clear it for a later resume. */
				run->immediate_exit = 0;
				continue;
			}
			return fatal(v, VCPU_STOP_IOCTL_ERROR, "KVM_RUN on vCPU %u failed: %s",
				     v->index, strerror(e));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			v->exits_io++;
			handle_io(v, bus);
			break;
		case KVM_EXIT_MMIO:
			v->exits_mmio++;
			if (run->mmio.len <= sizeof(run->mmio.data))
				bus_mmio(bus, run->mmio.phys_addr, run->mmio.is_write,
					 run->mmio.data, run->mmio.len);
			break;
		case KVM_EXIT_HLT: /* in-kernel LAPIC: HLT normally never exits */
		case KVM_EXIT_INTR:
		case KVM_EXIT_IRQ_WINDOW_OPEN:
			v->exits_other++;
			break;
		case KVM_EXIT_SHUTDOWN:
			return fatal(v, VCPU_STOP_SHUTDOWN, "triple fault on vCPU %u", v->index);
		case KVM_EXIT_FAIL_ENTRY:
			return fatal(
				v, VCPU_STOP_FAIL_ENTRY,
				"VM entry failed on vCPU %u (hardware reason 0x%llx)", v->index,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			return fatal(v, VCPU_STOP_INTERNAL,
				     "KVM internal error on vCPU %u (suberror %u)", v->index,
				     run->internal.suberror);
		case KVM_EXIT_SYSTEM_EVENT:
			return handle_system_event(v);
		default:
			return fatal(v, VCPU_STOP_UNKNOWN_EXIT, "unexpected KVM exit reason %u",
				     run->exit_reason);
		}
	}
}

void vcpu_kick(struct vcpu *v)
{
	atomic_store_explicit(&v->stop, true, memory_order_release);
	/*
	 * immediate_exit covers a thread that is between two KVM_RUN calls; the
	 * signal covers one already inside (an AP waiting for SIPI sleeps there).
	 */
	if (v->run != MAP_FAILED && v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

const char *vcpu_stop_name(enum vcpu_stop s)
{
	switch (s) {
	case VCPU_STOP_NONE:
		return "running";
	case VCPU_STOP_KICKED:
		return "stopped";
	case VCPU_STOP_SHUTDOWN:
		return "triple fault";
	case VCPU_STOP_FAIL_ENTRY:
		return "VM entry failure";
	case VCPU_STOP_INTERNAL:
		return "KVM internal error";
	case VCPU_STOP_SYS_POWEROFF:
		return "power-off";
	case VCPU_STOP_SYS_RESET:
		return "reset";
	case VCPU_STOP_SYS_CRASH:
		return "guest crash event";
	case VCPU_STOP_UNKNOWN_EXIT:
		return "unexpected KVM exit";
	case VCPU_STOP_IOCTL_ERROR:
		return "KVM_RUN failure";
	}
	return "?";
}
