/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Copies between rte_mbufs and guest buffers that a descriptor walker has
 * already validated and split into host pieces (desc_split.h). Layout-neutral:
 * split and packed rings share these bodies. They trust the piece list
 * (every piece is inside guest memory) but not its size: the enqueue side
 * is told the capacity was checked and still never writes past the last
 * piece. Every byte written into guest memory is marked in the dirty log
 * when the queue logs.
 */
#ifndef VHU_COPY_H
#define VHU_COPY_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdatomic.h>

#include <linux/virtio_net.h>

#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_byteorder.h>
#include <rte_prefetch.h>

#include "desc_split.h"
#include "dirty_log.h"
#include "net_hdr.h"

/*
 * Largest transmit frame accepted (after the virtio-net header), by both
 * ring layouts: a 64 KiB GSO frame plus link headers. Anything larger is
 * dropped, so a guest cannot drain the mempool with one giant chain on
 * every call.
 */
#define VHU_MAX_TX_FRAME (64 * 1024 + 256)

/*
 * virtio-net header layouts (virtio 1.2 §5.1.6): vq.c derives hdr_len
 * from these, and vhu_put_net_hdr() writes them as one u64 and a u16/u32
 * with num_buffers in bytes 10-11.
 */
static_assert(sizeof(struct virtio_net_hdr) == 10, "virtio-net header");
static_assert(sizeof(struct virtio_net_hdr_mrg_rxbuf) == 12,
	      "virtio-net header with num_buffers");
static_assert(offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers) == 10,
	      "num_buffers follows the legacy header");

/*
 * Copy one frame's bytes between an mbuf and a guest buffer: rte_memcpy
 * (inline) up to 64 bytes, libc memcpy up to VHU_COPY_LIBC_MAX bytes,
 * rte_memcpy above.
 *
 * Up to 64 bytes (minimum-size frames) the copy is inline, with no call:
 * about 5 cycles/packet less than libc's memcpy in the packed 64 B loop.
 * The function is always inlined so that it stays so: GCC otherwise split
 * it and called the rte_memcpy part out of line (callgrind, packed 64 B:
 * 10 more instructions a frame). Large frames are cold on both ends (the
 * other core wrote them last), and there glibc's AVX-512 memmove stalls
 * where rte_memcpy does not; callgrind cannot see it, only perf of the
 * loopback can. Between the two, libc memcpy, from a callgrind figure on
 * hot buffers; 256 is not tuned. How each was measured:
 * doc/guide/benchmark.md, "Measurements behind the code".
 */
#ifndef VHU_COPY_LIBC_MAX
#define VHU_COPY_LIBC_MAX 256
#endif

static __rte_always_inline void
vhu_copy_frame(void *dst, const void *src, uint32_t n)
{
	if (n <= 64)
		rte_memcpy(dst, src, n);
	else if (n > VHU_COPY_LIBC_MAX)
		rte_memcpy(dst, src, n);
	else
		memcpy(dst, src, n);
}

/*
 * Prefetch every cache line of n bytes from p (the next frame to copy).
 * Transmit frames were just written by the guest's core, so each line is a
 * cross-core miss; issued one frame ahead, the misses overlap the current
 * copy. It halves the copy's share of the backend's samples at 1518 B
 * (doc/guide/benchmark.md, "Where the cycles go"). Lines, not 64-byte
 * steps from p: a frame rarely starts on a line.
 */
static inline void
vhu_prefetch_frame(const void *p, uint32_t n)
{
	uintptr_t line = (uintptr_t)p & ~(uintptr_t)63;
	uintptr_t end = (uintptr_t)p + n;

	for (; line < end; line += 64)
		rte_prefetch0((const void *)line);
}

/*
 * How much of a frame pass 1 of a burst prefetches, header aside: every
 * frame's first lines are requested before the first copy, so a burst's
 * misses overlap instead of one frame's at a time (pass 2 prefetches one
 * frame ahead, too late for short frames). 128 bytes: the whole of a
 * 64-byte frame wherever it starts (doc/guide/benchmark.md, second round).
 */
#define VHU_PREFETCH_EARLY 128

/*
 * The lines of [from, end) when they are at most three (a span of up to
 * VHU_PREFETCH_EARLY bytes): two tests instead of a loop, which callgrind
 * counted at about 10 instructions a frame in each direction. write asks
 * for ownership; neither touches a line past end (a guest's next buffer
 * may be on it).
 */
