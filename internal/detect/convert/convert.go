// Package convert turns a quantized TFLite SSD detection model into a float32
// ONNX model that ONNX Runtime can run.
//
// Weights and biases are dequantized. The quantized model stores no fused
// ReLU6: its clamps exist only as the quantized range of each tensor, so every
// converted operator's output is clipped to the range its TFLite output
// tensor can represent (intersected with any fused activation). Conversion
// stops before the custom TFLite_Detection_PostProcess operator: the ONNX
// model outputs the raw box encodings, the class scores (after the model's
// own Logistic) and the anchors, and box decoding and NMS happen in Go
// (package detect).
//
// The ONNX model takes raw pixels: input InputName is uint8 [1,H,W,3] (NHWC,
// RGB) and the graph applies the input tensor's quantization itself, so
// callers never need to know the model's normalisation.
//
// Use it at setup time through the porchlight-model command; it is not meant
// for arbitrary models (unsupported operators are errors).
package convert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/porchlight/porchlight/internal/detect/tflite"
)

// Names of the ONNX model's input and outputs.
const (
	InputName   = "image"         // uint8 [1,H,W,3], RGB pixels
	BoxesName   = "box_encodings" // float32 [1,N,4]: ty, tx, th, tw per anchor
	ScoresName  = "class_scores"  // float32 [1,N,C]: per-class scores, class 0 is background
	AnchorsName = "anchors"       // float32 [N,4]: ycenter, xcenter, h, w, normalised 0..1
)

// Opset is the ONNX operator set the output uses (ONNX Runtime ≥ 1.8 runs it).
const Opset = 13

// postProcess is the custom operator conversion stops before.
const postProcess = "TFLite_Detection_PostProcess"

// Info describes a conversion.
type Info struct {
	Input        []int64        // model input shape, NHWC
	Boxes        []int64        // BoxesName shape
	Scores       []int64        // ScoresName shape
	Anchors      []int64        // AnchorsName shape
	Ops          map[string]int // converted TFLite operators by name
	Nodes        int            // ONNX nodes emitted
	Clips        int            // Clip nodes emitted for quantized ranges and activations
	StoppedAtOps int            // index of the post-processing operator
}

// ErrUnsupported is returned (wrapped) for a model this converter cannot
// handle; it names the operator or tensor at fault.
var ErrUnsupported = errors.New("unsupported tflite model")

// Convert converts subgraph 0 of m to a serialized ONNX model.
func Convert(m *tflite.Model) ([]byte, *Info, error) {
	if len(m.Subgraphs) == 0 {
		return nil, nil, fmt.Errorf("%w: no subgraphs", ErrUnsupported)
	}
	c := &conv{
		m:      m,
		sg:     &m.Subgraphs[0],
		name:   map[int]string{},
		nchw:   map[int]bool{},
		nhwcOf: map[int]string{},
		info:   &Info{Ops: map[string]int{}},
	}
	if err := c.run(); err != nil {
		return nil, nil, err
	}
	c.info.Nodes = len(c.g.nodes)
	mo := model{
		irVersion:       7,
		opset:           Opset,
		producerName:    "porchlight-model",
		producerVersion: "1",
		doc:             "converted from TFLite (" + m.Description + "); stops before " + postProcess,
		graph:           c.g,
	}
	mo.graph.name = "ssd"
	return mo.marshal(), c.info, nil
}

type conv struct {
	m    *tflite.Model
	sg   *tflite.Subgraph
	g    graph
	info *Info
	// name is the ONNX value holding each converted TFLite tensor; nchw says
	// whether that value is a rank-4 tensor in ONNX's NCHW order (otherwise
	// it has the TFLite shape as is).
	name   map[int]string
	nchw   map[int]bool
	nhwcOf map[int]string // cached NHWC transposes of NCHW values
	seq    int
}

func (c *conv) fresh(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s_%d", prefix, c.seq)
}

func (c *conv) add(op, name string, in []string, out []string, attrs ...attr) {
	c.g.nodes = append(c.g.nodes, node{op: op, name: name, inputs: in, outputs: out, attrs: attrs})
}

