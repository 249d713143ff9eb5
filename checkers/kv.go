package checkers

import (
	"fmt"
	"strconv"
	"time"
)

// KVKind is the kind of a single-key store operation.
type KVKind string

const (
	// KVGet reads a key (linearizable).
	KVGet KVKind = "get"
	// KVPut writes a key.
	KVPut KVKind = "put"
	// KVDelete deletes a key.
	KVDelete KVKind = "delete"
	// KVCas writes Value if the key's mod revision equals ExpectMod (0:
	// the key does not exist), and otherwise reads the key.
	KVCas KVKind = "cas"
)

// KVOp is one client operation on one key of an etcd-like store, as the
// checkers judge it: what was asked, when (true time), and what came back.
// It is the common language between a scenario's history, history files
// recorded against real systems, and the checkers.
type KVOp struct {
	Client int    `json:"client"`
	Kind   KVKind `json:"op"`
	Key    string `json:"key"`
	// Value is what a put or cas writes. Values are unique per write, so
	// a read identifies the write it saw.
	Value string `json:"value,omitempty"`
	// ExpectMod is a cas's expected mod revision.
	ExpectMod int64 `json:"expect_mod,omitempty"`

	// Start and End are the call and return times. An indeterminate op
	// has no return: End is ignored.
	Start time.Duration `json:"call"`
	End   time.Duration `json:"return"`
	// Indeterminate: the outcome is unknown (a write that timed out); it
	// may have taken effect at any time after Start, or never.
	Indeterminate bool `json:"indeterminate,omitempty"`
	// Failed: the call failed and certainly had no effect (a refused
	// connection, a read that timed out). Checkers ignore it.
	Failed bool `json:"failed,omitempty"`

	// Outputs of a completed op.
	// Revision is the store revision in the response header: for a
	// write, the revision it created.
	Revision int64 `json:"revision,omitempty"`
	// Succeeded is a cas's outcome.
	Succeeded bool `json:"succeeded,omitempty"`
	// Found, Got, Mod, Create and Version describe the key as a get (or a
	// failed cas) read it.
	Found   bool   `json:"found,omitempty"`
	Got     string `json:"got,omitempty"`
	Mod     int64  `json:"mod,omitempty"`
	Create  int64  `json:"create,omitempty"`
	Version int64  `json:"version,omitempty"`
	// Deleted is how many keys a delete removed (0 or 1).
	Deleted int64 `json:"deleted,omitempty"`
}

// String describes the op on one line.
func (o KVOp) String() string {
	s := fmt.Sprintf("c%d %s %s", o.Client, o.Kind, strconv.Quote(o.Key))
	switch o.Kind {
	case KVPut:
		s += " " + strconv.Quote(o.Value)
	case KVCas:
		s += fmt.Sprintf(" if mod=%d then %s", o.ExpectMod, strconv.Quote(o.Value))
	}
	switch {
	case o.Indeterminate:
		return s + " -> ?"
	case o.Failed:
		return s + " -> failed"
	}
	switch o.Kind {
	case KVGet:
		if !o.Found {
			return s + " -> none"
		}
		return s + fmt.Sprintf(" -> %s mod=%d ver=%d", strconv.Quote(o.Got), o.Mod, o.Version)
	case KVPut:
		return s + fmt.Sprintf(" -> rev=%d", o.Revision)
	case KVDelete:
		return s + fmt.Sprintf(" -> deleted=%d rev=%d", o.Deleted, o.Revision)
	default:
		if o.Succeeded {
			return s + fmt.Sprintf(" -> ok rev=%d", o.Revision)
		}
		if !o.Found {
			return s + " -> failed, none"
		}
		return s + fmt.Sprintf(" -> failed, %s mod=%d", strconv.Quote(o.Got), o.Mod)
	}
}

// Annotation marks an instant or an interval of a run for the HTML view of
// a counterexample: a fault, a crash, a leader change.
type Annotation struct {
	Start, End  time.Duration // End == Start for an instant
	Tag         string        // the lane it is drawn in ("faults", "m1", "leader")
	Description string
}
