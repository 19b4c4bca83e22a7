// Package convert turns a quantized TFLite SSD detection model into an ONNX
// model that ONNX Runtime can run.
//
// By default the ONNX model stays integer where the TFLite model is: every
// convolution becomes a QLinearConv with the TFLite model's own uint8
// weights, int32 biases and quantization parameters, so activations between
// convolutions are uint8 exactly as in TFLite, and ONNX Runtime runs them
// with its integer kernels (several times cheaper than float on CPUs with
// VNNI). Residual additions are written as DequantizeLinear → Add →
// QuantizeLinear, which ONNX Runtime fuses into one integer addition. The
// small tail after the last convolutions (reshapes, concatenation, the
// logistic) runs in float.
//
// With Options.Float, weights and biases are dequantized instead and the
// whole graph is float32. The quantized model stores no fused ReLU6: its
// clamps exist only as the quantized range of each tensor, so every converted
// operator's output is clipped to the range its TFLite output tensor can
// represent (intersected with any fused activation); in the integer graph the
// uint8 saturation of each operator's output is that clip.
//
// Conversion stops before the custom TFLite_Detection_PostProcess operator:
// the ONNX model outputs the raw box encodings, the class scores (after the
// model's own Logistic) and the anchors, and box decoding and NMS happen in Go
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

// Options chooses the kind of graph Convert writes.
type Options struct {
	// Float dequantizes every weight and runs the whole graph in float32
	// instead of keeping the convolutions integer.
	Float bool
}

// Info describes a conversion.
type Info struct {
	Input        []int64        // model input shape, NHWC
	Boxes        []int64        // BoxesName shape
	Scores       []int64        // ScoresName shape
	Anchors      []int64        // AnchorsName shape
	Ops          map[string]int // converted TFLite operators by name
	Nodes        int            // ONNX nodes emitted
	Clips        int            // Clip nodes emitted for quantized ranges and activations
	QLinearConvs int            // convolutions kept integer (QLinearConv)
	StoppedAtOps int            // index of the post-processing operator
}

// ErrUnsupported is returned (wrapped) for a model this converter cannot
// handle; it names the operator or tensor at fault.
var ErrUnsupported = errors.New("unsupported tflite model")

