#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# Writes the seed corpora of the two fuzzers (corpus/msg, corpus/split):
# small valid inputs that reach the interesting states at once (a full
# vhost-user handshake with memory, rings and bursts; transmit and receive
# rings with direct, chained, indirect and mergeable buffers; a ring that
# straddles two regions) plus a few edge cases. The input formats are
# documented at the top of fuzz_msg.c and fuzz_split.c; this script is their
# second reader, so change both together. Run from anywhere:
#   app/test/fuzz/make_seeds.py
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- fuzz_msg
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER = 1, 2, 3, 4
SET_MEM_TABLE, SET_LOG_BASE, SET_LOG_FD = 5, 6, 7
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 15, 16, 17
SET_VRING_ENABLE, SEND_RARP, NET_SET_MTU = 18, 19, 20
SET_BACKEND_REQ_FD, IOTLB_MSG = 21, 22
IOTLB_UPDATE, IOTLB_INVALIDATE = 2, 3
RO, WO, RW = 1, 2, 3
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 36, 37, 38
SET_STATUS, GET_STATUS = 39, 40

V1, NEED_REPLY = 0x1, 0x8
MEMFD_64K, MEMFD_256K, MEMFD_1M, MEMFD_EMPTY = 0, 1, 2, 3
EVENTFD, PIPE, SOCKET, DEVNULL = 4, 5, 6, 7

FEATURES = (1 << 32) | (1 << 30) | (1 << 15) | (1 << 29) | (1 << 28) | \
    (1 << 26)                        # VERSION_1 PROTOCOL MRG EVENT INDIRECT LOG
PROTO = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 15) | \
    (1 << 16)
QVA = 0x7f0000000000
GPA = 0x100000


def msg(req, payload=b"", fds=(), flags=V1):
    return bytes([req, flags]) + struct.pack("<H", len(payload)) + \
        bytes([len(fds)]) + bytes(fds) + payload


def smsg(req, payload=b"", fds=(), flags=V1, cut=0, size=None):
    """A stream-mode message: cut says where the harness splits it."""
    size = len(payload) if size is None else size
    return bytes([req, flags]) + struct.pack("<H", size) + \
        bytes([len(fds)]) + bytes(fds) + payload + bytes([cut])


def u64(v):
    return struct.pack("<Q", v)


def state(idx, num):
    return struct.pack("<II", idx, num)


def region(gpa, size, uaddr, off):
    return struct.pack("<QQQQ", gpa, size, uaddr, off)


def vring_addr(idx, desc, used, avail, flags=0, log=0):
    return struct.pack("<IIQQQQ", idx, flags, desc, used, avail, log)


def gwrite(memfd, off, data):
    out = b""
    while data:
        chunk, data = data[:255], data[255:]
        out += bytes([0xf0 | memfd]) + struct.pack("<I", off)[:3] + \
            bytes([len(chunk)]) + chunk
        off += len(chunk)
    return out


def burst(qp, enqueue, count, toggle=False):
    return bytes([0xe0 | qp | (2 if enqueue else 0) | (4 if toggle else 0),
                  count])


def ring_setup(vring, base_gpa, num=64):
    desc, avail, used = base_gpa, base_gpa + 16 * num, base_gpa + 0x2000
    return (msg(SET_VRING_NUM, state(vring, num)) +
            msg(SET_VRING_ADDR, vring_addr(vring, QVA + desc - GPA,
                                           QVA + used - GPA,
                                           QVA + avail - GPA)) +
            msg(SET_VRING_BASE, state(vring, 0)) +
            msg(SET_VRING_KICK, u64(vring), [EVENTFD]) +
            msg(SET_VRING_CALL, u64(vring), [EVENTFD]) +
            msg(SET_VRING_ERR, u64(vring), [EVENTFD]))


def packed_ring_setup(vring, base_gpa, num=61):
    """Packed: desc = the ring, avail = driver area, used = device area."""
    ring, drv, dev = base_gpa, base_gpa + 16 * num, base_gpa + 0x2000
    return (msg(SET_VRING_NUM, state(vring, num)) +
            msg(SET_VRING_ADDR, vring_addr(vring, QVA + ring - GPA,
                                           QVA + dev - GPA,
                                           QVA + drv - GPA)) +
            msg(SET_VRING_BASE, state(vring, 0x8000)) +
            msg(SET_VRING_KICK, u64(vring), [EVENTFD]) +
            msg(SET_VRING_CALL, u64(vring), [EVENTFD]))


