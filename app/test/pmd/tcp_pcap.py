#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# TCP/IPv4 frames in pcap files for the offload case of test_pmd.sh, which
# feeds them to testpmd through net_pcap (rx_pcap) and collects what the
# other side received (tx_pcap).
#
#   tcp_pcap.py make FILE [COUNT]
#       COUNT (default 32) frames of 1500 bytes: 1446 bytes of payload
#       each (more than one 800-byte segment), one flow, consecutive
#       sequence numbers, every checksum right.
#   tcp_pcap.py empty FILE
#       a pcap with no frame (an rx_pcap that never delivers).
#   tcp_pcap.py check FILE
#       prints one line: frames, TCP payload bytes, largest frame, and how
#       many IPv4 header and TCP checksums are wrong.
#   tcp_pcap.py flows FILE FLOWS ROUNDS [TAG]
#       UDP/IPv4 frames of FLOWS flows (for the RSS steering case), ROUNDS
#       frames per flow, back to back; flow i has its own addresses and
#       ports, and its number in the source MAC's last two bytes; the
#       payload starts with the flow, the round and TAG (which sender).
#   tcp_pcap.py flowhash FLOWS
#       "FLOW HASH" per line: the Toeplitz hash (RSS, net_vhu's default
#       symmetric key 6d5a...) of each flow's addresses and UDP ports,
#       computed here independently of the PMD.
#   tcp_pcap.py flowq FILE...
#       one pcap per receive queue: prints "flows N queues N split N
#       reordered N": flows seen, queues that received any, flows seen on
#       more than one queue, frames of one flow and tag that came after a
#       later round of it.
import struct
import sys

PCAP_HDR = struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
SRC, DST = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def csum(b):
    """Internet checksum (RFC 1071) of b."""
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(i, size=1446):
    payload = bytes((i + k) % 251 for k in range(size))
    # PSH|ACK, no options
    seg = struct.pack('!HHIIBBHHH', 1024, 80, 1000 + i * size, 1,
                      5 << 4, 0x18, 65535, 0, 0) + payload
    ph = SRC + DST + struct.pack('!BBH', 0, 6, len(seg))
    seg = seg[:16] + struct.pack('!H', csum(ph + seg)) + seg[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(seg), i, 0x4000,
                     64, 6, 0, SRC, DST)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    eth = bytes.fromhex('020000000002' '020000000001') + b'\x08\x00'
    return eth + ip + seg


def flow_frame(i, rnd, tag=0):
    src = bytes([10, 1, i >> 8, i & 0xff])
    dst = bytes([10, 2, (i * 7) >> 8 & 0xff, (i * 7 + 3) & 0xff])
    payload = struct.pack('!HHB', i, rnd, tag) + bytes(17)
    udp = struct.pack('!HHHH', 1024 + i, 4000 + (i * 13) % 1000,
                      8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), rnd, 0,
                     64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    eth = bytes.fromhex('020000000002') + bytes([2, 0, 0, 0, i >> 8, i & 0xff])
    return eth + b'\x08\x00' + ip + udp


def toeplitz(key, data):
    """RSS hash: XOR of the 32-bit key window at every set input bit."""
    k = int.from_bytes(key, 'big')
    kbits = len(key) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            h ^= (k >> (kbits - 32 - i)) & 0xffffffff
    return h


SYM_KEY = bytes([0x6d, 0x5a] * 20)


def flowhash(nf):
    # self-check against the first Microsoft vector (IPv4 with TCP)
    ms = bytes.fromhex('6d5a56da255b0ec24167253d43a38fb0d0ca2bcb'
                       'ae7b30b477cb2da38030f20c6a42b73bbeac01fa')
    v = bytes([66, 9, 149, 187, 161, 142, 100, 80]) + struct.pack('!HH', 2794, 1766)
    assert toeplitz(ms, v) == 0x51ccc178
    for i in range(nf):
        fr = flow_frame(i, 0)
        print('%d 0x%x' % (i, toeplitz(SYM_KEY, fr[26:34] + fr[34:38])))


def flowq(paths):
    seen = {}
    used = reordered = 0
    for q, path in enumerate(paths):
        got = False
        last = {}
        for fr in read(path):
            if len(fr) < 47 or fr[6:10] != bytes([2, 0, 0, 0]):
                continue
            flow, rnd, tag = struct.unpack_from('!HHB', fr, 42)
            seen.setdefault(flow, set()).add(q)
            got = True
            # one flow from one sender (tag): rounds in order
            if last.get((flow, tag), -1) > rnd:
                reordered += 1
            last[(flow, tag)] = rnd
        used += got
    split = sum(1 for qs in seen.values() if len(qs) > 1)
    print('flows %d queues %d split %d reordered %d'
          % (len(seen), used, split, reordered))


def write(path, frames):
    with open(path, 'wb') as f:
        f.write(PCAP_HDR)
        for i, fr in enumerate(frames):
            f.write(struct.pack('<IIII', 0, i, len(fr), len(fr)) + fr)


def read(path):
    with open(path, 'rb') as f:
        data = f.read()
    off = len(PCAP_HDR)
    while off + 16 <= len(data):
        incl = struct.unpack_from('<IIII', data, off)[2]
        off += 16
        yield data[off:off + incl]
        off += incl


def check(path):
    frames = payload = largest = bad_ip = bad_tcp = 0
    for fr in read(path):
        frames += 1
        largest = max(largest, len(fr))
        if len(fr) < 54 or fr[12:14] != b'\x08\x00':
            continue
        ihl = (fr[14] & 0xf) * 4
        ip = fr[14:14 + ihl]
        tot = struct.unpack_from('!H', ip, 2)[0]
        if ip[9] != 6:
            continue
        if csum(ip) != 0:
            bad_ip += 1
        seg = fr[14 + ihl:14 + tot]
        ph = ip[12:20] + struct.pack('!BBH', 0, 6, len(seg))
        if csum(ph + seg) != 0:
            bad_tcp += 1
        payload += len(seg) - (seg[12] >> 4) * 4
    print('frames %d payload %d largest %d bad_ip %d bad_tcp %d'
          % (frames, payload, largest, bad_ip, bad_tcp))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'make':
        n = int(sys.argv[3]) if len(sys.argv) > 3 else 32
        write(sys.argv[2], [frame(i) for i in range(n)])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == 'flows':
        nf, rounds = int(sys.argv[3]), int(sys.argv[4])
        tag = int(sys.argv[5]) if len(sys.argv) == 6 else 0
        # a flow's rounds back to back: one burst holds several frames
        # of one flow, so a reordering inside a burst shows
        write(sys.argv[2], [flow_frame(i, r, tag) for i in range(nf)
                            for r in range(rounds)])
    elif len(sys.argv) == 3 and sys.argv[1] == 'flowhash':
        flowhash(int(sys.argv[2]))
    elif len(sys.argv) >= 3 and sys.argv[1] == 'flowq':
        flowq(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == 'empty':
        write(sys.argv[2], [])
    elif len(sys.argv) == 3 and sys.argv[1] == 'check':
        check(sys.argv[2])
    else:
        sys.exit('usage: tcp_pcap.py make FILE [COUNT] | empty FILE | check FILE'
                 ' | flows FILE FLOWS ROUNDS [TAG] | flowhash FLOWS | flowq FILE...')


if __name__ == '__main__':
    main()
