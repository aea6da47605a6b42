#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# net_vhu with dmas=: payload copies on a DMA channel of DPDK's software
# engine (dma_skeleton, a copy thread), end to end with Debian's
# dpdk-testpmd on both sides: the backend loads the plugin (-d), creates
# the engine (--vdev dma_skeleton) and a port with dmas=[txq0@...] (the
# guest's receive side, libvhu's asynchronous enqueue) or dmas=[rxq0@...]
# (its transmit side, the asynchronous dequeue); the frontend is
# net_virtio_user, with a split ring, then a packed one (packed_vq=1). A
# net_pcap port on the sending side replays a pcap of frames of 60..1514
# bytes (random payloads, each numbered), forwarded with io retry; one on
# the receiving side writes what arrives. Checked each time: every frame
# arrives byte for byte and in order (frames below the 256-byte threshold
# are copied by the core, the others by the engine: the order must hold
# across both); the queue's dma_copies xstat > 0, split or packed, in
# either direction (its dma_fallbacks is logged: a full engine ring makes
# the core copy, which is allowed); the backend quits with
# status 0 after the frontend left (channels unbound at destroy_device,
# the engine stopped at close). Then the devarg's errors: an unknown DMA
# device, two queues on one channel, a queue beyond queues=, a malformed
# entry and dmas with rss-steer=1 fail the probe with a message naming
# them.
#
# Usage: test_pmd_dma.sh PLUGIN.so WORKDIR
# Env:   VHU_PMD_DMA_FRAMES=N (default 3000)
# Exit:  0 pass, 1 fail, 77 skip (no dpdk-testpmd or no dma_skeleton
#        driver, or a sanitizer plugin without a loadable runtime).
# Only processes this script started are stopped, by PID.
set -uo pipefail

PLUGIN=$(realpath "${1:?usage: test_pmd_dma.sh PLUGIN.so WORKDIR}")
WORK=${2:?usage: test_pmd_dma.sh PLUGIN.so WORKDIR}
TIMEOUT=40
NB_FRAMES=${VHU_PMD_DMA_FRAMES:-3000}

log() { printf '[pmd-dma %(%T)T] %s\n' -1 "$*"; }
fail() { log "FAIL: $*"; FAILED=1; }
FAILED=0

command -v dpdk-testpmd >/dev/null || { log "SKIP: no dpdk-testpmd"; exit 77; }
command -v python3 >/dev/null || { log "SKIP: no python3"; exit 77; }
[ -f "$PLUGIN" ] || { log "no plugin $PLUGIN"; exit 1; }
ls /usr/lib/*/dpdk/pmds-*/librte_dma_skeleton.so* >/dev/null 2>&1 ||
	{ log "SKIP: no dma_skeleton driver"; exit 77; }

mkdir -p "$WORK"
WORK=$(realpath "$WORK")
SOCK=$WORK/vhu-dma.sock
PREFIX=vhu-dma-$$

# shellcheck source=testpmd_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/testpmd_lib.sh"

count() { grep -ac -- "$2" "${LOG[$1]}"; }

wait_count() {
	local end=$((SECONDS + TIMEOUT))
	STEP="waiting for '$2' in $1's log"
	while [ "$(count "$1" "$2")" -lt "$3" ]; do
		alive "$1" || { fail "$1 exited (see ${LOG[$1]})"; return 1; }
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}

# xstat NAME PORT XSTAT (a testpmd that does not answer is logged, on
# stderr: callers take stdout)
xstat() {
	query "$1" "show port xstats $2" "tx_good_packets" >/dev/null ||
		log "$1: no answer to 'show port xstats $2' in 10 s" >&2
	sleep 0.2
	tail -n 400 "${LOG[$1]}" | grep -a "^$3: " | tail -n 1 | awk '{ print $2 }'
}

