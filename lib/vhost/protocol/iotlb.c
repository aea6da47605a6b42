/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device IOTLB: IOTLB_MSG (update, invalidate), SET_BACKEND_REQ_FD, the
 * translation views the data path reads, and the miss sender. See iotlb.h
 * for the trust rules. Spec: vhost-user.rst, "IOMMU support", and the
 * IOTLB_MSG / SET_BACKEND_REQ_FD / BACKEND_IOTLB_MSG requests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include "dev.h"
#include "iotlb.h"
#include "registry.h"
#include "vhu_log.h"

static bool
offers_iommu(const struct vhu_dev *dev)
{
	return (dev->sock->features >> VIRTIO_F_ACCESS_PLATFORM) & 1;
}

static void
attach_views(struct vhu_vq *vq, void *arg)
{
	struct vhu_dev *dev = arg;

	vhu_vq_set_iotlb_locked(vq, dev->iotlb.rd, dev->iotlb.wr,
				vhu_iotlb_send_miss, dev);
}

static void
detach_views(struct vhu_vq *vq, void *arg)
{
	(void)arg;
	vhu_vq_set_iotlb_locked(vq, NULL, NULL, NULL, NULL);
}

int
vhu_iotlb_attach(struct vhu_dev *dev)
{
	struct vhu_iotlb *t = &dev->iotlb;

	t->n = 0;
	t->backend_fd = -1;
	atomic_flag_clear_explicit(&t->send_busy, memory_order_seq_cst);
	t->misses_sent = 0;
	t->misses_unsent = 0;
	t->updates = 0;
	t->invalidates = 0;
	t->rejected = 0;
	t->dropped = 0;
	/* allocated per connection: freed by vhu_dev_close */
	if (!offers_iommu(dev) || t->e != NULL)
		return 0;
	t->e = calloc(VHU_IOTLB_MAX, sizeof(*t->e));
	t->rd = calloc(1, sizeof(*t->rd));
	t->wr = calloc(1, sizeof(*t->wr));
	if (t->e == NULL || t->rd == NULL || t->wr == NULL) {
		vhu_iotlb_free(dev);
		return -ENOMEM;
	}
	/* queues of a reused slot: a stale burst may race, so quiesce */
	vhu_vqs_apply(&dev->vqs, true, attach_views, dev);
	return 0;
}

void
vhu_iotlb_free(struct vhu_dev *dev)
{
	struct vhu_iotlb *t = &dev->iotlb;

	if (t->e == NULL && t->rd == NULL && t->wr == NULL) {
		/* BACKEND_REQ offered without the IOMMU: no queue sends */
		if (t->backend_fd >= 0)
			close(t->backend_fd);
		t->backend_fd = -1;
		return;
	}
	/* no queue may keep a pointer to the views (a stale burst) */
	vhu_vqs_apply(&dev->vqs, true, detach_views, NULL);
	if (t->backend_fd >= 0)
		close(t->backend_fd);
	t->backend_fd = -1;
	free(t->e);
	free(t->rd);
	free(t->wr);
	t->e = NULL;
	t->rd = NULL;
	t->wr = NULL;
	t->n = 0;
}

/*
 * Regions of the memory table in frontend-virtual order. Regions never
 * overlap in gpa but may in qva (a frontend can map one file range at two
 * guest addresses), so region ends are not sorted: max_end[i], the largest
 * end among r[0..i], is, and is what the searches below bisect.
 */
struct qva_index {
	uint32_t n;
	const struct vhu_mem_region *r[VHU_MAX_MEM_SLOTS];
	uint64_t max_end[VHU_MAX_MEM_SLOTS];
};

static void
regions_by_qva(const struct vhu_guest_mem *m, struct qva_index *x)
{
	x->n = 0;
	for (uint32_t i = 0; i < m->nregions && i < VHU_MAX_MEM_SLOTS; i++) {
		uint32_t j = x->n++;

		/* insertion sort: at most VHU_MAX_MEM_SLOTS, control path */
		while (j > 0 && x->r[j - 1]->qva > m->r[i].qva) {
			x->r[j] = x->r[j - 1];
			j--;
		}
		x->r[j] = &m->r[i];
	}
	for (uint32_t i = 0; i < x->n; i++) {
		uint64_t end = x->r[i]->qva + x->r[i]->size;

		x->max_end[i] = (i > 0 && x->max_end[i - 1] > end) ?
				x->max_end[i - 1] : end;
	}
}

