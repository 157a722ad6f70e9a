// SPDX-License-Identifier: MIT
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_mmio.h>

#include "base/compiler.h"
#include "base/log.h"
#include "virtio/guestmem.h"
#include "virtio/mmio.h"
#include "vmm/acpi.h"
#include "vmm/boot_x86.h"
#include "vmm/bus.h"
#include "vmm/cpuid.h"
#include "vmm/guest_ram.h"
#include "vmm/i8042.h"
#include "vmm/kvm.h"
#include "vmm/memmap.h"
#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/vm_console.h"

/* GSIs for virtio-mmio windows: 16-23 first (D8), then the free ISA pins (§3.9). */
static const uint8_t virtio_gsis[] = {16, 17, 18, 19, 20, 21, 22, 23, 5, 6, 7, 9, 10, 11};

#define WATCHDOG_TICK_MS 100

struct vm_file {
	uint8_t *data;
	size_t len;
};

struct vm_uart {
	struct serial uart;
	struct vm_console out;
	int irq_fd; /* eventfd bound to the UART's GSI */
};

struct vm {
	struct vm_config cfg;
	struct kvm kvm;
	struct memmap mm;
	struct topo_layout layout;
	struct gm *gm;
	uint8_t *ram;
	uint64_t ram_bytes;
	struct bus bus;
	struct vm_uart com1, com2;
	struct i8042 kbc;
	struct vcpu *vcpus;
	unsigned nr_vcpus; /* created */
	struct acpi_virtio_dev virtio[ARRAY_SIZE(virtio_gsis)];
	unsigned nr_virtio;
	struct boot_info boot;

