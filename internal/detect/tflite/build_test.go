package tflite_test

import "encoding/binary"

// A tiny FlatBuffers writer for test models. Objects are written parent
// first; offset fields are patched once their child is written after them
// (FlatBuffers offsets point forward).

type (
	tbl    []any // field i is nil (absent), u8, u32, str, vecI32, vecTbl or tbl
	u8     uint8
	u32    uint32
	str    string
	vecI32 []int32
	vecTbl []tbl
)

type fbWriter struct{ b []byte }

func (w *fbWriter) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *fbWriter) u32(v uint32) int {
	p := len(w.b)
	w.b = binary.LittleEndian.AppendUint32(w.b, v)
	return p
}

func (w *fbWriter) patch(at, target int) {
	binary.LittleEndian.PutUint32(w.b[at:], uint32(target-at))
}

// put writes an object and returns its position.
func (w *fbWriter) put(v any) int {
	switch v := v.(type) {
	case tbl:
		w.align(4)
		vt := len(w.b)
		w.b = binary.LittleEndian.AppendUint16(w.b, uint16(4+2*len(v)))
		w.b = binary.LittleEndian.AppendUint16(w.b, uint16(4+4*len(v)))
		for i, f := range v {
			off := 0
			if f != nil {
				off = 4 + 4*i
			}
			w.b = binary.LittleEndian.AppendUint16(w.b, uint16(off))
		}
		w.align(4)
		pos := w.u32(0)
		binary.LittleEndian.PutUint32(w.b[pos:], uint32(pos-vt))
		slots := make([]int, len(v))
		for i, f := range v {
			switch f := f.(type) {
			case u8:
				slots[i] = w.u32(uint32(f))
			case u32:
				slots[i] = w.u32(uint32(f))
			default:
				slots[i] = w.u32(0)
			}
		}
		for i, f := range v {
			switch f.(type) {
			case nil, u8, u32:
			default:
				w.patch(slots[i], w.put(f))
			}
		}
		return pos
	case str:
		w.align(4)
		p := w.u32(uint32(len(v)))
		w.b = append(append(w.b, v...), 0)
		return p
	case vecI32:
		w.align(4)
		p := w.u32(uint32(len(v)))
		for _, x := range v {
			w.u32(uint32(x))
		}
		return p
	case vecTbl:
		w.align(4)
		p := w.u32(uint32(len(v)))
		slots := make([]int, len(v))
		for i := range v {
			slots[i] = w.u32(0)
		}
		for i, t := range v {
			w.patch(slots[i], w.put(t))
		}
		return p
	}
	panic("unknown flatbuffer object")
}

// buildModel serialises a Model table with the "TFL3" identifier.
func buildModel(root tbl) []byte {
	w := &fbWriter{}
	w.u32(0)
	w.b = append(w.b, "TFL3"...)
	w.patch(0, w.put(root))
	return w.b
}

// minimalModel is a model with one float tensor that is input and output.
func minimalModel() []byte {
	tensor := tbl{vecI32{1, 2}, u8(0), u32(0), str("x")}
	subgraph := tbl{vecTbl{tensor}, vecI32{0}, vecI32{0}}
	return buildModel(tbl{u32(3), nil, vecTbl{subgraph}, nil, vecTbl{tbl{}}})
}