def guest_packed_ring(ring_off, buf_off, n, write):
    out = b""
    for i in range(n):
        out += gwrite(MEMFD_1M, ring_off + 16 * i,
                      struct.pack("<QIHH", GPA + buf_off + 2048 * i,
                                  2048 if write else 12 + 60, i,
                                  (1 << 7) | (2 if write else 0)))
    return out


def handshake():
    return (msg(GET_FEATURES) + msg(SET_FEATURES, u64(FEATURES)) +
            msg(GET_PROTOCOL_FEATURES) +
            msg(SET_PROTOCOL_FEATURES, u64(PROTO)) + msg(SET_OWNER))


def guest_tx_ring(ring_off, buf_off, n, num=64):
    """Driver side of a TX ring in the 1 MiB memfd: n one-buffer frames."""
    out = b""
    for i in range(n):
        out += gwrite(MEMFD_1M, ring_off + 16 * i,
                      struct.pack("<QIHH", GPA + buf_off + 2048 * i, 12 + 60,
                                  0, 0))
    out += gwrite(MEMFD_1M, ring_off + 16 * num + 4,
                  b"".join(struct.pack("<H", i) for i in range(n)))
    out += gwrite(MEMFD_1M, ring_off + 16 * num, struct.pack("<HH", 0, n))
    return out


def guest_rx_ring(ring_off, buf_off, n, num=64):
    out = b""
    for i in range(n):
        out += gwrite(MEMFD_1M, ring_off + 16 * i,
                      struct.pack("<QIHH", GPA + buf_off + 2048 * i, 2048,
                                  2, 0))
    out += gwrite(MEMFD_1M, ring_off + 16 * num + 4,
                  b"".join(struct.pack("<H", i) for i in range(n)))
    out += gwrite(MEMFD_1M, ring_off + 16 * num, struct.pack("<HH", 0, n))
    return out


def iotlb(kind, iova, size, uaddr=0, perm=0):
    return msg(IOTLB_MSG, struct.pack("<QQQBB6x", iova, size, uaddr, perm,
                                      kind), flags=V1 | NEED_REPLY)


def iommu_ring_setup(vring, base_gpa, num=64):
    """With ACCESS_PLATFORM ring addresses are IOVAs: here iova = GPA."""
    desc, avail, used = base_gpa, base_gpa + 16 * num, base_gpa + 0x2000
    return (msg(SET_VRING_NUM, state(vring, num)) +
            msg(SET_VRING_ADDR, vring_addr(vring, desc, used, avail)) +
            msg(SET_VRING_BASE, state(vring, 0)) +
            msg(SET_VRING_KICK, u64(vring), [EVENTFD]) +
            msg(SET_VRING_CALL, u64(vring), [EVENTFD]))


