package store

import (
	"hasim/checkers"

	"fmt"
	"strings"
	"time"
)

// Call is one client call as recorded: what was asked, when (true time), and
// what came back. An indeterminate write's outcome is unknown: it may or
// may not have taken effect, at any time after Start.
type Call struct {
	Client        int
	Txn           Txn
	Serializable  bool
	Compact       int64 // > 0: a compaction, not a txn
	Start         time.Duration
	End           time.Duration // -1 while in flight
	Resp          Response
	Indeterminate bool
}

// Done reports whether the call returned.
func (o Call) Done() bool { return o.End >= 0 }

// OK reports whether the call succeeded.
func (o Call) OK() bool { return o.Done() && !o.Indeterminate && o.Resp.Err == CodeOK }

func (o Call) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client %d [%s, ", o.Client, o.Start.String())
	if o.Done() {
		b.WriteString(o.End.String())
	} else {
		b.WriteString("…")
	}
	if o.Compact > 0 {
		fmt.Fprintf(&b, "] compact %d -> ", o.Compact)
	} else {
		fmt.Fprintf(&b, "] %s -> ", o.Txn)
	}
	switch {
	case !o.Done():
		b.WriteString("in flight")
	case o.Indeterminate:
		b.WriteString("indeterminate (" + string(o.Resp.Err) + ")")
	default:
		b.WriteString(o.Resp.String())
	}
	return b.String()
}

// History is the record of every client call of a run, in call order.
type History struct {
	Calls []Call
	now   func() time.Duration
}

// NewHistory returns a history stamping calls with now (true time).
func NewHistory(now func() time.Duration) *History { return &History{now: now} }

func (h *History) begin(client int, txn Txn, serializable bool, compact int64) int {
	h.Calls = append(h.Calls, Call{Client: client, Txn: txn, Serializable: serializable, Compact: compact, Start: h.now(), End: -1})
	return len(h.Calls) - 1
}

func (h *History) end(i int, resp Response, known bool) {
	op := &h.Calls[i]
	op.End = h.now()
	op.Resp = resp
	op.Indeterminate = !known && (op.Txn.IsWrite() || op.Compact > 0)
}

// KVOps turns the calls that act on a single key (the workload's put, get,
// delete and compare-and-swap shapes) into the checkers' language. Calls of
// other shapes (multi-key transactions, ranges, compactions) are left out;
// the second result counts them.
func (h *History) KVOps() ([]checkers.KVOp, int) {
	var out []checkers.KVOp
	skipped := 0
	for _, c := range h.Calls {
		op, ok := kvOp(c)
		if !ok {
			skipped++
			continue
		}
		out = append(out, op)
	}
	return out, skipped
}

func kvOp(c Call) (checkers.KVOp, bool) {
	t := c.Txn
	op := checkers.KVOp{Client: c.Client, Start: c.Start, End: c.End, Indeterminate: c.Indeterminate}
	single := func(ops []Op, kind OpKind) bool {
		return len(ops) == 1 && ops[0].Kind == kind && !ops[0].Prefix && ops[0].Revision == 0 && ops[0].Limit == 0
	}
	switch {
	case c.Compact > 0 || c.Serializable:
		return op, false
	case len(t.Compares) == 0 && len(t.Failure) == 0 && single(t.Success, OpPut):
		op.Kind, op.Key, op.Value = checkers.KVPut, t.Success[0].Key, t.Success[0].Value
	case len(t.Compares) == 0 && len(t.Failure) == 0 && single(t.Success, OpRange):
		op.Kind, op.Key = checkers.KVGet, t.Success[0].Key
	case len(t.Compares) == 0 && len(t.Failure) == 0 && single(t.Success, OpDelete):
		op.Kind, op.Key = checkers.KVDelete, t.Success[0].Key
	case len(t.Compares) == 1 && t.Compares[0].Target == TargetMod && t.Compares[0].Result == Equal &&
		single(t.Success, OpPut) && single(t.Failure, OpRange) &&
		t.Success[0].Key == t.Compares[0].Key && t.Failure[0].Key == t.Compares[0].Key:
		op.Kind, op.Key, op.Value, op.ExpectMod = checkers.KVCas, t.Compares[0].Key, t.Success[0].Value, t.Compares[0].Num
	default:
		return op, false
	}
	if c.Indeterminate || (!c.Done() && op.Kind != checkers.KVGet) {
		// A write still in flight when the run ended may yet commit.
		op.Indeterminate = true
		return op, true
	}
	if !c.Done() || c.Resp.Err != CodeOK {
		// A read that failed, or a write refused before it reached a
		// member: no effect. (Writes that may have reached one are
		// indeterminate, above.)
		op.Failed = true
		return op, true
	}
	r := c.Resp.Result
	op.Revision = r.Revision
	op.Succeeded = r.Succeeded
	read := func(res OpResult) {
		if len(res.KVs) == 1 {
			kv := res.KVs[0]
			op.Found, op.Got, op.Mod, op.Create, op.Version = true, kv.Value, kv.ModRevision, kv.CreateRevision, kv.Version
		}
	}
	switch op.Kind {
	case checkers.KVGet:
		read(r.Results[0])
	case checkers.KVDelete:
		op.Deleted = r.Results[0].Deleted
	case checkers.KVCas:
		if !r.Succeeded {
			read(r.Results[0])
		}
	}
	return op, true
}