static __rte_always_inline void
vhu_prefetch_head_lines(uintptr_t from, uintptr_t end, bool write)
{
	uintptr_t line = from & ~(uintptr_t)63;

	if (write)
		__builtin_prefetch((const void *)line, 1, 3);
	else
		rte_prefetch0((const void *)line);
	if (line + 64 < end) {
		if (write)
			__builtin_prefetch((const void *)(line + 64), 1, 3);
		else
			rte_prefetch0((const void *)(line + 64));
	}
	if (line + 128 < end) {
		if (write)
			__builtin_prefetch((const void *)(line + 128), 1, 3);
		else
			rte_prefetch0((const void *)(line + 128));
	}
}

/* Pass 1 of a dequeue: the first lines of a frame about to be read. */
static inline void
vhu_prefetch_frame_head(const void *p, uint32_t n)
{
	vhu_prefetch_head_lines((uintptr_t)p, (uintptr_t)p +
				RTE_MIN(n, (uint32_t)VHU_PREFETCH_EARLY), false);
}

/*
 * Pass 1 of an enqueue into a buffer at p: the header's line for reading
 * (vhu_put_net_hdr() stores only what differs), the frame head's lines
 * for writing (a guest buffer's lines sit in the guest's core: each store
 * would otherwise wait for its line in turn). A header on the frame's
 * first line (a buffer aligned to 64 bytes, as Linux posts them) is left
 * to the write request: a read first would cost a second transfer (145
 * -> 102 backend cycles/packet, split 64 B in the pump harness;
 * doc/guide/benchmark.md, sixth round).
 */
static inline void
vhu_prefetchw_frame_head(uint8_t *p, uint16_t hdr_len, uint32_t n)
{
	uintptr_t from = (uintptr_t)p + hdr_len;

	if (((uintptr_t)p ^ from) & ~(uintptr_t)63)
		rte_prefetch0(p);
	vhu_prefetch_head_lines(from, from +
				RTE_MIN(n, (uint32_t)VHU_PREFETCH_EARLY), true);
}

/* Pass 2 of an enqueue, one frame ahead: the lines pass 1 did not ask for. */
static inline void
vhu_prefetchw_frame_tail(uint8_t *p, uint16_t hdr_len, uint32_t n)
{
	uintptr_t line = ((uintptr_t)p + hdr_len + VHU_PREFETCH_EARLY) &
			 ~(uintptr_t)63;
	uintptr_t end = (uintptr_t)p + hdr_len + n;

	for (; line < end; line += 64)
		__builtin_prefetch((const void *)line, 1, 3);
}

/* Mark the first bytes of a piece list dirty, one range per piece. */
static inline void
vhu_log_pieces(const struct vhu_dirty_log *log, const struct vhu_piece *p,
	       uint32_t np, uint64_t bytes)
{
	/*
	 * D1: the copied bytes are visible before their dirty bits; pairs
	 * with the frontend reading (and clearing) a bit before it copies
	 * the page, so it never copies a page we have not finished.
	 */
	atomic_thread_fence(memory_order_release);
	for (uint32_t i = 0; i < np && bytes > 0; i++) {
		uint64_t n = RTE_MIN(bytes, (uint64_t)p[i].len);

		vhu_log_mark(log, p[i].gpa, n);
		bytes -= n;
	}
}

/* Write position in a piece list. */
struct vhu_wcursor {
	const struct vhu_piece *p;
	uint32_t np;
	uint32_t i;   /* current piece */
	uint32_t off; /* bytes used in it */
};

/* Append len bytes; false if the pieces ran out. */
static inline bool
vhu_wcursor_put(struct vhu_wcursor *c, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	while (len > 0) {
		uint32_t room, n;

		if (unlikely(c->i >= c->np))
			return false;
		room = c->p[c->i].len - c->off;
		n = RTE_MIN(room, len);
		vhu_copy_frame(c->p[c->i].hva + c->off, s, n);
		s += n;
		len -= n;
		c->off += n;
		if (c->off == c->p[c->i].len) {
			c->i++;
			c->off = 0;
		}
	}
	return true;
}

/*
 * The receive header for m, num_buffers included, for a guest whose
 * receive offloads are ol_caps (VHU_OL_*, 0: none): all zero but
 * num_buffers unless m asks for an offload the guest takes.
 */
