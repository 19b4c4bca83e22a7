package cli

import (
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the light margin around a terminal QR code, in modules.
const qrQuiet = 2

// terminalQR renders text as a QR code for a terminal, two modules per
// character cell with half blocks. Light modules are drawn (█▀▄) and dark
// ones left blank, so on the usual dark terminal background it reads as dark
// on light, as scanners expect.
func terminalQR(text string) (string, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", err
	}
	light := func(x, y int) bool { return !code.Black(x, y) }
	var b strings.Builder
	lo, hi := -qrQuiet, code.Size+qrQuiet
	for y := lo; y < hi; y += 2 {
		for x := lo; x < hi; x++ {
			top, bottom := light(x, y), y+1 < hi && light(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}
