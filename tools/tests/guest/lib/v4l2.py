# SPDX-License-Identifier: GPL-2.0
"""Minimal V4L2 m2m client for slenc's guest tests (Python 3 standard library only).

Speaks just enough of the V4L2 and media-request uAPI to drive both slenc nodes by hand:
multi-planar formats, MMAP buffers (REQBUFS/CREATE_BUFS/QUERYBUF/QBUF/DQBUF), streaming,
extended controls (compound controls with a byte payload, request values), and media requests.
The struct layouts are those of <linux/videodev2.h> and <linux/media.h> on x86_64 (the guest);
`selftest()` checks their sizes against the sizes encoded in the ioctl numbers.
ENCODE_PARAMS is uapi/slenc-h264-enc.h (44 bytes).
"""

import ctypes as C
import errno
import fcntl
import mmap
import os
import select
import struct
import sys

# ------------------------------------------------------------------------------------------
# ioctl numbers

_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(d, t, nr, size):
    return (d << 30) | (size << 16) | (ord(t) << 8) | nr


def _io(t, nr):
    return _ioc(0, t, nr, 0)


def _ior(t, nr, size):
    return _ioc(_IOC_READ, t, nr, size)


def _iow(t, nr, size):
    return _ioc(_IOC_WRITE, t, nr, size)


def _iowr(t, nr, size):
    return _ioc(_IOC_READ | _IOC_WRITE, t, nr, size)


# ------------------------------------------------------------------------------------------
# Structures (x86_64 / LP64 layouts)


class PlanePixFormat(C.Structure):
    _pack_ = 1
    _fields_ = [("sizeimage", C.c_uint32), ("bytesperline", C.c_uint32),
                ("reserved", C.c_uint16 * 6)]


class PixFormatMplane(C.Structure):
    _pack_ = 1
    _fields_ = [("width", C.c_uint32), ("height", C.c_uint32), ("pixelformat", C.c_uint32),
                ("field", C.c_uint32), ("colorspace", C.c_uint32),
                ("plane_fmt", PlanePixFormat * 8), ("num_planes", C.c_uint8),
                ("flags", C.c_uint8), ("ycbcr_enc", C.c_uint8), ("quantization", C.c_uint8),
                ("xfer_func", C.c_uint8), ("reserved", C.c_uint8 * 7)]


class _FmtUnion(C.Union):
    _fields_ = [("pix_mp", PixFormatMplane), ("raw_data", C.c_uint8 * 200),
                ("_align", C.c_uint64)]


class Format(C.Structure):
    _fields_ = [("type", C.c_uint32), ("fmt", _FmtUnion)]


class RequestBuffers(C.Structure):
    _fields_ = [("count", C.c_uint32), ("type", C.c_uint32), ("memory", C.c_uint32),
                ("capabilities", C.c_uint32), ("flags", C.c_uint8), ("reserved", C.c_uint8 * 3)]


class CreateBuffers(C.Structure):
    _fields_ = [("index", C.c_uint32), ("count", C.c_uint32), ("memory", C.c_uint32),
                ("format", Format), ("capabilities", C.c_uint32), ("flags", C.c_uint32),
                ("max_num_buffers", C.c_uint32), ("reserved", C.c_uint32 * 5)]


class _PlaneM(C.Union):
    _fields_ = [("mem_offset", C.c_uint32), ("userptr", C.c_ulong), ("fd", C.c_int32)]


class Plane(C.Structure):
    _fields_ = [("bytesused", C.c_uint32), ("length", C.c_uint32), ("m", _PlaneM),
                ("data_offset", C.c_uint32), ("reserved", C.c_uint32 * 11)]


class Timeval(C.Structure):
    _fields_ = [("tv_sec", C.c_long), ("tv_usec", C.c_long)]


class Timecode(C.Structure):
    _fields_ = [("type", C.c_uint32), ("flags", C.c_uint32), ("frames", C.c_uint8),
                ("seconds", C.c_uint8), ("minutes", C.c_uint8), ("hours", C.c_uint8),
                ("userbits", C.c_uint8 * 4)]