def iommu_seeds(mem1):
    """vIOMMU: IOVA = GPA mapped onto QVA; rings first, buffers later."""
    head = (bytes([0]) + msg(GET_FEATURES) +
            msg(SET_FEATURES, u64((FEATURES & ~(1 << 26)) | (1 << 33))) +
            msg(SET_PROTOCOL_FEATURES, u64(PROTO | (1 << 5))) +
            msg(SET_OWNER) + msg(SET_BACKEND_REQ_FD, b"", [SOCKET]) + mem1 +
            iommu_ring_setup(0, GPA + 0x10000) +
            iommu_ring_setup(1, GPA + 0x20000) +
            msg(SET_VRING_ENABLE, state(0, 1)) +
            msg(SET_VRING_ENABLE, state(1, 1)) +
            msg(SET_STATUS, u64(0xf)))
    rings = (iotlb(IOTLB_UPDATE, GPA + 0x10000, 0x3000, QVA + 0x10000, RW) +
             iotlb(IOTLB_UPDATE, GPA + 0x20000, 0x3000, QVA + 0x20000, RW))
    guest = (guest_rx_ring(0x10000, 0x40000, 4) +
             guest_tx_ring(0x20000, 0x60000, 4))
    return {
        "iommu-all-mapped": head + iotlb(IOTLB_UPDATE, GPA, 1 << 20, QVA, RW) +
        guest + burst(0, True, 4) + burst(0, False, 8) +
        iotlb(IOTLB_INVALIDATE, 0, 0) + burst(0, False, 8),
        "iommu-miss-update": head + rings + guest +
        burst(0, True, 4) + burst(0, False, 8) +
        iotlb(IOTLB_UPDATE, GPA + 0x40000, 0x2000, QVA + 0x40000, RO) +
        iotlb(IOTLB_UPDATE, GPA + 0x60000, 0x2000, QVA + 0x60000, RO) +
        burst(0, True, 4) + burst(0, False, 8) +
        iotlb(IOTLB_INVALIDATE, GPA + 0x40000, 0x2000) +
        iotlb(IOTLB_UPDATE, GPA + 0x40000, 0x2000, QVA + 0x40000, WO) +
        burst(0, True, 4) + msg(GET_VRING_BASE, state(0, 0)),
        "iommu-bad-entries": head + rings +
        iotlb(IOTLB_UPDATE, GPA, 0, QVA, RW) +
        iotlb(IOTLB_UPDATE, (1 << 64) - 0x1000, 0x2000, QVA, RW) +
        iotlb(IOTLB_UPDATE, 0x1000000, 0x1000, QVA + (1 << 20), RW) +
        iotlb(IOTLB_UPDATE, GPA + 0x10800, 0x1000, QVA, RW) +
        iotlb(IOTLB_UPDATE, 0x1000000, 0x1000, QVA, 7) +
        iotlb(1, 0x1000000, 0x1000, QVA, RW) +
        msg(SET_FEATURES, u64(FEATURES | (1 << 33))) +
        msg(SET_BACKEND_REQ_FD, b"", [SOCKET, EVENTFD]) +
        msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) +
            region(GPA, 1 << 18, QVA + 0x1000000, 0), [MEMFD_256K]) +
        burst(0, False, 8),
    }


