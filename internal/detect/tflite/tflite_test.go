package tflite_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/detect/convert"
	"github.com/porchlight/porchlight/internal/detect/tflite"
)

const modelFile = "mobilenet_ssd_v2_coco_quant_postprocess.tflite"

// mustModelBytes reads the setup-made TFLite model; a missing file fails.
func mustModelBytes(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(detect.DefaultAssetsDir(), modelFile))
	if err != nil {
		tb.Fatalf("tflite model missing (run `bash scripts/setup`): %v", err)
	}
	return b
}

func TestParseRealModel(t *testing.T) {
	m, err := tflite.Parse(mustModelBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Subgraphs) != 1 {
		t.Fatalf("%d subgraphs, want 1", len(m.Subgraphs))
	}
	sg := m.Subgraphs[0]
	if len(sg.Tensors) != 261 || len(sg.Operators) != 99 {
		t.Errorf("%d tensors and %d operators, want 261 and 99", len(sg.Tensors), len(sg.Operators))
	}
	counts := map[int]int{}
	for _, op := range sg.Operators {
		counts[op.Code]++
	}
	wantCounts := map[int]int{
		tflite.OpConv2D: 55, tflite.OpDepthwiseConv2D: 17, tflite.OpAdd: 10,
		tflite.OpReshape: 13, tflite.OpConcatenation: 2, tflite.OpLogistic: 1, tflite.OpCustom: 1,
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("operator counts (-want +got):\n%s", diff)
	}

	in := sg.Tensors[sg.Inputs[0]]
	wantIn := tflite.Tensor{
		Name: "normalized_input_image_tensor", Shape: []int32{1, 300, 300, 3}, Type: tflite.Uint8,
		Buffer: in.Buffer, Quant: &tflite.Quantization{Scale: []float32{0.0078125}, ZeroPoint: []int64{128}, Min: []float32{-1}, Max: []float32{0.9921875}},
	}
	if diff := cmp.Diff(wantIn, in); diff != "" {
		t.Errorf("input tensor (-want +got):\n%s", diff)
	}

	first := sg.Operators[0]
	wantOpts := tflite.Options{Padding: tflite.Same, StrideW: 2, StrideH: 2, DilationW: 1, DilationH: 1}
	if first.Code != tflite.OpConv2D || !cmp.Equal(first.Options, wantOpts) {
		t.Errorf("first operator %d %+v, want CONV_2D %+v", first.Code, first.Options, wantOpts)
	}
	w := sg.Tensors[first.Inputs[1]]
	if got := len(m.Data(&w)); got != 32*3*3*3 || !cmp.Equal(w.Shape, []int32{32, 3, 3, 3}) {
		t.Errorf("first weights %v with %d bytes", w.Shape, got)
	}

	last := sg.Operators[len(sg.Operators)-1]
	if last.Code != tflite.OpCustom || last.Custom != "TFLite_Detection_PostProcess" || len(last.CustomOptions) == 0 {
		t.Errorf("last operator %d %q (%d option bytes), want the custom post-processing", last.Code, last.Custom, len(last.CustomOptions))
	}
	anchors := sg.Tensors[last.Inputs[2]]
	if !cmp.Equal(anchors.Shape, []int32{1917, 4}) || len(m.Data(&anchors)) != 1917*4 {
		t.Errorf("anchors %v with %d bytes", anchors.Shape, len(m.Data(&anchors)))
	}
}

func TestParseRejects(t *testing.T) {
	model := mustModelBytes(t)
	for name, data := range map[string][]byte{
		"empty":         nil,
		"short":         []byte("TFL3"),
		"wrong id":      append([]byte{8, 0, 0, 0}, []byte("ONNX0000")...),
		"root outside":  {0xff, 0xff, 0xff, 0x7f, 'T', 'F', 'L', '3'},
		"truncated":     model[:4096],
		"header only":   model[:64],
		"vtable behind": {8, 0, 0, 0, 'T', 'F', 'L', '3', 0x10, 0, 0, 0},
	} {
		if _, err := tflite.Parse(data); !errors.Is(err, tflite.ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("TFL3"))
	f.Add([]byte{8, 0, 0, 0, 'T', 'F', 'L', '3', 0x10, 0, 0, 0})
	f.Add(minimalModel())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := tflite.Parse(data)
		if err != nil {
			if !errors.Is(err, tflite.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		// Everything a parsed model references is in range.
		for _, sg := range m.Subgraphs {
			for _, op := range sg.Operators {
				for _, i := range append(append([]int{}, op.Inputs...), op.Outputs...) {
					if i >= len(sg.Tensors) || i < -1 {
						t.Fatalf("tensor index %d of %d", i, len(sg.Tensors))
					}
				}
			}
			for i := range sg.Tensors {
				_ = m.Data(&sg.Tensors[i])
			}
		}
		// Whatever parses converts or is refused, without panicking.
		for _, opts := range []convert.Options{{}, {Float: true}} {
			if _, _, err := convert.Convert(m, opts); err != nil && !errors.Is(err, convert.ErrUnsupported) {
				t.Fatalf("convert %+v: %v does not wrap ErrUnsupported", opts, err)
			}
		}
	})
}

func TestMinimalModel(t *testing.T) {
	m, err := tflite.Parse(minimalModel())
	if err != nil {
		t.Fatal(err)
	}
	want := &tflite.Model{
		Version: 3,
		Buffers: [][]byte{nil},
		Subgraphs: []tflite.Subgraph{{
			Tensors: []tflite.Tensor{{Name: "x", Shape: []int32{1, 2}, Type: tflite.Float32}},
			Inputs:  []int{0},
			Outputs: []int{0},
		}},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("minimal model (-want +got):\n%s", diff)
	}
}
