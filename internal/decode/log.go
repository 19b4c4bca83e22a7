package decode

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// frameInfo is what the showinfo filter says about one output frame.
type frameInfo struct {
	N      int    // output frame number; -1 when showinfo's line was unreadable
	W, H   int    // size of the frame on stdout
	PixFmt string // "gray" or "rgb24"
	Seq    uint64 // tag of the input access unit it was decoded from
	Tagged bool   // Seq is set
}

// logParser reads ffmpeg's stderr at -loglevel level+info, line by line:
// the showinfo filter's per-frame dump becomes a frameInfo, and error lines
// are reported. A frame's dump ends at its color_range line, at the next
// frame's first line, or at the end of the log.
//
// A 5.1 showinfo dump looks like this (context prefix shortened):
//
//	[Parsed_showinfo_3 @ 0x5] [info] n:   0 pts:      0 pts_time:0 pos: 11367 fmt:gray sar:1/1 s:640x480 i:P iskey:0 type:P
//	[Parsed_showinfo_3 @ 0x5] [info]   side data - User Data Unregistered:
//	[Parsed_showinfo_3 @ 0x5] [info] UUID=706f7263-686c-6967-6874-2d74696d6531
//	[Parsed_showinfo_3 @ 0x5] [info] User Data=6161616161616161616161616161616d
//	[Parsed_showinfo_3 @ 0x5] [info]
//	[Parsed_showinfo_3 @ 0x5] [info] color_range:pc color_space:unknown ...
type logParser struct {
	onFrame func(frameInfo)
	onError func(msg string)

	cur    *frameInfo
	ourSEI bool // the last UUID line was tagUUID
}

// line handles one line of stderr.
func (p *logParser) line(s string) {
	ctx, level, msg := splitLogLine(s)
	switch level {
	case "error", "fatal", "panic":
		if ctx != "" {
			msg = ctx + ": " + msg
		}
		p.onError(msg)
		return
	}
	if !strings.HasPrefix(ctx, "Parsed_showinfo") {
		return
	}
	msg = strings.TrimSpace(msg)
	switch {
	case strings.HasPrefix(msg, "n:"):
		p.flush()
		fi, ok := parseFrameLine(msg)
		if !ok {
			fi = frameInfo{N: -1} // unreadable: the reader cannot frame stdout any more
		}
		p.cur = &fi
	case p.cur == nil:
	case strings.HasPrefix(msg, "UUID="):
		p.ourSEI = strings.ReplaceAll(msg[len("UUID="):], "-", "") == tagUUIDHex
	case strings.HasPrefix(msg, "User Data="):
		if !p.ourSEI {
			return
		}
		p.ourSEI = false
		b, err := hex.DecodeString(strings.TrimSpace(msg[len("User Data="):]))
		if err != nil {
			return
		}
		if seq, ok := parseTag(b); ok {
			p.cur.Seq, p.cur.Tagged = seq, true
		}
	case strings.HasPrefix(msg, "color_range:"):
		p.flush()
	}
}

// flush emits the frame being parsed, if any.
func (p *logParser) flush() {
	if p.cur != nil {
		p.onFrame(*p.cur)
		p.cur = nil
	}
	p.ourSEI = false
}

// splitLogLine splits "[ctx @ 0x..] [level] msg" (both prefixes optional).
func splitLogLine(s string) (ctx, level, msg string) {
	for range 2 {
		if !strings.HasPrefix(s, "[") {
			break
		}
		end := strings.IndexByte(s, ']')
		if end < 0 {
			break
		}
		tok := s[1:end]
		if isLevel(tok) {
			level = tok
			s = strings.TrimPrefix(s[end+1:], " ")
			break
		}
		if ctx != "" {
			break
		}
		ctx, _, _ = strings.Cut(tok, " @ ")
		s = strings.TrimPrefix(s[end+1:], " ")
	}
	return ctx, level, s
}

func isLevel(s string) bool {
	switch s {
	case "quiet", "panic", "fatal", "error", "warning", "info", "verbose", "debug", "trace":
		return true
	}
	return false
}

// parseFrameLine parses showinfo's "n: 0 pts: 0 ... fmt:gray ... s:640x480 ..." line.
func parseFrameLine(msg string) (frameInfo, bool) {
	f := strings.Fields(msg)
	if len(f) < 2 || f[0] != "n:" {
		return frameInfo{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 {
		return frameInfo{}, false
	}
	fi := frameInfo{N: n}
	for _, tok := range f[2:] {
		switch {
		case strings.HasPrefix(tok, "fmt:"):
			fi.PixFmt = tok[len("fmt:"):]
		case strings.HasPrefix(tok, "s:"):
			ws, hs, ok := strings.Cut(tok[len("s:"):], "x")
			if !ok {
				return frameInfo{}, false
			}
			if fi.W, err = strconv.Atoi(ws); err != nil {
				return frameInfo{}, false
			}
			if fi.H, err = strconv.Atoi(hs); err != nil {
				return frameInfo{}, false
			}
		}
	}
	if fi.W <= 0 || fi.H <= 0 || fi.W > 1<<14 || fi.H > 1<<14 || fi.PixFmt == "" {
		return frameInfo{}, false
	}
	return fi, true
}