func (c *conv) constF32(name string, dims []int64, v []float32) string {
	c.g.inits = append(c.g.inits, initializer{name: name, dims: dims, f32: v})
	return name
}

func (c *conv) constI64(name string, dims []int64, v []int64) string {
	c.g.inits = append(c.g.inits, initializer{name: name, dims: dims, i64: v})
	return name
}

func (c *conv) tensor(ti int) *tflite.Tensor { return &c.sg.Tensors[ti] }

func dims64(s []int32) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func (c *conv) run() error {
	if len(c.sg.Inputs) != 1 {
		return fmt.Errorf("%w: %d inputs, want 1 image", ErrUnsupported, len(c.sg.Inputs))
	}
	if err := c.input(c.sg.Inputs[0]); err != nil {
		return err
	}
	for i, op := range c.sg.Operators {
		if op.Code == tflite.OpCustom && op.Custom == postProcess {
			c.info.StoppedAtOps = i
			return c.postProcessOutputs(op)
		}
		name, err := c.op(i, op)
		if err != nil {
			return err
		}
		c.info.Ops[name]++
	}
	// No post-processing operator: expose the subgraph outputs as they are.
	for _, ti := range c.sg.Outputs {
		v, err := c.nhwc(ti)
		if err != nil {
			return err
		}
		t := c.tensor(ti)
		c.g.outputs = append(c.g.outputs, valueInfo{name: v, elemType: onnxFloat, dims: dims64(t.Shape)})
	}
	return nil
}

// input declares the uint8 NHWC image input and turns it into the float NCHW
// value the first operator reads, applying the input quantization.
func (c *conv) input(ti int) error {
	t := c.tensor(ti)
	if len(t.Shape) != 4 || t.Shape[0] != 1 || t.Shape[3] != 3 {
		return fmt.Errorf("%w: input %q has shape %v, want [1 H W 3]", ErrUnsupported, t.Name, t.Shape)
	}
	c.info.Input = dims64(t.Shape)
	elem := onnxFloat
	if t.Type == tflite.Uint8 {
		elem = onnxUint8
	} else if t.Type != tflite.Float32 {
		return fmt.Errorf("%w: input type %v", ErrUnsupported, t.Type)
	}
	c.g.inputs = append(c.g.inputs, valueInfo{name: InputName, elemType: elem, dims: dims64(t.Shape)})
	v := c.fresh("input_nchw")
	c.add("Transpose", v, []string{InputName}, []string{v}, intsAttr("perm", 0, 3, 1, 2))
	if elem != onnxFloat {
		f := c.fresh("input_float")
		c.add("Cast", f, []string{v}, []string{f}, intAttr("to", onnxFloat))
		v = f
	}
	if t.Quant != nil && t.Type != tflite.Float32 {
		if len(t.Quant.Scale) != 1 {
			return fmt.Errorf("%w: per-channel input quantization", ErrUnsupported)
		}
		zp := c.constF32(c.fresh("input_zero_point"), nil, []float32{float32(t.Quant.ZeroPoint[0])})
		sc := c.constF32(c.fresh("input_scale"), nil, []float32{t.Quant.Scale[0]})
		s := c.fresh("input_centered")
		c.add("Sub", s, []string{v, zp}, []string{s})
		n := c.fresh("input_normalized")
		c.add("Mul", n, []string{s, sc}, []string{n})
		v = n
	}
	c.name[ti] = v
	c.nchw[ti] = true
	return nil
}

// nhwc returns the value of tensor ti in TFLite (NHWC) order.
func (c *conv) nhwc(ti int) (string, error) {
	v, ok := c.name[ti]
	if !ok {
		return "", c.missing(ti)
	}
	if !c.nchw[ti] {
		return v, nil
	}
	if t, ok := c.nhwcOf[ti]; ok {
		return t, nil
	}
	t := c.fresh("nhwc")
	c.add("Transpose", t, []string{v}, []string{t}, intsAttr("perm", 0, 2, 3, 1))
	c.nhwcOf[ti] = t
	return t, nil
}

