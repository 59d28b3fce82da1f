/* SPDX-License-Identifier: GPL-2.0 */
/* Out-of-line wrappers for the `static inline` functions and macros slenc's Rust code needs. */
#ifndef SLENC_HELPERS_H
#define SLENC_HELPERS_H

#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-dev.h>
#include <media/v4l2-device.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-dma-contig.h>
#include <media/videobuf2-v4l2.h>

struct device;
struct reset_control;

const char *slenc_param_sim(void);

void slenc_init_work(struct work_struct *work, work_func_t func);
void slenc_init_delayed_work(struct delayed_work *dwork, work_func_t func);
bool slenc_schedule_work(struct work_struct *work);
bool slenc_mod_delayed_work(struct delayed_work *dwork, unsigned long delay_ms);
bool slenc_work_pending(struct work_struct *work);
bool slenc_cancel_work_sync(struct work_struct *work);
bool slenc_cancel_delayed_work_sync(struct delayed_work *dwork);
struct delayed_work *slenc_to_delayed_work(struct work_struct *work);

void slenc_mutex_init(struct mutex *lock);
void slenc_drain_lock_init(struct mutex *lock);
void slenc_mutex_destroy(struct mutex *lock);
void slenc_mutex_lock(struct mutex *lock);
void slenc_mutex_unlock(struct mutex *lock);
int slenc_ctrl_handler_init(struct v4l2_ctrl_handler *hdl, unsigned int hint);
void slenc_ctrl_lock(struct v4l2_ctrl *ctrl);
void slenc_ctrl_unlock(struct v4l2_ctrl *ctrl);

int slenc_video_register_device(struct video_device *vdev, enum vfl_devnode_type type, int nr);
void *slenc_video_get_drvdata(struct video_device *vdev);
void slenc_video_set_drvdata(struct video_device *vdev, void *data);

void *slenc_vb2_get_drv_priv(struct vb2_queue *q);
bool slenc_vb2_is_busy(struct vb2_queue *q);
struct vb2_v4l2_buffer *slenc_to_vb2_v4l2_buffer(struct vb2_buffer *vb);
unsigned long slenc_vb2_plane_size(struct vb2_buffer *vb, unsigned int plane);
unsigned long slenc_vb2_get_plane_payload(struct vb2_buffer *vb, unsigned int plane);
void slenc_vb2_set_plane_payload(struct vb2_buffer *vb, unsigned int plane, unsigned long size);
dma_addr_t slenc_vb2_dma_contig_plane_dma_addr(struct vb2_buffer *vb, unsigned int plane);
const struct vb2_mem_ops *slenc_vb2_dma_contig_memops(void);

struct vb2_v4l2_buffer *slenc_m2m_next_src_buf(struct v4l2_m2m_ctx *ctx);
struct vb2_v4l2_buffer *slenc_m2m_next_dst_buf(struct v4l2_m2m_ctx *ctx);
struct vb2_v4l2_buffer *slenc_m2m_src_buf_remove(struct v4l2_m2m_ctx *ctx);
struct vb2_v4l2_buffer *slenc_m2m_dst_buf_remove(struct v4l2_m2m_ctx *ctx);
void slenc_m2m_buf_done(struct vb2_v4l2_buffer *buf, enum vb2_buffer_state state);
unsigned int slenc_m2m_num_src_bufs_ready(struct v4l2_m2m_ctx *ctx);
unsigned int slenc_m2m_num_dst_bufs_ready(struct v4l2_m2m_ctx *ctx);
bool slenc_m2m_is_last_draining_src_buf(struct v4l2_m2m_ctx *ctx, struct vb2_v4l2_buffer *buf);
void slenc_m2m_mark_stopped(struct v4l2_m2m_ctx *ctx);
bool slenc_m2m_dst_buf_is_last(struct v4l2_m2m_ctx *ctx);
void slenc_m2m_clear_state(struct v4l2_m2m_ctx *ctx);

void slenc_v4l2_device_get(struct v4l2_device *v4l2_dev);

int slenc_sram_claim(struct device *dev);
void slenc_sram_release(struct device *dev);

struct reset_control *slenc_reset_control_get_exclusive(struct device *dev, const char *id);
void slenc_reset_control_put(struct reset_control *rstc);
int slenc_reset_control_assert(struct reset_control *rstc);
int slenc_reset_control_deassert(struct reset_control *rstc);
int slenc_reset_control_reset(struct reset_control *rstc);

#endif