# pcap files: the frames sent (numbered, random payloads), and an empty one
python3 - "$WORK/in.pcap" "$WORK/empty.pcap" "$NB_FRAMES" <<'PY' || { log "cannot write the pcaps"; exit 1; }
import random, struct, sys
hdr = struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
sizes = [60, 64, 100, 255, 256, 300, 1000, 1514, 700, 128]
rnd = random.Random(17)
with open(sys.argv[1], 'wb') as f:
    f.write(hdr)
    for i in range(int(sys.argv[3])):
        n = sizes[i % len(sizes)]
        # Ethernet: broadcast, locally administered source, type 0x88b5
        # (local experimental), then the frame number and random bytes
        fr = b'\xff' * 6 + b'\x02\x00\x00\x00\x00\x01' + b'\x88\xb5'
        fr += struct.pack('>I', i)
        fr += bytes(rnd.getrandbits(8) for _ in range(n - len(fr)))
        f.write(struct.pack('<IIII', i, 0, n, n) + fr)
with open(sys.argv[2], 'wb') as f:
    f.write(hdr)
PY

# compare IN OUT : "same N" or what differs
pcap_compare() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
def read(p):
    b = open(p, 'rb').read()
    off, out = 24, []
    while off + 16 <= len(b):
        _, _, cap, _ = struct.unpack_from('<IIII', b, off)
        out.append(b[off + 16:off + 16 + cap])
        off += 16 + cap
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
if a == b:
    print('same', len(a))
else:
    first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
                 min(len(a), len(b)))
    print('differ: sent', len(a), 'received', len(b), 'first difference at',
          first)
PY
}

# Placement: both forwarding lcores poll on CPU 1; the engine's copy
# thread (it sleeps and wakes every few microseconds) is pinned to CPU 0
# (the skeleton's lcore=0, the main lcores' CPU), where nothing polls. On
# a CPU that also ran a polling lcore, that thread let this machine's
# kernel starve other runnable threads there for minutes: kdamond with a
# lock every exiting process takes, so each sleep and tail of this script
# hung until meson's timeout (5 runs in 24 under ASan, the copy thread and
# the frontend's lcore on CPU 0); with both on CPU 1, a thread killing
# dentries, so reaping a child took 30-40 s (7 runs in 25). This
# placement: 20 runs of 20 in 23-31 s. A functional test needs no speed.
backend() {
	local devargs=$1
	# shellcheck disable=SC2086
	start "$2" --lcores=0@0,1@1 --no-huge -m 1024 --no-pci --iova-mode=va \
		--file-prefix="$PREFIX"-"$2" -d "$PLUGIN" --vdev dma_skeleton,lcore=0 \
		--vdev "net_vhu0,iface=$SOCK,queues=1$devargs" ${3:-} \
		--log-level=pmd.net.vhu:info --log-level=lib.vhu.*:info \
		-- -i --total-num-mbufs=16384 --disable-link-check --nb-cores=1 \
		--no-flush-rx
}