// nchwValue returns the value of rank-4 tensor ti in NCHW order.
func (c *conv) nchwValue(ti int) (string, error) {
	v, ok := c.name[ti]
	if !ok {
		return "", c.missing(ti)
	}
	if c.nchw[ti] {
		return v, nil
	}
	if len(c.tensor(ti).Shape) != 4 {
		return "", fmt.Errorf("%w: tensor %q has rank %d, want 4", ErrUnsupported, c.tensor(ti).Name, len(c.tensor(ti).Shape))
	}
	t := c.fresh("nchw")
	c.add("Transpose", t, []string{v}, []string{t}, intsAttr("perm", 0, 3, 1, 2))
	return t, nil
}

func (c *conv) missing(ti int) error {
	t := c.tensor(ti)
	if c.m.Data(t) != nil {
		return fmt.Errorf("%w: constant tensor %q used as an activation", ErrUnsupported, t.Name)
	}
	return fmt.Errorf("%w: tensor %q read before it is written", ErrUnsupported, t.Name)
}

var opNames = map[int]string{
	tflite.OpAdd:             "ADD",
	tflite.OpConcatenation:   "CONCATENATION",
	tflite.OpConv2D:          "CONV_2D",
	tflite.OpDepthwiseConv2D: "DEPTHWISE_CONV_2D",
	tflite.OpDequantize:      "DEQUANTIZE",
	tflite.OpLogistic:        "LOGISTIC",
	tflite.OpReshape:         "RESHAPE",
	tflite.OpQuantize:        "QUANTIZE",
}

// op converts one operator and returns its TFLite name.
func (c *conv) op(i int, op tflite.Operator) (string, error) {
	name, ok := opNames[op.Code]
	if !ok {
		what := fmt.Sprintf("builtin %d", op.Code)
		if op.Code == tflite.OpCustom {
			what = "custom " + op.Custom
		}
		return "", fmt.Errorf("%w: operator %d (%s)", ErrUnsupported, i, what)
	}
	if len(op.Outputs) != 1 || len(op.Inputs) == 0 {
		return "", fmt.Errorf("%w: operator %d (%s) has %d inputs and %d outputs", ErrUnsupported, i, name, len(op.Inputs), len(op.Outputs))
	}
	out := op.Outputs[0]
	ot := c.tensor(out)
	nodeName := fmt.Sprintf("op%d_%s", i, strings.ToLower(name))
	v := fmt.Sprintf("t%d", out)
	var err error
	nchw := false
	switch op.Code {
	case tflite.OpConv2D, tflite.OpDepthwiseConv2D:
		err = c.conv2D(nodeName, op, v)
		nchw = true
	case tflite.OpAdd:
		var a, b string
		if a, err = c.activation(op.Inputs[0], true); err == nil {
			if len(op.Inputs) != 2 {
				return "", fmt.Errorf("%w: operator %d ADD with %d inputs", ErrUnsupported, i, len(op.Inputs))
			}
			b, err = c.activation(op.Inputs[1], true)
		}
		if err == nil {
			c.add("Add", nodeName, []string{a, b}, []string{v})
			nchw = true
		}
	case tflite.OpReshape:
		var a string
		if a, err = c.nhwc(op.Inputs[0]); err == nil {
			shape := c.constI64(c.fresh("shape"), []int64{int64(len(ot.Shape))}, dims64(ot.Shape))
			c.add("Reshape", nodeName, []string{a, shape}, []string{v})
		}
	case tflite.OpConcatenation:
		nchw, err = c.concat(nodeName, op, v)
	case tflite.OpLogistic, tflite.OpQuantize, tflite.OpDequantize:
		in := op.Inputs[0]
		a, ok := c.name[in]
		if !ok {
			return "", c.missing(in)
		}
		nchw = c.nchw[in]
		onnxOp := "Sigmoid"
		if op.Code != tflite.OpLogistic {
			onnxOp = "Identity"
		}
		c.add(onnxOp, nodeName, []string{a}, []string{v})
	}
	if err != nil {
		return "", fmt.Errorf("operator %d (%s): %w", i, name, err)
	}
	if err := c.clip(nodeName, out, v, op.Options.Activation, nchw); err != nil {
		return "", fmt.Errorf("operator %d (%s): %w", i, name, err)
	}
	return name, nil
}

