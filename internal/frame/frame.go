// Package frame is a decoded video frame for analysis on the hub.
//
// Frames are produced by internal/decode from the hub's own camera stream and
// consumed by motion and object detection. A Frame is owned by its consumer
// once delivered; the producer never touches it again.
package frame

import "time"

// Frame is one decoded picture at analysis resolution.
type Frame struct {
	W, H int
	Gray []byte    // W*H luma, row-major (always set)
	RGB  []byte    // W*H*3, row-major (set when the decoder was asked for colour)
	Time time.Time // wall-clock capture time (anchor + PTS)
}