class _BufM(C.Union):
    _fields_ = [("offset", C.c_uint32), ("userptr", C.c_ulong), ("planes", C.POINTER(Plane)),
                ("fd", C.c_int32)]


class Buffer(C.Structure):
    _fields_ = [("index", C.c_uint32), ("type", C.c_uint32), ("bytesused", C.c_uint32),
                ("flags", C.c_uint32), ("field", C.c_uint32), ("timestamp", Timeval),
                ("timecode", Timecode), ("sequence", C.c_uint32), ("memory", C.c_uint32),
                ("m", _BufM), ("length", C.c_uint32), ("reserved2", C.c_uint32),
                ("request_fd", C.c_int32)]


class _CtrlVal(C.Union):
    _pack_ = 1
    _fields_ = [("value", C.c_int32), ("value64", C.c_int64), ("ptr", C.c_void_p)]


class ExtControl(C.Structure):
    _pack_ = 1
    _fields_ = [("id", C.c_uint32), ("size", C.c_uint32), ("reserved2", C.c_uint32),
                ("u", _CtrlVal)]


class ExtControls(C.Structure):
    _fields_ = [("which", C.c_uint32), ("count", C.c_uint32), ("error_idx", C.c_uint32),
                ("request_fd", C.c_int32), ("reserved", C.c_uint32),
                ("controls", C.POINTER(ExtControl))]


class Rect(C.Structure):
    _fields_ = [("left", C.c_int32), ("top", C.c_int32), ("width", C.c_uint32),
                ("height", C.c_uint32)]


class Selection(C.Structure):
    _fields_ = [("type", C.c_uint32), ("target", C.c_uint32), ("flags", C.c_uint32),
                ("r", Rect), ("reserved", C.c_uint32 * 9)]


class Capability(C.Structure):
    _fields_ = [("driver", C.c_char * 16), ("card", C.c_char * 32), ("bus_info", C.c_char * 32),
                ("version", C.c_uint32), ("capabilities", C.c_uint32),
                ("device_caps", C.c_uint32), ("reserved", C.c_uint32 * 3)]


class MediaDeviceInfo(C.Structure):
    _fields_ = [("driver", C.c_char * 16), ("model", C.c_char * 32), ("serial", C.c_char * 40),
                ("bus_info", C.c_char * 32), ("media_version", C.c_uint32),
                ("hw_revision", C.c_uint32), ("driver_version", C.c_uint32),
                ("reserved", C.c_uint32 * 31)]


VIDIOC_QUERYCAP = _ior("V", 0, C.sizeof(Capability))
VIDIOC_G_FMT = _iowr("V", 4, C.sizeof(Format))
VIDIOC_S_FMT = _iowr("V", 5, C.sizeof(Format))
VIDIOC_REQBUFS = _iowr("V", 8, C.sizeof(RequestBuffers))
VIDIOC_QUERYBUF = _iowr("V", 9, C.sizeof(Buffer))
VIDIOC_QBUF = _iowr("V", 15, C.sizeof(Buffer))
VIDIOC_DQBUF = _iowr("V", 17, C.sizeof(Buffer))
VIDIOC_STREAMON = _iow("V", 18, 4)
VIDIOC_STREAMOFF = _iow("V", 19, 4)
VIDIOC_TRY_FMT = _iowr("V", 64, C.sizeof(Format))
VIDIOC_G_EXT_CTRLS = _iowr("V", 71, C.sizeof(ExtControls))
VIDIOC_S_EXT_CTRLS = _iowr("V", 72, C.sizeof(ExtControls))
VIDIOC_TRY_EXT_CTRLS = _iowr("V", 73, C.sizeof(ExtControls))
VIDIOC_CREATE_BUFS = _iowr("V", 92, C.sizeof(CreateBuffers))
VIDIOC_G_SELECTION = _iowr("V", 94, C.sizeof(Selection))
VIDIOC_S_SELECTION = _iowr("V", 95, C.sizeof(Selection))
MEDIA_IOC_DEVICE_INFO = _iowr("|", 0x00, C.sizeof(MediaDeviceInfo))
MEDIA_IOC_REQUEST_ALLOC = _ior("|", 0x05, 4)
MEDIA_REQUEST_IOC_QUEUE = _io("|", 0x80)
MEDIA_REQUEST_IOC_REINIT = _io("|", 0x81)