/* Index of the first region (by qva) that may reach past qva. */
static uint32_t
first_region_after(const struct qva_index *x, uint64_t qva)
{
	uint32_t lo = 0, hi = x->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (x->max_end[mid] <= qva)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* All of [uaddr, uaddr + size) in mapped guest memory. */
static bool
uaddr_mapped(const struct qva_index *x, uint64_t uaddr, uint64_t size)
{
	uint64_t end = uaddr + size; /* no wrap: checked by the caller */
	uint32_t i = first_region_after(x, uaddr);

	/* uaddr: everything below it is covered */
	while (uaddr < end) {
		uint64_t r_end;

		if (i == x->n || x->r[i]->qva > uaddr)
			return false;
		r_end = x->r[i]->qva + x->r[i]->size;
		if (r_end > uaddr)
			uaddr = r_end;
		i++;
	}
	return true;
}

/*
 * One view: every entry with access need, clipped to the regions. Entries
 * do not overlap in iova and are sorted by it, and the pieces of one entry
 * come out in qva order, which is its iova order: the view is sorted.
 * Neighbours contiguous in both iova and host memory are merged, so a
 * ring spanning several IOMMU pages translates as one piece.
 */
static int
build_view(struct vhu_guest_mem *v, const struct vhu_iotlb *t,
	   const struct qva_index *x, uint8_t need)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < t->n; k++) {
		const struct vhu_iotlb_entry *e = &t->e[k];
		uint64_t end = e->uaddr + e->size;

		if (!(e->perm & need))
			continue;
		/* next: below it, this entry is already in the view */
		uint64_t next = e->uaddr;

		for (uint32_t i = first_region_after(x, e->uaddr);
		     i < x->n && x->r[i]->qva < end; i++) {
			const struct vhu_mem_region *ri = x->r[i];
			uint64_t lo = RTE_MAX(next, ri->qva);
			uint64_t hi = RTE_MIN(end, ri->qva + ri->size);
			uint64_t iova;
			uint8_t *hva;
			struct vhu_mem_region *prev;

			/* ends before next (overlapping regions): nothing new */
			if (hi <= lo)
				continue;
			next = hi;
			iova = e->iova + (lo - e->uaddr);
			hva = ri->hva + (lo - ri->qva);
			prev = n > 0 ? &v->r[n - 1] : NULL;

			if (prev != NULL && prev->gpa + prev->size == iova &&
			    prev->hva + prev->size == hva) {
				prev->size += hi - lo;
				continue;
			}
			if (n == RTE_DIM(v->r))
				return -ENOSPC;
			v->r[n] = (struct vhu_mem_region){
				.gpa = iova, .size = hi - lo, .qva = lo,
				.hva = hva,
			};
			n++;
		}
	}
	v->nregions = n;
	return 0;
}

/* Does entry e cover part of a ring some queue of dev is configured with? */
static bool
holds_ring(const struct vhu_dev *dev, const struct vhu_iotlb_entry *e)
{
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		const struct vhu_vq *vq = dev->vqs.vq[i];
		uint64_t n, a[3], len[3];

		if (vq == NULL || !vq->addr_set)
			continue;
		n = vq->num_set ? vq->num : VHU_VQ_MAX_SIZE;
		/* split sizes; they cover the packed ring and areas too */
		a[0] = vq->addr.desc_user_addr;
		len[0] = 16 * n;
		a[1] = vq->addr.avail_user_addr;
		len[1] = 6 + 2 * n;
		a[2] = vq->addr.used_user_addr;
		len[2] = 6 + 8 * n;
		for (int k = 0; k < 3; k++)
			if (a[k] < e->iova + e->size && e->iova < a[k] + len[k])
				return true;
	}
	return false;
}

