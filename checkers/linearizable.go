package checkers

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"hasim/harness"
)

// LinearizabilityCheck is the name of the linearizability verdict.
const LinearizabilityCheck = "linearizability"

// DefaultLinearizableTimeout bounds porcupine's search when
// LinearizableOptions.Timeout is 0.
const DefaultLinearizableTimeout = 10 * time.Second

// LinearizableOptions tune CheckLinearizable and CheckRegister.
type LinearizableOptions struct {
	// Timeout bounds the search (0: DefaultLinearizableTimeout). Past it
	// the verdict is unknown, never ok.
	Timeout time.Duration
	// HTMLPath is where porcupine's HTML view of a violation is written
	// ("": nowhere). Nothing is written when the history is linearizable
	// or undecided.
	HTMLPath string
	// Annotations (faults, crashes, leader changes) are drawn in the view.
	Annotations []Annotation
}

// LinearizableReport says what a linearizability check did.
type LinearizableReport struct {
	Ops           int // ops checked (failed ops excluded), indeterminate ones included
	Indeterminate int // of which indeterminate
	Failed        int // failed ops, ignored
	Keys          int // keys (independent partitions) checked
	// FailingKeys are the keys whose ops admit no linearization, sorted.
	// (When the search also timed out, some of them may only be
	// undecided.)
	FailingKeys []string
	// Undecided counts the keys left undecided by a timeout.
	Undecided int
	// Problems describes, per failing key, where linearization gets stuck.
	Problems []string
	// HTMLPath is the view written, "" when none was.
	HTMLPath string
}

// CheckLinearizable judges whether a history of single-key operations of an
// etcd-like store is linearizable, with porcupine, one key at a time (keys
// are independent). The model of one key is its existence, value, mod and
// create revisions and version, with etcd's rules:
//
//   - put(k, v) → revision R: the key holds v with mod R and version+1
//     (create R and version 1 if it did not exist). R must exceed the
//     revision of the key's previous write (put or delete): revisions of one
//     key only grow.
//   - get(k) → found, got, mod, create, version: must match the key exactly
//     (a missing key reads as not found, with zero fields). Of an existing
//     key, version 1 means create == mod, and a later version create < mod.
//   - delete(k) → deleted, revision: deleted is 1 iff the key existed; then
//     the key is gone and R must exceed the previous write's revision. The
//     revision of a delete that removed nothing is not judged.
//   - cas(k, expectMod, v): succeeds iff the key's mod revision is
//     expectMod (0: the key does not exist; a missing key has mod 0); on
//     success it is a put (revision R); on failure it reads the key like a
//     get, whose mod must differ from expectMod.
//
// Failed ops are dropped. Indeterminate ops (of any kind) are given a return
// time after every other op, and may take effect anywhere after their call
// or not at all; their outputs are unknown, so a write of theirs leaves the
// key's mod (and maybe create) revision unknown — matching anything above
// what came before — until a read reports it. The response-header revision
// of gets is not judged, and neither is the order of revisions across keys.
//
// The verdict (check "linearizability") is ok, violated (naming the keys
// and where their linearization gets stuck; porcupine's HTML view is
// written to opts.HTMLPath) or unknown (a timeout, a malformed op, or no op
// to judge).
func CheckLinearizable(ops []KVOp, opts LinearizableOptions) (harness.Verdict, LinearizableReport) {
	var rep LinearizableReport
	items, bad, err := kvItems(ops, &rep)
	if err != nil {
		return linMalformed(bad, ops[bad].String(), err, rep)
	}
	return runLinearizable(kvLinModel(), "key", items, opts, rep)
}

// kvItems turns ops into porcupine's items, leaving failed ops out (and
// counting them in rep); a malformed op is an error, with its index.
func kvItems(ops []KVOp, rep *LinearizableReport) ([]*linItem, int, *opFieldError) {
	var items []*linItem
	for i := range ops {
		op := ops[i]
		if err := op.validate(); err != nil {
			return nil, i, err
		}
		if op.Failed {
			rep.Failed++
			continue
		}
		items = append(items, &linItem{index: i, client: op.Client, key: op.Key, start: op.Start, end: op.End,
			indeterminate: op.Indeterminate, kv: &op})
	}
	return items, 0, nil
}