# ---- payloads through the DMA engine ----
# dma_round DIR RING : DIR tx (backend -> guest, dmas=txq0, libvhu's
# enqueue) or rx (guest -> backend, dmas=rxq0, its dequeue); RING ""
# (split) or ",packed_vq=1" (the frontend's)
dma_round() {
	local dir=$1 ring=$2 v copies fallbacks end rc res feat
	local bpcap fpcap sender receiver
	log "== dmas=[${dir}q0@dma_skeleton:0]${ring:+, ${ring#,}}: $NB_FRAMES frames $([ "$dir" = tx ] && echo "backend -> guest" || echo "guest -> backend")"
	rm -f "$WORK/b.log" "$WORK/f.log" "$WORK/out.pcap" "$SOCK"
	if [ "$dir" = tx ]; then
		bpcap="rx_pcap=$WORK/in.pcap"
		fpcap="rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/out.pcap"
		sender=b receiver=f
	else
		bpcap="rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/out.pcap"
		fpcap="rx_pcap=$WORK/in.pcap"
		sender=f receiver=b
	fi
	STEP="$dir${ring}: starting the backend and the frontend"
	backend ",dmas=[${dir}q0@dma_skeleton:0]" b "--vdev net_pcap0,$bpcap"
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	start f --lcores=0@0,1@1 --no-huge -m 128 --single-file-segments --no-pci \
		--file-prefix="$PREFIX"-f --vdev net_virtio_user0,path="$SOCK",queues=1"$ring" \
		--vdev "net_pcap0,$fpcap" \
		-- -i --total-num-mbufs=16384 --nb-cores=1 --no-flush-rx
	# the sender retries: a receiver that falls behind (a loaded
	# machine, a sanitizer build) must not make testpmd drop: up to 1 s
	# of retries per burst
	cmd "$sender" "set fwd io retry"
	cmd "$sender" "set burst tx delay 200 retry 5000"
	cmd "$receiver" "set fwd io"
	wait_count b "$dir queue 0 copies on DMA" 1 ||
		fail "backend: the channel was not bound (see ${LOG[b]})"
	feat=$(grep -ao "frontend connected on .*features 0x[0-9a-f]*" "${LOG[b]}" |
		tail -n 1 | grep -ao "0x[0-9a-f]*$")
	# VIRTIO_F_RING_PACKED is bit 34
	[ $(((${feat:-0} >> 34) & 1)) = "$([ -n "$ring" ] && echo 1 || echo 0)" ] ||
		fail "negotiated ${feat:-nothing}: not the ring layout asked for"
	cmd "$receiver" start
	wait_count "$receiver" "forwards packets on" 1 ||
		fail "$receiver did not start (see ${LOG[$receiver]})"
	cmd "$sender" start
	# (xstat runs in a subshell: STEP is set out here)
	STEP="$dir$ring: reading the receiver's tx_good_packets"
	end=$((SECONDS + TIMEOUT))
	while :; do
		v=$(xstat "$receiver" 1 tx_good_packets)
		[ "${v:-0}" -ge "$NB_FRAMES" ] && break
		[ $SECONDS -lt $end ] || { fail "the receiver forwarded ${v:-0} of $NB_FRAMES frames"; break; }
		sleep 0.5
	done
	STEP="$dir$ring: reading the backend's DMA xstats"
	copies=$(xstat b 0 ${dir}_q0_dma_copies)
	fallbacks=$(xstat b 0 ${dir}_q0_dma_fallbacks)
	log "${dir}_q0_dma_copies ${copies:-missing}, ${dir}_q0_dma_fallbacks ${fallbacks:-missing}"
	[ "${copies:-0}" -gt 0 ] || fail "${dir}_q0_dma_copies is '${copies:-missing}'"
	STEP="$dir$ring: frontend quit"
	stop f
	wait_count b "frontend gone from" 1 || fail "backend did not see the frontend go"
	STEP="$dir$ring: backend quit"
	quit b
	rc=$QUIT_RC
	[ $rc -eq 0 ] || fail "backend exited with status $rc (see ${LOG[b]})"
	res=$(pcap_compare "$WORK/in.pcap" "$WORK/out.pcap")
	log "received: $res"
	[ "$res" = "same $NB_FRAMES" ] || fail "payloads: $res"
	grep -aq "DMA unbind" "${LOG[b]}" && fail "unbind failed (see ${LOG[b]})"
	grep -aiq "AddressSanitizer\|runtime error" "${LOG[b]}" &&
		fail "sanitizer report (see ${LOG[b]})"
}
dma_round tx ""
dma_round tx ",packed_vq=1"
dma_round rx ""
dma_round rx ",packed_vq=1"

# ---- devarg errors ----
bad_devarg() {
	local args=$1 want=$2
	rm -f "$WORK/e.log"
	backend "$args" e
	wait_count e "$want" 1 || fail "dmas '$args': no '$want' (see $WORK/e.log)"
	stop e
}
log "== dmas: refused values"
bad_devarg ",dmas=[txq0@no_such_dma:0]" "no DMA device 'no_such_dma'"
bad_devarg ",dmas=[txq0@dma_skeleton:0;rxq0@dma_skeleton:0]" "two queues share channel 0"
bad_devarg ",dmas=[txq1@dma_skeleton:0]" "names txq1, beyond queues=1"
bad_devarg ",dmas=[txq0@dma_skeleton]" "expected txqN@DEV:CH or rxqN@DEV:CH"
bad_devarg ",dmas=[txq0@dma_skeleton:0],rss-steer=1" "cannot be combined"

[ $FAILED -eq 0 ] && log "PASS" || log "FAILED"
exit $FAILED
