package convert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/detect/tflite"
)

// assetsDir finds .assets beside go.mod (or $PORCHLIGHT_ASSETS) without
// importing package detect, which imports this one.
func assetsDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("PORCHLIGHT_ASSETS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".assets")
		}
		if filepath.Dir(dir) == dir {
			tb.Fatal("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
}

func mustRealModel(tb testing.TB) *tflite.Model {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(assetsDir(tb), "mobilenet_ssd_v2_coco_quant_postprocess.tflite"))
	if err != nil {
		tb.Fatalf("tflite model missing (run `bash scripts/setup`): %v", err)
	}
	m, err := tflite.Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestConvertRealModel(t *testing.T) {
	m := mustRealModel(t)
	ops := map[string]int{
		"CONV_2D": 55, "DEPTHWISE_CONV_2D": 17, "ADD": 10,
		"RESHAPE": 13, "CONCATENATION": 2, "LOGISTIC": 1,
	}
	for _, tc := range []struct {
		name       string
		opts       Options
		want       *Info
		minB, maxB int
	}{
		{"integer", Options{}, &Info{
			Input: []int64{1, 300, 300, 3}, Boxes: []int64{1, 1917, 4}, Scores: []int64{1, 1917, 91}, Anchors: []int64{1917, 4},
			Ops: ops,
			// input transpose; 72 QLinearConvs, whose uint8 saturation is
			// the ReLU6 (no Clip); 10 additions as DequantizeLinear of both
			// inputs, Add and QuantizeLinear; 12 box and class predictor
			// outputs dequantized and transposed before their reshapes;
			// the float tail (13 reshapes, 2 concatenations, the logistic),
			// each clipped to its quantized range; 3 output identities.
			Nodes:        1 + 72 + 10*4 + 12*2 + 16*2 + 3,
			Clips:        16,
			QLinearConvs: 72,
			StoppedAtOps: 98,
		}, 5 << 20, 8 << 20}, // uint8 weights: about the size of the TFLite model
		{"float", Options{Float: true}, &Info{
			Input: []int64{1, 300, 300, 3}, Boxes: []int64{1, 1917, 4}, Scores: []int64{1, 1917, 91}, Anchors: []int64{1917, 4},
			Ops: ops,
			// 98 operators, each clipped to its quantized output range;
			// input transpose, cast, sub, mul; 12 transposes before the
			// box predictors' reshapes; 3 output identities.
			Nodes:        98 + 98 + 4 + 12 + 3,
			Clips:        98,
			StoppedAtOps: 98,
		}, 20 << 20, 30 << 20}, // dequantized float32 weights: about 4×
	} {
		t.Run(tc.name, func(t *testing.T) {
			onnx, info, err := Convert(m, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, info); diff != "" {
				t.Errorf("info (-want +got):\n%s", diff)
			}
			if n := len(onnx); n < tc.minB || n > tc.maxB {
				t.Errorf("onnx model is %d bytes, want %d–%d", n, tc.minB, tc.maxB)
			}
			again, _, err := Convert(m, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onnx, again) {
				t.Error("conversion is not deterministic")
			}
		})
	}
}

func TestConvertAnchors(t *testing.T) {
	m := mustRealModel(t)
	c := &conv{m: m, sg: &m.Subgraphs[0]}
	post := c.sg.Operators[len(c.sg.Operators)-1]
	a, err := c.dequantize(c.tensor(post.Inputs[2]))
	if err != nil {
		t.Fatal(err)
	}
	// Anchors are ycenter, xcenter, h, w inside the unit square; the first
	// sits in the first cell of the 19×19 grid.
	for i := 0; i < len(a); i += 4 {
		if a[i] <= 0 || a[i] >= 1 || a[i+1] <= 0 || a[i+1] >= 1 || a[i+2] <= 0 || a[i+3] <= 0 {
			t.Fatalf("anchor %d = %v", i/4, a[i:i+4])
		}
	}
	if y, x := a[0], a[1]; y > 0.03 || x > 0.03 {
		t.Errorf("first anchor centre %v,%v, want about 1/38", y, x)
	}
}

// tinyModel is input uint8 [1,4,4,3] → CONV_2D (2 filters, 3×3, stride 2,
// SAME) → uint8 [1,2,2,2] → RESHAPE [1,4,2] → LOGISTIC.
func tinyModel(code int) *tflite.Model {
	q := func(scale float32, zp int64) *tflite.Quantization {
		return &tflite.Quantization{Scale: []float32{scale}, ZeroPoint: []int64{zp}}
	}
	w := make([]byte, 2*3*3*3)
	for i := range w {
		w[i] = byte(i)
	}
	return &tflite.Model{
		Buffers: [][]byte{nil, nil, w, {1, 0, 0, 0, 2, 0, 0, 0}, nil, nil, nil},
		Subgraphs: []tflite.Subgraph{{
			Tensors: []tflite.Tensor{
				{Name: "in", Shape: []int32{1, 4, 4, 3}, Type: tflite.Uint8, Buffer: 1, Quant: q(1.0/128, 128)},
				{Name: "w", Shape: []int32{2, 3, 3, 3}, Type: tflite.Uint8, Buffer: 2, Quant: q(0.5, 10)},
				{Name: "b", Shape: []int32{2}, Type: tflite.Int32, Buffer: 3, Quant: q(0.25, 0)},
				{Name: "conv", Shape: []int32{1, 2, 2, 2}, Type: tflite.Uint8, Buffer: 4, Quant: q(0.1, 20)},
				{Name: "flat", Shape: []int32{1, 4, 2}, Type: tflite.Uint8, Buffer: 5, Quant: q(0.1, 20)},
				{Name: "out", Shape: []int32{1, 4, 2}, Type: tflite.Uint8, Buffer: 6, Quant: q(1.0/256, 0)},
			},
			Inputs:  []int{0},
			Outputs: []int{5},
			Operators: []tflite.Operator{
				{Code: code, Inputs: []int{0, 1, 2}, Outputs: []int{3}, Options: tflite.Options{
					Padding: tflite.Same, StrideW: 2, StrideH: 2, Activation: tflite.ActRelu6}},
				{Code: tflite.OpReshape, Inputs: []int{3}, Outputs: []int{4}},
				{Code: tflite.OpLogistic, Inputs: []int{4}, Outputs: []int{5}},
			},
		}},
	}
}

func TestConvertTinyModel(t *testing.T) {
	m := tinyModel(tflite.OpConv2D)
	c := &conv{m: m, sg: &m.Subgraphs[0], name: map[int]string{}, nchw: map[int]bool{}, nhwcOf: map[int]string{}, info: &Info{Ops: map[string]int{}}}
	if err := c.run(); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range c.g.nodes {
		ops = append(ops, n.op)
	}
	wantOps := []string{"Transpose", "Cast", "Sub", "Mul", "Conv", "Clip", "Transpose", "Reshape", "Clip", "Sigmoid", "Clip"}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	inits := map[string]initializer{}
	for _, in := range c.g.inits {
		inits[in.name] = in
	}
	conv := c.g.nodes[4]
	wantAttrs := []attr{
		intsAttr("kernel_shape", 3, 3), intsAttr("strides", 2, 2), intsAttr("dilations", 1, 1),
		// out = ceil(4/2) = 2; total pad = (2-1)·2+3-4 = 1: 0 before, 1 after.
		intsAttr("pads", 0, 0, 1, 1), intAttr("group", 1),
	}
	if diff := cmp.Diff(wantAttrs, conv.attrs, cmp.AllowUnexported(attr{})); diff != "" {
		t.Errorf("conv attributes (-want +got):\n%s", diff)
	}
	w := inits[conv.inputs[1]]
	// TFLite [O,KH,KW,I] element (o=1,kh=0,kw=2,i=1) is byte 27+6+1 = 34;
	// ONNX [O,I,KH,KW] puts it at 1·27 + 1·9 + 0·3 + 2 = 38.
	if !cmp.Equal(w.dims, []int64{2, 3, 3, 3}) || w.f32[38] != 0.5*(34-10) {
		t.Errorf("weights dims %v, [38] = %v, want %v", w.dims, w.f32[38], 0.5*(34-10))
	}
	if b := inits[conv.inputs[2]]; !cmp.Equal(b.f32, []float32{0.25, 0.5}) {
		t.Errorf("bias %v", b.f32)
	}
	// The conv output clip is the uint8 range 0.1·(0−20)..0.1·(255−20)
	// intersected with ReLU6.
	clip := c.g.nodes[5]
	if lo, hi := inits[clip.inputs[1]].f32[0], inits[clip.inputs[2]].f32[0]; lo != 0 || hi != 6 {
		t.Errorf("conv clip [%v, %v], want [0, 6]", lo, hi)
	}
	reshapeClip := c.g.nodes[8]
	if lo, hi := inits[reshapeClip.inputs[1]].f32[0], inits[reshapeClip.inputs[2]].f32[0]; lo != -2 || hi != float32(0.1*235) {
		t.Errorf("reshape clip [%v, %v], want [-2, 23.5]", lo, hi)
	}
	if len(c.g.outputs) != 1 || !cmp.Equal(c.g.outputs[0].dims, []int64{1, 4, 2}) {
		t.Errorf("outputs %+v", c.g.outputs)
	}
}

// TestConvertTinyModelInteger: the integer graph keeps TFLite's uint8
// weights (as int8, shifted by 128 with their zero point), requantizes the
// bias to input scale × weight scale, and clamps the fused ReLU6 in the
// uint8 domain.
func TestConvertTinyModelInteger(t *testing.T) {
	m := tinyModel(tflite.OpConv2D)
	c := &conv{m: m, sg: &m.Subgraphs[0], name: map[int]string{}, nchw: map[int]bool{}, nhwcOf: map[int]string{},
		qname: map[int]string{}, qparam: map[int][2]string{}, info: &Info{Ops: map[string]int{}}, quant: true}
	if err := c.run(); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range c.g.nodes {
		ops = append(ops, n.op)
	}
	wantOps := []string{"Transpose", "QLinearConv", "Clip", "DequantizeLinear", "Transpose", "Reshape", "Clip", "Sigmoid", "Clip"}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	inits := map[string]initializer{}
	for _, in := range c.g.inits {
		inits[in.name] = in
	}
	conv := c.g.nodes[1]
	if len(conv.inputs) != 9 {
		t.Fatalf("QLinearConv inputs %v", conv.inputs)
	}
	// Input quantization: scale 1/128, zero point 128, as in TFLite.
	if s, zp := inits[conv.inputs[1]], inits[conv.inputs[2]]; s.f32[0] != 1.0/128 || zp.u8[0] != 128 || zp.s8 {
		t.Errorf("input scale %v zero point %v", s.f32, zp.u8)
	}
	w, wzp := inits[conv.inputs[3]], inits[conv.inputs[5]]
	// TFLite byte 34 (see TestConvertTinyModel) at ONNX index 38, as int8
	// 34−128 with zero point 10−128: the same real value 0.5·(34−10).
	if !w.s8 || !wzp.s8 || !cmp.Equal(w.dims, []int64{2, 3, 3, 3}) || int8(w.u8[38]) != 34-128 || int8(wzp.u8[0]) != 10-128 {
		t.Errorf("weights %v dims %v [38]=%d, zero point %d", w.s8, w.dims, int8(w.u8[38]), int8(wzp.u8[0]))
	}
	// Bias 0.25 and 0.5 in scale (1/128)·0.5.
	if b := inits[conv.inputs[8]]; !cmp.Equal(b.i32, []int32{64, 128}) {
		t.Errorf("bias %v, want [64 128]", b.i32)
	}
	// Output scale 0.1, zero point 20: ReLU6 is 20..80 in uint8.
	clip := c.g.nodes[2]
	if lo, hi := inits[clip.inputs[1]].u8[0], inits[clip.inputs[2]].u8[0]; lo != 20 || hi != 80 {
		t.Errorf("integer clip [%d, %d], want [20, 80]", lo, hi)
	}
	if c.info.QLinearConvs != 1 {
		t.Errorf("%d integer convolutions, want 1", c.info.QLinearConvs)
	}
}

func TestConvertDepthwiseWeights(t *testing.T) {
	m := tinyModel(tflite.OpDepthwiseConv2D)
	sg := &m.Subgraphs[0]
	// Depthwise: weights [1,3,3,C·M] with C=3 input channels, M=2 → 6 outputs.
	sg.Tensors[1].Shape = []int32{1, 3, 3, 6}
	m.Buffers[2] = m.Buffers[2][:54]
	sg.Tensors[2].Shape = []int32{6}
	m.Buffers[3] = make([]byte, 24)
	sg.Tensors[3].Shape = []int32{1, 2, 2, 6}
	sg.Tensors[4].Shape = []int32{1, 4, 6}
	sg.Tensors[5].Shape = []int32{1, 4, 6}
	sg.Operators[0].Options.DepthMultiplier = 2
	c := &conv{m: m, sg: sg, name: map[int]string{}, nchw: map[int]bool{}, nhwcOf: map[int]string{}, info: &Info{Ops: map[string]int{}}}
	if err := c.run(); err != nil {
		t.Fatal(err)
	}
	conv := c.g.nodes[4]
	if a := conv.attrs[4]; a.name != "group" || a.i != 3 {
		t.Errorf("group attribute %+v, want 3", conv.attrs[4])
	}
	for _, in := range c.g.inits {
		if in.name == conv.inputs[1] {
			// TFLite [1,KH,KW,6] element (kh=1,kw=2,c=4) is byte 3·6+2·6+4 = 34;
			// ONNX [6,1,KH,KW] puts it at 4·9 + 1·3 + 2 = 41.
			if !cmp.Equal(in.dims, []int64{6, 1, 3, 3}) || in.f32[41] != 0.5*(34-10) {
				t.Errorf("weights dims %v, [41] = %v", in.dims, in.f32[41])
			}
		}
	}
	sg.Operators[0].Options.DepthMultiplier = 3
	if _, _, err := Convert(m, Options{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("wrong depth multiplier: %v, want ErrUnsupported", err)
	}
}

func TestConvertRejects(t *testing.T) {
	for name, edit := range map[string]func(m *tflite.Model){
		"unknown operator": func(m *tflite.Model) { m.Subgraphs[0].Operators[2].Code = 99 },
		"custom operator": func(m *tflite.Model) {
			m.Subgraphs[0].Operators[2] = tflite.Operator{Code: tflite.OpCustom, Custom: "Foo", Inputs: []int{4}, Outputs: []int{5}}
		},
		"no subgraph":    func(m *tflite.Model) { m.Subgraphs = nil },
		"grey input":     func(m *tflite.Model) { m.Subgraphs[0].Tensors[0].Shape = []int32{1, 4, 4, 1} },
		"short weights":  func(m *tflite.Model) { m.Buffers[2] = m.Buffers[2][:10] },
		"wrong out size": func(m *tflite.Model) { m.Subgraphs[0].Tensors[3].Shape = []int32{1, 3, 3, 2} },
		"read before write": func(m *tflite.Model) {
			ops := m.Subgraphs[0].Operators
			ops[1], ops[2] = ops[2], ops[1]
		},
		"weights unquantized": func(m *tflite.Model) { m.Subgraphs[0].Tensors[1].Quant = nil },
	} {
		for _, opts := range []Options{{}, {Float: true}} {
			m := tinyModel(tflite.OpConv2D)
			edit(m)
			if _, _, err := Convert(m, opts); !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s (%+v): got %v, want ErrUnsupported", name, opts, err)
			}
		}
	}
}

func TestDequantizePerAxis(t *testing.T) {
	m := &tflite.Model{Buffers: [][]byte{nil, {1, 2, 3, 4, 5, 6}}}
	tt := &tflite.Tensor{Shape: []int32{2, 3}, Type: tflite.Uint8, Buffer: 1,
		Quant: &tflite.Quantization{Scale: []float32{1, 10}, ZeroPoint: []int64{0, 4}, Dim: 0}}
	c := &conv{m: m}
	got, err := c.dequantize(tt)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 2, 3, 0, 10, 20}; !cmp.Equal(got, want) {
		t.Errorf("per-axis dim 0: %v, want %v", got, want)
	}
	tt.Quant = &tflite.Quantization{Scale: []float32{1, 2, 3}, ZeroPoint: []int64{0, 0, 0}, Dim: 1}
	if got, _ := c.dequantize(tt); !cmp.Equal(got, []float32{1, 4, 9, 4, 10, 18}) {
		t.Errorf("per-axis dim 1: %v", got)
	}
	tt.Quant.Dim = 0
	if _, err := c.dequantize(tt); !errors.Is(err, ErrUnsupported) {
		t.Errorf("scales not matching the dimension: %v", err)
	}
}

