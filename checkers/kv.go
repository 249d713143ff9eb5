package checkers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"

	"hasim/harness"
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

// KVInitial is a key's state before a history begins: a history recorded
// against a store that already held data.
type KVInitial struct {
	Key string
	// Found: the key exists, holding Value, with mod and create revisions
	// Mod and Create and version Version (as a get reports them).
	// Otherwise it is absent, as every key without a KVInitial is.
	Found   bool
	Value   string
	Mod     int64
	Create  int64
	Version int64
}

// String describes the state on one line.
func (in KVInitial) String() string {
	s := "key " + strconv.Quote(in.Key)
	if !in.Found {
		return s + " starts absent"
	}
	return s + fmt.Sprintf(" starts at %s mod=%d create=%d ver=%d", strconv.Quote(in.Value), in.Mod, in.Create, in.Version)
}

// validate reports what makes the state impossible: the rules a get's
// reading of an existing key obeys.
func (in *KVInitial) validate() *opFieldError {
	if in.Key == "" {
		return opFieldErr("key", "missing")
	}
	if !in.Found {
		for _, f := range []struct {
			name string
			set  bool
		}{{"value", in.Value != ""}, {"mod", in.Mod != 0}, {"create", in.Create != 0}, {"version", in.Version != 0}} {
			if f.set {
				return opFieldErr(f.name, "an absent key has no %s", f.name)
			}
		}
		return nil
	}
	switch {
	case in.Mod <= 0:
		return opFieldErr("mod", "a key that exists needs its mod revision (> 0)")
	case in.Create <= 0:
		return opFieldErr("create", "a key that exists needs its create revision (> 0)")
	case in.Version <= 0:
		return opFieldErr("version", "a key that exists needs its version (> 0)")
	case in.Create > in.Mod:
		return opFieldErr("create", "%d is after the mod revision %d", in.Create, in.Mod)
	case in.Version == 1 && in.Create != in.Mod:
		return opFieldErr("version", "1 means the key's last write created it, so create (%d) must equal mod (%d)", in.Create, in.Mod)
	case in.Version > 1 && in.Create == in.Mod:
		return opFieldErr("version", "%d means the key was written after its creation, so create (%d) must be below mod (%d)", in.Version, in.Create, in.Mod)
	}
	return nil
}

// CheckLinearizableFrom is CheckLinearizable on a store that may hold keys
// before the history begins: initial gives the state of some keys, at
// most one entry per Key; the others start absent.
func CheckLinearizableFrom(initial []KVInitial, ops []KVOp, opts LinearizableOptions) (harness.Verdict, LinearizableReport) {
	if len(initial) == 0 {
		return CheckLinearizable(ops, opts)
	}
	var rep LinearizableReport
	absent := kvLinModel().Init().(kvLinState)
	start := make(map[string]kvLinState, len(initial))
	seen := make(map[string]int, len(initial))
	for i := range initial {
		in := initial[i]
		if err := in.validate(); err != nil {
			return linMalformedInitial(i, in.String(), err, rep)
		}
		if j, dup := seen[in.Key]; dup {
			return linMalformedInitial(i, in.String(), opFieldErr("key", "initial state #%d is for the same key", j), rep)
		}
		seen[in.Key] = i
		if in.Found {
			start[in.Key] = kvLinState{exists: true, value: in.Value, version: in.Version,
				rev: in.Mod, revKnown: true, create: in.Create, createKnown: true}
		}
	}
	items, bad, err := kvItems(ops, &rep)
	if err != nil {
		return linMalformed(bad, ops[bad].String(), err, rep)
	}
	model := kvLinModel()
	if len(start) > 0 { // otherwise every key starts absent, as it does by default
		model = kvLinModelFrom(start, absent)
	}
	return runLinearizable(model, "key", items, opts, rep)
}

func linMalformedInitial(i int, desc string, err *opFieldError, rep LinearizableReport) (harness.Verdict, LinearizableReport) {
	return harness.Verdict{Check: LinearizabilityCheck, Status: harness.Unknown,
		Detail: fmt.Sprintf("cannot judge: initial state #%d (%s): %s", i, desc, err)}, rep
}

// kvUnresolved is where every key starts when some keys have initial
// states: porcupine starts every partition from one Init state, so a key's
// own initial state is looked up at its first step, from the op's key.
// Once a step is taken the state is a kvLinState, so Equal and Hash meet
// kvUnresolved only at the root of the search.
type kvUnresolved struct{}

// kvLinModelFrom is the kv model whose keys start from start (absent when
// not in it).
func kvLinModelFrom(start map[string]kvLinState, absent kvLinState) porcupine.Model {
	m := kvLinModel()
	step, equal, hash, describe := m.Step, m.Equal, m.Hash, m.DescribeState
	m.Init = func() any { return kvUnresolved{} }
	m.Step = func(state, input, output any) (bool, any) {
		if _, ok := state.(kvUnresolved); ok {
			s, ok := start[input.(*linItem).key]
			if !ok {
				s = absent
			}
			state = s
		}
		return step(state, input, output)
	}
	m.Equal = func(a, b any) bool {
		_, ua := a.(kvUnresolved)
		_, ub := b.(kvUnresolved)
		if ua || ub {
			return ua && ub
		}
		return equal(a, b)
	}
	m.Hash = func(state any) uint64 {
		if _, ok := state.(kvUnresolved); ok {
			return 0
		}
		return hash(state)
	}
	m.DescribeState = func(state any) string {
		if _, ok := state.(kvUnresolved); ok {
			return "in its initial state"
		}
		return describe(state)
	}
	return m
}
