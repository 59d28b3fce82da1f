// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers for `static inline` functions and macros (module_param, mutex_init, the
 * control handler's lock class) that Rust cannot call or expand. No logic lives here.
 */
#include <linux/moduleparam.h>
#include <linux/reset.h>
#include <linux/soc/sunxi/sunxi_sram.h>
#include "helpers.h"

static char *sim;
module_param(sim, charp, 0444);
MODULE_PARM_DESC(sim, "create a simulated device: cedrus-v3s, vepu2-rk3399, h1, meson8b-jpeg");

const char *slenc_param_sim(void)
{
	return sim;
}

void slenc_init_work(struct work_struct *work, work_func_t func)
{
	INIT_WORK(work, func);
}

void slenc_init_delayed_work(struct delayed_work *dwork, work_func_t func)
{
	INIT_DELAYED_WORK(dwork, func);
}

bool slenc_schedule_work(struct work_struct *work)
{
	return schedule_work(work);
}

bool slenc_mod_delayed_work(struct delayed_work *dwork, unsigned long delay_ms)
{
	return mod_delayed_work(system_wq, dwork, msecs_to_jiffies(delay_ms));
}

bool slenc_work_pending(struct work_struct *work)
{
	return work_pending(work);
}

bool slenc_cancel_work_sync(struct work_struct *work)
{
	return cancel_work_sync(work);
}

bool slenc_cancel_delayed_work_sync(struct delayed_work *dwork)
{
	return cancel_delayed_work_sync(dwork);
}

struct delayed_work *slenc_to_delayed_work(struct work_struct *work)
{
	return to_delayed_work(work);
}

void slenc_mutex_init(struct mutex *lock)
{
	mutex_init(lock);
}

/* A lock class of its own (mutex_init keys the class by call site): the drain lock nests in
 * the video device lock. */
void slenc_drain_lock_init(struct mutex *lock)
{
	mutex_init(lock);
}

void slenc_mutex_destroy(struct mutex *lock)
{
	mutex_destroy(lock);
}

int slenc_ctrl_handler_init(struct v4l2_ctrl_handler *hdl, unsigned int hint)
{
	return v4l2_ctrl_handler_init(hdl, hint);
}

void slenc_ctrl_lock(struct v4l2_ctrl *ctrl)
{
	v4l2_ctrl_lock(ctrl);
}

void slenc_ctrl_unlock(struct v4l2_ctrl *ctrl)
{
	v4l2_ctrl_unlock(ctrl);
}

int slenc_video_register_device(struct video_device *vdev, enum vfl_devnode_type type, int nr)
{
	return video_register_device(vdev, type, nr);
}

void *slenc_video_get_drvdata(struct video_device *vdev)
{
	return video_get_drvdata(vdev);
}

void slenc_video_set_drvdata(struct video_device *vdev, void *data)
{
	video_set_drvdata(vdev, data);
}

void *slenc_vb2_get_drv_priv(struct vb2_queue *q)
{
	return vb2_get_drv_priv(q);
}

bool slenc_vb2_is_busy(struct vb2_queue *q)
{
	return vb2_is_busy(q);
}

struct vb2_v4l2_buffer *slenc_to_vb2_v4l2_buffer(struct vb2_buffer *vb)
{
	return to_vb2_v4l2_buffer(vb);
}

unsigned long slenc_vb2_plane_size(struct vb2_buffer *vb, unsigned int plane)
{
	return vb2_plane_size(vb, plane);
}

unsigned long slenc_vb2_get_plane_payload(struct vb2_buffer *vb, unsigned int plane)
{
	return vb2_get_plane_payload(vb, plane);
}

void slenc_vb2_set_plane_payload(struct vb2_buffer *vb, unsigned int plane, unsigned long size)
{
	vb2_set_plane_payload(vb, plane, size);
}

dma_addr_t slenc_vb2_dma_contig_plane_dma_addr(struct vb2_buffer *vb, unsigned int plane)
{
	return vb2_dma_contig_plane_dma_addr(vb, plane);
}

const struct vb2_mem_ops *slenc_vb2_dma_contig_memops(void)
{
	return &vb2_dma_contig_memops;
}

struct vb2_v4l2_buffer *slenc_m2m_next_src_buf(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_next_src_buf(ctx);
}

struct vb2_v4l2_buffer *slenc_m2m_next_dst_buf(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_next_dst_buf(ctx);
}

struct vb2_v4l2_buffer *slenc_m2m_src_buf_remove(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_src_buf_remove(ctx);
}

struct vb2_v4l2_buffer *slenc_m2m_dst_buf_remove(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_dst_buf_remove(ctx);
}

void slenc_m2m_buf_done(struct vb2_v4l2_buffer *buf, enum vb2_buffer_state state)
{
	v4l2_m2m_buf_done(buf, state);
}

unsigned int slenc_m2m_num_src_bufs_ready(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_num_src_bufs_ready(ctx);
}

unsigned int slenc_m2m_num_dst_bufs_ready(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_num_dst_bufs_ready(ctx);
}

bool slenc_m2m_is_last_draining_src_buf(struct v4l2_m2m_ctx *ctx, struct vb2_v4l2_buffer *buf)
{
	return v4l2_m2m_is_last_draining_src_buf(ctx, buf);
}

void slenc_m2m_mark_stopped(struct v4l2_m2m_ctx *ctx)
{
	v4l2_m2m_mark_stopped(ctx);
}

bool slenc_m2m_dst_buf_is_last(struct v4l2_m2m_ctx *ctx)
{
	return v4l2_m2m_dst_buf_is_last(ctx);
}

void slenc_m2m_clear_state(struct v4l2_m2m_ctx *ctx)
{
	v4l2_m2m_clear_state(ctx);
}

void slenc_mutex_lock(struct mutex *lock)
{
	mutex_lock(lock);
}

void slenc_mutex_unlock(struct mutex *lock)
{
	mutex_unlock(lock);
}

void slenc_v4l2_device_get(struct v4l2_device *v4l2_dev)
{
	v4l2_device_get(v4l2_dev);
}

/*
 * The sunxi SRAM controller's claim/release (research/cedrus.md section 3, "SRAM claim"). They
 * exist only when CONFIG_SUNXI_SRAM is set (the header has no stubs), so without it the claim
 * reports -ENODEV: no kernel without that driver can run the V3s Video Engine.
 */
int slenc_sram_claim(struct device *dev)
{
#if IS_ENABLED(CONFIG_SUNXI_SRAM)
	return sunxi_sram_claim(dev);
#else
	return -ENODEV;
#endif
}

void slenc_sram_release(struct device *dev)
{
#if IS_ENABLED(CONFIG_SUNXI_SRAM)
	sunxi_sram_release(dev);
#endif
}

/*
 * The reset consumer API: the getters are static inline, and without CONFIG_RESET_CONTROLLER
 * every function is a static inline stub, so the Rust side calls them all through here and
 * builds the same way whatever the configuration.
 */
struct reset_control *slenc_reset_control_get_exclusive(struct device *dev, const char *id)
{
	return reset_control_get_exclusive(dev, id);
}

void slenc_reset_control_put(struct reset_control *rstc)
{
	reset_control_put(rstc);
}

int slenc_reset_control_assert(struct reset_control *rstc)
{
	return reset_control_assert(rstc);
}

int slenc_reset_control_deassert(struct reset_control *rstc)
{
	return reset_control_deassert(rstc);
}

int slenc_reset_control_reset(struct reset_control *rstc)
{
	return reset_control_reset(rstc);
}
