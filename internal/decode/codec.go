package decode

/*
#cgo pkg-config: libavcodec libswscale libavutil
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>

// pl_dec is one decoder: libavcodec's context, and the swscale contexts
// that turn a picked picture into an analysis frame.
typedef struct {
	AVCodecContext *c;
	AVFrame *f;           // the latest picture received
	AVPacket *p;
	struct SwsContext *scale; // picture → YUV 4:2:0 (or gray) at the output size
	struct SwsContext *rgb;   // YUV 4:2:0 → RGB, unscaled
	AVFrame *mid;         // the scaled YUV picture
	int errors;           // error messages libavcodec logged for this decoder
	char last[256];       // the latest of them
} pl_dec;

// pl_log keeps libavcodec quiet on stderr: errors about one of our
// decoders are counted on it, the rest is dropped.
static void pl_log(void *avcl, int level, const char *fmt, va_list vl) {
	if (level > AV_LOG_ERROR || avcl == NULL || *(const AVClass **)avcl != avcodec_get_class())
		return;
	AVCodecContext *c = avcl;
	pl_dec *d = c->opaque;
	if (d == NULL)
		return;
	d->errors++;
	vsnprintf(d->last, sizeof d->last, fmt, vl);
}

static void pl_init(void) {
	av_log_set_callback(pl_log);
}

static void pl_close(pl_dec *d) {
	if (d == NULL)
		return;
	avcodec_free_context(&d->c);
	av_frame_free(&d->f);
	av_frame_free(&d->mid);
	av_packet_free(&d->p);
	sws_freeContext(d->scale);
	sws_freeContext(d->rgb);
	free(d);
}

static pl_dec *pl_open(int hevc) {
	const AVCodec *codec = avcodec_find_decoder(hevc ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264);
	if (codec == NULL)
		return NULL;
	pl_dec *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->c = avcodec_alloc_context3(codec);
	d->f = av_frame_alloc();
	d->mid = av_frame_alloc();
	d->p = av_packet_alloc();
	if (d->c == NULL || d->f == NULL || d->mid == NULL || d->p == NULL) {
		pl_close(d);
		return NULL;
	}
	d->c->opaque = d;
	d->c->thread_count = 1;                   // no frame-threading delay; least CPU per camera
	d->c->flags |= AV_CODEC_FLAG_LOW_DELAY;   // a picture out as soon as it is decoded
	d->c->skip_loop_filter = AVDISCARD_ALL;   // analysis at 640 px does not need deblocking
	if (avcodec_open2(d->c, codec, NULL) < 0) {
		pl_close(d);
		return NULL;
	}
	return d;
}

// pl_send decodes one access unit (Annex-B); data NULL drains.
static int pl_send(pl_dec *d, uint8_t *data, int size, int64_t pts) {
	if (data == NULL)
		return avcodec_send_packet(d->c, NULL);
	d->p->data = data;
	d->p->size = size;
	d->p->pts = pts;
	d->p->dts = AV_NOPTS_VALUE;
	int r = avcodec_send_packet(d->c, d->p);
	d->p->data = NULL;
	d->p->size = 0;
	return r;
}

// pl_receive takes the next decoded picture into d->f.
static int pl_receive(pl_dec *d, int64_t *pts, int *w, int *h) {
	av_frame_unref(d->f);
	int r = avcodec_receive_frame(d->c, d->f);
	if (r < 0)
		return r;
	*pts = d->f->best_effort_timestamp != AV_NOPTS_VALUE ? d->f->best_effort_timestamp : d->f->pts;
	*w = d->f->width;
	*h = d->f->height;
	return 0;
}

// pl_convert scales d->f to ow×oh into out: RGB24 when rgb (scaled in YUV,
// then converted unscaled: swscale's scaled RGB output is its slow path),
// else 8-bit gray.
static int pl_convert(pl_dec *d, uint8_t *out, int ow, int oh, int rgb) {
	AVFrame *f = d->f;
	if (!rgb) {
		d->scale = sws_getCachedContext(d->scale, f->width, f->height, f->format, ow, oh, AV_PIX_FMT_GRAY8, SWS_BILINEAR, NULL, NULL, NULL);
		if (d->scale == NULL)
			return AVERROR(EINVAL);
		uint8_t *dst[4] = {out};
		int ls[4] = {ow};
		return sws_scale(d->scale, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls) == oh ? 0 : AVERROR(EINVAL);
	}
	if (d->mid->width != ow || d->mid->height != oh) {
		av_frame_unref(d->mid);
		d->mid->format = AV_PIX_FMT_YUV420P;
		d->mid->width = ow;
		d->mid->height = oh;
		int r = av_frame_get_buffer(d->mid, 0);
		if (r < 0)
			return r;
	}
	d->scale = sws_getCachedContext(d->scale, f->width, f->height, f->format, ow, oh, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	d->rgb = sws_getCachedContext(d->rgb, ow, oh, AV_PIX_FMT_YUV420P, ow, oh, AV_PIX_FMT_RGB24, SWS_POINT, NULL, NULL, NULL);
	if (d->scale == NULL || d->rgb == NULL)
		return AVERROR(EINVAL);
	if (sws_scale(d->scale, (const uint8_t *const *)f->data, f->linesize, 0, f->height, d->mid->data, d->mid->linesize) != oh)
		return AVERROR(EINVAL);
	uint8_t *dst[4] = {out};
	int ls[4] = {ow * 3};
	return sws_scale(d->rgb, (const uint8_t *const *)d->mid->data, d->mid->linesize, 0, oh, dst, ls) == oh ? 0 : AVERROR(EINVAL);
}

static int pl_errors(pl_dec *d) { return d->errors; }
static const char *pl_last(pl_dec *d) { return d->last; }
static int pl_eagain(void) { return AVERROR(EAGAIN); }
static int pl_eof(void) { return AVERROR_EOF; }
static void pl_strerror(int code, char *buf, int n) { av_strerror(code, buf, n); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

var logOnce sync.Once

// codec is one libavcodec decoder, used by one goroutine at a time.
type codec struct {
	d      *C.pl_dec
	name   string
	errors int // of d's, already reported
}

// openCodec opens an H.264 or H.265 decoder.
func openCodec(name string) (*codec, error) {
	logOnce.Do(func() { C.pl_init() })
	hevc := C.int(0)
	if name == H265 {
		hevc = 1
	}
	d := C.pl_open(hevc)
	if d == nil {
		return nil, fmt.Errorf("decode: libavcodec has no usable %s decoder (install it with bash scripts/setup)", name)
	}
	return &codec{d: d, name: name}, nil
}

// send decodes one Annex-B access unit tagged pts; data nil drains the
// decoder (receive then returns what it held, then errDrained).
func (c *codec) send(data []byte, pts int64) error {
	var r C.int
	if data == nil {
		r = C.pl_send(c.d, nil, 0, 0)
	} else {
		// libavcodec reads up to AV_INPUT_BUFFER_PADDING_SIZE bytes past
		// the end: the copy carries zeroed padding.
		buf := C.malloc(C.size_t(len(data) + C.AV_INPUT_BUFFER_PADDING_SIZE))
		defer C.free(buf)
		b := unsafe.Slice((*byte)(buf), len(data)+C.AV_INPUT_BUFFER_PADDING_SIZE)
		clear(b[copy(b, data):])
		r = C.pl_send(c.d, (*C.uint8_t)(buf), C.int(len(data)), C.int64_t(pts))
	}
	if r < 0 && r != C.pl_eagain() {
		return c.err("decoding", r)
	}
	return nil
}

var (
	errNoPicture = errors.New("decode: no picture ready")
	errDrained   = errors.New("decode: decoder drained")
)

// receive returns the next decoded picture's pts and size, or errNoPicture
// when the decoder needs more input, or errDrained after a drain.
func (c *codec) receive() (pts int64, w, h int, err error) {
	var p C.int64_t
	var cw, ch C.int
	r := C.pl_receive(c.d, &p, &cw, &ch)
	switch {
	case r == C.pl_eagain():
		return 0, 0, 0, errNoPicture
	case r == C.pl_eof():
		return 0, 0, 0, errDrained
	case r < 0:
		return 0, 0, 0, c.err("decoding", r)
	}
	return int64(p), int(cw), int(ch), nil
}

// convert scales the latest received picture to w×h into out: RGB (w*h*3
// bytes) when rgb, else gray (w*h).
func (c *codec) convert(out []byte, w, h int, rgb bool) error {
	flag := C.int(0)
	if rgb {
		flag = 1
	}
	if r := C.pl_convert(c.d, (*C.uint8_t)(unsafe.Pointer(&out[0])), C.int(w), C.int(h), flag); r < 0 {
		return c.err("scaling", r)
	}
	return nil
}

// logged returns how many error messages libavcodec logged for this
// decoder since the last call, and the latest.
func (c *codec) logged() (n int, last string) {
	total := int(C.pl_errors(c.d))
	n, c.errors = total-c.errors, total
	if n > 0 {
		last = C.GoString(C.pl_last(c.d))
	}
	return n, last
}

func (c *codec) err(what string, r C.int) error {
	buf := make([]byte, 128)
	C.pl_strerror(r, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
	return fmt.Errorf("decode: %s %s: %s", what, c.name, C.GoString((*C.char)(unsafe.Pointer(&buf[0]))))
}

func (c *codec) close() {
	C.pl_close(c.d)
	c.d = nil
}
