/* SPDX-License-Identifier: MIT */
/*
 * COM2 records (specs/guest-protocol.md §2.7): RS, a printable header, LF,
 * and a raw body of n bytes when the header carries n=<decimal>. COM2 cannot
 * block on the host, so it carries what must survive a broken virtio path.
 */
#ifndef KTSTR_PROTO_SERIAL_REC_H
#define KTSTR_PROTO_SERIAL_REC_H

#include <stddef.h>
#include <stdint.h>

#define SERIAL_RS	  0x1E
#define SERIAL_HEADER_MAX 255u
#define SERIAL_BODY_MAX	  4096u

/*
 * Encode one record into dst. The header is copied with LF/CR and other
 * control characters replaced by spaces and cut at SERIAL_HEADER_MAX. Returns
 * the record size, or 0 if it does not fit in cap.
 */
size_t serial_record_encode(uint8_t *dst, size_t cap, const char *header, const void *body,
			    size_t n);

#endif