static inline void
vhu_net_hdr_for(struct virtio_net_hdr_mrg_rxbuf *hdr, const struct rte_mbuf *m,
		uint8_t ol_caps, uint16_t num_buffers)
{
	if (unlikely(ol_caps != 0 && (m->ol_flags & VHU_OL_HDR_FLAGS)))
		vhu_net_hdr_fill(m, ol_caps, &hdr->hdr);
	else
		memset(&hdr->hdr, 0, sizeof(hdr->hdr));
	hdr->num_buffers = rte_cpu_to_le_16(num_buffers); /* le16 (§5.1.6) */
}

/*
 * Write the virtio-net header (vhu_net_hdr_for) and the frame m into the
 * pieces. The caller checked that they hold hdr_len + m->pkt_len bytes.
 * Returns the bytes written.
 */
static inline uint32_t
vhu_copy_mbuf_to_guest(const struct vhu_dirty_log *log, bool do_log,
		       const struct vhu_piece *p, uint32_t np,
		       uint16_t hdr_len, uint16_t num_buffers, uint8_t ol_caps,
		       const struct rte_mbuf *m)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct vhu_wcursor c = { .p = p, .np = np, .i = 0, .off = 0 };
	uint32_t written;

	vhu_net_hdr_for(&hdr, m, ol_caps, num_buffers);
	if (likely(np > 0 && p[0].len >= hdr_len)) {
		memcpy(p[0].hva, &hdr, hdr_len);
		c.off = hdr_len;
		if (c.off == p[0].len) {
			c.i = 1;
			c.off = 0;
		}
	} else if (!vhu_wcursor_put(&c, &hdr, hdr_len)) {
		return 0;
	}
	written = hdr_len;
	for (; m != NULL; m = m->next) {
		if (unlikely(!vhu_wcursor_put(&c,
				rte_pktmbuf_mtod(m, const void *),
				m->data_len)))
			break;
		written += m->data_len;
	}
	if (do_log)
		vhu_log_pieces(log, p, np, written);
	return written;
}

/*
 * The header as its first 8 bytes (zero) and hi_size (2 or 4, a constant
 * after inlining) more holding want_hi: stored, or with !same_line only
 * when they differ. Compared as integers against values held in
 * registers, never through a header built on the stack: a load wider than
 * the store it reads back cannot be forwarded, and waits for every older
 * store, the burst's guest copies included, to drain. That stall held 62%
 * of the split enqueue's samples (doc/guide/benchmark.md, fourth round).
 */
static __rte_always_inline void
put_hdr_words(uint8_t *dst, uint32_t want_hi, size_t hi_size, bool same_line)
{
	const uint64_t want_lo = 0;

	if (!same_line) {
		uint64_t lo;
		uint32_t hi = 0;

		memcpy(&lo, dst, sizeof(lo));
		memcpy(&hi, dst + sizeof(lo), hi_size);
		if (lo == want_lo && hi == want_hi)
			return;
	}
	memcpy(dst, &want_lo, sizeof(want_lo));
	memcpy(dst + sizeof(want_lo), &want_hi, hi_size);
}

/*
 * Write the virtio-net header of a received frame: all zero (offloads come
 * later: zero means "nothing to do") but num_buffers, which exists when
 * hdr_len has room for it (virtio 1.2 §5.1.6). The 10- and 12-byte
 * layouts are the only ones vq.c derives.
 *
 * Stored only when the guest's buffer holds something else: a reused
 * receive buffer usually holds this very header already, and a line we
 * only read stays valid in the guest's cache (no ownership request for us,
 * no miss for the guest when its driver reads the header back): the
 * frontend's stall on that read shrinks by a third (doc/guide/benchmark.md,
 * second round). Except when the frame's first bytes share the header's
 * line (the caller says so with same_line): that line is ours to write
 * anyway, and a store never stalls where a load of a line still on its
 * way from the guest's core does.
 */