// CheckRegister judges whether a Jepsen-style history of read, write and
// cas operations on registers is linearizable (ops with different Keys are
// independent registers). A register starts out empty: a read of it has
// None set. write(v) sets it; read returns its value; cas(from, to) sets
// it to To iff it holds From (OK true), and otherwise leaves it (OK false:
// the register did not hold From). Failed ops are dropped; indeterminate
// ones take effect anywhere after their call or not at all. The verdict is
// as for CheckLinearizable.
func CheckRegister(ops []RegisterOp, opts LinearizableOptions) (harness.Verdict, LinearizableReport) {
	return CheckRegisterFrom(nil, ops, opts)
}

// RegisterInitial is what a register holds before a history begins.
type RegisterInitial struct {
	Key   string
	Value string
	// None: the register starts empty, as every register without a
	// RegisterInitial does.
	None bool
}

func (in RegisterInitial) String() string {
	name := "the register"
	if in.Key != "" {
		name = "register " + strconv.Quote(in.Key)
	}
	if in.None {
		return name + " starts empty"
	}
	return name + " starts at " + strconv.Quote(in.Value)
}

// CheckRegisterFrom is CheckRegister on registers that may hold a value
// before the history begins (a history recorded against a system that
// already held data): initial gives the content of some registers, at most
// one entry per Key; the others start empty.
func CheckRegisterFrom(initial []RegisterInitial, ops []RegisterOp, opts LinearizableOptions) (harness.Verdict, LinearizableReport) {
	var items []*linItem
	var rep LinearizableReport
	seen := make(map[string]int, len(initial))
	for i, in := range initial {
		if j, dup := seen[in.Key]; dup {
			return linMalformedInitial(i, in.String(), opFieldErr("key", "initial state #%d is for the same register", j), rep)
		}
		seen[in.Key] = i
		if in.None && in.Value != "" {
			return linMalformedInitial(i, in.String(), opFieldErr("value", "a register that starts empty has no value"), rep)
		}
	}
	for i := range ops {
		op := ops[i]
		if err := op.validate(); err != nil {
			return linMalformed(i, op.String(), err, rep)
		}
		if op.Failed {
			rep.Failed++
			continue
		}
		items = append(items, &linItem{index: i, client: op.Client, key: op.Key, start: op.Start, end: op.End,
			indeterminate: op.Indeterminate, reg: &op})
	}
	return runLinearizable(newRegModel(initial, ops).porcupine(), "register", items, opts, rep)
}

func linMalformed(i int, desc string, err *opFieldError, rep LinearizableReport) (harness.Verdict, LinearizableReport) {
	return harness.Verdict{Check: LinearizabilityCheck, Status: harness.Unknown,
		Detail: fmt.Sprintf("cannot judge: op #%d (%s): %s", i, desc, err)}, rep
}

// opFieldError is an op that cannot be judged, naming the field at fault.
type opFieldError struct {
	field, msg string
}

func (e *opFieldError) Error() string { return "field " + e.field + ": " + e.msg }

func opFieldErr(field, format string, args ...any) *opFieldError {
	return &opFieldError{field, fmt.Sprintf(format, args...)}
}

// validate reports what makes a KVOp impossible to judge (not a store bug:
// a recording that lacks what the model needs).
func (o *KVOp) validate() *opFieldError {
	switch o.Kind {
	case KVGet, KVPut, KVDelete, KVCas:
	case "":
		return opFieldErr("op", "missing")
	default:
		return opFieldErr("op", "unknown op %q (want get, put, delete or cas)", string(o.Kind))
	}
	switch {
	case o.Key == "":
		return opFieldErr("key", "missing")
	case o.Client < 0:
		return opFieldErr("client", "negative (%d)", o.Client)
	case o.Start < 0:
		return opFieldErr("call", "negative (%s)", o.Start)
	case o.Indeterminate && o.Failed:
		return opFieldErr("failed", "an op cannot be both indeterminate and failed")
	case o.Kind == KVCas && o.ExpectMod < 0:
		return opFieldErr("expect_mod", "negative (%d)", o.ExpectMod)
	}
	if o.Failed || o.Indeterminate {
		return nil
	}
	if o.End < o.Start {
		return opFieldErr("return", "%s is before the call at %s", o.End, o.Start)
	}
	read := func() *opFieldError {
		if !o.Found {
			return nil
		}
		switch {
		case o.Mod <= 0:
			return opFieldErr("mod", "a found key needs its mod revision (> 0)")
		case o.Create <= 0:
			return opFieldErr("create", "a found key needs its create revision (> 0)")
		case o.Version <= 0:
			return opFieldErr("version", "a found key needs its version (> 0)")
		}
		return nil
	}
	switch o.Kind {
	case KVGet:
		return read()
	case KVPut:
		if o.Revision <= 0 {
			return opFieldErr("revision", "a completed put needs the revision it created (> 0)")
		}
	case KVDelete:
		switch {
		case o.Deleted != 0 && o.Deleted != 1:
			return opFieldErr("deleted", "must be 0 or 1, got %d", o.Deleted)
		case o.Deleted == 1 && o.Revision <= 0:
			return opFieldErr("revision", "a delete that removed the key needs the revision it created (> 0)")
		}
	case KVCas:
		if o.Succeeded {
			if o.Revision <= 0 {
				return opFieldErr("revision", "a successful cas needs the revision it created (> 0)")
			}
			return nil
		}
		return read()
	}
	return nil
}

