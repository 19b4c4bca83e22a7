// Package tflite reads the subset of the TensorFlow Lite model format
// (a FlatBuffer, schema.fbs) that the detection model converter needs:
// subgraphs, tensors with their quantization, operators with their builtin
// options, and constant buffers.
//
// It is a reader for trusted-but-checked model files at setup time, not an
// interpreter: use package convert to turn a model into ONNX.
package tflite

import (
	"errors"
	"fmt"
)

// TensorType is a TFLite tensor element type.
type TensorType uint8

// Tensor element types used by quantized detection models.
const (
	Float32 TensorType = 0
	Int32   TensorType = 2
	Uint8   TensorType = 3
	Int64   TensorType = 4
	Int8    TensorType = 9
)

func (t TensorType) String() string {
	switch t {
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	case Uint8:
		return "uint8"
	case Int64:
		return "int64"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// Size is the size of one element in bytes, or 0 if unknown.
func (t TensorType) Size() int {
	switch t {
	case Float32, Int32:
		return 4
	case Uint8, Int8:
		return 1
	case Int64:
		return 8
	}
	return 0
}

// Builtin operator codes (BuiltinOperator in schema.fbs) that converters care
// about. Other codes are carried through as numbers.
const (
	OpAdd             = 0
	OpAveragePool2D   = 1
	OpConcatenation   = 2
	OpConv2D          = 3
	OpDepthwiseConv2D = 4
	OpDequantize      = 6
	OpLogistic        = 14
	OpMaxPool2D       = 17
	OpRelu            = 19
	OpRelu6           = 21
	OpReshape         = 22
	OpCustom          = 32
	OpQuantize        = 114
)

// Padding is a convolution padding mode.
type Padding uint8

// Padding modes.
const (
	Same  Padding = 0
	Valid Padding = 1
)

// Activation is a fused activation function.
type Activation uint8

// Fused activations.
const (
	ActNone      Activation = 0
	ActRelu      Activation = 1
	ActReluN1To1 Activation = 2
	ActRelu6     Activation = 3
	ActTanh      Activation = 4
)

// Quantization maps stored integers q to real values scale*(q-zero_point).
// Scale and ZeroPoint have one entry per tensor, or one per slice along Dim.
type Quantization struct {
	Scale     []float32
	ZeroPoint []int64
	Dim       int
	Min, Max  []float32
}

// Tensor is one tensor of a subgraph.
type Tensor struct {
	Name   string
	Shape  []int32
	Type   TensorType
	Buffer int // index into Model.Buffers; buffer 0 is the empty sentinel
	Quant  *Quantization
}

// Options are the builtin options the converter understands; fields not
// meaningful for an operator are zero.
type Options struct {
	Padding          Padding
	StrideW, StrideH int
	DilationW        int
	DilationH        int
	DepthMultiplier  int
	Activation       Activation
	Axis             int     // concatenation
	NewShape         []int32 // reshape
	FilterW, FilterH int     // pooling
}

// Operator is one node of a subgraph.
type Operator struct {
	Code    int    // builtin operator code
	Custom  string // custom code when Code == OpCustom
	Inputs  []int  // tensor indices; -1 is an omitted optional input
	Outputs []int
	Options Options
	// CustomOptions holds the raw (FlexBuffer) options of a custom operator.
	CustomOptions []byte
}

// Subgraph is a graph of operators over tensors.
type Subgraph struct {
	Name      string
	Tensors   []Tensor
	Inputs    []int
	Outputs   []int
	Operators []Operator
}

// Model is a parsed TFLite model.
type Model struct {
	Version     uint32
	Description string
	Subgraphs   []Subgraph
	Buffers     [][]byte
}

// ErrFormat is returned (wrapped) for a file that is not a readable TFLite
// model; re-obtain the model file.
var ErrFormat = errors.New("not a readable tflite model")

// Parse reads a TFLite model. The returned buffers alias data.
func Parse(data []byte) (*Model, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrFormat, len(data))
	}
	if string(data[4:8]) != "TFL3" {
		return nil, fmt.Errorf("%w: file identifier %q, want \"TFL3\"", ErrFormat, data[4:8])
	}
	r := &fb{b: data}
	root := r.tableAt(r.deref(0))
	m := &Model{}
	m.Version = uint32(r.fieldI32(root, 0, 0))
	m.Description = r.fieldString(root, 3)

	type opcode struct {
		code   int
		custom string
	}
	var codes []opcode
	for _, t := range r.fieldTables(root, 1) {
		// deprecated_builtin_code (byte, field 0) holds codes < 127; newer
		// files also set builtin_code (int32, field 3). Take the larger.
		c := int(int8(r.fieldU8(t, 0, 0)))
		if c2 := int(r.fieldI32(t, 3, 0)); c2 > c {
			c = c2
		}
		codes = append(codes, opcode{code: c, custom: r.fieldString(t, 1)})
	}

	for _, bt := range r.fieldTables(root, 4) {
		b := r.fieldBytes(bt, 0)
		if off, size := r.fieldU64(bt, 1), r.fieldU64(bt, 2); b == nil && off > 1 && size > 0 {
			if off > uint64(len(data)) || size > uint64(len(data))-off {
				r.fail("buffer at %d (+%d) outside the file", off, size)
				break
			}
			b = data[off : off+size : off+size]
		}
		m.Buffers = append(m.Buffers, b)
	}

	for _, st := range r.fieldTables(root, 2) {
		var sg Subgraph
		sg.Name = r.fieldString(st, 4)
		for _, tt := range r.fieldTables(st, 0) {
			t := Tensor{
				Shape:  r.fieldI32s(tt, 0),
				Type:   TensorType(r.fieldU8(tt, 1, 0)),
				Buffer: int(uint32(r.fieldI32(tt, 2, 0))),
				Name:   r.fieldString(tt, 3),
			}
			if qt, ok := r.fieldTable(tt, 4); ok {
				q := &Quantization{
					Min:       r.fieldF32s(qt, 0),
					Max:       r.fieldF32s(qt, 1),
					Scale:     r.fieldF32s(qt, 2),
					ZeroPoint: r.fieldI64s(qt, 3),
					Dim:       int(r.fieldI32(qt, 6, 0)),
				}
				if len(q.Scale) > 0 {
					t.Quant = q
				}
			}
			sg.Tensors = append(sg.Tensors, t)
		}
		sg.Inputs = ints(r.fieldI32s(st, 1))
		sg.Outputs = ints(r.fieldI32s(st, 2))
		for _, ot := range r.fieldTables(st, 3) {
			idx := int(uint32(r.fieldI32(ot, 0, 0)))
			if r.err == nil && idx >= len(codes) {
				r.fail("operator code index %d of %d", idx, len(codes))
			}
			if r.err != nil {
				break
			}
			op := Operator{
				Code:          codes[idx].code,
				Custom:        codes[idx].custom,
				Inputs:        ints(r.fieldI32s(ot, 1)),
				Outputs:       ints(r.fieldI32s(ot, 2)),
				CustomOptions: r.fieldBytes(ot, 5),
			}
			if opt, ok := r.fieldTable(ot, 4); ok {
				op.Options = readOptions(r, op.Code, opt)
			}
			sg.Operators = append(sg.Operators, op)
		}
		m.Subgraphs = append(m.Subgraphs, sg)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, r.err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return m, nil
}

// readOptions decodes the builtin options table of an operator with code.
func readOptions(r *fb, code int, t table) Options {
	var o Options
	switch code {
	case OpConv2D:
		o.Padding = Padding(r.fieldU8(t, 0, 0))
		o.StrideW = int(r.fieldI32(t, 1, 0))
		o.StrideH = int(r.fieldI32(t, 2, 0))
		o.Activation = Activation(r.fieldU8(t, 3, 0))
		o.DilationW = int(r.fieldI32(t, 4, 1))
		o.DilationH = int(r.fieldI32(t, 5, 1))
	case OpDepthwiseConv2D:
		o.Padding = Padding(r.fieldU8(t, 0, 0))
		o.StrideW = int(r.fieldI32(t, 1, 0))
		o.StrideH = int(r.fieldI32(t, 2, 0))
		o.DepthMultiplier = int(r.fieldI32(t, 3, 0))
		o.Activation = Activation(r.fieldU8(t, 4, 0))
		o.DilationW = int(r.fieldI32(t, 5, 1))
		o.DilationH = int(r.fieldI32(t, 6, 1))
	case OpAveragePool2D, OpMaxPool2D:
		o.Padding = Padding(r.fieldU8(t, 0, 0))
		o.StrideW = int(r.fieldI32(t, 1, 0))
		o.StrideH = int(r.fieldI32(t, 2, 0))
		o.FilterW = int(r.fieldI32(t, 3, 0))
		o.FilterH = int(r.fieldI32(t, 4, 0))
		o.Activation = Activation(r.fieldU8(t, 5, 0))
	case OpConcatenation:
		o.Axis = int(r.fieldI32(t, 0, 0))
		o.Activation = Activation(r.fieldU8(t, 1, 0))
	case OpAdd:
		o.Activation = Activation(r.fieldU8(t, 0, 0))
	case OpReshape:
		o.NewShape = r.fieldI32s(t, 0)
	}
	return o
}

// check verifies that every tensor and buffer reference is in range, so
// converters can index without further checks.
func (m *Model) check() error {
	for si, sg := range m.Subgraphs {
		n := len(sg.Tensors)
		for ti, t := range sg.Tensors {
			if t.Buffer >= len(m.Buffers) && !(t.Buffer == 0 && len(m.Buffers) == 0) {
				return fmt.Errorf("subgraph %d tensor %d: buffer %d of %d", si, ti, t.Buffer, len(m.Buffers))
			}
			for _, d := range t.Shape {
				if d < 0 {
					return fmt.Errorf("subgraph %d tensor %d: negative dimension", si, ti)
				}
			}
		}
		inRange := func(idx []int, optional bool) error {
			for _, i := range idx {
				if (i == -1 && optional) || (i >= 0 && i < n) {
					continue
				}
				return fmt.Errorf("subgraph %d: tensor index %d of %d", si, i, n)
			}
			return nil
		}
		if err := inRange(sg.Inputs, false); err != nil {
			return err
		}
		if err := inRange(sg.Outputs, false); err != nil {
			return err
		}
		for _, op := range sg.Operators {
			if err := inRange(op.Inputs, true); err != nil {
				return err
			}
			if err := inRange(op.Outputs, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Data returns the constant contents of tensor t, or nil if it has none.
func (m *Model) Data(t *Tensor) []byte {
	if t.Buffer <= 0 || t.Buffer >= len(m.Buffers) {
		return nil
	}
	return m.Buffers[t.Buffer]
}

// Elements is the number of elements of a shape, or -1 if it exceeds 2^40
// (no real tensor is that large; the check keeps arithmetic from overflowing).
func Elements(shape []int32) int {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > (1<<40)/int(d)) {
			return -1
		}
		n *= int(d)
	}
	return n
}

func ints(v []int32) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}
