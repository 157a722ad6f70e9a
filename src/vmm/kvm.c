// SPDX-License-Identifier: MIT
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/log.h"
#include "vmm/acpi.h"
#include "vmm/memmap.h"

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Capabilities without which this VMM cannot run a guest at all (§1.10 step 2). */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_IRQCHIP, "IRQCHIP"},
	{KVM_CAP_USER_MEMORY, "USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_EXT_CPUID, "EXT_CPUID"},
	{KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING"},
	{KVM_CAP_IRQFD, "IRQFD"},
	{KVM_CAP_IOEVENTFD, "IOEVENTFD"},
	{KVM_CAP_PIT2, "PIT2"},
	{KVM_CAP_TSC_DEADLINE_TIMER, "TSC_DEADLINE_TIMER"},
	{KVM_CAP_MP_STATE, "MP_STATE"},
	{KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
};

static int ioctl_retry(int fd, unsigned long req, unsigned long arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static int get_supported_cpuid(struct kvm *k)
{
	for (unsigned n = 256; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			k->supported_cpuid = c;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return -e;
	}
	return -E2BIG;
}

int kvm_open(struct kvm *k, char *err, size_t errlen)
{
	int r;

	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		r = -errno;
		return fail(err, errlen, r, "cannot open /dev/kvm: %s%s", strerror(-r),
			    r == -ENOENT   ? " (KVM not available on this machine)"
			    : r == -EACCES ? " (add yourself to the 'kvm' group)"
					   : "");
	}
	r = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		kvm_close(k);
		return fail(err, errlen, -ENOTSUP, "/dev/kvm API version %d, need %d", r,
			    KVM_API_VERSION);
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			kvm_close(k);
			return fail(err, errlen, -ENOTSUP, "KVM lacks the capability KVM_CAP_%s",
				    required_caps[i].name);
		}
	}
	k->vcpu_mmap_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		kvm_close(k);
		return fail(err, errlen, -ENOTSUP, "bad KVM vCPU mmap size %d", k->vcpu_mmap_size);
	}
	/* KVM_CAP_MAX_VCPUS may be 0 on old kernels: the API says use NR_VCPUS then. */
	k->max_vcpus = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	k->max_vcpu_id = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	if (k->max_vcpu_id <= 0)
		k->max_vcpu_id = k->max_vcpus;
	r = get_supported_cpuid(k);
	if (r) {
		kvm_close(k);
		return fail(err, errlen, r, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
	}
	return 0;
}

static int set_ioapic_routing(struct kvm *k)
{
	struct kvm_irq_routing *r =
		calloc(1, sizeof(*r) + ACPI_IOAPIC_PINS * sizeof(struct kvm_irq_routing_entry));
	if (!r)
		return -ENOMEM;
	r->nr = acpi_gsi_routes(r->entries, ACPI_IOAPIC_PINS);
	int ret = ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, r) < 0 ? -errno : 0;
	free(r);
	return ret;
}

int kvm_create_vm(struct kvm *k, unsigned nr_vcpus, uint32_t max_apic_id, bool x2apic, char *err,
		  size_t errlen)
{
	int r;

	if (nr_vcpus > (unsigned)k->max_vcpus)
		return fail(err, errlen, -E2BIG, "%u vCPUs requested, KVM allows %d", nr_vcpus,
			    k->max_vcpus);
	if (max_apic_id >= (uint32_t)k->max_vcpu_id)
		return fail(err, errlen, -E2BIG,
			    "topology needs APIC ID %u, KVM's vCPU ids end below %d", max_apic_id,
			    k->max_vcpu_id);
	k->vm_fd = ioctl_retry(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		r = -errno;
		return fail(err, errlen, r, "KVM_CREATE_VM: %s", strerror(-r));
	}
	fcntl(k->vm_fd, F_SETFD, FD_CLOEXEC);
	/* Needed on Intel (real-mode emulation), harmless on AMD; both must precede vCPUs. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)MEMMAP_KVM_TSS) < 0) {
		r = -errno;
		return fail(err, errlen, r, "KVM_SET_TSS_ADDR: %s", strerror(-r));
	}
	uint64_t idmap = MEMMAP_KVM_IDENTITY_MAP;
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		r = -errno;
		return fail(err, errlen, r, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(-r));
	}
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		r = -errno;
		return fail(err, errlen, r, "KVM_CREATE_IRQCHIP: %s", strerror(-r));
	}
	/*
	 * D9: replace KVM's default table, which also feeds GSI 0-15 to a PIC a
	 * hardware-reduced Linux never programs (vector base 0 -> exceptions).
	 */
	r = set_ioapic_routing(k);
	if (r)
		return fail(err, errlen, r, "KVM_SET_GSI_ROUTING: %s", strerror(-r));
	/* D11: the PIT stays the TSC-calibration fallback; KVM serves port 0x61 itself. */
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		r = -errno;
		return fail(err, errlen, r, "KVM_CREATE_PIT2: %s", strerror(-r));
	}
	if (x2apic) {
		/* §3.11: 32-bit x2APIC IDs, and ID 0xFF is a CPU, not a broadcast. */
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_X2APIC_API,
			.args[0] = KVM_X2APIC_API_USE_32BIT_IDS |
				   KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
		};
		if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
			r = -errno;
			return fail(err, errlen, r,
				    "topology needs x2APIC IDs but KVM_CAP_X2APIC_API failed: %s",
				    strerror(-r));
		}
		k->x2apic_api = true;
	}
	return 0;
}

int kvm_add_memory(struct kvm *k, uint64_t gpa, uint64_t size, void *host)
{
	if (k->nr_slots >= KVM_MAX_SLOTS)
		return -ENOSPC;
	struct kvm_userspace_memory_region m = {
		.slot = k->nr_slots,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0)
		return -errno;
	k->nr_slots++;
	return 0;
}

int kvm_irqfd(struct kvm *k, int fd, uint32_t gsi)
{
	struct kvm_irqfd irq = {.fd = (uint32_t)fd, .gsi = gsi};

	return ioctl(k->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
}

int kvm_ioeventfd(struct kvm *k, uint64_t addr, uint32_t len, int fd, bool datamatch,
		  uint64_t value)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch ? value : 0,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0,
	};

	return ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->supported_cpuid);
	k->supported_cpuid = NULL;
	k->vm_fd = k->sys_fd = -1;
}
