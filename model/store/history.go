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
// A scenario that judges calls as it goes may forget them: Calls then
// holds the calls from index Base on (call i is Calls[i-Base]), and
// forgotten calls inside it are zero.
type History struct {
	Calls []Call
	Base  int
	now   func() time.Duration
	// OnEnd, if set, is called when call i returns.
	OnEnd func(i int, c *Call)
	// OnBegin, if set, is called when call i is made.
	OnBegin func(i int, c *Call)
}

// NewHistory returns a history stamping calls with now (true time).
func NewHistory(now func() time.Duration) *History { return &History{now: now} }

func (h *History) begin(client int, txn Txn, serializable bool, compact int64) int {
	h.Calls = append(h.Calls, Call{Client: client, Txn: txn, Serializable: serializable, Compact: compact, Start: h.now(), End: -1})
	i := h.Base + len(h.Calls) - 1
	if h.OnBegin != nil {
		h.OnBegin(i, &h.Calls[i-h.Base])
	}
	return i
}

// Call returns call i (absolute index).
func (h *History) Call(i int) *Call { return &h.Calls[i-h.Base] }

// Forget drops call i's content; once every call before some index is
// forgotten, the slice is shortened from the front.
func (h *History) Forget(i int) {
	h.Calls[i-h.Base] = Call{Start: -1, End: -2}
	n := 0
	for n < len(h.Calls) && h.Calls[n].End == -2 {
		n++
	}
	// Shorten in batches, so that forgetting stays cheap.
	if n >= 1024 || n == len(h.Calls) && n > 0 {
		h.Calls = append(h.Calls[:0:0], h.Calls[n:]...)
		h.Base += n
	}
}

func (h *History) end(i int, resp Response, known bool) {
	op := &h.Calls[i-h.Base]
	op.End = h.now()
	op.Resp = resp
	op.Indeterminate = !known && (op.Txn.IsWrite() || op.Compact > 0)
	if h.OnEnd != nil {
		h.OnEnd(i, op)
	}
}

// KVOps turns the calls that act on a single key (the workload's put, get,
// delete and compare-and-swap shapes) into the checkers' language. Calls of
// other shapes (multi-key transactions, ranges, compactions) are left out;
// the second result counts them.
func (h *History) KVOps() ([]checkers.KVOp, int) {
	var out []checkers.KVOp
	skipped := 0
	for _, c := range h.Calls {
		if c.End == -2 {
			continue // forgotten
		}
		op, ok := kvOp(c)
		if !ok {
			skipped++
			continue
		}
		out = append(out, op)
	}
	return out, skipped
}

// KVOp turns one call into the checkers' language (see KVOps).
func KVOp(c Call) (checkers.KVOp, bool) { return kvOp(c) }

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