// linItem is one op handed to porcupine (as both input and output).
type linItem struct {
	index         int // in the caller's slice
	client        int
	key           string
	start, end    time.Duration
	indeterminate bool
	kv            *KVOp
	reg           *RegisterOp
}

func (it *linItem) String() string {
	if it.kv != nil {
		return it.kv.String()
	}
	return it.reg.String()
}

// when is the op's interval, for humans.
func (it *linItem) when() string {
	if it.indeterminate {
		return fmt.Sprintf("[%s, never returned]", it.start)
	}
	return fmt.Sprintf("[%s, %s]", it.start, it.end)
}

func linPartitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(*linItem).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

func runLinearizable(model porcupine.Model, noun string, items []*linItem, opts LinearizableOptions, rep LinearizableReport) (harness.Verdict, LinearizableReport) {
	v := harness.Verdict{Check: LinearizabilityCheck}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultLinearizableTimeout
	}
	// An indeterminate op returns "at +∞": after every other instant.
	var last time.Duration
	for _, it := range items {
		last = max(last, it.start)
		if !it.indeterminate {
			last = max(last, it.end)
		}
	}
	for _, a := range opts.Annotations {
		last = max(last, a.Start, a.End)
	}
	if last >= MaxHistoryTime {
		// +∞ must come after every instant without wrapping around.
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("times reach %d ns, at or past the bound of %d: cannot be judged", int64(last), int64(MaxHistoryTime))
		return v, rep
	}
	inf := int64(last) + 1

	// Lanes of the view: a client's lane is its number; an indeterminate
	// op, which never returns, gets a lane of its own after them so that it
	// does not hide its client's later ops.
	lane := map[int]int{}
	dense := false
	for _, it := range items {
		if it.client >= 1000 {
			dense = true
		}
		lane[it.client] = it.client
	}
	nextLane := 0
	if dense {
		clients := make([]int, 0, len(lane))
		for c := range lane {
			clients = append(clients, c)
		}
		sort.Ints(clients)
		for i, c := range clients {
			lane[c] = i
		}
	}
	for _, l := range lane {
		nextLane = max(nextLane, l+1)
	}

	keys := map[string]bool{}
	hist := make([]porcupine.Operation, 0, len(items))
	for _, it := range items {
		keys[it.key] = true
		op := porcupine.Operation{ClientId: lane[it.client], Input: it, Output: it, Call: int64(it.start), Return: int64(it.end), Metadata: it}
		if it.indeterminate {
			rep.Indeterminate++
			op.Return = inf
			op.ClientId = nextLane
			nextLane++
		}
		hist = append(hist, op)
	}
	rep.Ops, rep.Keys = len(items), len(keys)
	summary := fmt.Sprintf("%d ops (%d indeterminate) on %d %ss", rep.Ops, rep.Indeterminate, rep.Keys, noun)
	if rep.Failed > 0 {
		summary += fmt.Sprintf("; %d failed ops ignored", rep.Failed)
	}
	if len(items) == 0 {
		v.Status, v.Detail = harness.Unknown, "nothing to check: "+summary
		return v, rep
	}

	begin := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, hist, timeout)
	timedOut := time.Since(begin) >= timeout

	// Which keys got a complete linearization?
	parts := linPartitionByKey(hist)
	partials := info.PartialLinearizations()
	var stuck []int
	for p, ops := range parts {
		complete := false
		if p < len(partials) {
			for _, lin := range partials[p] {
				complete = complete || len(lin) == len(ops)
			}
		}
		if !complete {
			stuck = append(stuck, p)
		}
	}

	switch res {
	case porcupine.Ok:
		v.Status, v.Detail = harness.OK, "linearizable: "+summary
	case porcupine.Unknown:
		rep.Undecided = len(stuck)
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("undecided: the search timed out after %s with %d of %d %ss undecided; %s", timeout, len(stuck), rep.Keys, noun, summary)
	default:
		v.Status = harness.Violated
		for _, p := range stuck {
			ops := parts[p]
			key := ops[0].Input.(*linItem).key
			rep.FailingKeys = append(rep.FailingKeys, key)
			var lin []int
			if p < len(partials) {
				lin = linLongest(partials[p])
			}
			rep.Problems = append(rep.Problems, linDescribeStuck(model, noun, key, ops, lin))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "not linearizable: %d of %d %ss (", len(rep.FailingKeys), rep.Keys, noun)
		for i, k := range rep.FailingKeys {
			if i == 3 {
				fmt.Fprintf(&b, ", …")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
		}
		fmt.Fprintf(&b, "); %s", summary)
		if timedOut {
			fmt.Fprintf(&b, "; the search also timed out, so some of these %ss may only be undecided", noun)
		}
		for i, pr := range rep.Problems {
			if i == 3 {
				fmt.Fprintf(&b, "; and %d more %ss", len(rep.Problems)-3, noun)
				break
			}
			b.WriteString("; ")
			b.WriteString(pr)
		}
		if opts.HTMLPath != "" {
			info.AddAnnotations(linAnnotations(opts.Annotations))
			if err := porcupine.VisualizePath(model, info, opts.HTMLPath); err != nil {
				fmt.Fprintf(&b, "; could not write the view: %v", err)
			} else {
				rep.HTMLPath = opts.HTMLPath
				fmt.Fprintf(&b, "; view: %s", opts.HTMLPath)
			}
		}
		v.Detail = b.String()
	}
	return v, rep
}