// activation returns the value of an activation input in the wanted layout.
func (c *conv) activation(ti int, wantNCHW bool) (string, error) {
	if wantNCHW && len(c.tensor(ti).Shape) == 4 {
		return c.nchwValue(ti)
	}
	return c.nhwc(ti)
}

// clip records value v as tensor ti, clipped to ti's quantized range and the
// fused activation act.
func (c *conv) clip(nodeName string, ti int, v string, act tflite.Activation, nchw bool) error {
	t := c.tensor(ti)
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if q := t.Quant; q != nil && t.Type != tflite.Float32 {
		if len(q.Scale) != 1 || len(q.ZeroPoint) != 1 {
			return fmt.Errorf("%w: per-channel quantized activation %q", ErrUnsupported, t.Name)
		}
		var qmin, qmax float32
		switch t.Type {
		case tflite.Uint8:
			qmin, qmax = 0, 255
		case tflite.Int8:
			qmin, qmax = -128, 127
		default:
			return fmt.Errorf("%w: activation %q of type %v", ErrUnsupported, t.Name, t.Type)
		}
		zp := float32(q.ZeroPoint[0])
		lo, hi = q.Scale[0]*(qmin-zp), q.Scale[0]*(qmax-zp)
	}
	switch act {
	case tflite.ActNone:
	case tflite.ActRelu:
		lo = max(lo, 0)
	case tflite.ActRelu6:
		lo, hi = max(lo, 0), min(hi, 6)
	case tflite.ActReluN1To1:
		lo, hi = max(lo, -1), min(hi, 1)
	default:
		return fmt.Errorf("%w: fused activation %d", ErrUnsupported, act)
	}
	out := v
	if !math.IsInf(float64(lo), -1) || !math.IsInf(float64(hi), 1) {
		in := v + "_unclipped"
		c.g.nodes[len(c.g.nodes)-1].outputs = []string{in}
		mn := c.constF32(v+"_min", nil, []float32{lo})
		mx := c.constF32(v+"_max", nil, []float32{hi})
		c.add("Clip", nodeName+"_clip", []string{in, mn, mx}, []string{out})
		c.info.Clips++
	}
	c.name[ti] = out
	c.nchw[ti] = nchw
	return nil
}

func (c *conv) concat(nodeName string, op tflite.Operator, v string) (bool, error) {
	ot := c.tensor(op.Outputs[0])
	rank := len(ot.Shape)
	axis := op.Options.Axis
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return false, fmt.Errorf("%w: axis %d of rank %d", ErrUnsupported, op.Options.Axis, rank)
	}
	allNCHW := rank == 4
	for _, in := range op.Inputs {
		allNCHW = allNCHW && c.nchw[in]
	}
	var ins []string
	for _, in := range op.Inputs {
		var a string
		var err error
		if allNCHW {
			a, err = c.nchwValue(in)
		} else {
			a, err = c.nhwc(in)
		}
		if err != nil {
			return false, err
		}
		ins = append(ins, a)
	}
	if allNCHW {
		axis = []int{0, 2, 3, 1}[axis]
	}
	c.add("Concat", nodeName, ins, []string{v}, intAttr("axis", int64(axis)))
	return allNCHW, nil
}