	/* End-of-run state, under `lock`. */
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;
	enum vm_outcome outcome;
	char reason[VM_REASON_LEN];
	uint64_t end_ns;
	int signal_fd; /* eventfd the SIGINT/SIGTERM handler pokes */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int set_err(struct vm_error *e, bool bad_input, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(struct vm_error *e, bool bad_input, int ret, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		e->bad_input = bad_input;
	}
	return ret;
}

const char *vm_outcome_name(enum vm_outcome o)
{
	static const char *const names[] = {
		[VM_POWEROFF] = "power-off",	[VM_REBOOT] = "reboot",
		[VM_PANIC] = "guest panic",	[VM_TIMEOUT] = "timeout",
		[VM_CRASH] = "guest crash",	[VM_INTERRUPTED] = "interrupted",
		[VM_HOST_ERROR] = "host error",
	};
	return (unsigned)o < ARRAY_SIZE(names) ? names[o] : "?";
}

uint64_t vm_default_ram(const struct topo *t, uint64_t kernel_window_end, uint64_t initrd_bytes)
{
	/*
	 * The kernel needs its decompression window; the initrd sits above it
	 * and is unpacked into page cache, typically 3-4x its compressed size;
	 * 64 MiB more keeps early allocations comfortable.
	 */
	uint64_t need = kernel_window_end + 5 * initrd_bytes + 64 * MEMMAP_MiB;
	uint64_t ram = MAX(memmap_default_ram(t), need);

	return (ram + 2 * MEMMAP_MiB - 1) & ~(2 * MEMMAP_MiB - 1);
}

/* Debug-level breakdown of the build, to keep setup cost visible. */
static void note_step(const struct vm *vm, const char *step)
{
	if (log_enabled(LOG_DEBUG))
		log_debug("setup: %s done at %.2f ms", step,
			  (double)(mono_ns() - vm->cfg.t0_ns) / 1e6);
}

/* ---- ending the run ---- */

static void request_stop(struct vm *vm, enum vm_outcome why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void request_stop(struct vm *vm, enum vm_outcome why, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (!vm->done) {
		vm->done = true;
		vm->outcome = why;
		vm->end_ns = mono_ns();
		va_start(ap, fmt);
		vsnprintf(vm->reason, sizeof(vm->reason), fmt, ap);
		va_end(ap);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_kick(&vm->vcpus[i]);
		pthread_cond_broadcast(&vm->done_cond);
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm_stop(struct vm *vm, const char *why)
{
	request_stop(vm, VM_INTERRUPTED, "%s", why);
}

size_t vm_describe_vcpus(struct vm *vm, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < vm->nr_vcpus && n + 2 < len; i++) {
		vcpu_describe(&vm->vcpus[i], buf + n, len - n - 1);
		n += strlen(buf + n);
		buf[n++] = '\n';
		buf[n] = '\0';
	}
	return n;
}

static bool vm_is_done(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	bool d = vm->done;
	pthread_mutex_unlock(&vm->lock);
	return d;
}

static void kbc_event(void *opaque, enum i8042_event ev)
{
	struct vm *vm = opaque;

	if (ev == I8042_EV_REBOOT)
		request_stop(vm, VM_REBOOT, "guest requested a reboot (reset via port 0x64)");
	else if (ev == I8042_EV_POWEROFF)
		request_stop(vm, VM_POWEROFF, "guest powered off (ACPI S5)");
}

static void console_mark(void *opaque, enum vm_console_mark m)
{
	struct vm *vm = opaque;

	/* After this line a panic=0 kernel spins with interrupts off: nothing more will come. */
	if (m == VM_MARK_PANIC_END)
		request_stop(vm, VM_PANIC, "guest kernel panic");
}

/* ---- UARTs ---- */

static void uart_tx(void *opaque, uint8_t byte)
{
	struct vm_uart *u = opaque;

	vm_console_putc(&u->out, byte);
}

static void uart_irq(void *opaque)
{
	struct vm_uart *u = opaque;
	uint64_t one = 1;

	if (write(u->irq_fd, &one, sizeof(one)) < 0)
		log_debug("%s: irq eventfd write failed: %s", u->uart.name, strerror(errno));
}

static int uart_setup(struct vm *vm, struct vm_uart *u, const char *name, uint16_t base,
		      uint32_t gsi, int fd, bool console)
{
	vm_console_init(&u->out, fd, console, console ? console_mark : NULL, vm);
	serial_init(&u->uart, name, uart_tx, uart_irq, u);
	u->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->irq_fd < 0)
		return -errno;
	int r = kvm_irqfd(&vm->kvm, u->irq_fd, gsi);
	if (r)
		return r;
	return bus_register_pio(&vm->bus, base, SERIAL_NR_REGS, &serial_bus_ops, &u->uart);
}

/* ---- build ---- */

/*
 * Map an input file read-only instead of reading it: the kernel and the
 * initramfs are copied exactly once, straight into guest RAM, and the page
 * cache pages are shared rather than duplicated into a heap buffer.
 */
static int map_input(const char *what, const char *path, struct vm_file *f, struct vm_error *e)
{
	struct stat st;
	int r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return set_err(e, true, -errno, "%s: cannot open '%s': %s", what, path,
			       strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		r = set_err(e, true, -EINVAL, "%s: '%s' is %s", what, path,
			    st.st_size == 0 && S_ISREG(st.st_mode) ? "empty"
								   : "not a regular file");
		goto out;
	}
	f->len = (size_t)st.st_size;
	f->data = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		r = set_err(e, false, -errno, "%s: cannot map '%s': %s", what, path,
			    strerror(errno));
	}
out:
	close(fd);
	return r;
}

static void unmap_input(struct vm_file *f)
{
	if (f->data)
		munmap(f->data, f->len);
	f->data = NULL;
}

static int load_inputs(const struct vm_config *cfg, struct vm_file *kernel, struct boot_image *bi,
		       struct vm_file *initrd, struct vm_error *e)
{
	char msg[256];
	int r;

