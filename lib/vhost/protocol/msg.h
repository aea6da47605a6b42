/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst, "Message
 * Specification") and message framing: assembling messages from the
 * stream, checking each against its request's rule, dispatching it to
 * the handler the rule names, and replies. Everything here describes
 * bytes a frontend sends us: nothing in a payload is trusted until
 * vhu_msg_dispatch() has checked it against the rule. This floor knows
 * no device lifecycle: what a message changes is the caller's business.
 */
#ifndef VHU_MSG_H
#define VHU_MSG_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost_types.h>

struct vhu_dev;

/* Front-end requests (spec: "Front-end message types"). */
enum vhu_request {
	VHU_REQ_NONE = 0,
	VHU_REQ_GET_FEATURES = 1,
	VHU_REQ_SET_FEATURES = 2,
	VHU_REQ_SET_OWNER = 3,
	VHU_REQ_RESET_OWNER = 4,
	VHU_REQ_SET_MEM_TABLE = 5,
	VHU_REQ_SET_LOG_BASE = 6,
	VHU_REQ_SET_LOG_FD = 7,
	VHU_REQ_SET_VRING_NUM = 8,
	VHU_REQ_SET_VRING_ADDR = 9,
	VHU_REQ_SET_VRING_BASE = 10,
	VHU_REQ_GET_VRING_BASE = 11,
	VHU_REQ_SET_VRING_KICK = 12,
	VHU_REQ_SET_VRING_CALL = 13,
	VHU_REQ_SET_VRING_ERR = 14,
	VHU_REQ_GET_PROTOCOL_FEATURES = 15,
	VHU_REQ_SET_PROTOCOL_FEATURES = 16,
	VHU_REQ_GET_QUEUE_NUM = 17,
	VHU_REQ_SET_VRING_ENABLE = 18,
	VHU_REQ_SEND_RARP = 19,
	VHU_REQ_NET_SET_MTU = 20,
	VHU_REQ_SET_BACKEND_REQ_FD = 21,
	VHU_REQ_IOTLB_MSG = 22,
	VHU_REQ_POSTCOPY_ADVISE = 28,
	VHU_REQ_POSTCOPY_LISTEN = 29,
	VHU_REQ_POSTCOPY_END = 30,
	VHU_REQ_GET_MAX_MEM_SLOTS = 36,
	VHU_REQ_ADD_MEM_REG = 37,
	VHU_REQ_REM_MEM_REG = 38,
	VHU_REQ_SET_STATUS = 39,
	VHU_REQ_GET_STATUS = 40,
	VHU_REQ_MAX = 41,
};

/* Protocol feature bits (spec: "Protocol features"). */
/* Feature bit 30 of GET_FEATURES: the vhost-user protocol-feature handshake. */
#define VHU_F_PROTOCOL_FEATURES 30

#define VHU_PROTOCOL_F_MQ 0
#define VHU_PROTOCOL_F_LOG_SHMFD 1
#define VHU_PROTOCOL_F_RARP 2
#define VHU_PROTOCOL_F_REPLY_ACK 3
#define VHU_PROTOCOL_F_NET_MTU 4
#define VHU_PROTOCOL_F_BACKEND_REQ 5
#define VHU_PROTOCOL_F_PAGEFAULT 8
#define VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHU_PROTOCOL_F_STATUS 16

/* Back-end requests (spec: "Back-end message types"), sent over the
 * channel given by SET_BACKEND_REQ_FD. */
#define VHU_BACKEND_IOTLB_MSG 1

/* Header flags. */
#define VHU_MSG_VERSION 0x1
#define VHU_MSG_VERSION_MASK 0x3
#define VHU_MSG_F_REPLY 0x4
#define VHU_MSG_F_NEED_REPLY 0x8

/* u64 payload of SET_VRING_KICK/CALL/ERR */
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD 0x100u

#define VHU_MSG_MAX_FDS 8
#define VHU_MEM_TABLE_MAX 8

struct vhu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));
/* spec "Header": request, flags, size, 32 bits each */
static_assert(sizeof(struct vhu_msg_hdr) == 12, "vhost-user header");