// conv2D emits a Conv for CONV_2D or DEPTHWISE_CONV_2D.
func (c *conv) conv2D(nodeName string, op tflite.Operator, v string) error {
	if len(op.Inputs) < 2 {
		return fmt.Errorf("%w: %d inputs", ErrUnsupported, len(op.Inputs))
	}
	in, err := c.nchwValue(op.Inputs[0])
	if err != nil {
		return err
	}
	it, wt, ot := c.tensor(op.Inputs[0]), c.tensor(op.Inputs[1]), c.tensor(op.Outputs[0])
	if len(it.Shape) != 4 || len(wt.Shape) != 4 || len(ot.Shape) != 4 {
		return fmt.Errorf("%w: convolution shapes %v %v %v", ErrUnsupported, it.Shape, wt.Shape, ot.Shape)
	}
	w, err := c.dequantize(wt)
	if err != nil {
		return err
	}
	o := op.Options
	kh, kw := int(wt.Shape[1]), int(wt.Shape[2])
	cin, cout := int(it.Shape[3]), int(ot.Shape[3])
	var wDims []int64
	group := int64(1)
	if op.Code == tflite.OpConv2D {
		// [O, KH, KW, I] → [O, I, KH, KW]
		if int(wt.Shape[0]) != cout || int(wt.Shape[3]) != cin {
			return fmt.Errorf("%w: weights %v for %d→%d channels", ErrUnsupported, wt.Shape, cin, cout)
		}
		w = permute(w, []int{cout, kh, kw, cin}, []int{0, 3, 1, 2})
		wDims = []int64{int64(cout), int64(cin), int64(kh), int64(kw)}
	} else {
		// [1, KH, KW, C*M] → [C*M, 1, KH, KW], one group per input channel.
		if wt.Shape[0] != 1 || int(wt.Shape[3]) != cout || o.DepthMultiplier < 1 || cin*o.DepthMultiplier != cout {
			return fmt.Errorf("%w: depthwise weights %v, multiplier %d for %d→%d channels", ErrUnsupported, wt.Shape, o.DepthMultiplier, cin, cout)
		}
		w = permute(w, []int{1, kh, kw, cout}, []int{3, 0, 1, 2})
		wDims = []int64{int64(cout), 1, int64(kh), int64(kw)}
		group = int64(cin)
	}
	ins := []string{in, c.constF32(v+"_weights", wDims, w)}
	if len(op.Inputs) > 2 && op.Inputs[2] >= 0 {
		b, err := c.dequantize(c.tensor(op.Inputs[2]))
		if err != nil {
			return err
		}
		if len(b) != cout {
			return fmt.Errorf("%w: %d biases for %d channels", ErrUnsupported, len(b), cout)
		}
		ins = append(ins, c.constF32(v+"_bias", []int64{int64(cout)}, b))
	}
	sh, dil := [2]int{o.StrideH, o.StrideW}, [2]int{max(o.DilationH, 1), max(o.DilationW, 1)}
	var pads [4]int64 // top, left, bottom, right
	for d, k := range [2]int{kh, kw} {
		inN, outN := int(it.Shape[1+d]), int(ot.Shape[1+d])
		if sh[d] < 1 {
			return fmt.Errorf("%w: stride %d", ErrUnsupported, sh[d])
		}
		ek := (k-1)*dil[d] + 1
		var want int
		if o.Padding == tflite.Same {
			want = (inN + sh[d] - 1) / sh[d]
			total := max((want-1)*sh[d]+ek-inN, 0)
			pads[d], pads[2+d] = int64(total/2), int64(total-total/2)
		} else {
			want = (inN-ek)/sh[d] + 1
		}
		if want != outN {
			return fmt.Errorf("%w: output size %d, computed %d", ErrUnsupported, outN, want)
		}
	}
	c.add("Conv", nodeName, ins, []string{v},
		intsAttr("kernel_shape", int64(kh), int64(kw)),
		intsAttr("strides", int64(sh[0]), int64(sh[1])),
		intsAttr("dilations", int64(dil[0]), int64(dil[1])),
		intsAttr("pads", pads[:]...),
		intAttr("group", group))
	return nil
}