	r = map_input("kernel", cfg->kernel_path, kernel, e);
	if (r)
		return r;
	r = boot_parse_bzimage(kernel->data, kernel->len, bi, msg, sizeof(msg));
	if (r)
		return set_err(e, true, r, "%s: not a usable bzImage: %s", cfg->kernel_path, msg);
	if (cfg->initrd_path) {
		r = map_input("initramfs", cfg->initrd_path, initrd, e);
		if (r)
			return r;
	}
	r = topo_validate(&cfg->topo, msg, sizeof(msg));
	if (r)
		return set_err(e, true, r, "%s", msg);
	return 0;
}

static int create_vcpus(struct vm *vm, struct vm_error *e)
{
	const struct kvm_cpuid2 *sup = vm->kvm.supported_cpuid;
	struct kvm_cpuid_entry2 *tab = calloc(CPUID_MAX_ENTRIES, sizeof(*tab));
	char msg[256];
	int r = 0;

	if (!tab)
		return set_err(e, false, -ENOMEM, "out of memory");
	vm->vcpus = calloc(vm->layout.nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		free(tab);
		return set_err(e, false, -ENOMEM, "out of memory");
	}
	/* In guest CPU order, so the BSP (CPU 0 = APIC ID 0) is vCPU id 0 (§1.12). */
	for (unsigned i = 0; i < vm->layout.nr_cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		unsigned n;

		r = vcpu_create(v, &vm->kvm, i, topo_apic_id(&vm->layout, i));
		if (r) {
			set_err(e, false, r, "%s", v->reason);
			break;
		}
		vm->nr_vcpus = i + 1;
		r = cpuid_build_vcpu(sup->entries, sup->nent, &vm->layout, i, NULL, tab,
				     CPUID_MAX_ENTRIES, &n, msg, sizeof(msg));
		if (r) {
			set_err(e, false, r, "CPUID for vCPU %u: %s", i, msg);
			break;
		}
		struct vcpu_boot b = {
			.cpuid = tab,
			.nr_cpuid = n,
			.bsp = i == 0,
			.x2apic = vm->layout.x2apic,
			.entry = vm->boot.entry,
		};
		r = vcpu_setup(v, &b);
		if (r) {
			set_err(e, false, r, "%s", v->reason);
			break;
		}
	}
	free(tab);
	return r;
}

static int build(struct vm *vm, struct vm_error *e)
{
	const struct vm_config *cfg = &vm->cfg;
	struct vm_file kernel = {0}, initrd = {0};
	struct boot_image bi;
	char msg[512];
	int r;

	/* Everything the user gave us is checked before /dev/kvm is even opened. */
	r = load_inputs(cfg, &kernel, &bi, &initrd, e);
	if (r)
		goto out;
	note_step(vm, "read kernel and initramfs");
	vm->ram_bytes = cfg->ram_bytes ? cfg->ram_bytes
				       : vm_default_ram(&cfg->topo, boot_kernel_window_end(&bi),
							initrd.len);
	r = memmap_build(&vm->mm, vm->ram_bytes, cfg->topo.nodes, 0, false, msg, sizeof(msg));
	if (r) {
		set_err(e, true, r, "%s", msg);
		goto out;
	}
	uint64_t initrd_gpa;
	r = boot_place_initrd(&bi, &vm->mm, initrd.len, &initrd_gpa, msg, sizeof(msg));
	if (r) {
		set_err(e, true, r, "%s (--memory)", msg);
		goto out;
	}

	r = kvm_open(&vm->kvm, msg, sizeof(msg));
	if (r) {
		set_err(e, false, r, "%s", msg);
		goto out;
	}
	note_step(vm, "open /dev/kvm");
	const struct kvm_cpuid2 *sup = vm->kvm.supported_cpuid;
	r = cpuid_plan_layout(sup->entries, sup->nent, &cfg->topo, &vm->layout, msg, sizeof(msg));
	if (r) {
		set_err(e, true, r, "%s", msg);
		goto out;
	}
	r = kvm_create_vm(&vm->kvm, vm->layout.nr_cpus, vm->layout.max_apic_id, vm->layout.x2apic,
			  msg, sizeof(msg));
	if (r) {
		set_err(e, r == -E2BIG, r, "%s", msg);
		goto out;
	}
	note_step(vm, "create VM and irqchip");

	vm->ram = guest_ram_map(vm->ram_bytes);
	if (!vm->ram) {
		r = set_err(e, false, -errno, "cannot map %" PRIu64 " MiB of guest RAM: %s",
			    vm->ram_bytes >> 20, strerror(errno));
		goto out;
	}
	vm->gm = gm_new();
	if (!vm->gm) {
		r = set_err(e, false, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < vm->mm.nr_regions; i++) {
		const struct memmap_region *rg = &vm->mm.regions[i];
		void *host = vm->ram + rg->ram_offset;
		log_debug("memory slot %u: GPA 0x%" PRIx64 "+0x%" PRIx64 " node %u", i, rg->gpa,
			  rg->size, rg->node);
		r = gm_add_region(vm->gm, rg->gpa, rg->size, host);
		if (!r)
			r = kvm_add_memory(&vm->kvm, rg->gpa, rg->size, host);
		if (r) {
			set_err(e, false, r, "memory slot at 0x%" PRIx64 ": %s", rg->gpa,
				strerror(-r));
			goto out;
		}
	}

	/* D10 option (b): keep device interrupts on CPUs the 8-bit IOAPIC can reach. */
	char *cmdline = NULL;
	if (asprintf(&cmdline, "%s%s", cfg->cmdline ? cfg->cmdline : "",
		     vm->layout.x2apic ? " irqaffinity=0" : "") < 0) {
		r = set_err(e, false, -ENOMEM, "out of memory");
		goto out;
	}
	r = boot_load(vm->gm, &vm->mm, &bi, initrd.data, initrd.len, cmdline, ACPI_RSDP_ADDR,
		      &vm->boot, msg, sizeof(msg));
	free(cmdline);
	if (r) {
		set_err(e, r != -ENOMEM, r, "%s", msg);
		goto out;
	}
	note_step(vm, "memory slots and kernel load");

	r = uart_setup(vm, &vm->com1, "COM1", SERIAL_COM1_BASE, ACPI_COM1_GSI, cfg->com1_fd, true);
	if (!r)
		r = uart_setup(vm, &vm->com2, "COM2", SERIAL_COM2_BASE, ACPI_COM2_GSI, cfg->com2_fd,
			       false);
	if (!r) {
		i8042_init(&vm->kbc, kbc_event, vm);
		r = i8042_register(&vm->kbc, &vm->bus);
	}
	if (r) {
		set_err(e, false, r, "legacy devices: %s", strerror(-r));
		goto out;
	}
	r = create_vcpus(vm, e);
	note_step(vm, "vCPUs");
out:
	unmap_input(&kernel);
	unmap_input(&initrd);
	return r;
}

int vm_create(const struct vm_config *cfg, struct vm **out, struct vm_error *err)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!vm)
		return set_err(err, false, -ENOMEM, "out of memory");
	vm->cfg = *cfg;
	if (!vm->cfg.t0_ns)
		vm->cfg.t0_ns = mono_ns();
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->com1.irq_fd = vm->com2.irq_fd = vm->signal_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->done_cond, NULL);
	bus_init(&vm->bus);
	int r = build(vm, err);
	if (r) {
		vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

void *vm_ram(struct vm *vm, uint64_t *bytes)
{
	if (bytes)
		*bytes = vm->ram_bytes;
	return vm->ram;
}

/* ---- virtio-mmio plug-in point ---- */

static void virtio_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	vmmio_read(opaque, off, data, len);
}