def msg_seeds():
    mem1 = msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) +
               region(GPA, 1 << 20, QVA, 0), [MEMFD_1M])
    full = (bytes([0]) + handshake() + mem1 +
            ring_setup(0, GPA + 0x10000) + ring_setup(1, GPA + 0x20000) +
            msg(SET_VRING_ENABLE, state(0, 1)) +
            msg(SET_VRING_ENABLE, state(1, 1)) +
            msg(SET_STATUS, u64(0xf)) +
            guest_rx_ring(0x10000, 0x40000, 4) +
            guest_tx_ring(0x20000, 0x60000, 4) +
            burst(0, True, 4) + burst(0, False, 8) +
            msg(GET_VRING_BASE, state(0, 0)) +
            msg(GET_VRING_BASE, state(1, 0)))
    seeds = {
        "handshake-rings-bursts": full,
        "handshake-only": bytes([0]) + handshake() + msg(GET_QUEUE_NUM) +
        msg(GET_MAX_MEM_SLOTS) + msg(GET_STATUS),
        "mem-slots": bytes([6]) +
        msg(ADD_MEM_REG, u64(0) + region(GPA, 1 << 16, QVA, 0),
            [MEMFD_64K], V1 | NEED_REPLY) +
        msg(ADD_MEM_REG, u64(0) + region(GPA + (1 << 16), 1 << 18,
                                         QVA + (1 << 16), 0), [MEMFD_256K]) +
        msg(REM_MEM_REG, u64(0) + region(GPA, 1 << 16, QVA, 0), [MEMFD_64K]) +
        msg(SET_MEM_TABLE, struct.pack("<II", 2, 0) +
            region(GPA, 1 << 16, QVA, 0) +
            region(GPA + (1 << 20), 1 << 18, QVA + (1 << 20), 0),
            [MEMFD_64K, MEMFD_256K]) + msg(RESET_OWNER),
        "log-base": bytes([6]) + mem1 +
        msg(SET_LOG_BASE, struct.pack("<QQ", 4096, 0), [MEMFD_64K]) +
        msg(SET_LOG_FD, b"", [EVENTFD]) +
        msg(SET_FEATURES, u64(FEATURES | (1 << 26))),
        "bad-fds": bytes([6]) +
        msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) +
            region(GPA, 1 << 16, QVA, 0), [PIPE]) +
        msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) +
            region(GPA, 1 << 16, QVA, 0), [MEMFD_EMPTY]) +
        msg(SET_VRING_KICK, u64(0), [EVENTFD, EVENTFD, SOCKET]) +
        msg(SET_LOG_BASE, struct.pack("<QQ", 1 << 30, 0), [DEVNULL]),
        "misc": bytes([6]) + msg(SEND_RARP, b"\x52\x54\0\x12\x34\x56\0\0") +
        msg(NET_SET_MTU, u64(1500), flags=V1 | NEED_REPLY) +
        msg(SET_VRING_NUM, state(40, 256)) + msg(77, b"x") +
        msg(SET_FEATURES, u64(1), flags=2),
    }
    packed = (bytes([0]) + msg(GET_FEATURES) +
              msg(SET_FEATURES, u64(FEATURES | (1 << 34))) +
              msg(SET_PROTOCOL_FEATURES, u64(PROTO)) + msg(SET_OWNER) + mem1 +
              packed_ring_setup(0, GPA + 0x10000) +
              packed_ring_setup(1, GPA + 0x20000) +
              msg(SET_VRING_ENABLE, state(0, 1)) +
              msg(SET_VRING_ENABLE, state(1, 1)) +
              msg(SET_STATUS, u64(0xf)) +
              guest_packed_ring(0x10000, 0x40000, 4, True) +
              guest_packed_ring(0x20000, 0x60000, 4, False) +
              burst(0, True, 4) + burst(0, False, 8) +
              msg(GET_VRING_BASE, state(0, 0)) +
              msg(GET_VRING_BASE, state(1, 0)))
    seeds["handshake-packed-rings-bursts"] = packed
    seeds.update(iommu_seeds(mem1))
    seeds["stream-handshake-cut"] = (
        bytes([8]) + smsg(GET_FEATURES, cut=5) +
        smsg(SET_FEATURES, u64(FEATURES), cut=13) +
        smsg(SET_PROTOCOL_FEATURES, u64(PROTO), cut=1) +
        smsg(SET_MEM_TABLE, struct.pack("<II", 1, 0) +
             region(GPA, 1 << 20, QVA, 0), [MEMFD_1M], cut=20) +
        smsg(SET_VRING_NUM, state(0, 64), flags=V1 | NEED_REPLY) +
        smsg(SET_VRING_KICK, u64(0), [EVENTFD], cut=3) +
        smsg(GET_VRING_BASE, state(0, 0), cut=12))
    seeds["stream-oversize"] = (
        bytes([8]) + smsg(SET_OWNER) + smsg(SET_FEATURES, b"\0" * 8,
                                           size=400))
    seeds["stream-too-many-fds"] = (
        bytes([8]) + smsg(SET_MEM_TABLE, struct.pack("<II", 5, 0) +
                          region(GPA, 1 << 16, QVA, 0) * 5,
                          [MEMFD_64K] * 5, cut=0x80 | 30))
    return seeds


# -------------------------------------------------------------- fuzz_split
MRG, INDIRECT, EVENT, VERSION1, LOG, LOG_USED, TWO, HOLE = \
    [1 << i for i in range(8)]
PACKED = 0x40      # fuzz_split byte 2: packed ring
OL = 0x80          # fuzz_split byte 2: offloads negotiated
# fuzz_split byte 7 with OL: legacy flags, MTU 1500, TSO4 only, no ECN,
# no CSUM (software offloads only)
OL_LEGACY, OL_MTU, OL_TSO4_ONLY, OL_NO_ECN, OL_NO_CSUM = \
    0x08, 0x10, 0x20, 0x40, 0x80
DESC_OFF, AVAIL_OFF, BUF_OFF = 0, 16 * 1024, 32 * 1024
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def split_seed(log2, feats, opts=0, shave=0, base=0, pending=0,
               rounds=(), table=b"", heads=(), bufs=b"", ol_bits=0):
    # byte 0 is log2 of the size; packed rings: 1 + 4 * byte 0
    size = 1 + 4 * log2 if opts & PACKED else 1 << log2
    hdr = bytes([log2, feats, opts, shave]) + struct.pack("<H", base) + \
        bytes([pending, (max(len(rounds), 1) - 1) | ol_bits])
    script = b"".join(rounds).ljust(64, b"\0")
    table = table.ljust(16 * size, b"\0")
    avail = struct.pack("<HH", 0, 0) + \
        b"".join(struct.pack("<H", h) for h in heads).ljust(2 * size, b"\0") \
        + b"\0\0"
    return hdr + script + table + avail + bufs


