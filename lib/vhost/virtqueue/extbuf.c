/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * External buffers for the dequeue of large frames (extbuf.h). Data path,
 * but only for frames larger than one mbuf (2 KiB and up with the usual
 * pools), whose copy costs more than the allocation.
 *
 * Design: rte_malloc_socket(), one buffer the size of the frame, rather
 * than a private mempool. Frames that need one range from a little over
 * a data room to 64 KiB, and a mempool has one element size: sized for
 * the largest it would hold 64 KiB for a 3 KiB jumbo frame, and a pool
 * that covers a ring's worth of 64 KiB frames (1024 x 64 KiB per queue)
 * would pin 64 MiB of hugepages per queue whether or not a large frame
 * ever comes. The heap costs a lock per allocation and per free, a few
 * hundred cycles, against the 2,000 to 20,000 cycles of copying 9 to
 * 64 KiB cold from the guest; DPDK's vhost makes the same choice. Not
 * measured here (no benchmark ran for it); a per-lcore cache of recent
 * buffers is the next step if a profile ever shows the heap lock.
 *
 * Layout of a buffer: [headroom | frame, rounded up to 8 | shared info].
 * buf_len, 16 bits, covers headroom and frame; the shared info sits after
 * it, so it does not count against those 16 bits.
 */
#include <rte_malloc.h>

#include "vhu.h"
#include "extbuf.h"

static void *
alloc_real(size_t size, int socket)
{
	return rte_malloc_socket("vhu_extbuf", size, RTE_CACHE_LINE_SIZE,
				 socket);
}

vhu_extbuf_alloc_fn vhu_extbuf_alloc = alloc_real;

/* The shared info's free callback: the mbuf's last reference went. */
static void
extbuf_free(void *addr, void *opaque)
{
	(void)opaque;
	rte_free(addr);
}

bool
vhu_extbuf_attach(struct rte_mbuf *m, uint32_t len, int socket)
{
	struct rte_mbuf_ext_shared_info *shinfo;
	uint32_t buf_len;
	void *buf;

	if (unlikely(len > VHU_EXTBUF_MAX_FRAME || RTE_MBUF_HAS_EXTBUF(m)))
		return false;
	buf_len = RTE_ALIGN_CEIL((uint32_t)RTE_PKTMBUF_HEADROOM + len, 8u);
	buf = vhu_extbuf_alloc(buf_len + sizeof(*shinfo), socket);
	if (unlikely(buf == NULL))
		return false;
	shinfo = RTE_PTR_ADD(buf, buf_len);
	shinfo->free_cb = extbuf_free;
	shinfo->fcb_opaque = NULL;
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, rte_malloc_virt2iova(buf),
				  (uint16_t)buf_len, shinfo);
	/* attach_extbuf leaves data_off 0 and the lengths as they were */
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->data_len = 0;
	m->pkt_len = 0;
	return true;
}