// postProcessOutputs exposes the inputs of the post-processing operator:
// box encodings, class scores and the constant anchors.
func (c *conv) postProcessOutputs(op tflite.Operator) error {
	if len(op.Inputs) != 3 {
		return fmt.Errorf("%w: %s with %d inputs, want 3", ErrUnsupported, postProcess, len(op.Inputs))
	}
	for k, out := range []struct {
		name string
		dst  *[]int64
	}{{BoxesName, &c.info.Boxes}, {ScoresName, &c.info.Scores}} {
		ti := op.Inputs[k]
		v, err := c.nhwc(ti)
		if err != nil {
			return err
		}
		t := c.tensor(ti)
		if len(t.Shape) != 3 || t.Shape[0] != 1 {
			return fmt.Errorf("%w: %s shape %v, want [1 N K]", ErrUnsupported, out.name, t.Shape)
		}
		c.add("Identity", out.name, []string{v}, []string{out.name})
		*out.dst = dims64(t.Shape)
		c.g.outputs = append(c.g.outputs, valueInfo{name: out.name, elemType: onnxFloat, dims: *out.dst})
	}
	at := c.tensor(op.Inputs[2])
	a, err := c.dequantize(at)
	if err != nil {
		return fmt.Errorf("anchors: %w", err)
	}
	if len(at.Shape) != 2 || at.Shape[1] != 4 {
		return fmt.Errorf("%w: anchors shape %v, want [N 4]", ErrUnsupported, at.Shape)
	}
	c.info.Anchors = dims64(at.Shape)
	k := c.constF32("anchors_const", c.info.Anchors, a)
	c.add("Identity", AnchorsName, []string{k}, []string{AnchorsName})
	c.g.outputs = append(c.g.outputs, valueInfo{name: AnchorsName, elemType: onnxFloat, dims: c.info.Anchors})
	if c.info.Boxes[1] != c.info.Anchors[0] || c.info.Scores[1] != c.info.Anchors[0] {
		return fmt.Errorf("%w: %v boxes, %v scores and %v anchors disagree", ErrUnsupported, c.info.Boxes, c.info.Scores, c.info.Anchors)
	}
	return nil
}

// dequantize returns the real values of constant tensor t.
func (c *conv) dequantize(t *tflite.Tensor) ([]float32, error) {
	data := c.m.Data(t)
	n := tflite.Elements(t.Shape)
	if data == nil || n < 0 || t.Type.Size() == 0 || len(data) != n*t.Type.Size() {
		return nil, fmt.Errorf("%w: constant %q (%v %v) has %d bytes", ErrUnsupported, t.Name, t.Type, t.Shape, len(data))
	}
	out := make([]float32, n)
	if t.Type == tflite.Float32 {
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return out, nil
	}
	q := t.Quant
	if q == nil || len(q.Scale) == 0 || len(q.ZeroPoint) != len(q.Scale) {
		return nil, fmt.Errorf("%w: constant %q of type %v without quantization", ErrUnsupported, t.Name, t.Type)
	}
	// Per-axis quantization: element i uses entry (i / inner) % len(Scale).
	inner := 1
	if len(q.Scale) > 1 {
		if q.Dim < 0 || q.Dim >= len(t.Shape) || int(t.Shape[q.Dim]) != len(q.Scale) {
			return nil, fmt.Errorf("%w: constant %q has %d scales along dimension %d of %v", ErrUnsupported, t.Name, len(q.Scale), q.Dim, t.Shape)
		}
		inner = tflite.Elements(t.Shape[q.Dim+1:])
	}
	for i := range out {
		var v float64
		switch t.Type {
		case tflite.Uint8:
			v = float64(data[i])
		case tflite.Int8:
			v = float64(int8(data[i]))
		case tflite.Int32:
			v = float64(int32(binary.LittleEndian.Uint32(data[4*i:])))
		default:
			return nil, fmt.Errorf("%w: constant %q of type %v", ErrUnsupported, t.Name, t.Type)
		}
		k := (i / inner) % len(q.Scale)
		out[i] = float32(float64(q.Scale[k]) * (v - float64(q.ZeroPoint[k])))
	}
	return out, nil
}

// permute transposes a dense row-major tensor of the given shape so that
// output dimension j is input dimension perm[j].
func permute(v []float32, shape, perm []int) []float32 {
	rank := len(shape)
	stride := make([]int, rank)
	s := 1
	for d := rank - 1; d >= 0; d-- {
		stride[d] = s
		s *= shape[d]
	}
	outShape := make([]int, rank)
	for j, p := range perm {
		outShape[j] = shape[p]
	}
	out := make([]float32, len(v))
	idx := make([]int, rank) // index in output coordinates
	for o := range out {
		src := 0
		for j := range rank {
			src += idx[j] * stride[perm[j]]
		}
		out[o] = v[src]
		for j := rank - 1; j >= 0; j-- {
			idx[j]++
			if idx[j] < outShape[j] {
				break
			}
			idx[j] = 0
		}
	}
	return out
}