// Convert converts subgraph 0 of m to a serialized ONNX model.
func Convert(m *tflite.Model, opts Options) ([]byte, *Info, error) {
	if len(m.Subgraphs) == 0 {
		return nil, nil, fmt.Errorf("%w: no subgraphs", ErrUnsupported)
	}
	c := &conv{
		m:      m,
		sg:     &m.Subgraphs[0],
		name:   map[int]string{},
		nchw:   map[int]bool{},
		nhwcOf: map[int]string{},
		qname:  map[int]string{},
		qparam: map[int][2]string{},
		info:   &Info{Ops: map[string]int{}},
		quant:  !opts.Float,
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

	// quant keeps convolutions integer. Then qname is the uint8 NCHW value
	// of a tensor that has one (in its TFLite quantization), and name holds
	// a float value only once something needed it (see float).
	quant  bool
	qname  map[int]string
	qparam map[int][2]string // scale and zero-point initializers per tensor
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

func (g *graph) addInit(in initializer) string {
	g.inits = append(g.inits, in)
	return in.name
}

func (c *conv) constU8(name string, dims []int64, v []byte) string {
	c.g.inits = append(c.g.inits, initializer{name: name, dims: dims, u8: v})
	return name
}

func (c *conv) constI32(name string, dims []int64, v []int32) string {
	c.g.inits = append(c.g.inits, initializer{name: name, dims: dims, i32: v})
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
	if c.quant && c.integer(ti) {
		// The pixels are the quantized input as they are.
		c.qname[ti] = v
		return nil
	}
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

// integer reports whether tensor ti is uint8 with one scale and zero point,
// the kind of activation the integer graph carries.
func (c *conv) integer(ti int) bool {
	t := c.tensor(ti)
	return t.Type == tflite.Uint8 && t.Quant != nil && len(t.Quant.Scale) == 1 && len(t.Quant.ZeroPoint) == 1
}

// params returns the scale and zero-point initializers of tensor ti's
// quantization (see integer).
func (c *conv) params(ti int) (scale, zeroPoint string) {
	if p, ok := c.qparam[ti]; ok {
		return p[0], p[1]
	}
	q := c.tensor(ti).Quant
	scale = c.constF32(fmt.Sprintf("t%d_scale", ti), nil, []float32{q.Scale[0]})
	zeroPoint = c.constU8(fmt.Sprintf("t%d_zero_point", ti), nil, []byte{byte(q.ZeroPoint[0])})
	c.qparam[ti] = [2]string{scale, zeroPoint}
	return scale, zeroPoint
}

// float makes sure tensor ti has a float value: an integer tensor is
// dequantized the first time a float operator reads it.
func (c *conv) float(ti int) {
	if _, ok := c.name[ti]; ok {
		return
	}
	q, ok := c.qname[ti]
	if !ok {
		return
	}
	s, zp := c.params(ti)
	v := fmt.Sprintf("t%d_float", ti)
	c.add("DequantizeLinear", v, []string{q, s, zp}, []string{v})
	c.name[ti] = v
	c.nchw[ti] = true
}

// quantized returns tensor ti as a uint8 NCHW value, quantizing a float
// value with ti's parameters when it has no integer one.
func (c *conv) quantized(ti int) (string, error) {
	if q, ok := c.qname[ti]; ok {
		return q, nil
	}
	f, err := c.nchwValue(ti)
	if err != nil {
		return "", err
	}
	s, zp := c.params(ti)
	q := fmt.Sprintf("t%d_quantized", ti)
	c.add("QuantizeLinear", q, []string{f, s, zp}, []string{q})
	c.qname[ti] = q
	return q, nil
}

// nhwc returns the value of tensor ti in TFLite (NHWC) order.
func (c *conv) nhwc(ti int) (string, error) {
	c.float(ti)
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
	c.float(ti)
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
	integer := false // v is uint8 in out's quantization
	switch op.Code {
	case tflite.OpConv2D, tflite.OpDepthwiseConv2D:
		integer, err = c.conv2D(nodeName, op, v)
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
			nchw = true
			if c.quant && c.integer(out) && len(ot.Shape) == 4 {
				// Dequantize → Add → Quantize: ONNX Runtime fuses it into
				// an integer addition with TFLite's rescaling.
				sum := v + "_sum"
				c.add("Add", nodeName, []string{a, b}, []string{sum})
				s, zp := c.params(out)
				c.add("QuantizeLinear", nodeName+"_quantize", []string{sum, s, zp}, []string{v})
				integer = true
			} else {
				c.add("Add", nodeName, []string{a, b}, []string{v})
			}
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
		c.float(in)
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
	if integer {
		if err := c.clipInteger(nodeName, out, v, op.Options.Activation); err != nil {
			return "", fmt.Errorf("operator %d (%s): %w", i, name, err)
		}
		return name, nil
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
	lo, hi, err := c.bounds(ti, act)
	if err != nil {
		return err
	}
	out := v
	if !math.IsInf(float64(lo), -1) || !math.IsInf(float64(hi), 1) {
		c.clipLast(nodeName, v, c.constF32(v+"_min", nil, []float32{lo}), c.constF32(v+"_max", nil, []float32{hi}))
	}
	c.name[ti] = out
	c.nchw[ti] = nchw
	return nil
}

// clipLast renames the output of the node just added and clips it, between
// the constants mn and mx, back into value v.
func (c *conv) clipLast(nodeName, v, mn, mx string) {
	in := v + "_unclipped"
	c.g.nodes[len(c.g.nodes)-1].outputs = []string{in}
	c.add("Clip", nodeName+"_clip", []string{in, mn, mx}, []string{v})
	c.info.Clips++
}

// clipInteger records uint8 NCHW value v as tensor ti. The uint8 saturation
// of the operator is ti's quantized range; a fused activation narrower than
// that is clamped in the integer domain, rounding like TFLite's kernels.
func (c *conv) clipInteger(nodeName string, ti int, v string, act tflite.Activation) error {
	lo, hi, err := c.bounds(ti, act)
	if err != nil {
		return err
	}
	q := c.tensor(ti).Quant
	s, zp := float64(q.Scale[0]), float64(q.ZeroPoint[0])
	qlo := max(0, zp+math.Round(float64(lo)/s))
	qhi := min(255, zp+math.Round(float64(hi)/s))
	if math.IsInf(float64(lo), -1) {
		qlo = 0
	}
	if math.IsInf(float64(hi), 1) {
		qhi = 255
	}
	if qlo > 0 || qhi < 255 {
		c.clipLast(nodeName, v, c.constU8(v+"_min", nil, []byte{byte(qlo)}), c.constU8(v+"_max", nil, []byte{byte(qhi)}))
	}
	c.qname[ti] = v
	return nil
}

// bounds returns the real range tensor ti can hold: its quantized range
// intersected with the fused activation act.
func (c *conv) bounds(ti int, act tflite.Activation) (lo, hi float32, err error) {
	t := c.tensor(ti)
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if q := t.Quant; q != nil && t.Type != tflite.Float32 {
		if len(q.Scale) != 1 || len(q.ZeroPoint) != 1 {
			return lo, hi, fmt.Errorf("%w: per-channel quantized activation %q", ErrUnsupported, t.Name)
		}
		var qmin, qmax float32
		switch t.Type {
		case tflite.Uint8:
			qmin, qmax = 0, 255
		case tflite.Int8:
			qmin, qmax = -128, 127
		default:
			return lo, hi, fmt.Errorf("%w: activation %q of type %v", ErrUnsupported, t.Name, t.Type)
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
		return lo, hi, fmt.Errorf("%w: fused activation %d", ErrUnsupported, act)
	}
	return lo, hi, nil
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

// conv2D emits a Conv for CONV_2D or DEPTHWISE_CONV_2D, or a QLinearConv
// when the graph is integer and the operator's tensors allow it; integer
// reports which.
func (c *conv) conv2D(nodeName string, op tflite.Operator, v string) (integer bool, err error) {
	if len(op.Inputs) < 2 {
		return false, fmt.Errorf("%w: %d inputs", ErrUnsupported, len(op.Inputs))
	}
	it, wt, ot := c.tensor(op.Inputs[0]), c.tensor(op.Inputs[1]), c.tensor(op.Outputs[0])
	if len(it.Shape) != 4 || len(wt.Shape) != 4 || len(ot.Shape) != 4 {
		return false, fmt.Errorf("%w: convolution shapes %v %v %v", ErrUnsupported, it.Shape, wt.Shape, ot.Shape)
	}
	o := op.Options
	kh, kw := int(wt.Shape[1]), int(wt.Shape[2])
	cin, cout := int(it.Shape[3]), int(ot.Shape[3])
	// shape is the TFLite weight layout and perm turns it into ONNX's.
	var shape, perm []int
	var wDims []int64
	group := int64(1)
	if op.Code == tflite.OpConv2D {
		// [O, KH, KW, I] → [O, I, KH, KW]
		if int(wt.Shape[0]) != cout || int(wt.Shape[3]) != cin {
			return false, fmt.Errorf("%w: weights %v for %d→%d channels", ErrUnsupported, wt.Shape, cin, cout)
		}
		shape, perm = []int{cout, kh, kw, cin}, []int{0, 3, 1, 2}
		wDims = []int64{int64(cout), int64(cin), int64(kh), int64(kw)}
	} else {
		// [1, KH, KW, C*M] → [C*M, 1, KH, KW], one group per input channel.
		if wt.Shape[0] != 1 || int(wt.Shape[3]) != cout || o.DepthMultiplier < 1 || cin*o.DepthMultiplier != cout {
			return false, fmt.Errorf("%w: depthwise weights %v, multiplier %d for %d→%d channels", ErrUnsupported, wt.Shape, o.DepthMultiplier, cin, cout)
		}
		shape, perm = []int{1, kh, kw, cout}, []int{3, 0, 1, 2}
		wDims = []int64{int64(cout), 1, int64(kh), int64(kw)}
		group = int64(cin)
	}
	sh, dil := [2]int{o.StrideH, o.StrideW}, [2]int{max(o.DilationH, 1), max(o.DilationW, 1)}
	var pads [4]int64 // top, left, bottom, right
	for d, k := range [2]int{kh, kw} {
		inN, outN := int(it.Shape[1+d]), int(ot.Shape[1+d])
		if sh[d] < 1 {
			return false, fmt.Errorf("%w: stride %d", ErrUnsupported, sh[d])
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
			return false, fmt.Errorf("%w: output size %d, computed %d", ErrUnsupported, outN, want)
		}
	}
	attrs := []attr{
		intsAttr("kernel_shape", int64(kh), int64(kw)),
		intsAttr("strides", int64(sh[0]), int64(sh[1])),
		intsAttr("dilations", int64(dil[0]), int64(dil[1])),
		intsAttr("pads", pads[:]...),
		intAttr("group", group),
	}
	var bias *tflite.Tensor
	if len(op.Inputs) > 2 && op.Inputs[2] >= 0 {
		bias = c.tensor(op.Inputs[2])
	}
	if c.quant && c.integer(op.Inputs[0]) && c.integer(op.Outputs[0]) && wt.Type == tflite.Uint8 &&
		wt.Quant != nil && len(wt.Quant.Scale) == 1 && len(wt.Quant.ZeroPoint) == 1 {
		return true, c.qlinearConv(nodeName, op, v, shape, perm, wDims, bias, attrs)
	}
	in, err := c.nchwValue(op.Inputs[0])
	if err != nil {
		return false, err
	}
	w, err := c.dequantize(wt)
	if err != nil {
		return false, err
	}
	ins := []string{in, c.constF32(v+"_weights", wDims, permute(w, shape, perm))}
	if bias != nil {
		b, err := c.dequantize(bias)
		if err != nil {
			return false, err
		}
		if len(b) != cout {
			return false, fmt.Errorf("%w: %d biases for %d channels", ErrUnsupported, len(b), cout)
		}
		ins = append(ins, c.constF32(v+"_bias", []int64{int64(cout)}, b))
	}
	c.add("Conv", nodeName, ins, []string{v}, attrs...)
	return false, nil
}

// qlinearConv emits the integer convolution: TFLite's uint8 weights as they
// are, and the bias as int32 in the scale input scale × weight scale that
// QLinearConv requires (TFLite quantizes biases the same way, so the
// integers normally carry over unchanged).
func (c *conv) qlinearConv(nodeName string, op tflite.Operator, v string, shape, perm []int, wDims []int64, bias *tflite.Tensor, attrs []attr) error {
	in, err := c.quantized(op.Inputs[0])
	if err != nil {
		return err
	}
	wt := c.tensor(op.Inputs[1])
	data := c.m.Data(wt)
	if n := tflite.Elements(wt.Shape); data == nil || len(data) != n {
		return fmt.Errorf("%w: constant %q (%v %v) has %d bytes", ErrUnsupported, wt.Name, wt.Type, wt.Shape, len(data))
	}
	xs, xzp := c.params(op.Inputs[0])
	ys, yzp := c.params(op.Outputs[0])
	// uint8 weights w with zero point z are the int8 weights w−128 with
	// zero point z−128, exactly; ONNX Runtime's fastest kernels take
	// uint8 activations times int8 weights.
	w8 := permute(data, shape, perm)
	for i := range w8 {
		w8[i] ^= 0x80
	}
	ws := c.constF32(v+"_weight_scale", nil, []float32{wt.Quant.Scale[0]})
	wzp := c.g.addInit(initializer{name: v + "_weight_zero_point", u8: []byte{byte(wt.Quant.ZeroPoint[0]) ^ 0x80}, s8: true})
	w := c.g.addInit(initializer{name: v + "_weights", dims: wDims, u8: w8, s8: true})
	ins := []string{in, xs, xzp, w, ws, wzp, ys, yzp}
	if bias != nil {
		b, err := c.dequantize(bias)
		if err != nil {
			return err
		}
		if cout := int(wDims[0]); len(b) != cout {
			return fmt.Errorf("%w: %d biases for %d channels", ErrUnsupported, len(b), cout)
		}
		scale := float64(c.tensor(op.Inputs[0]).Quant.Scale[0]) * float64(wt.Quant.Scale[0])
		q := make([]int32, len(b))
		for i, r := range b {
			f := math.Round(float64(r) / scale)
			if f < math.MinInt32 || f > math.MaxInt32 {
				return fmt.Errorf("%w: bias %q out of int32 range", ErrUnsupported, bias.Name)
			}
			q[i] = int32(f)
		}
		ins = append(ins, c.constI32(v+"_bias", []int64{int64(len(q))}, q))
	}
	c.add("QLinearConv", nodeName, ins, []string{v}, attrs...)
	c.info.QLinearConvs++
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
func permute[T any](v []T, shape, perm []int) []T {
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
	out := make([]T, len(v))
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