static void
remove_entry(struct vhu_iotlb *t, uint32_t k)
{
	memmove(&t->e[k], &t->e[k + 1], (t->n - k - 1) * sizeof(t->e[0]));
	t->n--;
}

/* Drop the oldest entry, sparing rings if possible. false if empty. */
static bool
evict_one(struct vhu_dev *dev)
{
	struct vhu_iotlb *t = &dev->iotlb;
	uint32_t victim = UINT32_MAX, any = UINT32_MAX;

	for (uint32_t k = 0; k < t->n; k++) {
		if (any == UINT32_MAX || t->e[k].age < t->e[any].age)
			any = k;
		if (!holds_ring(dev, &t->e[k]) &&
		    (victim == UINT32_MAX || t->e[k].age < t->e[victim].age))
			victim = k;
	}
	if (victim == UINT32_MAX)
		victim = any;
	if (victim == UINT32_MAX)
		return false;
	VHU_LOG(DEBUG, "%s: IOTLB full: dropping iova 0x%" PRIx64, dev->name,
		t->e[victim].iova);
	remove_entry(t, victim);
	return true;
}

void
vhu_iotlb_rebuild_locked(struct vhu_dev *dev)
{
	struct vhu_iotlb *t = &dev->iotlb;
	struct qva_index x;

	if (t->e == NULL)
		return;
	regions_by_qva(&dev->mem, &x);
	/* more pieces than a view holds: drop entries until it fits */
	while (build_view(t->rd, t, &x, VHOST_ACCESS_RO) < 0 ||
	       build_view(t->wr, t, &x, VHOST_ACCESS_WO) < 0) {
		if (!evict_one(dev))
			break;
	}
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_iotlb_changed_locked(dev->vqs.vq[i]);
}

void
vhu_iotlb_reset_locked(struct vhu_dev *dev)
{
	struct vhu_iotlb *t = &dev->iotlb;

	t->n = 0;
	if (t->rd != NULL)
		t->rd->nregions = 0;
	if (t->wr != NULL)
		t->wr->nregions = 0;
	/*
	 * The backend channel stays: frontends send SET_BACKEND_REQ_FD once
	 * per connection, not after RESET_OWNER; vhu_iotlb_free closes it.
	 */
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_iotlb_changed_locked(dev->vqs.vq[i]);
}

void
vhu_iotlb_log_stats(const struct vhu_dev *dev)
{
	const struct vhu_iotlb *t = &dev->iotlb;

	if (t->e == NULL)
		return;
	VHU_LOG(INFO, "%s: IOTLB: %" PRIu64 " updates, %" PRIu64
		" invalidates (%" PRIu64 " entries dropped), %" PRIu64
		" rejected, %" PRIu64 " misses sent, %" PRIu64
		" unsent, %u entries held", dev->name, t->updates,
		t->invalidates, t->dropped, t->rejected,
		vhu_atomic_load_u64(&t->misses_sent, memory_order_relaxed),
		vhu_atomic_load_u64(&t->misses_unsent, memory_order_relaxed),
		t->n);
}

const char *
vhu_iotlb_why_not_ready(const struct vhu_dev *dev)
{
	if (!vhu_dev_has_feature(dev, VIRTIO_F_ACCESS_PLATFORM))
		return NULL;
	if (dev->iotlb.e == NULL)
		return "ACCESS_PLATFORM negotiated but not offered";
	/* misses need the backend channel; updates need REPLY_ACK */
	if (!vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_BACKEND_REQ) ||
	    !vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_REPLY_ACK))
		return "IOMMU needs protocol features BACKEND_REQ and REPLY_ACK";
	if (dev->iotlb.backend_fd < 0)
		return "IOMMU needs the backend channel (SET_BACKEND_REQ_FD)";
	return NULL;
}