# The layouts as the kernel headers have them (x86_64): a wrong field makes a wrong ioctl number.
_SIZES = {Format: 208, RequestBuffers: 20, CreateBuffers: 256, Plane: 64, Buffer: 88,
          ExtControl: 20, ExtControls: 32, Selection: 64, Capability: 104,
          MediaDeviceInfo: 256, PixFormatMplane: 192}


def selftest():
    for t, n in _SIZES.items():
        assert C.sizeof(t) == n, f"sizeof({t.__name__}) = {C.sizeof(t)}, expected {n}"
    assert Buffer.request_fd.offset == 80 and Buffer.m.offset == 64
    assert ExtControls.controls.offset == 24 and ExtControl.u.offset == 12


selftest()

# ------------------------------------------------------------------------------------------
# Constants

BUF_TYPE_CAPTURE = 9   # V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
BUF_TYPE_OUTPUT = 10   # V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
MEMORY_MMAP = 1

BUF_FLAG_MAPPED = 0x1
BUF_FLAG_QUEUED = 0x2
BUF_FLAG_DONE = 0x4
BUF_FLAG_KEYFRAME = 0x8
BUF_FLAG_PFRAME = 0x10
BUF_FLAG_ERROR = 0x40
BUF_FLAG_IN_REQUEST = 0x80
BUF_FLAG_LAST = 0x100000
BUF_FLAG_REQUEST_FD = 0x800000

CTRL_WHICH_CUR_VAL = 0
CTRL_WHICH_DEF_VAL = 0x0f000000
CTRL_WHICH_REQUEST_VAL = 0x0f010000


# Test bookkeeping shared by the t_*.py scripts: `check` records a failed expectation and
# goes on, `finish` ends the script with the verdict.
failures = []


def check(what, cond):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def finish():
    if failures:
        print(f"{len(failures)} checks failed")
        sys.exit(1)
    print("all checks passed")


def fourcc(s):
    return struct.unpack("<I", s.encode())[0]


NV12 = fourcc("NV12")
NV12M = fourcc("NM12")
H264 = fourcc("H264")
H264_SLICE = fourcc("S264")

SEL_TGT_CROP = 0

CID_CODEC_BASE = 0x00990900
CID_GOP_SIZE = CID_CODEC_BASE + 203
CID_FRAME_RC_ENABLE = CID_CODEC_BASE + 215
CID_FORCE_KEY_FRAME = CID_CODEC_BASE + 229
CID_H264_I_FRAME_QP = CID_CODEC_BASE + 350
CID_H264_P_FRAME_QP = CID_CODEC_BASE + 351
CID_H264_MIN_QP = CID_CODEC_BASE + 353
CID_H264_MAX_QP = CID_CODEC_BASE + 354
CID_H264_ENTROPY_MODE = CID_CODEC_BASE + 357
CID_STATELESS_BASE = 0x00a40900
CID_STATELESS_H264_SPS = CID_STATELESS_BASE + 2
CID_STATELESS_H264_PPS = CID_STATELESS_BASE + 3
CID_STATELESS_H264_ENCODE_PARAMS = CID_STATELESS_BASE + 8

SLICE_TYPE_P, SLICE_TYPE_B, SLICE_TYPE_I, SLICE_TYPE_SP, SLICE_TYPE_SI = 0, 1, 2, 3, 4
ENCODE_FLAG_IDR_PIC = 0x01

# ------------------------------------------------------------------------------------------
# ENCODE_PARAMS (uapi/slenc-h264-enc.h, 44 bytes)