// longest picks the longest partial linearization (the first such in
// lexical order of op ids, so the choice is deterministic).
func linLongest(lins [][]int) []int {
	var best []int
	for _, l := range lins {
		switch {
		case best == nil || len(l) > len(best):
			best = l
		case len(l) == len(best):
			for i := range l {
				if l[i] != best[i] {
					if l[i] < best[i] {
						best = l
					}
					break
				}
			}
		}
	}
	return best
}

// linDescribeStuck says where a key's linearization gets stuck: the longest
// linearizable prefix, the state it leaves, and the first op to return of
// those that cannot follow.
func linDescribeStuck(model porcupine.Model, noun, key string, ops []porcupine.Operation, lin []int) string {
	state := model.Init()
	done := make([]bool, len(ops))
	for _, id := range lin {
		_, state = model.Step(state, ops[id].Input, ops[id].Output)
		done[id] = true
	}
	var b strings.Builder
	name := noun + " " + strconv.Quote(key)
	if key == "" && noun != "key" {
		name = "the " + noun
	}
	fmt.Fprintf(&b, "%s: at most %d of its %d ops linearize", name, len(lin), len(ops))
	if n := len(lin); n > 0 {
		it := ops[lin[n-1]].Input.(*linItem)
		fmt.Fprintf(&b, ", the last being %s %s", it, it.when())
	}
	fmt.Fprintf(&b, ", leaving the %s %s; no remaining op can come next", noun, model.DescribeState(state))
	first := -1
	for id, op := range ops {
		if done[id] {
			continue
		}
		if first < 0 || op.Return < ops[first].Return || (op.Return == ops[first].Return && op.Call < ops[first].Call) {
			first = id
		}
	}
	if first >= 0 {
		it := ops[first].Input.(*linItem)
		fmt.Fprintf(&b, ", the first of them to return being %s %s", it, it.when())
	}
	return b.String()
}