struct vhu_msg_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));
/* spec "A vring state description": index, num */
static_assert(sizeof(struct vhu_msg_vring_state) == 8, "vring state");

struct vhu_msg_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
} __attribute__((packed));
/* spec "A vring address description": index, flags, then four u64 */
static_assert(sizeof(struct vhu_msg_vring_addr) == 40, "vring address");
static_assert(offsetof(struct vhu_msg_vring_addr, desc) == 8,
	      "vring address: descriptor after index and flags");

struct vhu_msg_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
} __attribute__((packed));
/* spec "Memory region description": four u64 */
static_assert(sizeof(struct vhu_msg_region) == 32, "memory region");

struct vhu_msg_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_msg_region r[VHU_MEM_TABLE_MAX];
} __attribute__((packed));
/*
 * spec "Multiple Memory regions description": num regions, padding, then
 * up to 8 regions (QEMU's VHOST_MEMORY_BASELINE_NREGIONS); the rule row
 * checks a SET_MEM_TABLE payload against this size.
 */
static_assert(VHU_MEM_TABLE_MAX == 8, "SET_MEM_TABLE carries 8 regions");
static_assert(offsetof(struct vhu_msg_mem_table, r) == 8,
	      "memory table: regions after count and padding");
static_assert(sizeof(struct vhu_msg_mem_table) == 8 + 8 * 32,
	      "memory table");

struct vhu_msg_mem_reg {
	uint64_t padding;
	struct vhu_msg_region r;
} __attribute__((packed));
/* spec "Single memory region description": padding, one region */
static_assert(sizeof(struct vhu_msg_mem_reg) == 40, "single memory region");

struct vhu_msg_log {
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));
/* spec "Log description": log size, log offset */
static_assert(sizeof(struct vhu_msg_log) == 16, "log description");

/*
 * spec "IOTLB message": iova, size, user address, permissions, type; the
 * kernel's struct, with its tail padding to 32 bytes, is what QEMU sends
 * (and what vhu_iotlb_send_miss sends back).
 */
static_assert(sizeof(struct vhost_iotlb_msg) == 32, "IOTLB message");
static_assert(offsetof(struct vhost_iotlb_msg, perm) == 24 &&
	      offsetof(struct vhost_iotlb_msg, type) == 25,
	      "IOTLB message: permissions and type after three u64");

union vhu_msg_payload {
	uint64_t u64;
	struct vhu_msg_vring_state state;
	struct vhu_msg_vring_addr addr;
	struct vhu_msg_mem_table mem;
	struct vhu_msg_mem_reg reg;
	struct vhu_msg_log log;
	struct vhost_iotlb_msg iotlb; /* IOTLB_MSG: 32 bytes with padding */
	uint8_t bytes[8];
};

/* Largest payload any accepted request has. */
#define VHU_MSG_MAX_PAYLOAD sizeof(union vhu_msg_payload)
/* the receive buffer holds a full memory table, and nothing larger */
static_assert(VHU_MSG_MAX_PAYLOAD == sizeof(struct vhu_msg_mem_table),
	      "largest payload is SET_MEM_TABLE's");

/* What a handler tells the dispatcher. */
enum vhu_msg_result {
	VHU_MSG_OK = 0,      /* done; REPLY_ACK (if asked) says 0 */
	VHU_MSG_REPLIED,     /* the handler sent its own reply body */
	VHU_MSG_FAILED,      /* rejected; REPLY_ACK (if asked) says 1 */
	VHU_MSG_CLOSE,       /* the connection cannot continue */
};

/*
 * A request handler. It runs only after the dispatcher has checked the
 * message against the request's rule: payload size, fd count, vring
 * index and the protocol feature that enables it. A handler that keeps
 * fds[i] sets it to -1; the dispatcher closes whatever is left.
 */
typedef enum vhu_msg_result (*vhu_msg_handler)(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);

