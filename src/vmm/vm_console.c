// SPDX-License-Identifier: MIT
#include "vmm/vm_console.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char panic_marker[] = "Kernel panic - not syncing";

enum vm_console_mark vm_console_classify(const char *line)
{
	/* Kernel messages carry a "[    1.234567] " prefix; match anywhere in the line. */
	if (strstr(line, "---[ end Kernel panic"))
		return VM_MARK_PANIC_END;
	if (strstr(line, panic_marker))
		return VM_MARK_PANIC;
	if (strstr(line, "reboot: Restarting system"))
		return VM_MARK_RESTART;
	return VM_MARK_NONE;
}

void vm_console_init(struct vm_console *c, int fd, bool scan, vm_console_mark_fn on_mark,
		     void *opaque)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->fd = fd;
	c->scan = scan;
	c->on_mark = on_mark;
	c->opaque = opaque;
}

void vm_console_destroy(struct vm_console *c)
{
	pthread_mutex_destroy(&c->lock);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n && fd >= 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* a closed stdout must not stop the guest */
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Emit line[flushed, len) and reset; called with the lock held. */
static void emit(struct vm_console *c, bool newline)
{
	if (newline)
		c->line[c->len++] = '\n';
	write_all(c->fd, c->line + c->flushed, c->len - c->flushed);
	if (c->scan) {
		c->line[c->len - (newline ? 1 : 0)] = '\0';
		enum vm_console_mark m = vm_console_classify(c->line);
		if (m == VM_MARK_PANIC && !c->panicked) {
			const char *p = strstr(c->line, panic_marker);
			c->panicked = true;
			strncpy(c->panic_line, p, sizeof(c->panic_line) - 1);
		} else if (m == VM_MARK_RESTART) {
			c->restarting = true;
		}
		if (m != VM_MARK_NONE && c->on_mark)
			c->on_mark(c->opaque, m);
	}
	c->len = c->flushed = 0;
}

void vm_console_putc(void *opaque, uint8_t byte)
{
	struct vm_console *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (!c->bytes++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->first_byte_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	if (byte == '\n') {
		/* The 8250 console sends "\r\n"; keep logs free of carriage returns. */
		if (c->len > c->flushed && c->line[c->len - 1] == '\r')
			c->len--;
		emit(c, true);
	} else {
		c->line[c->len++] = (char)byte;
		/* Room for '\n' and '\0' stays; an over-long line is split. */
		if (c->len >= VM_CONSOLE_LINE - 2)
			emit(c, false);
	}
	pthread_mutex_unlock(&c->lock);
}

void vm_console_flush(struct vm_console *c)
{
	pthread_mutex_lock(&c->lock);
	/* Hold back a trailing '\r': it is probably the first half of "\r\n". */
	size_t end = c->len;
	if (end > c->flushed && c->line[end - 1] == '\r')
		end--;
	if (end > c->flushed) {
		write_all(c->fd, c->line + c->flushed, end - c->flushed);
		c->flushed = end;
	}
	pthread_mutex_unlock(&c->lock);
}

void vm_console_finish(struct vm_console *c)
{
	vm_console_flush(c);
	pthread_mutex_lock(&c->lock);
	/* End a dangling partial line so whatever is printed next starts clean. */
	if (c->flushed)
		write_all(c->fd, "\n", 1);
	c->len = c->flushed = 0;
	pthread_mutex_unlock(&c->lock);
}