_EP_FIELDS = [
    ("nal_ref_idc", "B"), ("slice_type", "B"), ("pic_parameter_set_id", "B"),
    ("colour_plane_id", "B"), ("frame_num", "H"), ("idr_pic_id", "H"),
    ("pic_order_cnt_lsb", "H"), ("reserved0", "2s"), ("delta_pic_order_cnt_bottom", "i"),
    ("delta_pic_order_cnt0", "i"), ("delta_pic_order_cnt1", "i"),
    ("num_ref_idx_l0_active_minus1", "B"), ("num_ref_idx_l1_active_minus1", "B"),
    ("cabac_init_idc", "B"), ("slice_qp_delta", "b"), ("disable_deblocking_filter_idc", "B"),
    ("slice_alpha_c0_offset_div2", "b"), ("slice_beta_offset_div2", "b"), ("reserved1", "6s"),
    ("_pad", "3x"), ("flags", "I"),
]
_EP_FMT = "<" + "".join(f for _, f in _EP_FIELDS)
EP_SIZE = struct.calcsize(_EP_FMT)
assert EP_SIZE == 44, EP_SIZE
EP_NAMES = [n for n, f in _EP_FIELDS if n != "_pad"]


def ep_pack(**kw):
    """ENCODE_PARAMS bytes; unnamed fields are zero (reserved as bytes)."""
    vals = []
    for n, f in _EP_FIELDS:
        if n == "_pad":
            continue
        d = b"\0" * int(f[:-1]) if f.endswith("s") else 0
        vals.append(kw.pop(n, d))
    assert not kw, f"unknown ENCODE_PARAMS fields {kw}"
    return struct.pack(_EP_FMT, *vals)


def ep_unpack(b):
    return dict(zip(EP_NAMES, struct.unpack(_EP_FMT, b)))


def ep_idr(idr_pic_id=0, **kw):
    return ep_pack(nal_ref_idc=kw.pop("nal_ref_idc", 3), slice_type=SLICE_TYPE_I,
                   idr_pic_id=idr_pic_id, flags=ENCODE_FLAG_IDR_PIC, **kw)


def ep_p(frame_num, poc_lsb, **kw):
    return ep_pack(nal_ref_idc=kw.pop("nal_ref_idc", 2), slice_type=SLICE_TYPE_P,
                   frame_num=frame_num, pic_order_cnt_lsb=poc_lsb, **kw)


# ------------------------------------------------------------------------------------------
# Helpers


def ioctl(fd, req, arg):
    """ioctl with a ctypes structure (in/out); raises OSError with the errno."""
    fcntl.ioctl(fd, req, arg, True)
    return arg


def expect_errno(code, fn, *a, **kw):
    """Calls fn and checks that it fails with errno `code`; returns a description."""
    try:
        fn(*a, **kw)
    except OSError as e:
        if e.errno != code:
            raise AssertionError(f"expected {errno.errorcode[code]}, got "
                                 f"{errno.errorcode.get(e.errno, e.errno)}") from e
        return
    raise AssertionError(f"expected {errno.errorcode[code]}, the call succeeded")


def find_node(card_suffix):
    for i in range(64):
        path = f"/dev/video{i}"
        if not os.path.exists(path):
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            cap = ioctl(fd, VIDIOC_QUERYCAP, Capability())
            if cap.driver == b"slenc" and cap.card.decode().endswith(card_suffix):
                return path
        finally:
            os.close(fd)
    raise RuntimeError(f"no slenc node with a card ending in {card_suffix}")


def stateless_node():
    return find_node("-h264-sl")


def stateful_node():
    return find_node("-enc")


def media_node():
    for i in range(16):
        path = f"/dev/media{i}"
        if not os.path.exists(path):
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            info = ioctl(fd, MEDIA_IOC_DEVICE_INFO, MediaDeviceInfo())
            if info.driver == b"slenc":
                return path
        finally:
            os.close(fd)
    raise RuntimeError("no slenc media device")


