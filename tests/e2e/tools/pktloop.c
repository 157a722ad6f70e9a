/* SPDX-License-Identifier: MIT */
/*
 * pktloop: send COUNT Ethernet frames on an interface through an AF_PACKET
 * socket and expect every one back, byte for byte. Run in the guest of the
 * e2e net case against ktstr's loopback virtio-net NIC (eth0), whose device
 * returns each transmitted frame on the receive queue.
 *
 *   pktloop [-i IFNAME] [-n COUNT] [-w WINDOW] [-t TIMEOUT_MS]
 *
 * Frames use the IEEE local experimental EtherType 0x88B5, our own MAC as
 * source and destination, a 32-bit sequence number and a payload derived
 * from it; lengths vary from 60 to 1514 bytes. At most WINDOW frames are in
 * flight so the device's receive ring never runs dry (a drop there would be
 * a legitimate "no buffer" event, not a bug). Prints one summary line;
 * exit 0 when all COUNT came back intact exactly once, 1 otherwise.
 * Built static by tools/l1-tools.sh (the guest has no libc of its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETHERTYPE_E2E 0x88B5
#define HDR	      14
#define MIN_FRAME     60
#define MAX_FRAME     1514

static size_t frame_len(uint32_t seq)
{
	return MIN_FRAME + (size_t)(seq * 37u) % (MAX_FRAME - MIN_FRAME + 1);
}

/* Fill frame seq after the header: the sequence number, then bytes from it. */
static void fill(unsigned char *f, size_t len, uint32_t seq)
{
	uint32_t s = seq * 2654435761u + 1;

	f[HDR] = (unsigned char)(seq >> 24);
	f[HDR + 1] = (unsigned char)(seq >> 16);
	f[HDR + 2] = (unsigned char)(seq >> 8);
	f[HDR + 3] = (unsigned char)seq;
	for (size_t i = HDR + 4; i < len; i++) {
		s = s * 1103515245u + 12345u;
		f[i] = (unsigned char)(s >> 16);
	}
}

int main(int argc, char **argv)
{
	const char *ifname = "eth0";
	long count = 1000, window = 16, timeout_ms = 5000;
	unsigned char mac[6], out[MAX_FRAME], in[MAX_FRAME + 64], want[MAX_FRAME];
	struct ifreq ifr;
	struct sockaddr_ll sll;
	int opt, fd;

	while ((opt = getopt(argc, argv, "i:n:w:t:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 0);
			break;
		case 'w':
			window = strtol(optarg, NULL, 0);
			break;
		case 't':
			timeout_ms = strtol(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: pktloop [-i IF] [-n COUNT] [-w WINDOW] [-t MS]\n");
			return 2;
		}
	}
	if (count < 1 || window < 1 || timeout_ms < 1 || strlen(ifname) >= IFNAMSIZ) {
		fprintf(stderr, "pktloop: bad arguments\n");
		return 2;
	}

	fd = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE_E2E));
	if (fd < 0) {
		perror("pktloop: socket(AF_PACKET)");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "pktloop: %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
			fprintf(stderr, "pktloop: bringing %s up: %s\n", ifname, strerror(errno));
			return 1;
		}
	}
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("pktloop: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		perror("pktloop: SIOCGIFINDEX");
		return 1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETHERTYPE_E2E);
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("pktloop: bind");
		return 1;
	}

	unsigned char *seen = calloc((size_t)count, 1);
	if (!seen) {
		perror("pktloop: calloc");
		return 1;
	}
	long sent = 0, got = 0, bad = 0, dup = 0, reorder = 0, foreign = 0;
	long next_expected = 0;
	int timed_out = 0;

	memcpy(out, mac, 6);
	memcpy(out + 6, mac, 6);
	out[12] = ETHERTYPE_E2E >> 8;
	out[13] = ETHERTYPE_E2E & 0xff;
	while (got + bad < count && !timed_out) {
		while (sent < count && sent - (got + bad) < window) {
			size_t len = frame_len((uint32_t)sent);
			fill(out, len, (uint32_t)sent);
			ssize_t w = send(fd, out, len, 0);
			if (w < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN))
				break; /* retry after the next receive or poll */
			if (w != (ssize_t)len) {
				fprintf(stderr, "pktloop: send frame %ld: %s\n", sent,
					w < 0 ? strerror(errno) : "short write");
				return 1;
			}
			sent++;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			timed_out = 1;
			break;
		}
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, in, sizeof(in), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pktloop: recvfrom");
			return 1;
		}
		/* Our own transmissions as seen by the tap are not replies. */
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (n < HDR + 4 || in[12] != (ETHERTYPE_E2E >> 8) ||
		    in[13] != (ETHERTYPE_E2E & 0xff)) {
			foreign++;
			continue;
		}
		uint32_t seq = (uint32_t)in[HDR] << 24 | (uint32_t)in[HDR + 1] << 16 |
			       (uint32_t)in[HDR + 2] << 8 | in[HDR + 3];
		if (seq >= (uint32_t)sent) {
			bad++;
			continue;
		}
		size_t len = frame_len(seq);
		memcpy(want, out, HDR);
		fill(want, len, seq);
		if ((size_t)n != len || memcmp(in, want, len)) {
			if (getenv("PKTLOOP_DEBUG"))
				fprintf(stderr, "pktloop: frame %u: got %zd bytes, want %zu\n", seq,
					n, len);
			bad++;
			continue;
		}
		if (seen[seq]) {
			dup++;
			continue;
		}
		seen[seq] = 1;
		if ((long)seq != next_expected)
			reorder++;
		next_expected = (long)seq + 1;
		got++;
	}
	printf("pktloop: sent %ld received %ld corrupt %ld duplicate %ld missing %ld reordered %ld "
	       "foreign %ld%s\n",
	       sent, got, bad, dup, count - got, reorder, foreign,
	       timed_out ? " (timed out waiting)" : "");
	return (got == count && !bad && !dup) ? 0 : 1;
}