P_AVAIL = 1 << 7   # packed: AVAIL flag (equals the wrap counter, 1 here)
P_BASE = 0x8000    # packed SET_VRING_BASE: slot 0, both wrap counters 1


def pdesc(addr, length, buf_id, flags=0):
    return struct.pack("<QIHH", addr, length, buf_id, flags | P_AVAIL)


def rnd(enqueue, count, lens=(60, 1514, 0, 9000), extra=0):
    return bytes([(1 if enqueue else 0) | extra, count] + [0, 0] +
                 [min(255, x // 37) for x in lens])


def rnd_ol(count, template, flag_set, seg100, lens):
    """An enqueue round whose frames carry offload requests (OL)."""
    return bytes([1, count, template, flag_set | seg100 << 4] +
                 [min(255, x // 37) for x in lens])


def ol_frame(v6=False, udp=False, payload=200, tcp_flags=0x10, seed=0,
             vlan=False, ethertype=None):
    """Ethernet (VLAN), IPv4/IPv6, TCP/UDP, payload; checksums 0."""
    l3 = 40 if v6 else 20
    l4 = 8 if udp else 20
    if ethertype is None:
        ethertype = 0x86dd if v6 else 0x0800
    eth = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2])
    if vlan:
        eth += struct.pack(">HH", 0x8100, 5)
    eth += struct.pack(">H", ethertype)
    proto = 17 if udp else 6
    if v6:
        ip = struct.pack(">IHBB", 0x60000000, l4 + payload, proto, 64) + \
            bytes(range(1, 33))
    else:
        ip = struct.pack(">BBHHHBBH", 0x45, 0, l3 + l4 + payload, 0x1234, 0,
                         64, proto, 0) + bytes([10, 0, 0, 1, 10, 0, 0, 2])
    if udp:
        th = struct.pack(">HHHH", 4000, 80, l4 + payload, 0)
    else:
        th = struct.pack(">HHIIBBHHH", 4000, 80, 1000, 7, 5 << 4, tcp_flags,
                         0xffff, 0, 0)
    body = bytes((seed * 131 + i * 7) & 0xff for i in range(payload))
    return eth + ip + th + body


def vnet(flags=0, gso=0, hdr_len=0, gso_size=0, start=0, off=0):
    """A virtio-net header with num_buffers (VERSION_1: 12 bytes)."""
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, start,
                       off, 0)


NC, DV = 1, 2      # NEEDS_CSUM, DATA_VALID
GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4, GSO_ECN = 1, 3, 4, 5, 0x80


def ol_tx_frames():
    """Transmit headers: good ones, software checksums, and lies."""
    t4 = ol_frame(payload=300)
    t6 = ol_frame(v6=True, payload=300, tcp_flags=0x90)
    u4 = ol_frame(udp=True, payload=120)
    u6 = ol_frame(v6=True, udp=True, payload=300)
    raw = ol_frame(payload=100, ethertype=0x88b5)
    return [
        vnet(NC, 0, 0, 0, 34, 16) + t4,
        vnet(NC, GSO_TCPV4, 54, 100, 34, 16) + t4,
        vnet(NC, GSO_TCPV6 | GSO_ECN, 74, 128, 54, 16) + t6,
        vnet(NC, 0, 0, 0, 34, 6) + u4,
        vnet(NC, GSO_UDP_L4, 62, 100, 54, 6) + u6,
        vnet(NC, 0, 0, 0, 20, 4) + raw,
        vnet(NC, 0, 0, 0, 14, 10) + t4,
        vnet(NC, GSO_TCPV4, 54, 0, 34, 16) + t4,
        vnet(NC, 0, 0, 0, len(t4) + 10, 0) + t4,
        vnet(NC, GSO_UDP, 42, 100, 34, 6) + u4,
        vnet(NC, GSO_TCPV4, 74, 100, 54, 16) + t6,
        vnet(0, GSO_TCPV4, 54, 100, 34, 16) + t4,
        vnet(DV, 0, 0, 0, 0, 0) + t4,
        vnet(NC, GSO_TCPV4, 0xffff, 100, 34, 16) + t4,
    ]


def packed_ol_seeds():
    b = BUF_OFF
    blobs = ol_tx_frames()[:8]
    table, bufs, off = b"", b"", 0
    for i, blob in enumerate(blobs):
        table += pdesc(b + off, len(blob), i)
        bufs += blob.ljust((len(blob) + 15) // 16 * 16, b"\0")
        off = len(bufs)
    return {
        "packed-ol-tx-headers": split_seed(
            15, VERSION1, opts=PACKED | OL, base=P_BASE,
            rounds=[rnd(False, 16)], table=table, bufs=bufs),
        "packed-ol-rx-mrg": split_seed(
            15, VERSION1 | MRG, opts=PACKED | OL, base=P_BASE,
            rounds=[rnd_ol(3, 0, 5, 5, (3000, 60, 1514, 0)),
                    rnd_ol(2, 1, 7, 14, (4000, 200, 0, 0)),
                    rnd_ol(2, 3, 15, 3, (1000, 100, 0, 0))],
            table=b"".join(pdesc(b + 2048 * i, 2048, i, F_WRITE)
                           for i in range(12))),
    }


def ol_seeds():
    """Offload inputs: guest transmit headers, enqueue offload flags."""
    b = BUF_OFF
    blobs = ol_tx_frames()
    table, bufs = b"", b""
    for blob in blobs:
        table += desc(b + len(bufs), len(blob))
        bufs += blob.ljust((len(blob) + 15) // 16 * 16, b"\0")
    # the header split 5 + 7, then 11 + 1 with the frame
    hs = vnet(NC, GSO_TCPV4, 54, 100, 34, 16)
    t4 = ol_frame(payload=300, seed=3)
    split_table = desc(b, 5, F_NEXT, 1) + desc(b + 5, 7, F_NEXT, 2) + \
        desc(b + 12, len(t4)) + desc(b + 1024, 11, F_NEXT, 4) + \
        desc(b + 1024 + 11, 1 + len(t4))
    split_bufs = (hs + t4).ljust(1024, b"\0") + hs + t4
    rx_table = b"".join(desc(b + 2048 * i, 2048, F_WRITE) for i in range(16))
    rx_rounds = [rnd_ol(2, 0, 5, 5, (3000, 1514, 0, 0)),
                 rnd_ol(2, 1, 6, 14, (4000, 300, 0, 0)),
                 rnd_ol(2, 2, 9, 3, (2000, 100, 0, 0)),
                 rnd_ol(2, 4, 1, 0, (1000, 60, 0, 0)),
                 rnd_ol(2, 5, 5, 5, (3000, 1600, 0, 0)),
                 rnd_ol(2, 7, 3, 0, (500, 60, 0, 0)),
                 rnd_ol(2, 6, 11, 0, (700, 60, 0, 0)),
                 rnd_ol(2, 3, 7, 2, (1400, 9000, 0, 0))]
    return {
        "ol-tx-headers": split_seed(
            4, VERSION1, opts=OL, pending=len(blobs),
            rounds=[rnd(False, 32)], table=table, heads=range(len(blobs)),
            bufs=bufs),
        "ol-tx-headers-legacy-tso4": split_seed(
            4, VERSION1 | INDIRECT, opts=OL, pending=len(blobs),
            rounds=[rnd(False, 32)], table=table, heads=range(len(blobs)),
            bufs=bufs, ol_bits=OL_LEGACY | OL_TSO4_ONLY | OL_NO_ECN),
        "ol-tx-header-split": split_seed(
            4, VERSION1, opts=OL, pending=2, rounds=[rnd(False, 8)],
            table=split_table, heads=[0, 3], bufs=split_bufs),
        "ol-rx-guest-mrg": split_seed(
            4, VERSION1 | MRG, opts=OL, pending=16, rounds=rx_rounds,
            table=rx_table, heads=range(16)),
        "ol-rx-software-mtu": split_seed(
            4, VERSION1 | MRG, opts=OL, pending=16, rounds=rx_rounds,
            table=rx_table, heads=range(16), ol_bits=OL_NO_CSUM | OL_MTU),
        "ol-rx-tso4-only-big": split_seed(
            4, VERSION1, opts=OL, pending=4, rounds=rx_rounds,
            table=b"".join(desc(b + 2048 * i, 2048,
                                F_WRITE | (F_NEXT if i % 4 != 3 else 0),
                                i + 1 if i % 4 != 3 else 0)
                           for i in range(16)),
            heads=[0, 4, 8, 12], ol_bits=OL_TSO4_ONLY | OL_NO_ECN | OL_MTU),
    }


def split_seeds():
    b = BUF_OFF
    tx_direct = b"".join(desc(b + 256 * i, 12 + 64) for i in range(4))
    tx_chain = desc(b, 12, F_NEXT, 1) + desc(b + 256, 200, F_NEXT, 2) + \
        desc(b + 1024, 1400)
    ind_table = desc(b + 4096, 12, F_NEXT, 1) + desc(b + 8192, 100)
    tx_ind = desc(b + 2048, len(ind_table), F_INDIRECT)
    p_ind_table = struct.pack("<QIHHQIHH", b + 4096, 12, 0, 0,
                              b + 8192, 100, 0, 0)
    rx_direct = b"".join(desc(b + 2048 * i, 2048, F_WRITE) for i in range(8))
    rx_chain = desc(b, 12, F_WRITE | F_NEXT, 1) + desc(b + 64, 1600, F_WRITE)
    seeds = {
        "tx-direct": split_seed(8, VERSION1, pending=4,
                                rounds=[rnd(False, 32)], table=tx_direct,
                                heads=range(4)),
        "tx-chain": split_seed(4, VERSION1, pending=1,
                               rounds=[rnd(False, 8)], table=tx_chain,
                               heads=[0]),
        "tx-indirect": split_seed(4, VERSION1 | INDIRECT, pending=1,
                                  rounds=[rnd(False, 8)], table=tx_ind,
                                  heads=[0],
                                  bufs=b"\0" * 2048 + ind_table),
        "rx-direct": split_seed(8, VERSION1 | EVENT, pending=8,
                                rounds=[rnd(True, 8, (60, 1514, 100, 2000))],
                                table=rx_direct, heads=range(8)),
        "rx-mrg-log": split_seed(8, VERSION1 | MRG | LOG | LOG_USED,
                                 opts=0x0f, pending=8,
                                 rounds=[rnd(True, 4, (9000, 60, 60, 60)),
                                         rnd(False, 4)],
                                 table=rx_direct, heads=range(8)),
        "rx-chain-notify": split_seed(2, MRG, opts=0x20, pending=1,
                                      rounds=[rnd(True, 1, (1500,) * 4,
                                                  0x10)],
                                      table=rx_chain, heads=[0]),
        # a buffer running from the end of region 0 into region 1
        "two-regions-straddle": split_seed(
            4, VERSION1 | TWO, shave=16, pending=1,
            rounds=[rnd(False, 4)],
            table=desc(0x10000 - 256 - 100, 300), heads=[0]),
        "hole-wrap-base": split_seed(
            3, VERSION1 | TWO | HOLE, base=0xfffe, pending=4,
            rounds=[rnd(False, 2), rnd(False, 2, extra=0x02)],
            table=tx_direct, heads=range(4)),
        # packed rings: 1 + 4 * 15 = 61 slots, not a power of two
        "packed-tx": split_seed(
            15, VERSION1, opts=PACKED, base=P_BASE, rounds=[rnd(False, 8)],
            table=b"".join(pdesc(b + 256 * i, 12 + 64, 7 - i)
                           for i in range(4))),
        "packed-tx-chain-indirect": split_seed(
            15, VERSION1 | INDIRECT, opts=PACKED, base=P_BASE, rounds=[rnd(False, 8)],
            table=pdesc(b, 12, 3, F_NEXT) + pdesc(b + 256, 300, 3) +
            pdesc(b + 2048, len(p_ind_table), 9, F_INDIRECT),
            bufs=b"\0" * 2048 + p_ind_table),
        "packed-rx-mrg-event": split_seed(
            15, VERSION1 | MRG | EVENT | LOG | LOG_USED, opts=PACKED | 0x2f, base=P_BASE,
            rounds=[rnd(True, 4, (3000, 60, 1514, 0)),
                    rnd(True, 4, extra=0x80)],
            table=b"".join(pdesc(b + 2048 * i, 2048, i, F_WRITE)
                           for i in range(8))),
    }
    seeds.update(ol_seeds())
    seeds.update(packed_ol_seeds())
    return seeds


def main():
    for name, seeds in (("msg", msg_seeds()), ("split", split_seeds())):
        d = os.path.join(HERE, "corpus", name)
        os.makedirs(d, exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