static void virtio_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	vmmio_write(opaque, off, data, len);
}

static const struct bus_ops virtio_bus_ops = {
	.name = "virtio-mmio",
	.read = virtio_bus_read,
	.write = virtio_bus_write,
};

int vm_add_virtio(struct vm *vm, struct vdev *d, uint64_t *basep, uint32_t *gsip,
		  struct vm_error *e)
{
	unsigned i = vm->nr_virtio;

	if (i >= ARRAY_SIZE(virtio_gsis))
		return set_err(e, true, -ENOSPC, "too many virtio devices (max %zu)",
			       ARRAY_SIZE(virtio_gsis));
	uint64_t base = MEMMAP_VIRTIO_BASE + i * MEMMAP_VIRTIO_STRIDE;
	uint32_t gsi = virtio_gsis[i];
	int r = bus_register_mmio(&vm->bus, base, VMMIO_WINDOW_SIZE, &virtio_bus_ops, d);
	if (!r)
		r = kvm_irqfd(&vm->kvm, vdev_irq_fd(d), gsi);
	/* QueueNotify writes carry the queue index: one datamatch ioeventfd per queue. */
	for (uint16_t q = 0; !r && q < vdev_num_queues(d); q++) {
		int fd = vmmio_notify_fd(d, q);
		if (fd >= 0)
			r = kvm_ioeventfd(&vm->kvm, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, fd, true,
					  q);
	}
	if (r)
		return set_err(e, false, r, "virtio device %u: %s", i, strerror(-r));
	vdev_set_mem(d, vm->gm);
	vm->virtio[i] =
		(struct acpi_virtio_dev){.base = base, .size = VMMIO_WINDOW_SIZE, .gsi = gsi};
	vm->nr_virtio++;
	if (basep)
		*basep = base;
	if (gsip)
		*gsip = gsi;
	return 0;
}

/* ---- run ---- */

struct vcpu_ctx {
	struct vm *vm;
	struct vcpu *v;
};

static int g_signal_fd = -1; /* for the async-signal-safe handler only */

