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
	fmt.Fprintf(&b, "client %d [%s, ", o.Client, fmtT(o.Start))
	if o.Done() {
		b.WriteString(fmtT(o.End))
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

func fmtT(t time.Duration) string { return t.String() }

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
