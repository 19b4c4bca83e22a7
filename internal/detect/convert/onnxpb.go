package convert

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes the subset of onnx.proto (ModelProto and what it holds)
// that the converter emits, as protobuf wire format. Field numbers are those
// of onnx/onnx.proto.

// ONNX TensorProto.DataType values.
const (
	onnxFloat = 1
	onnxUint8 = 2
	onnxInt8  = 3
	onnxInt32 = 6
	onnxInt64 = 7
)

// ONNX AttributeProto.AttributeType values.
const (
	attrFloat = 1
	attrInt   = 2
	attrInts  = 7
)

type attr struct {
	name string
	typ  int
	i    int64
	f    float32
	ints []int64
}

func intAttr(name string, v int64) attr     { return attr{name: name, typ: attrInt, i: v} }
func intsAttr(name string, v ...int64) attr { return attr{name: name, typ: attrInts, ints: v} }

type node struct {
	op      string
	name    string
	inputs  []string
	outputs []string
	attrs   []attr
}

// initializer is a constant tensor; exactly one of f32, i32, i64, u8 is set.
type initializer struct {
	name string
	dims []int64
	f32  []float32
	i32  []int32
	i64  []int64
	u8   []byte
	s8   bool // u8 holds int8 values (two's complement)
}

type valueInfo struct {
	name     string
	elemType int
	dims     []int64
}

type graph struct {
	name    string
	nodes   []node
	inits   []initializer
	inputs  []valueInfo
	outputs []valueInfo
}

type model struct {
	irVersion       int64
	opset           int64
	producerName    string
	producerVersion string
	doc             string
	graph           graph
	metadata        [][2]string
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func (a attr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.name)
	switch a.typ {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = appendInt(b, 3, a.i)
	case attrInts:
		var p []byte
		for _, v := range a.ints {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = appendBytes(b, 8, p)
	}
	return appendInt(b, 20, int64(a.typ))
}

func (n node) marshal() []byte {
	var b []byte
	for _, s := range n.inputs {
		b = appendString(b, 1, s)
	}
	for _, s := range n.outputs {
		b = appendString(b, 2, s)
	}
	b = appendString(b, 3, n.name)
	b = appendString(b, 4, n.op)
	for _, a := range n.attrs {
		b = appendBytes(b, 5, a.marshal())
	}
	return b
}

func (t initializer) marshal() []byte {
	var b []byte
	if len(t.dims) > 0 {
		var p []byte
		for _, d := range t.dims {
			p = protowire.AppendVarint(p, uint64(d))
		}
		b = appendBytes(b, 1, p)
	}
	var raw []byte
	switch {
	case t.f32 != nil:
		b = appendInt(b, 2, onnxFloat)
		raw = make([]byte, 4*len(t.f32))
		for i, v := range t.f32 {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case t.i32 != nil:
		b = appendInt(b, 2, onnxInt32)
		raw = make([]byte, 4*len(t.i32))
		for i, v := range t.i32 {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
		}
	case t.i64 != nil:
		b = appendInt(b, 2, onnxInt64)
		raw = make([]byte, 8*len(t.i64))
		for i, v := range t.i64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	case t.s8:
		b = appendInt(b, 2, onnxInt8)
		raw = t.u8
	default:
		b = appendInt(b, 2, onnxUint8)
		raw = t.u8
	}
	b = appendString(b, 8, t.name)
	return appendBytes(b, 9, raw)
}

func (v valueInfo) marshal() []byte {
	var shape []byte
	for _, d := range v.dims {
		shape = appendBytes(shape, 1, appendInt(nil, 1, d)) // Dimension.dim_value
	}
	var tensor []byte
	tensor = appendInt(tensor, 1, int64(v.elemType))
	tensor = appendBytes(tensor, 2, shape)
	typ := appendBytes(nil, 1, tensor) // TypeProto.tensor_type
	b := appendString(nil, 1, v.name)
	return appendBytes(b, 2, typ)
}

func (g graph) marshal() []byte {
	var b []byte
	for _, n := range g.nodes {
		b = appendBytes(b, 1, n.marshal())
	}
	b = appendString(b, 2, g.name)
	for _, t := range g.inits {
		b = appendBytes(b, 5, t.marshal())
	}
	for _, v := range g.inputs {
		b = appendBytes(b, 11, v.marshal())
	}
	for _, v := range g.outputs {
		b = appendBytes(b, 12, v.marshal())
	}
	return b
}

func (m model) marshal() []byte {
	var b []byte
	b = appendInt(b, 1, m.irVersion)
	b = appendString(b, 2, m.producerName)
	b = appendString(b, 3, m.producerVersion)
	if m.doc != "" {
		b = appendString(b, 6, m.doc)
	}
	b = appendBytes(b, 7, m.graph.marshal())
	opset := appendString(nil, 1, "")
	opset = appendInt(opset, 2, m.opset)
	b = appendBytes(b, 8, opset)
	for _, kv := range m.metadata {
		e := appendString(nil, 1, kv[0])
		e = appendString(e, 2, kv[1])
		b = appendBytes(b, 14, e)
	}
	return b
}