func TestPermute(t *testing.T) {
	// 2×3 transposed to 3×2.
	got := permute([]float32{1, 2, 3, 4, 5, 6}, []int{2, 3}, []int{1, 0})
	if want := []float32{1, 4, 2, 5, 3, 6}; !cmp.Equal(got, want) {
		t.Errorf("permute = %v, want %v", got, want)
	}
}

// FuzzConvert varies the tiny model's shapes, options and operator codes:
// conversion either succeeds or returns ErrUnsupported, never panics.
func FuzzConvert(f *testing.F) {
	f.Add(uint8(tflite.OpConv2D), int32(2), int32(2), int32(2), int32(2), int32(1), int32(1), uint8(0), uint8(3), uint8(tflite.OpReshape), int32(1))
	f.Add(uint8(tflite.OpDepthwiseConv2D), int32(1), int32(2), int32(2), int32(2), int32(2), int32(2), uint8(1), uint8(0), uint8(tflite.OpConcatenation), int32(3))
	f.Add(uint8(tflite.OpAdd), int32(1), int32(2), int32(2), int32(2), int32(1), int32(0), uint8(0), uint8(9), uint8(tflite.OpLogistic), int32(-1))
	f.Fuzz(func(t *testing.T, code uint8, d0, d1, d2, d3, stride, mult int32, pad, act, code2 uint8, axis int32) {
		m := tinyModel(int(code))
		sg := &m.Subgraphs[0]
		sg.Tensors[3].Shape = []int32{d0, d1, d2, d3}
		sg.Operators[0].Options = tflite.Options{Padding: tflite.Padding(pad), StrideW: int(stride), StrideH: int(stride),
			DepthMultiplier: int(mult), Activation: tflite.Activation(act)}
		sg.Operators[1].Code = int(code2)
		sg.Operators[1].Options.Axis = int(axis)
		for _, opts := range []Options{{}, {Float: true}} {
			if _, _, err := Convert(m, opts); err != nil && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("%+v: error %v does not wrap ErrUnsupported", opts, err)
			}
		}
	})
}