class Request:
    """A media request (MEDIA_IOC_REQUEST_ALLOC)."""

    def __init__(self, media_fd):
        n = C.c_int(-1)
        fcntl.ioctl(media_fd, MEDIA_IOC_REQUEST_ALLOC, n, True)
        self.fd = n.value

    def queue(self):
        fcntl.ioctl(self.fd, MEDIA_REQUEST_IOC_QUEUE)

    def reinit(self):
        fcntl.ioctl(self.fd, MEDIA_REQUEST_IOC_REINIT)

    def wait(self, timeout_ms=5000):
        p = select.poll()
        p.register(self.fd, select.POLLPRI)
        ev = p.poll(timeout_ms)
        if not ev:
            raise TimeoutError("request did not complete")
        return ev[0][1]

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Dequeued:
    """What DQBUF returned."""

    def __init__(self, b, planes):
        self.index = b.index
        self.flags = b.flags
        self.sequence = b.sequence
        self.timestamp = (b.timestamp.tv_sec, b.timestamp.tv_usec)
        self.bytesused = [planes[i].bytesused for i in range(b.length)]
        self.error = bool(b.flags & BUF_FLAG_ERROR)
        self.keyframe = bool(b.flags & BUF_FLAG_KEYFRAME)
        self.last = bool(b.flags & BUF_FLAG_LAST)

    def __repr__(self):
        return (f"<buf {self.index} seq {self.sequence} flags {self.flags:#x} "
                f"bytes {self.bytesused}>")