static void on_signal(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	(void)sig;
	if (g_signal_fd >= 0 && write(g_signal_fd, &one, sizeof(one)) < 0) {
		/* nothing to do: the eventfd is non-blocking and already readable */
	}
	errno = saved;
}

static bool console_restarting(struct vm *vm)
{
	pthread_mutex_lock(&vm->com1.out.lock);
	bool r = vm->com1.out.restarting;
	pthread_mutex_unlock(&vm->com1.out.lock);
	return r;
}

/* A vCPU's run loop ended on its own: turn the exit into the VM's outcome. */
static void vcpu_stopped(struct vm *vm, struct vcpu *v, enum vcpu_stop s)
{
	switch (s) {
	case VCPU_STOP_SYS_POWEROFF:
		request_stop(vm, VM_POWEROFF, "guest powered off (KVM system event)");
		break;
	case VCPU_STOP_SYS_RESET:
		request_stop(vm, VM_REBOOT, "guest reset (KVM system event)");
		break;
	case VCPU_STOP_SHUTDOWN:
		/* reboot=t ends in a deliberate triple fault, announced on the console. */
		if (console_restarting(vm)) {
			request_stop(vm, VM_REBOOT, "guest rebooted (triple fault after restart)");
			break;
		}
		request_stop(vm, VM_CRASH, "%s", v->reason);
		break;
	default:
		request_stop(vm, VM_CRASH, "%s", v->reason);
		break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_ctx *c = arg;
	enum vcpu_stop s = vcpu_run(c->v, &c->vm->bus);

	if (s != VCPU_STOP_KICKED)
		vcpu_stopped(c->vm, c->v, s);
	return NULL;
}

struct watchdog {
	struct vm *vm;
	int wake_fd;
	uint64_t deadline_ns; /* 0: none */
};

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	struct vm *vm = w->vm;
	uint64_t drain;

	while (!vm_is_done(vm)) {
		int wait_ms = WATCHDOG_TICK_MS;
		if (w->deadline_ns) {
			uint64_t now = mono_ns();
			if (now >= w->deadline_ns) {
				request_stop(vm, VM_TIMEOUT, "VM timeout after %u s",
					     vm->cfg.timeout_s);
				break;
			}
			wait_ms = (int)MIN((uint64_t)wait_ms,
					   (w->deadline_ns - now + 999999) / 1000000);
		}
		struct pollfd p[2] = {{.fd = w->wake_fd, .events = POLLIN},
				      {.fd = vm->signal_fd, .events = POLLIN}};
		int n = poll(p, vm->signal_fd >= 0 ? 2 : 1, wait_ms);
		if (n > 0 && (p[1].revents & POLLIN)) {
			if (read(vm->signal_fd, &drain, sizeof(drain)) < 0) {
				/* already drained */
			}
			request_stop(vm, VM_INTERRUPTED, "interrupted by a signal");
		}
		/* A prompt without a newline should still reach the user. */
		vm_console_flush(&vm->com1.out);
		vm_console_flush(&vm->com2.out);
	}
	return NULL;
}

static void fill_result(struct vm *vm, struct vm_result *res)
{
	uint64_t t0 = vm->cfg.t0_ns;
	struct vm_console *con = &vm->com1.out;

	res->outcome = vm->outcome;
	snprintf(res->reason, sizeof(res->reason), "%s", vm->reason);
	/* A panic explains whatever came after it: the reboot (panic=-1) or a crash. */
	if (con->panicked && res->outcome != VM_TIMEOUT && res->outcome != VM_INTERRUPTED) {
		res->outcome = VM_PANIC;
		snprintf(res->reason, sizeof(res->reason), "guest kernel panic: %s",
			 con->panic_line);
	}
	/* Where the guest was stuck says more than "timeout" alone. */
	if (res->outcome == VM_TIMEOUT && vm->nr_vcpus) {
		size_t n = strlen(res->reason);
		if (n + 1 < sizeof(res->reason)) {
			res->reason[n] = ' ';
			vcpu_describe(&vm->vcpus[0], res->reason + n + 1,
				      sizeof(res->reason) - n - 1);
		}
	}
	snprintf(res->panic_line, sizeof(res->panic_line), "%s", con->panic_line);
	if (vm->nr_vcpus && vm->vcpus[0].first_run_ns > t0)
		res->setup_ns = vm->vcpus[0].first_run_ns - t0;
	if (con->first_byte_ns > t0)
		res->first_output_ns = con->first_byte_ns - t0;
	res->total_ns = mono_ns() - t0;
	res->console_bytes = con->bytes;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		res->exits_io += vm->vcpus[i].exits_io;
		res->exits_mmio += vm->vcpus[i].exits_mmio;
	}
}

