/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers slenc generates its own Rust bindings from (Kbuild, cmd_slenc_bindgen): the kernel
 * crate has none for V4L2, vb2, m2m or the media controller.
 */
#include <linux/dma-mapping.h>
#include <linux/platform_device.h>
#include <media/media-device.h>
#include <media/media-request.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-dev.h>
#include <media/v4l2-device.h>
#include <media/v4l2-event.h>
#include <media/v4l2-ioctl.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-dma-contig.h>
#include <media/videobuf2-v4l2.h>

#include "helpers.h"
