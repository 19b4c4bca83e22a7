package camsim

import (
	"fmt"
	"strings"
)

// The clock strip is a machine-readable wall clock burned into the top of
// every pattern frame, for glass-to-glass latency measurements that read
// frames back from a decoder (the browser tests draw the <video> to a
// canvas; tests here decode with ffmpeg). It survives H.264 compression:
//
//   - ClockBits blocks side by side at y = 0, each ClockStrip(w, h) pixels,
//     the most significant bit leftmost;
//   - a white block is a 1, a black block a 0;
//   - the value is the capture wall clock in Unix milliseconds mod 2^32:
//     the moment ffmpeg's filter graph handled the frame (RTCTIME), which
//     with -re is when the frame was "captured".
//
// The human-readable clock (drawtext, at the bottom) shows the same time.

// ClockBits is the number of blocks in the clock strip.
const ClockBits = 32

// minClockBlock is the smallest block side that survives compression.
const minClockBlock = 16

// ClockStrip returns the size of one block of the clock strip in a w×h
// frame: w/32 wide (the strip spans the width) and max(16, h/24) tall. ok
// is false when a block would be narrower than 16 pixels (frames narrower
// than 512) or the strip taller than half the frame: no strip is drawn.
func ClockStrip(w, h int) (bw, bh int, ok bool) {
	bw = w / ClockBits
	bh = max(minClockBlock, h/24)
	return bw, bh, bw >= minClockBlock && 2*bh <= h
}

// clockStripFilters returns the filters drawing the strip of a w×h frame
// whose timestamps t are Unix seconds with millisecond precision, or nil
// when the frame is too small.
func clockStripFilters(w, h int) []string {
	bw, bh, ok := ClockStrip(w, h)
	if !ok {
		return nil
	}
	out := []string{fmt.Sprintf("drawbox=x=0:y=0:w=iw:h=%d:color=black:t=fill", bh)}
	for i := range ClockBits {
		bit := ClockBits - 1 - i
		out = append(out, fmt.Sprintf("drawbox=x=%d:y=0:w=%d:h=%d:color=white:t=fill:enable='eq(mod(floor(floor(t*1000+0.5)/%d)\\,2)\\,1)'",
			i*bw, bw, bh, uint64(1)<<bit))
	}
	return out
}

// ReadClock decodes the clock strip from a frame's luma plane (8-bit, w×h,
// row stride w): each block's middle half is averaged and read as 1 above
// mid-grey. ok is false when the frame is too small to carry a strip, or a
// block is ambiguous (its average within 48 of mid-grey: no strip, or a
// frame caught mid-transition).
func ReadClock(luma []byte, w, h int) (ms uint32, ok bool) {
	bw, bh, ok := ClockStrip(w, h)
	if !ok || len(luma) < w*h {
		return 0, false
	}
	for i := range ClockBits {
		x0, x1 := i*bw+bw/4, i*bw+3*bw/4
		y0, y1 := bh/4, 3*bh/4
		sum, n := 0, 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				sum += int(luma[y*w+x])
				n++
			}
		}
		avg := sum / n
		if avg > 128-48 && avg < 128+48 {
			return 0, false
		}
		ms <<= 1
		if avg >= 128 {
			ms |= 1
		}
	}
	return ms, true
}

// ClockDelta returns now - captured in milliseconds, for captured read by
// ReadClock and now a Unix millisecond time, across the 2^32 wrap (valid for
// differences under 24 days).
func ClockDelta(captured uint32, nowMs int64) int64 {
	return int64(int32(uint32(nowMs) - captured))
}

// patternFilter returns the -vf graph of the pattern: frame timestamps
// become the wall clock (Unix ms), the strip and the human-readable clock
// are drawn from them, then timestamps go back to frame counts.
func patternFilter(w, h, fps int, text string) string {
	fs := []string{"settb=1/1000", "setpts=RTCTIME/1000"}
	fs = append(fs, clockStripFilters(w, h)...)
	if text != "" {
		fs = append(fs, text)
	}
	fs = append(fs, fmt.Sprintf("setpts=N*1000/%d", fps))
	return strings.Join(fs, ",")
}