static int install_signals(struct vm *vm, struct sigaction old[2])
{
	struct sigaction sa = {.sa_handler = on_signal};

	vm->signal_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vm->signal_fd < 0)
		return -errno;
	g_signal_fd = vm->signal_fd;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
	return 0;
}

static void restore_signals(struct vm *vm, struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	g_signal_fd = -1;
	close(vm->signal_fd);
	vm->signal_fd = -1;
}

static int start_vcpus(struct vm *vm, struct vcpu_ctx *ctx)
{
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	/* APs first: they wait in KVM_RUN for the SIPI the BSP will send. */
	for (unsigned k = 0; k < vm->nr_vcpus && !vm->done; k++) {
		unsigned i = vm->nr_vcpus - 1 - k;
		ctx[i] = (struct vcpu_ctx){.vm = vm, .v = &vm->vcpus[i]};
		r = -pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &ctx[i]);
		if (r)
			break;
		vm->vcpus[i].thread_started = true;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_run(struct vm *vm, struct vm_result *res)
{
	struct watchdog w = {.vm = vm, .wake_fd = -1};
	struct sigaction old[2];
	struct vcpu_ctx *ctx = NULL;
	pthread_t wd;
	bool wd_started = false, sig_installed = false;
	char msg[256];
	int r;

	memset(res, 0, sizeof(*res));
	struct acpi_config acfg = {
		.layout = &vm->layout,
		.mm = &vm->mm,
		.virtio = vm->virtio,
		.nr_virtio = vm->nr_virtio,
	};
	r = acpi_write(vm->gm, &acfg, msg, sizeof(msg));
	if (r) {
		request_stop(vm, VM_HOST_ERROR, "ACPI tables: %s", msg);
		goto out;
	}
	note_step(vm, "ACPI tables");
	ctx = calloc(vm->nr_vcpus, sizeof(*ctx));
	w.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r = ctx && w.wake_fd >= 0 ? vcpu_signal_setup() : -ENOMEM;
	if (!r && vm->cfg.handle_signals) {
		r = install_signals(vm, old);
		sig_installed = !r;
	}
	if (r) {
		request_stop(vm, VM_HOST_ERROR, "cannot start the VM: %s", strerror(-r));
		goto out;
	}
	if (vm->cfg.timeout_s)
		w.deadline_ns = mono_ns() + (uint64_t)vm->cfg.timeout_s * 1000000000u;
	r = -pthread_create(&wd, NULL, watchdog_thread, &w);
	if (r) {
		request_stop(vm, VM_HOST_ERROR, "cannot start the watchdog: %s", strerror(-r));
		goto out;
	}
	wd_started = true;
	r = start_vcpus(vm, ctx);
	if (r)
		request_stop(vm, VM_HOST_ERROR, "cannot start vCPU threads: %s", strerror(-r));

	pthread_mutex_lock(&vm->lock);
	while (!vm->done)
		pthread_cond_wait(&vm->done_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
out:
	if (w.wake_fd >= 0) {
		uint64_t one = 1;
		if (write(w.wake_fd, &one, sizeof(one)) < 0) {
			/* the watchdog still wakes at its next tick */
		}
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
	if (wd_started)
		pthread_join(wd, NULL);
	if (sig_installed)
		restore_signals(vm, old);
	if (w.wake_fd >= 0)
		close(w.wake_fd);
	free(ctx);
	vm_console_finish(&vm->com1.out);
	vm_console_finish(&vm->com2.out);
	fill_result(vm, res);
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	kvm_close(&vm->kvm);
	gm_put(vm->gm);
	if (vm->ram)
		munmap(vm->ram, vm->ram_bytes);
	struct vm_uart *uarts[] = {&vm->com1, &vm->com2};
	for (size_t i = 0; i < ARRAY_SIZE(uarts); i++) {
		if (uarts[i]->irq_fd >= 0)
			close(uarts[i]->irq_fd);
		serial_destroy(&uarts[i]->uart);
		vm_console_destroy(&uarts[i]->out);
	}
	bus_destroy(&vm->bus);
	pthread_cond_destroy(&vm->done_cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}