/* Where a request carries the vring index the rule checks. */
enum vhu_msg_vring {
	VHU_MSG_VRING_NONE = 0,
	VHU_MSG_VRING_STATE,    /* struct vhu_msg_vring_state.index */
	VHU_MSG_VRING_ADDR,     /* struct vhu_msg_vring_addr.index */
	VHU_MSG_VRING_U64,      /* u64 bits 0-7; bit 8 says "no fd" */
};

/* rule.size of SET_MEM_TABLE: 8 + 32 bytes a region, one fd a region */
#define VHU_MSG_SIZE_MEM_TABLE UINT32_MAX

/*
 * The rule of one request: what a well-formed message of it looks like.
 * The table of rules, indexed by request, belongs to the handler floor
 * (handlers.c); a request with no handler is not supported.
 */
struct vhu_msg_rule {
	vhu_msg_handler handler;
	uint32_t size;              /* payload bytes, exactly */
	uint8_t min_fds, max_fds;
	enum vhu_msg_vring vring;
	uint64_t needs_pf;          /* protocol feature bits that must be
				       negotiated; 0: none */
	bool needs_pf_offer;        /* PROTOCOL_FEATURES offered (the
				       handshake itself) */
	bool has_reply;             /* answers with a body of its own */
};

/* Receive state: a message is assembled across reads (a peer may stall). */
struct vhu_msg_rx {
	struct vhu_msg_hdr hdr;
	union vhu_msg_payload payload;
	uint32_t have;           /* bytes of header + payload received */
	int fds[VHU_MSG_MAX_FDS];
	int nfds;
	int fds_dropped;         /* more fds than one message may carry */
};

/* One complete message. */
struct vhu_msg {
	struct vhu_msg_hdr hdr;
	union vhu_msg_payload payload;
	int fds[VHU_MSG_MAX_FDS];
	int nfds;
};

/*
 * Read what dev's connection has towards the next message. Returns 1 with
 * a complete message in *m (its fds are the caller's now), 0 when the
 * rest has not arrived yet (a peer that stops mid-message only stalls
 * itself), -1 when the connection is over or the stream cannot be
 * resynchronised (logged).
 */
int vhu_msg_recv(struct vhu_dev *dev, struct vhu_msg *m);

/* Drop a partly received message, closing the fds it brought. */
void vhu_msg_rx_reset(struct vhu_msg_rx *rx);

/*
 * The header's version is vhost-user's 1: 0. Anything else means the
 * stream is not vhost-user: logged, fds[0..nfds) closed, -1 (close the
 * connection). Callers check it before anything reads the message.
 */
int vhu_msg_check_version(const struct vhu_dev *dev,
			  const struct vhu_msg_hdr *hdr, int *fds, int nfds);

/*
 * Check one message, whose version vhu_msg_check_version() accepted,
 * against rules[hdr->request] and, if it passes, call its handler; answer
 * REPLY_ACK. Takes ownership of fds[0..nfds): each is
 * either kept by the handler or closed, on every path. payload holds
 * exactly hdr->size bytes (at most VHU_MSG_MAX_PAYLOAD). Returns 1 when
 * the handler ran and did not fail (the device state may have changed),
 * 0 when the message was rejected or failed, -1 to close the connection.
 */
int vhu_msg_dispatch(struct vhu_dev *dev, const struct vhu_msg_rule *rules,
		     const struct vhu_msg_hdr *hdr, const void *payload,
		     int *fds, int nfds);

/* Name of a request for logs ("SET_MEM_TABLE", "REQ_77"). */
const char *vhu_msg_name(uint32_t request);

/* True when the frontend asked for a reply and REPLY_ACK is negotiated. */
bool vhu_msg_wants_ack(const struct vhu_dev *dev,
		       const struct vhu_msg_hdr *hdr);

/* Send a reply for request req with body (size bytes). 0 or -errno. */
int vhu_msg_reply(struct vhu_dev *dev, uint32_t req, const void *body,
		  uint32_t size);
/* The same with nfds file descriptors attached (duplicated, not closed). */
int vhu_msg_reply_fds(struct vhu_dev *dev, uint32_t req, const void *body,
		      uint32_t size, const int *fds, int nfds);

#endif /* VHU_MSG_H */
