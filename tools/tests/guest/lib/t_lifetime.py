# SPDX-License-Identifier: GPL-2.0
"""STREAMOFF mid-frame and close with jobs in flight, on both nodes.

1. Several frames queued, then STREAMOFF on OUTPUT (or CAPTURE) at once: the call returns,
   every queued request completes (after CAPTURE, once OUTPUT stops too), and after STREAMON
   the same context encodes again, starting with a key frame.
2. Several frames queued, then the file (and the media requests) closed at once, repeatedly.
3. A fresh context encodes afterwards.
Mode "hold" opens both nodes and waits for stdin to close (for the rmmod check).
"""

import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403


if sys.argv[1:] == ["hold"]:
    a, b = Device(stateless_node()), Device(stateful_node())
    print("holding", flush=True)
    sys.stdin.read()
    sys.exit(0)

W, H, N = 320, 240, 3


def queue_stateful(enc):
    for i in range(N):
        enc.dev.write_output(i, enc.picture(i))
        enc.dev.qbuf(BUF_TYPE_OUTPUT, i, timestamp_us=i + 1)
        enc.dev.qbuf(BUF_TYPE_CAPTURE, i)


def queue_stateless(enc, reqs):
    for i in range(N):
        r = Request(enc.media)
        reqs.append(r)
        enc.dev.s_ctrls([(CID_STATELESS_H264_ENCODE_PARAMS,
                          ep_idr(i) if i == 0 else ep_p(i, 2 * i))], request=r)
        enc.dev.write_output(i, enc.picture(i))
        enc.dev.qbuf(BUF_TYPE_OUTPUT, i, request=r, timestamp_us=i + 1)
        enc.dev.qbuf(BUF_TYPE_CAPTURE, i)
        r.queue()


def drain(dev, btype):
    """Dequeues what is done (non-blocking); returns the buffers."""
    got = []
    while True:
        try:
            got.append(dev.dqbuf(btype, timeout_ms=0))
        except (TimeoutError, OSError):
            return got


def restart_and_encode(enc, what, stateless):
    enc.dev.streamoff(BUF_TYPE_OUTPUT)
    enc.dev.streamoff(BUF_TYPE_CAPTURE)
    enc.dev.streamon(BUF_TYPE_OUTPUT)
    enc.dev.streamon(BUF_TYPE_CAPTURE)
    enc.frame = 0
    for i in range(2):
        if stateless:
            o, c, d = enc.encode(ep_idr(7) if i == 0 else ep_p(1, 2), enc.picture(i))
        else:
            o, c, d = enc.encode(enc.picture(i))
        check(f"{what}: frame {i} after restart encoded ({c})", not c.error and len(d) > 0)
        check(f"{what}: frame {i} after restart key frame only first",
              c.keyframe == (i == 0))


for q, qname in [(BUF_TYPE_OUTPUT, "OUTPUT"), (BUF_TYPE_CAPTURE, "CAPTURE")]:
    enc = StatefulEncoder(W, H, nout=N, ncap=N)
    queue_stateful(enc)
    enc.dev.streamoff(q)
    other = BUF_TYPE_CAPTURE if q == BUF_TYPE_OUTPUT else BUF_TYPE_OUTPUT
    done = drain(enc.dev, other)
    print(f"stateful: STREAMOFF {qname} with {N} frames queued; {len(done)} done on the other queue")
    restart_and_encode(enc, f"stateful STREAMOFF {qname}", False)
    enc.close()

    enc = StatelessEncoder(W, H, nout=N, ncap=N)
    reqs = []
    queue_stateless(enc, reqs)
    enc.dev.streamoff(q)
    if q == BUF_TYPE_CAPTURE:
        # The OUTPUT buffers stay queued (their requests pending) until OUTPUT stops too.
        enc.dev.streamoff(BUF_TYPE_OUTPUT)
    for i, r in enumerate(reqs):
        try:
            r.wait(3000)
        except TimeoutError:
            check(f"stateless STREAMOFF {qname}: request {i} never completed", False)
        r.close()
    done = drain(enc.dev, other)
    print(f"stateless: STREAMOFF {qname} with {N} requests queued; {len(done)} done on the "
          f"other queue; all requests completed")
    restart_and_encode(enc, f"stateless STREAMOFF {qname}", True)
    enc.close()

# Close with jobs in flight.
for i in range(4):
    enc = StatefulEncoder(W, H, nout=N, ncap=N)
    queue_stateful(enc)
    enc.close()
    enc = StatelessEncoder(W, H, nout=N, ncap=N)
    reqs = []
    queue_stateless(enc, reqs)
    if i % 2:
        for r in reqs:
            r.close()
        enc.close()
    else:
        enc.close()
        for r in reqs:
            try:
                r.wait(3000)
            except TimeoutError:
                check(f"closed file: request never completed", False)
            r.close()
print("closed 4 contexts of each node with frames in flight")

# Fresh contexts work.
enc = StatefulEncoder(W, H)
for i in range(2):
    o, c, d = enc.encode(enc.picture(i))
    check(f"fresh stateful context frame {i}", not c.error and len(d) > 0)
enc.close()
enc = StatelessEncoder(W, H)
for i, ep in enumerate([ep_idr(0), ep_p(1, 2)]):
    o, c, d = enc.encode(ep, enc.picture(i))
    check(f"fresh stateless context frame {i}", not c.error and len(d) > 0)
enc.close()
print("fresh contexts encode")

finish()