func linAnnotations(as []Annotation) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(as))
	for _, a := range as {
		tag := a.Tag
		if tag == "" {
			tag = "notes"
		}
		end := max(a.End, a.Start)
		details := fmt.Sprintf("%s at %s", a.Description, a.Start)
		if end > a.Start {
			details = fmt.Sprintf("%s from %s to %s", a.Description, a.Start, end)
		}
		out = append(out, porcupine.Annotation{Tag: tag, Start: int64(a.Start), End: int64(end),
			Description: a.Description, Details: details})
	}
	return out
}

func linDescribeMetadata(m any) string {
	it, ok := m.(*linItem)
	if !ok {
		return ""
	}
	return fmt.Sprintf("op #%d of the history, client %d, %s", it.index, it.client, it.when())
}

func linDescribeItem(in, _ any) string { return in.(*linItem).String() }

// kvLinState is what the model knows of one key.
type kvLinState struct {
	exists  bool
	value   string
	version int64
	// rev is the revision of the key's latest write (put or delete; 0:
	// never written) — exactly when revKnown, otherwise a lower bound (an
	// indeterminate write's revision is unknown). While the key exists,
	// its mod revision is that write's.
	rev      int64
	revKnown bool
	// create is the key's create revision, exactly when createKnown,
	// otherwise a lower bound.
	create      int64
	createKnown bool
}

func (s kvLinState) String() string {
	if !s.exists {
		if s.rev == 0 {
			return "absent"
		}
		return "absent (last write rev " + linRevString(s.rev, s.revKnown) + ")"
	}
	return fmt.Sprintf("%s mod=%s create=%s ver=%d", strconv.Quote(s.value), linRevString(s.rev, s.revKnown),
		linRevString(s.create, s.createKnown), s.version)
}

func linRevString(r int64, known bool) string {
	if known {
		return strconv.FormatInt(r, 10)
	}
	return "?≥" + strconv.FormatInt(r, 10)
}

// matches reports whether revision x can be the one described by (r, known).
func revMatches(r int64, known bool, x int64) bool {
	if known {
		return x == r
	}
	return x >= r
}

// read judges a read of the key (a get or a failed cas) and returns what it
// teaches.
func (s kvLinState) read(o *KVOp) (bool, kvLinState) {
	if !s.exists {
		return !o.Found && o.Got == "" && o.Mod == 0 && o.Create == 0 && o.Version == 0, s
	}
	if !o.Found || o.Got != s.value || o.Version != s.version ||
		!revMatches(s.rev, s.revKnown, o.Mod) || !revMatches(s.create, s.createKnown, o.Create) {
		return false, s
	}
	if (s.version == 1 && o.Create != o.Mod) || (s.version > 1 && o.Create >= o.Mod) {
		return false, s
	}
	s.rev, s.revKnown, s.create, s.createKnown = o.Mod, true, o.Create, true
	return true, s
}

// write applies a put of v with revision r (known or not: then r is the
// smallest it can be).
func (s kvLinState) write(v string, r int64, known bool) kvLinState {
	if !s.exists {
		s.exists, s.version, s.create, s.createKnown = true, 0, r, known
	}
	s.value, s.version, s.rev, s.revKnown = v, s.version+1, r, known
	return s
}

func (s kvLinState) remove(r int64, known bool) kvLinState {
	return kvLinState{rev: r, revKnown: known}
}

func kvLinStep(state, input, _ any) (bool, any) {
	s := state.(kvLinState)
	o := input.(*linItem).kv
	if o.Indeterminate {
		// Applied here, with unknown outputs. "Never applied" is the same
		// as applied after everything else, where nothing observes it.
		switch o.Kind {
		case KVPut:
			return true, s.write(o.Value, s.rev+1, false)
		case KVDelete:
			if s.exists {
				return true, s.remove(s.rev+1, false)
			}
		case KVCas:
			switch {
			case o.ExpectMod == 0 && !s.exists:
				return true, s.write(o.Value, s.rev+1, false)
			case o.ExpectMod != 0 && s.exists && revMatches(s.rev, s.revKnown, o.ExpectMod):
				return true, s.write(o.Value, o.ExpectMod+1, false)
			}
		}
		return true, s
	}
	switch o.Kind {
	case KVGet:
		return s.read(o)
	case KVPut:
		if o.Revision <= s.rev {
			return false, s
		}
		return true, s.write(o.Value, o.Revision, true)
	case KVDelete:
		if o.Deleted == 0 {
			return !s.exists, s
		}
		if !s.exists || o.Revision <= s.rev {
			return false, s
		}
		return true, s.remove(o.Revision, true)
	case KVCas:
		if !o.Succeeded {
			ok, n := s.read(o)
			return ok && o.Mod != o.ExpectMod, n
		}
		if o.ExpectMod == 0 {
			if s.exists || o.Revision <= s.rev {
				return false, s
			}
		} else if !s.exists || !revMatches(s.rev, s.revKnown, o.ExpectMod) || o.Revision <= o.ExpectMod {
			return false, s
		}
		return true, s.write(o.Value, o.Revision, true)
	}
	return false, s
}