class Device:
    """One open file (context) of a slenc node."""

    def __init__(self, path, nonblock=False):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | (os.O_NONBLOCK if nonblock else 0))
        self.maps = {BUF_TYPE_OUTPUT: [], BUF_TYPE_CAPTURE: []}
        self.nplanes = {BUF_TYPE_OUTPUT: 1, BUF_TYPE_CAPTURE: 1}

    def close(self):
        for ms in self.maps.values():
            for planes in ms:
                for m in planes:
                    m.close()
        self.maps = {BUF_TYPE_OUTPUT: [], BUF_TYPE_CAPTURE: []}
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # formats ------------------------------------------------------------------------------

    def _fmt(self, req, btype, pixfmt, width, height, sizeimage=0, bytesperline=0):
        f = Format()
        f.type = btype
        p = f.fmt.pix_mp
        p.width, p.height, p.pixelformat = width, height, pixfmt
        p.num_planes = 1
        p.plane_fmt[0].sizeimage = sizeimage
        p.plane_fmt[0].bytesperline = bytesperline
        ioctl(self.fd, req, f)
        return f.fmt.pix_mp

    def s_fmt(self, btype, pixfmt, width, height, sizeimage=0, bytesperline=0):
        p = self._fmt(VIDIOC_S_FMT, btype, pixfmt, width, height, sizeimage, bytesperline)
        self.nplanes[btype] = p.num_planes
        return p

    def try_fmt(self, btype, pixfmt, width, height, sizeimage=0, bytesperline=0):
        return self._fmt(VIDIOC_TRY_FMT, btype, pixfmt, width, height, sizeimage, bytesperline)

    def g_fmt(self, btype):
        f = Format()
        f.type = btype
        ioctl(self.fd, VIDIOC_G_FMT, f)
        return f.fmt.pix_mp

    def g_crop(self):
        s = Selection()
        s.type, s.target = BUF_TYPE_OUTPUT, SEL_TGT_CROP
        ioctl(self.fd, VIDIOC_G_SELECTION, s)
        return (s.r.left, s.r.top, s.r.width, s.r.height)

    def s_crop(self, left, top, width, height):
        s = Selection()
        s.type, s.target = BUF_TYPE_OUTPUT, SEL_TGT_CROP
        s.r.left, s.r.top, s.r.width, s.r.height = left, top, width, height
        ioctl(self.fd, VIDIOC_S_SELECTION, s)
        return (s.r.left, s.r.top, s.r.width, s.r.height)

    # buffers ------------------------------------------------------------------------------

    def reqbufs(self, btype, count):
        r = RequestBuffers()
        r.count, r.type, r.memory = count, btype, MEMORY_MMAP
        ioctl(self.fd, VIDIOC_REQBUFS, r)
        for planes in self.maps[btype]:
            for m in planes:
                m.close()
        self.maps[btype] = []
        for i in range(r.count):
            self.maps[btype].append(self._map(btype, i))
        return r.count

    def create_bufs(self, btype, count, sizeimage=None, pixfmt=None, width=None, height=None):
        """CREATE_BUFS with the current format, or one plane of `sizeimage` bytes."""
        c = CreateBuffers()
        c.count, c.memory = count, MEMORY_MMAP
        c.format.type = btype
        ioctl(self.fd, VIDIOC_G_FMT, c.format)
        p = c.format.fmt.pix_mp
        if sizeimage is not None:
            p.plane_fmt[0].sizeimage = sizeimage
        ioctl(self.fd, VIDIOC_CREATE_BUFS, c)
        for i in range(c.index, c.index + c.count):
            assert len(self.maps[btype]) == i
            self.maps[btype].append(self._map(btype, i))
        return c.index, c.count

    def _querybuf(self, btype, index):
        planes = (Plane * 8)()
        b = Buffer()
        b.index, b.type, b.memory = index, btype, MEMORY_MMAP
        b.m.planes = planes
        b.length = 8
        ioctl(self.fd, VIDIOC_QUERYBUF, b)
        return b, planes

    def _map(self, btype, index):
        b, planes = self._querybuf(btype, index)
        return [mmap.mmap(self.fd, planes[i].length, mmap.MAP_SHARED,
                          mmap.PROT_READ | mmap.PROT_WRITE, offset=planes[i].m.mem_offset)
                for i in range(b.length)]

    def buf_length(self, btype, index):
        return [len(m) for m in self.maps[btype][index]]

    def write_output(self, index, data):
        """Copies raw picture bytes into OUTPUT buffer `index` (plane 0, or split over planes)."""
        at = 0
        for m in self.maps[BUF_TYPE_OUTPUT][index]:
            n = min(len(m), len(data) - at)
            m.seek(0)
            m.write(data[at:at + n])
            at += n

    def read_capture(self, index, nbytes):
        m = self.maps[BUF_TYPE_CAPTURE][index][0]
        return bytes(m[:nbytes])

    def qbuf(self, btype, index, bytesused=None, request=None, timestamp_us=0):
        n = len(self.maps[btype][index])
        planes = (Plane * 8)()
        for i in range(n):
            length = len(self.maps[btype][index][i])
            planes[i].length = length
            if btype == BUF_TYPE_OUTPUT:
                planes[i].bytesused = length if bytesused is None else bytesused[i]
        b = Buffer()
        b.index, b.type, b.memory = index, btype, MEMORY_MMAP
        b.m.planes = planes
        b.length = n
        b.timestamp.tv_sec = timestamp_us // 1_000_000
        b.timestamp.tv_usec = timestamp_us % 1_000_000
        if request is not None:
            b.flags |= BUF_FLAG_REQUEST_FD
            b.request_fd = request.fd
        ioctl(self.fd, VIDIOC_QBUF, b)

    def dqbuf(self, btype, timeout_ms=5000):
        """Waits (poll) for a buffer of `btype` and dequeues it."""
        p = select.poll()
        p.register(self.fd, select.POLLIN if btype == BUF_TYPE_CAPTURE else select.POLLOUT)
        deadline = timeout_ms
        while True:
            planes = (Plane * 8)()
            b = Buffer()
            b.type, b.memory = btype, MEMORY_MMAP
            b.m.planes = planes
            b.length = 8
            try:
                ioctl(self.fd, VIDIOC_DQBUF, b)
                return Dequeued(b, planes)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
            if deadline <= 0:
                raise TimeoutError(f"no buffer to dequeue on queue type {btype}")
            p.poll(100)
            deadline -= 100

    def streamon(self, btype):
        fcntl.ioctl(self.fd, VIDIOC_STREAMON, struct.pack("i", btype))

    def streamoff(self, btype):
        fcntl.ioctl(self.fd, VIDIOC_STREAMOFF, struct.pack("i", btype))

    # controls -----------------------------------------------------------------------------

    def _ext(self, req, ctrls, which=CTRL_WHICH_CUR_VAL, request=None):
        """ctrls: list of (id, int value) or (id, bytes payload). Returns the values after."""
        arr = (ExtControl * len(ctrls))()
        bufs = []
        for i, (cid, v) in enumerate(ctrls):
            arr[i].id = cid
            if isinstance(v, (bytes, bytearray)):
                buf = C.create_string_buffer(bytes(v), len(v))
                bufs.append(buf)
                arr[i].size = len(v)
                arr[i].u.ptr = C.addressof(buf)
            else:
                bufs.append(None)
                arr[i].u.value64 = 0
                arr[i].u.value = v
        e = ExtControls()
        e.which = which
        e.count = len(ctrls)
        e.controls = arr
        if request is not None:
            e.which = CTRL_WHICH_REQUEST_VAL
            e.request_fd = request.fd
        ioctl(self.fd, req, e)
        out = []
        for i, buf in enumerate(bufs):
            out.append(buf.raw if buf is not None else arr[i].u.value)
        return out

    def s_ctrls(self, ctrls, request=None):
        return self._ext(VIDIOC_S_EXT_CTRLS, ctrls, request=request)

    def try_ctrls(self, ctrls):
        return self._ext(VIDIOC_TRY_EXT_CTRLS, ctrls)

    def g_ctrls(self, ctrls, which=CTRL_WHICH_CUR_VAL, request=None):
        return self._ext(VIDIOC_G_EXT_CTRLS, ctrls, which=which, request=request)

    def s_ctrl(self, cid, value):
        return self.s_ctrls([(cid, value)])[0]

    def g_ctrl(self, cid, size=0):
        """An integer control, or a compound control of `size` bytes."""
        return self.g_ctrls([(cid, bytes(size) if size else 0)])[0]


