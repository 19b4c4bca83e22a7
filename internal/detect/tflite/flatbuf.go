package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
)

// fb reads FlatBuffers tables from a byte slice with bounds checks on every
// access. The first out-of-range access records an error; every later access
// returns zero values, so callers check err once after reading a structure.
type fb struct {
	b   []byte
	err error
}

// table is the position of a FlatBuffers table in fb.b; vt is its vtable.
type table struct {
	pos   int
	vt    int
	vtLen int // bytes in the vtable, including its 4-byte header
}

func (r *fb) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *fb) ok(pos, n int) bool {
	if r.err != nil {
		return false
	}
	if pos < 0 || n < 0 || pos > len(r.b)-n {
		r.fail("offset %d (+%d) outside the %d-byte file", pos, n, len(r.b))
		return false
	}
	return true
}

func (r *fb) u8(pos int) uint8 {
	if !r.ok(pos, 1) {
		return 0
	}
	return r.b[pos]
}

func (r *fb) u16(pos int) uint16 {
	if !r.ok(pos, 2) {
		return 0
	}
	return binary.LittleEndian.Uint16(r.b[pos:])
}

func (r *fb) u32(pos int) uint32 {
	if !r.ok(pos, 4) {
		return 0
	}
	return binary.LittleEndian.Uint32(r.b[pos:])
}

func (r *fb) u64(pos int) uint64 {
	if !r.ok(pos, 8) {
		return 0
	}
	return binary.LittleEndian.Uint64(r.b[pos:])
}

// deref follows the uoffset stored at pos.
func (r *fb) deref(pos int) int {
	off := r.u32(pos)
	if r.err != nil {
		return 0
	}
	if uint64(pos)+uint64(off) > uint64(len(r.b)) {
		r.fail("offset at %d points outside the file", pos)
		return 0
	}
	return pos + int(off)
}

// tableAt reads the table whose first byte is at pos.
func (r *fb) tableAt(pos int) table {
	so := int32(r.u32(pos))
	vt := pos - int(so)
	vtLen := int(r.u16(vt))
	if r.err != nil {
		return table{}
	}
	if vtLen < 4 || !r.ok(vt, vtLen) {
		r.fail("bad vtable for table at %d", pos)
		return table{}
	}
	return table{pos: pos, vt: vt, vtLen: vtLen}
}

// field returns the absolute position of field id in t, or 0 when absent.
func (r *fb) field(t table, id int) int {
	if r.err != nil {
		return 0
	}
	o := 4 + 2*id
	if o+2 > t.vtLen {
		return 0
	}
	off := int(r.u16(t.vt + o))
	if off == 0 {
		return 0
	}
	return t.pos + off
}

func (r *fb) fieldU8(t table, id int, def uint8) uint8 {
	if p := r.field(t, id); p != 0 {
		return r.u8(p)
	}
	return def
}

func (r *fb) fieldI32(t table, id int, def int32) int32 {
	if p := r.field(t, id); p != 0 {
		return int32(r.u32(p))
	}
	return def
}

func (r *fb) fieldU64(t table, id int) uint64 {
	if p := r.field(t, id); p != 0 {
		return r.u64(p)
	}
	return 0
}

// fieldTable returns the sub-table in field id and whether it is present.
func (r *fb) fieldTable(t table, id int) (table, bool) {
	p := r.field(t, id)
	if p == 0 {
		return table{}, false
	}
	q := r.deref(p)
	if r.err != nil {
		return table{}, false
	}
	return r.tableAt(q), r.err == nil
}

// vector returns the position of the first element and the length of the
// vector in field id, checking that n elements of size elem fit.
func (r *fb) vector(t table, id, elem int) (int, int) {
	p := r.field(t, id)
	if p == 0 {
		return 0, 0
	}
	v := r.deref(p)
	n := int(r.u32(v))
	if r.err != nil {
		return 0, 0
	}
	if uint64(n)*uint64(elem) > uint64(len(r.b)) || !r.ok(v+4, n*elem) {
		r.fail("vector at %d (%d elements) outside the file", v, n)
		return 0, 0
	}
	return v + 4, n
}

func (r *fb) fieldString(t table, id int) string {
	p, n := r.vector(t, id, 1)
	if n == 0 {
		return ""
	}
	return string(r.b[p : p+n])
}

func (r *fb) fieldBytes(t table, id int) []byte {
	p, n := r.vector(t, id, 1)
	if n == 0 {
		return nil
	}
	return r.b[p : p+n : p+n]
}

func (r *fb) fieldI32s(t table, id int) []int32 {
	p, n := r.vector(t, id, 4)
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(r.u32(p + 4*i))
	}
	return out
}

func (r *fb) fieldF32s(t table, id int) []float32 {
	p, n := r.vector(t, id, 4)
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(r.u32(p + 4*i))
	}
	return out
}

func (r *fb) fieldI64s(t table, id int) []int64 {
	p, n := r.vector(t, id, 8)
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(r.u64(p + 8*i))
	}
	return out
}

// fieldTables returns the tables of a vector of tables.
func (r *fb) fieldTables(t table, id int) []table {
	p, n := r.vector(t, id, 4)
	out := make([]table, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.tableAt(r.deref(p+4*i)))
	}
	return out
}