func kvLinModel() porcupine.Model {
	return porcupine.Model{
		Partition: linPartitionByKey,
		Init:      func() any { return kvLinState{revKnown: true, createKnown: true} },
		Step:      kvLinStep,
		Equal:     func(a, b any) bool { return a.(kvLinState) == b.(kvLinState) },
		Hash: func(state any) uint64 {
			s := state.(kvLinState)
			h := fnv.New64a()
			fmt.Fprintf(h, "%t|%s|%d|%d|%t|%d|%t", s.exists, s.value, s.version, s.rev, s.revKnown, s.create, s.createKnown)
			return h.Sum64()
		},
		DescribeOperation:         linDescribeItem,
		DescribeState:             func(state any) string { return state.(kvLinState).String() },
		DescribeOperationMetadata: linDescribeMetadata,
	}
}

// RegisterKind is the kind of a register operation.
type RegisterKind string

const (
	// RegisterRead reads the register.
	RegisterRead RegisterKind = "read"
	// RegisterWrite writes Value.
	RegisterWrite RegisterKind = "write"
	// RegisterCas sets the register to To if it holds From.
	RegisterCas RegisterKind = "cas"
)

// RegisterOp is one operation of a Jepsen-style register history.
type RegisterOp struct {
	Client int
	Kind   RegisterKind
	// Key names the register; ops on different keys are independent
	// ("" is a register like any other).
	Key string
	// Value is what a write writes, or what a read returned.
	Value string
	// None: a read found the register empty (never written).
	None bool
	// From and To are a cas's expected and new values; FromNone makes
	// the cas expect an empty register instead (a create).
	From, To string
	FromNone bool
	// OK is a completed cas's outcome: false means the register did not
	// hold From.
	OK bool

	// Start and End are the call and return times; End is ignored for
	// indeterminate and failed ops.
	Start, End time.Duration
	// Indeterminate: the op may have taken effect at any time after Start,
	// or never (Jepsen's :info).
	Indeterminate bool
	// Failed: the op certainly had no effect (Jepsen's :fail of a read or
	// write; a cas that found another value is OK=false instead).
	Failed bool
}

// String describes the op on one line.
func (o RegisterOp) String() string {
	s := fmt.Sprintf("c%d %s", o.Client, o.Kind)
	if o.Key != "" {
		s += " " + strconv.Quote(o.Key)
	}
	switch o.Kind {
	case RegisterWrite:
		s += " " + strconv.Quote(o.Value)
	case RegisterCas:
		from := strconv.Quote(o.From)
		if o.FromNone {
			from = "none"
		}
		s += fmt.Sprintf(" %s->%s", from, strconv.Quote(o.To))
	}
	switch {
	case o.Indeterminate:
		return s + " -> ?"
	case o.Failed:
		return s + " -> failed"
	}
	switch o.Kind {
	case RegisterRead:
		if o.None {
			return s + " -> none"
		}
		return s + " -> " + strconv.Quote(o.Value)
	case RegisterCas:
		if o.OK {
			return s + " -> ok"
		}
		return s + " -> fail"
	}
	return s + " -> ok"
}

func (o *RegisterOp) validate() *opFieldError {
	switch o.Kind {
	case RegisterRead, RegisterWrite, RegisterCas:
	case "":
		return opFieldErr("op", "missing")
	default:
		return opFieldErr("op", "unknown op %q (want read, write or cas)", string(o.Kind))
	}
	switch {
	case o.Client < 0:
		return opFieldErr("client", "negative (%d)", o.Client)
	case o.Start < 0:
		return opFieldErr("call", "negative (%s)", o.Start)
	case o.Indeterminate && o.Failed:
		return opFieldErr("failed", "an op cannot be both indeterminate and failed")
	case !o.Indeterminate && !o.Failed && o.End < o.Start:
		return opFieldErr("return", "%s is before the call at %s", o.End, o.Start)
	case o.Kind == RegisterRead && o.None && o.Value != "":
		return opFieldErr("value", "a read that found no value has none")
	}
	return nil
}