int
vhu_iotlb_send_miss(void *arg, uint64_t iova, uint8_t perm)
{
	struct vhu_dev *dev = arg;
	struct vhu_iotlb *t = &dev->iotlb;
	struct {
		struct vhu_msg_hdr hdr;
		struct vhost_iotlb_msg m;
	} __attribute__((packed)) msg;
	/* stable here: replaced only while every queue is quiesced */
	int fd = t->backend_fd;
	ssize_t n;

	if (fd < 0)
		return -ENOTCONN;
	memset(&msg, 0, sizeof(msg));
	msg.hdr.request = VHU_BACKEND_IOTLB_MSG;
	msg.hdr.flags = VHU_MSG_VERSION; /* no reply wanted: never read */
	msg.hdr.size = sizeof(msg.m);
	msg.m.iova = iova;
	msg.m.perm = perm;
	msg.m.type = VHOST_IOTLB_MISS;
	/* queues of one device may miss on several lcores at once */
	if (atomic_flag_test_and_set_explicit(&t->send_busy,
					      memory_order_acquire)) {
		vhu_atomic_fetch_add_u64(&t->misses_unsent, 1,
					 memory_order_relaxed);
		return -EAGAIN;
	}
	/* a frontend that never reads its end fills it: EAGAIN, no wait */
	n = send(fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
	atomic_flag_clear_explicit(&t->send_busy, memory_order_release);
	if (n == (ssize_t)sizeof(msg)) {
		vhu_atomic_fetch_add_u64(&t->misses_sent, 1,
					 memory_order_relaxed);
		return 0;
	}
	vhu_atomic_fetch_add_u64(&t->misses_unsent, 1, memory_order_relaxed);
	/* a small stream write is all or nothing unless the peer is gone */
	return n > 0 ? 0 : -EAGAIN;
}

enum vhu_msg_result
vhu_handle_set_backend_req_fd(struct vhu_dev *dev,
			      const struct vhu_msg_hdr *hdr,
			      const union vhu_msg_payload *p, int *fds, int nfds)
{
	int fd = fds[0], old;

	fds[0] = -1;
	vhu_vqs_quiesce_all(&dev->vqs);
	old = dev->iotlb.backend_fd;
	dev->iotlb.backend_fd = fd;
	/* a miss that could not be sent goes out on the new channel */
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_iotlb_changed_locked(dev->vqs.vq[i]);
	vhu_vqs_resume_all(&dev->vqs);
	if (old >= 0)
		close(old);
	return VHU_MSG_OK;
}

static bool
valid_perm(uint8_t perm)
{
	return perm == VHOST_ACCESS_RO || perm == VHOST_ACCESS_WO ||
	       perm == VHOST_ACCESS_RW;
}

static enum vhu_msg_result
iotlb_update(struct vhu_dev *dev, const struct vhost_iotlb_msg *m)
{
	/* __u64 is not uint64_t for printf */
	const uint64_t iova = m->iova, size = m->size, uaddr = m->uaddr;
	struct vhu_iotlb *t = &dev->iotlb;
	struct qva_index x;
	uint32_t pos;

	/* a range ending exactly at 2^64 counts as wrapping too */
	if (size == 0 || iova + size < iova ||
	    uaddr + size < uaddr) {
		VHU_LOG(ERR, "%s: IOTLB update iova 0x%" PRIx64 " size 0x%" PRIx64
			" uaddr 0x%" PRIx64 ": empty or wrapping: rejected",
			dev->name, iova, size, uaddr);
		return VHU_MSG_FAILED;
	}
	if (!valid_perm(m->perm)) {
		VHU_LOG(ERR, "%s: IOTLB update iova 0x%" PRIx64
			": permission 0x%x: rejected", dev->name, iova,
			m->perm);
		return VHU_MSG_FAILED;
	}
	regions_by_qva(&dev->mem, &x);
	if (!uaddr_mapped(&x, uaddr, size)) {
		VHU_LOG(ERR, "%s: IOTLB update iova 0x%" PRIx64 " -> uaddr 0x%"
			PRIx64 " size 0x%" PRIx64
			": not inside guest memory: rejected", dev->name,
			iova, uaddr, size);
		return VHU_MSG_FAILED;
	}
	for (pos = 0; pos < t->n && t->e[pos].iova < iova; pos++)
		;
	/* neighbours only: entries are sorted and never overlap */
	for (uint32_t k = pos > 0 ? pos - 1 : 0; k < t->n && k <= pos; k++) {
		const struct vhu_iotlb_entry *e = &t->e[k];

		if (e->iova == iova && e->size == size &&
		    e->uaddr == uaddr && e->perm == m->perm)
			return VHU_MSG_OK; /* two queues missed the same page */
		if (e->iova <= iova + (size - 1) &&
		    iova <= e->iova + (e->size - 1)) {
			VHU_LOG(ERR, "%s: IOTLB update iova 0x%" PRIx64 " size 0x%"
				PRIx64 " overlaps iova 0x%" PRIx64 " size 0x%"
				PRIx64 ": rejected", dev->name, iova, size,
				e->iova, e->size);
			return VHU_MSG_FAILED;
		}
	}
	vhu_vqs_quiesce_all(&dev->vqs);
	if (t->n == VHU_IOTLB_MAX) {
		evict_one(dev);
		for (pos = 0; pos < t->n && t->e[pos].iova < iova; pos++)
			;
	}
	memmove(&t->e[pos + 1], &t->e[pos], (t->n - pos) * sizeof(t->e[0]));
	t->e[pos] = (struct vhu_iotlb_entry){
		.iova = iova, .size = size, .uaddr = uaddr,
		.perm = m->perm, .age = t->clock++,
	};
	t->n++;
	t->updates++;
	vhu_iotlb_rebuild_locked(dev);
	vhu_vqs_resume_all(&dev->vqs);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
iotlb_invalidate(struct vhu_dev *dev, const struct vhost_iotlb_msg *m)
{
	/* __u64 is not uint64_t for printf */
	const uint64_t iova = m->iova, size = m->size;
	struct vhu_iotlb *t = &dev->iotlb;
	/*
	 * QEMU invalidates a whole address space as size addr_mask + 1,
	 * which is 0 for a full 64-bit mask: 0 or a wrap means "to the end".
	 */
	uint64_t last = (size == 0 || iova + size - 1 < iova) ?
			UINT64_MAX : iova + size - 1;
	uint32_t dropped = 0;

	vhu_vqs_quiesce_all(&dev->vqs);
	for (uint32_t k = 0; k < t->n;) {
		const struct vhu_iotlb_entry *e = &t->e[k];

		/* any overlap drops the whole entry: less mapped is safe */
		if (e->iova <= last && iova <= e->iova + (e->size - 1)) {
			remove_entry(t, k);
			dropped++;
		} else {
			k++;
		}
	}
	t->invalidates++;
	t->dropped += dropped;
	vhu_iotlb_rebuild_locked(dev);
	vhu_vqs_resume_all(&dev->vqs);
	VHU_LOG(DEBUG, "%s: IOTLB invalidate iova 0x%" PRIx64 "..0x%" PRIx64
		": %u entries dropped", dev->name, iova, last, dropped);
	return VHU_MSG_OK;
}

enum vhu_msg_result
vhu_handle_iotlb_msg(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		     const union vhu_msg_payload *p, int *fds, int nfds)
{
	const struct vhost_iotlb_msg *m = &p->iotlb;

	if (!vhu_dev_has_feature(dev, VIRTIO_F_ACCESS_PLATFORM) ||
	    dev->iotlb.e == NULL) {
		VHU_LOG(ERR, "%s: IOTLB_MSG without ACCESS_PLATFORM negotiated: rejected",
			dev->name);
		return VHU_MSG_FAILED;
	}
	switch (m->type) {
	case VHOST_IOTLB_UPDATE:
		if (iotlb_update(dev, m) == VHU_MSG_OK)
			return VHU_MSG_OK;
		dev->iotlb.rejected++;
		return VHU_MSG_FAILED;
	case VHOST_IOTLB_INVALIDATE:
		return iotlb_invalidate(dev, m);
	default:
		dev->iotlb.rejected++;
		VHU_LOG(ERR, "%s: IOTLB_MSG of type %u (frontends send update 2 or invalidate 3): rejected",
			dev->name, m->type);
		return VHU_MSG_FAILED;
	}
}