static inline void
vhu_put_net_hdr(uint8_t *dst, uint16_t hdr_len, uint16_t num_buffers,
		bool same_line)
{
	if (likely(hdr_len == sizeof(struct virtio_net_hdr_mrg_rxbuf)))
		/* bytes 8-9 csum_offset (zero), 10-11 num_buffers (le16) */
		put_hdr_words(dst, rte_cpu_to_le_32((uint32_t)num_buffers << 16),
			      sizeof(uint32_t), same_line);
	else if (hdr_len == sizeof(struct virtio_net_hdr))
		/* legacy without MRG_RXBUF: all zero, 10 bytes */
		put_hdr_words(dst, 0, sizeof(uint16_t), same_line);
	else {
		/* no other layout today; a new one still gets a clean header */
		struct virtio_net_hdr_mrg_rxbuf hdr;

		memset(&hdr, 0, sizeof(hdr));
		hdr.num_buffers = rte_cpu_to_le_16(num_buffers);
		memcpy(dst, &hdr, RTE_MIN((size_t)hdr_len, sizeof(hdr)));
	}
}

/* Data room of an mbuf fresh from its pool, after the default headroom. */
static inline uint32_t
vhu_mbuf_fresh_room(const struct rte_mbuf *m)
{
	return m->buf_len - RTE_MIN((uint16_t)RTE_PKTMBUF_HEADROOM, m->buf_len);
}

/*
 * Initialise an mbuf fresh from its pool (rte_mempool_get / raw alloc) as
 * a one-segment packet of len bytes (0: empty), as rte_pktmbuf_reset()
 * and the length updates would. A pool hands out mbufs with refcnt 1,
 * nb_segs 1 and next NULL (rte_mbuf_raw_alloc contract), so those fields
 * are left alone; the rest are written in place, which keeps the stores
 * within the first cache line but for tx_offload.
 */
static inline void
vhu_mbuf_init(struct rte_mbuf *m, uint32_t len)
{
	m->data_off = RTE_MIN((uint16_t)RTE_PKTMBUF_HEADROOM, m->buf_len);
	m->port = RTE_MBUF_PORT_INVALID;
	m->ol_flags &= RTE_MBUF_F_EXTERNAL;
	m->packet_type = 0;
	m->pkt_len = len;
	m->data_len = (uint16_t)len;
	m->vlan_tci = 0;
	m->vlan_tci_outer = 0;
	m->tx_offload = 0;
}

/*
 * Fill head (initialised with vhu_mbuf_init) with the pieces' bytes after
 * the first skip bytes (the virtio-net header, which may span pieces);
 * with keep_hdr those go just before the frame, in head's headroom
 * (VHU_VQ_F_NET_OL: the offload stage reads them there).
 * Extra segments come from mp when the frame outgrows one data room.
 * Returns false, with head and its segments freed, when the pool runs dry.
 */
static inline bool
vhu_copy_guest_to_mbuf(struct rte_mempool *mp, struct rte_mbuf *head,
		       const struct vhu_piece *p, uint32_t np, uint32_t skip,
		       bool keep_hdr)
{
	struct rte_mbuf *cur = head;
	uint32_t room, pkt_len = 0;
	uint8_t *dst, *hdr_dst = NULL;

	dst = rte_pktmbuf_mtod(cur, uint8_t *);
	room = rte_pktmbuf_tailroom(cur);
	if (keep_hdr && head->data_off >= skip)
		hdr_dst = dst - skip;
	for (uint32_t i = 0; i < np; i++) {
		const uint8_t *src = p[i].hva;
		uint32_t left = p[i].len;

		if (skip > 0) {
			uint32_t s = RTE_MIN(skip, left);

			if (hdr_dst != NULL) {
				memcpy(hdr_dst, src, s);
				hdr_dst += s;
			}
			src += s;
			left -= s;
			skip -= s;
		}
		if (i + 1 < np)
			rte_prefetch0(p[i + 1].hva);
		while (left > 0) {
			uint32_t n;

			if (unlikely(room == 0)) {
				struct rte_mbuf *seg = rte_pktmbuf_alloc(mp);

				if (unlikely(seg == NULL ||
					     rte_pktmbuf_tailroom(seg) == 0)) {
					rte_pktmbuf_free(seg);
					rte_pktmbuf_free(head);
					return false;
				}
				cur->next = seg;
				head->nb_segs++;
				cur = seg;
				dst = rte_pktmbuf_mtod(cur, uint8_t *);
				room = rte_pktmbuf_tailroom(cur);
			}
			n = RTE_MIN(room, left);
			vhu_copy_frame(dst, src, n);
			dst += n;
			src += n;
			left -= n;
			room -= n;
			cur->data_len += n;
			pkt_len += n;
		}
	}
	head->pkt_len = pkt_len;
	return true;
}

#endif /* VHU_COPY_H */