// regState is a register's content. A regModel makes one regState per
// content a register can have (empty, or each value in the history), so
// that equal contents are the same pointer: porcupine calls Step and Equal
// for every step of its search (millions on a long Jepsen history), and
// with canonical pointers they compare no strings, format nothing and
// allocate nothing (a pointer fits in an interface as it is).
type regState struct {
	has   bool
	value string
}

// regOp is a RegisterOp resolved to canonical states before the search.
type regOp struct {
	kind          RegisterKind
	indeterminate bool
	ok            bool
	from          *regState // cas: the content it expects
	val           *regState // write: what it writes; cas: To; read: what it returned
	initial       *regState // the op's register before the history
}

// regModel is the register model of one check.
type regModel struct {
	ops []regOp // indexed like the caller's ops (linItem.index)
	// unresolved is the state every register starts from when some
	// register starts with a value: porcupine starts every partition from
	// one Init state, so a register's own initial state is looked up at
	// its first step (each op knows its register's). nil when every
	// register starts empty.
	unresolved *regState
	empty      *regState
}

func newRegModel(initial []RegisterInitial, ops []RegisterOp) *regModel {
	m := &regModel{ops: make([]regOp, len(ops))}
	states := map[string]*regState{}
	content := func(has bool, v string) *regState {
		if !has {
			return m.empty
		}
		if s, ok := states[v]; ok {
			return s
		}
		s := &regState{has: true, value: v}
		states[v] = s
		return s
	}
	m.empty = &regState{}
	start := map[string]*regState{}
	for _, in := range initial {
		if !in.None {
			start[in.Key] = content(true, in.Value)
		}
	}
	if len(start) > 0 {
		m.unresolved = &regState{}
	}
	for i := range ops {
		o := &ops[i]
		r := regOp{kind: o.Kind, indeterminate: o.Indeterminate, ok: o.OK, initial: m.empty}
		if s, ok := start[o.Key]; ok {
			r.initial = s
		}
		switch o.Kind {
		case RegisterRead:
			r.val = content(!o.None, o.Value)
		case RegisterWrite:
			r.val = content(true, o.Value)
		case RegisterCas:
			r.from, r.val = content(!o.FromNone, o.From), content(true, o.To)
		}
		m.ops[i] = r
	}
	return m
}

func (m *regModel) step(state, input, _ any) (bool, any) {
	s := state.(*regState)
	o := &m.ops[input.(*linItem).index]
	if s == m.unresolved {
		s = o.initial
	}
	if o.kind == RegisterWrite {
		return true, o.val
	}
	if o.kind == RegisterRead {
		return o.indeterminate || s == o.val, s
	}
	holds := s == o.from
	switch {
	case o.indeterminate:
		if holds {
			return true, o.val
		}
		return true, s
	case o.ok:
		return holds, o.val
	default:
		return !holds, s
	}
}

func (m *regModel) porcupine() porcupine.Model {
	start := m.empty
	if m.unresolved != nil {
		start = m.unresolved
	}
	return porcupine.Model{
		Partition: linPartitionByKey,
		Init:      func() any { return start },
		Step:      m.step,
		// States are canonical: equal contents are the same pointer.
		Equal: func(a, b any) bool { return a.(*regState) == b.(*regState) },
		// No Hash: porcupine's cache then keys entries by the set of
		// linearized ops alone and tells states apart with Equal, a
		// pointer compare. A hash would save no work and spread the cache
		// over a map key per state: on porcupine's Jepsen etcd logs that
		// took about 15% more CPU and a third more memory, and it did no
		// better on a history with 40 clients writing distinct values at
		// once.
		DescribeOperation: linDescribeItem,
		DescribeState: func(state any) string {
			s := state.(*regState)
			switch {
			case s == m.unresolved:
				return "in its initial state"
			case !s.has:
				return "empty"
			}
			return strconv.Quote(s.value)
		},
		DescribeOperationMetadata: linDescribeMetadata,
	}
}
