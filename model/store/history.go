package store

import (
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