# ------------------------------------------------------------------------------------------
# Raw pictures


def nv12_frame(width, height, stride, coded_height, seed=0, noise=False):
    """An NV12 picture in a buffer of `stride` x `coded_height`: a moving gradient (or noise)."""
    import random
    if noise:
        rnd = random.Random(seed)
        return rnd.randbytes(stride * coded_height * 3 // 2)
    ramp = bytes(i & 0xff for i in range(stride + 256))
    chroma = bytes(128 + (i & 0x3f) for i in range(stride + 64))
    luma = b"".join(ramp[(y * 2 + seed * 3) & 0xff:][:stride] for y in range(coded_height))
    c = chroma[seed & 0x3f:][:stride] * (coded_height // 2)
    out = luma + c
    return bytes(out)


# ------------------------------------------------------------------------------------------
# Stateless node: SPS/PPS payloads and a request-per-frame encoder


def sps_bytes(profile_idc=77, level_idc=30, log2_max_frame_num_minus4=12,
              log2_max_poc_lsb_minus4=4, max_num_ref_frames=1, width_mbs=0, height_mbs=0):
    """A mainline v4l2_ctrl_h264_sps (1048 bytes): 4:2:0, POC type 0, frame MBs only."""
    head = struct.pack("<12B", profile_idc, 0, level_idc, 0, 1, 0, 0, log2_max_frame_num_minus4,
                       0, log2_max_poc_lsb_minus4, max_num_ref_frames, 0)
    body = struct.pack("<255i", *([0] * 255)) + struct.pack("<ii", 0, 0)
    tail = struct.pack("<HHI", max(width_mbs - 1, 0), max(height_mbs - 1, 0), 0x10 | 0x40)
    b = head + body + tail
    assert len(b) == 1048
    return b


def pps_bytes(cabac=False, pic_init_qp_minus26=0):
    """A mainline v4l2_ctrl_h264_pps (12 bytes) with deblocking filter control present."""
    flags = 0x0008 | (0x0001 if cabac else 0)
    return struct.pack("<6BbbbbH", 0, 0, 0, 0, 0, 0, pic_init_qp_minus26, 0, 0, 0, flags)


class StatelessEncoder:
    """Drives the stateless node one media request per frame (as v4l2slh264enc does)."""

    def __init__(self, width, height, nout=2, ncap=2, cap_size=0, qp=28):
        self.dev = Device(stateless_node(), nonblock=True)
        self.media = os.open(media_node(), os.O_RDWR)
        self.out = self.dev.s_fmt(BUF_TYPE_OUTPUT, NV12, width, height)
        self.dev.s_crop(0, 0, width, height)
        self.width, self.height = width, height
        self.stride = self.out.plane_fmt[0].bytesperline
        self.coded_h = self.out.height
        self.cap = self.dev.s_fmt(BUF_TYPE_CAPTURE, H264_SLICE, 0, 0, sizeimage=cap_size)
        self.nout = self.dev.reqbufs(BUF_TYPE_OUTPUT, nout)
        self.ncap = self.dev.reqbufs(BUF_TYPE_CAPTURE, ncap)
        self.dev.streamon(BUF_TYPE_OUTPUT)
        self.dev.streamon(BUF_TYPE_CAPTURE)
        self.dev.s_ctrls([(CID_STATELESS_H264_SPS, sps_bytes()),
                          (CID_STATELESS_H264_PPS, pps_bytes())])
        self.dev.s_ctrls([(CID_FRAME_RC_ENABLE, 0), (CID_H264_I_FRAME_QP, qp),
                          (CID_H264_P_FRAME_QP, qp)])
        self.frame = 0

    def encode(self, params, picture):
        """Encodes one frame with ENCODE_PARAMS `params`; returns (out, cap, payload)."""
        req = Request(self.media)
        try:
            self.dev.s_ctrls([(CID_STATELESS_H264_ENCODE_PARAMS, params)], request=req)
            i = self.frame % self.nout
            self.dev.write_output(i, picture)
            self.dev.qbuf(BUF_TYPE_OUTPUT, i, request=req, timestamp_us=self.frame + 1)
            self.dev.qbuf(BUF_TYPE_CAPTURE, self.frame % self.ncap)
            req.queue()
            req.wait()
            o = self.dev.dqbuf(BUF_TYPE_OUTPUT)
            c = self.dev.dqbuf(BUF_TYPE_CAPTURE)
        finally:
            req.close()
        self.frame += 1
        data = self.dev.read_capture(c.index, c.bytesused[0]) if not c.error else b""
        return o, c, data

    def picture(self, seed):
        return nv12_frame(self.width, self.height, self.stride, self.coded_h, seed)

    def close(self):
        self.dev.close()
        os.close(self.media)


class StatefulEncoder:
    """Drives the stateful node with MMAP buffers, one frame at a time."""

    def __init__(self, width, height, nout=2, ncap=2, cap_size=0, ctrls=()):
        self.dev = Device(stateful_node(), nonblock=True)
        self.out = self.dev.s_fmt(BUF_TYPE_OUTPUT, NV12, width, height)
        self.dev.s_crop(0, 0, width, height)
        self.width, self.height = width, height
        self.stride = self.out.plane_fmt[0].bytesperline
        self.coded_h = self.out.height
        self.cap = self.dev.s_fmt(BUF_TYPE_CAPTURE, H264, 0, 0, sizeimage=cap_size)
        if ctrls:
            self.dev.s_ctrls(list(ctrls))
        self.nout = self.dev.reqbufs(BUF_TYPE_OUTPUT, nout)
        self.ncap = self.dev.reqbufs(BUF_TYPE_CAPTURE, ncap)
        self.dev.streamon(BUF_TYPE_OUTPUT)
        self.dev.streamon(BUF_TYPE_CAPTURE)
        self.frame = 0

    def encode(self, picture):
        i = self.frame % self.nout
        self.dev.write_output(i, picture)
        self.dev.qbuf(BUF_TYPE_OUTPUT, i, timestamp_us=self.frame + 1)
        self.dev.qbuf(BUF_TYPE_CAPTURE, self.frame % self.ncap)
        c = self.dev.dqbuf(BUF_TYPE_CAPTURE)
        o = self.dev.dqbuf(BUF_TYPE_OUTPUT)
        self.frame += 1
        data = self.dev.read_capture(c.index, c.bytesused[0]) if not c.error else b""
        return o, c, data

    def picture(self, seed, noise=False):
        return nv12_frame(self.width, self.height, self.stride, self.coded_h, seed, noise)

    def close(self):
        self.dev.close()
