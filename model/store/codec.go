package store

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
)

// A proposal is the data of a raft entry: which member proposed it, that
// member's sequence number for the request (so that it can answer its
// client when the entry is applied), and the transaction. Raft entries hold
// bytes, so the transaction is encoded; the encoding is deterministic.

type proposal struct {
	origin  uint64
	seq     uint64
	txn     Txn
	compact int64 // > 0: a compaction to this revision instead of a txn
}

type encoder struct{ b []byte }

func (e *encoder) u(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) i(v int64)  { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) s(v string) { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) op(o Op) {
	e.u(uint64(o.Kind))
	e.s(o.Key)
	e.bool(o.Prefix)
	e.s(o.Value)
	e.i(o.Revision)
	e.i(o.Limit)
	e.bool(o.PrevKV)
}

func (e *encoder) ops(os []Op) {
	e.u(uint64(len(os)))
	for _, o := range os {
		e.op(o)
	}
}

func encodeProposal(p proposal) []byte {
	var e encoder
	e.b = append(e.b, 'P', 1)
	e.u(p.origin)
	e.u(p.seq)
	e.u(uint64(len(p.txn.Compares)))
	for _, c := range p.txn.Compares {
		e.s(c.Key)
		e.u(uint64(c.Target))
		e.u(uint64(c.Result))
		e.i(c.Num)
		e.s(c.Value)
	}
	e.ops(p.txn.Success)
	e.ops(p.txn.Failure)
	e.i(p.compact)
	return e.b
}

var errCorrupt = errors.New("store: corrupt proposal")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) s() string {
	n := d.u()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.err = errCorrupt
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) count() int {
	n := d.u()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) ops() []Op {
	n := d.count()
	var out []Op
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, Op{Kind: OpKind(d.u()), Key: d.s(), Prefix: d.bool(), Value: d.s(),
			Revision: d.i(), Limit: d.i(), PrevKV: d.bool()})
	}
	return out
}

func decodeProposal(b []byte) (proposal, error) {
	if len(b) < 2 || b[0] != 'P' || b[1] != 1 {
		return proposal{}, errCorrupt
	}
	d := decoder{b: b[2:]}
	var p proposal
	p.origin = d.u()
	p.seq = d.u()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.txn.Compares = append(p.txn.Compares, Compare{Key: d.s(), Target: CompareTarget(d.u()),
			Result: CompareResult(d.u()), Num: d.i(), Value: d.s()})
	}
	p.txn.Success = d.ops()
	p.txn.Failure = d.ops()
	p.compact = d.i()
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return p, d.err
}

// digest fingerprints an entry's type and data for the safety checker.
func digest(typ int32, data []byte) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(typ)})
	h.Write(data)
	return h.Sum64()
}
