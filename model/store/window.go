package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model"
)

// Long runs keep flat memory: the workload and the prober move to fresh
// keys every KeyEpoch of their local clocks and never return to old ones,
// so a key has a complete history once every client has called in a later
// epoch, none of its calls is in flight and it has seen no call for
// KeyIdle. (Idleness alone is not enough: a client that stood still for
// minutes comes back to its epoch's keys.) The scenario judges it then (linearizability and durability, one key at a
// time as both checkers do anyway), keeps only a summary of what the key
// may finally hold, and forgets its calls. At the end one read of every
// workload key checks the summaries: a write lost after its key went idle
// is still found.
const (
	KeyEpoch = 5 * time.Minute
	KeyIdle  = 2 * time.Minute
)

// keyCalls is an open key's calls (absolute history indices).
type keyCalls struct {
	calls   []int
	pending int
	last    time.Duration
}

// finalState is what a judged key may hold at the end: the value of a
// latest acknowledged write (several when they overlapped), or that of any
// write of unknown outcome (it may land at any time). Absent is the empty
// string with absent set.
type finalState struct {
	values map[string]bool
	absent bool
	what   string // the acknowledged write(s), for the evidence
}

func idleSummary(t checkers.KeyTally) string {
	return fmt.Sprintf("%d ops on %d keys, each judged once idle", t.Ops, t.Keys)
}

// window is the scenario's per-key bookkeeping.
type window struct {
	open     map[string]*keyCalls
	inFlight map[int]string        // single-key calls in flight → their key
	final    map[string]finalState // judged workload keys
	lin, dur checkers.KeyTally
	revs     map[int]int64 // client → newest header revision seen, in call order
	revBad   []string
	// revBackwards counts every backwards step; revBad keeps the first.
	revBackwards int
	html         string
	anyKVOp      bool
	// When acked-durable's violations were first seen (0: none yet), for
	// its verdict's At: a key's from CheckDurability, a client's revision
	// going back from the response that showed it. (Linearizability has
	// no single instant: its At stays unset.)
	durAt, revAt time.Duration
	// epochs: by client, the newest key epoch it called in.
	epochs map[int]int
}

// keyEpoch returns the epoch of a workload key ("k3.1") or a probe key
// ("probe-3-0"); -1 for any other.
func keyEpoch(key string) int {
	var rest string
	if r, ok := strings.CutPrefix(key, "k"); ok {
		rest, _, _ = strings.Cut(r, ".")
	} else if r, ok := strings.CutPrefix(key, "probe-"); ok {
		rest, _, _ = strings.Cut(r, "-")
	} else {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return n
}

func (w *window) init() {
	w.open, w.final, w.revs, w.inFlight = map[string]*keyCalls{}, map[string]finalState{}, map[int]int64{}, map[int]string{}
	w.lin, w.dur = checkers.KeyTally{Check: model.CheckLinearizability}, checkers.KeyTally{Check: model.CheckAckedDurable}
	w.revBad, w.html, w.anyKVOp, w.revBackwards = nil, "", false, 0
	w.durAt, w.revAt = 0, 0
	w.epochs = map[int]int{}
}

// earliest returns the earlier of a moment kept (0: none) and t.
func earliest(kept, t time.Duration) time.Duration {
	if kept == 0 || t < kept {
		return t
	}
	return kept
}

// singleKey returns the key a call acts on alone, if it does.
func singleKey(c *Call) (string, bool) {
	op, ok := kvOp(*c)
	if !ok {
		return "", false
	}
	return op.Key, true
}

func (sc *Scenario) onBegin(i int, c *Call) {
	key, ok := singleKey(c)
	if !ok {
		return
	}
	kc := sc.win.open[key]
	if kc == nil {
		kc = &keyCalls{}
		sc.win.open[key] = kc
	}
	if e, seen := sc.win.epochs[c.Client]; !seen || keyEpoch(key) > e {
		sc.win.epochs[c.Client] = keyEpoch(key)
	}
	kc.calls = append(kc.calls, i)
	sc.win.inFlight[i] = key
	kc.pending++
	kc.last = c.Start
}

func (sc *Scenario) onEnd(i int, c *Call) {
	// Per client, response-header revisions never go backwards (clients
	// are sequential: completion order is call order).
	if c.Resp.Err == CodeOK && !c.Indeterminate && c.Resp.Result.Revision > 0 && !c.Serializable {
		rev := c.Resp.Result.Revision
		if prev := sc.win.revs[c.Client]; rev < prev {
			sc.win.revAt = earliest(sc.win.revAt, c.End)
			if sc.win.revBackwards++; sc.win.revBackwards <= 3 {
				sc.win.revBad = append(sc.win.revBad, fmt.Sprintf("client %d saw revision %d at %s after %d", c.Client, rev, c.End, prev))
			}
		}
		sc.win.revs[c.Client] = max(sc.win.revs[c.Client], rev)
	}
	key, ok := sc.win.inFlight[i]
	if !ok {
		if c != sc.finalCall() {
			sc.history.Forget(i)
		}
		return
	}
	delete(sc.win.inFlight, i)
	kc := sc.win.open[key]
	kc.pending--
	kc.last = c.End
}

// finalCall is the end-of-run read of every workload key (nil before).
func (sc *Scenario) finalCall() *Call {
	if sc.finalIdx < 0 {
		return nil
	}
	return sc.history.Call(sc.finalIdx)
}

// sweep judges the keys every client has moved past, idle for KeyIdle.
func (sc *Scenario) sweep(s *harness.Sim) {
	// Every client (the workload's and the prober) must have moved on.
	if len(sc.win.epochs) < sc.Cfg.Clients+1 {
		return
	}
	done, first := 0, true
	for _, c := range harness.SortedKeys(sc.win.epochs) {
		if e := sc.win.epochs[c]; first || e < done {
			done, first = e, false
		}
	}
	for _, key := range harness.SortedKeys(sc.win.open) {
		if kc := sc.win.open[key]; kc.pending == 0 && s.Now()-kc.last >= KeyIdle && keyEpoch(key) < done {
			sc.judge(s, key, nil)
		}
	}
}

// judge checks one key's history (plus extra ops) and forgets it.
func (sc *Scenario) judge(s *harness.Sim, key string, extra []checkers.KVOp) {
	kc := sc.win.open[key]
	delete(sc.win.open, key)
	delete(sc.unknown, key)
	var ops []checkers.KVOp
	for _, i := range kc.calls {
		if op, ok := kvOp(*sc.history.Call(i)); ok {
			ops = append(ops, op)
		}
		sc.history.Forget(i)
	}
	ops = append(ops, extra...)
	if len(ops) == 0 {
		return
	}
	sc.win.anyKVOp = true
	sc.markIndeterminateCommitted(s, ops)
	lin := checkers.LinearizableOptions{Timeout: LinearizabilityTimeout}
	if sc.LinearizabilityTimeout > 0 {
		lin.Timeout = sc.LinearizabilityTimeout
	}
	if sc.artifacts != "" && sc.win.html == "" {
		if err := os.MkdirAll(sc.artifacts, 0o755); err == nil {
			// Named by seed: a later failure must not overwrite the
			// view an earlier failure file points to.
			lin.HTMLPath = filepath.Join(sc.artifacts, fmt.Sprintf("linearizability-store-%d.html", sc.sim.Seed()))
			lin.Annotations = sc.annotations(s)
		}
	}
	linV, rep := checkers.CheckLinearizable(ops, lin)
	if rep.HTMLPath != "" && linV.Status == harness.Violated {
		sc.win.html = rep.HTMLPath
		sc.artifactPaths = append(sc.artifactPaths, rep.HTMLPath)
	} else if rep.HTMLPath != "" {
		os.Remove(rep.HTMLPath)
	}
	sc.win.lin.Add(key, linV, len(ops))
	durV := checkers.CheckDurability(ops)
	if durV.Status == harness.Violated && durV.At > 0 {
		sc.win.durAt = earliest(sc.win.durAt, durV.At)
	}
	sc.win.dur.Add(key, durV, len(ops))
	if strings.HasPrefix(key, "k") {
		sc.win.final[key] = finalOf(ops)
	}
}

// finalOf summarizes what a judged key may hold at the end.
func finalOf(ops []checkers.KVOp) finalState {
	f := finalState{values: map[string]bool{}}
	type w struct {
		start, end time.Duration
		value      string
		absent     bool
		rev        int64
	}
	var acked []w
	for _, op := range ops {
		write := op.Kind == checkers.KVPut || op.Kind == checkers.KVDelete || op.Kind == checkers.KVCas
		if !write || op.Failed {
			continue
		}
		absent := op.Kind == checkers.KVDelete
		if op.Indeterminate {
			// May land at any time: always a possible final state.
			if absent {
				f.absent = true
			} else {
				f.values[op.Value] = true
			}
			continue
		}
		switch {
		case op.Kind == checkers.KVCas && !op.Succeeded, op.Kind == checkers.KVDelete && op.Deleted == 0:
			continue // wrote nothing
		}
		acked = append(acked, w{op.Start, op.End, op.Value, absent, op.Revision})
	}
	if len(acked) == 0 {
		f.absent = true // never written for sure: absent, or an indeterminate write
		return f
	}
	// The latest acknowledged writes: those no other acknowledged write
	// followed in real time.
	var latest []string
	for _, a := range acked {
		followed := false
		for _, b := range acked {
			if b.start > a.end {
				followed = true
				break
			}
		}
		if followed {
			continue
		}
		if a.absent {
			f.absent = true
			latest = append(latest, fmt.Sprintf("delete at revision %d", a.rev))
		} else {
			f.values[a.value] = true
			latest = append(latest, fmt.Sprintf("%q at revision %d", a.value, a.rev))
		}
	}
	sort.Strings(latest)
	f.what = strings.Join(latest, " or ")
	return f
}

// checkFinal compares the end-of-run read with every judged key's summary.
func (sc *Scenario) checkFinal() []string {
	fc := sc.finalCall()
	if len(sc.win.final) == 0 {
		return nil
	}
	if fc == nil || !fc.Done() || fc.Indeterminate || fc.Resp.Err != CodeOK {
		return nil // no final read: the judged keys keep their per-key verdicts
	}
	got := map[string]string{}
	for _, kv := range fc.Resp.Result.Results[0].KVs {
		got[kv.Key] = kv.Value
	}
	var bad []string
	for _, key := range harness.SortedKeys(sc.win.final) {
		f := sc.win.final[key]
		v, found := got[key]
		if found && f.values[v] || !found && f.absent {
			continue
		}
		now := "absent"
		if found {
			now = fmt.Sprintf("%q", v)
		}
		bad = append(bad, fmt.Sprintf("key %s lost acknowledged write %s after it went idle: the end-of-run read found %s", key, f.what, now))
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
	}
	return bad
}

// finalOps turns the end-of-run read into one get per open workload key,
// so that the per-key checks see what the store holds at the end.
func (sc *Scenario) finalOps(key string) []checkers.KVOp {
	fc := sc.finalCall()
	if fc == nil || !fc.Done() || fc.Indeterminate || fc.Resp.Err != CodeOK || !strings.HasPrefix(key, "k") {
		return nil
	}
	op := checkers.KVOp{Client: fc.Client, Kind: checkers.KVGet, Key: key, Start: fc.Start, End: fc.End, Revision: fc.Resp.Result.Revision}
	for _, kv := range fc.Resp.Result.Results[0].KVs {
		if kv.Key == key {
			op.Found, op.Got, op.Mod, op.Create, op.Version = true, kv.Value, kv.ModRevision, kv.CreateRevision, kv.Version
		}
	}
	return []checkers.KVOp{op}
}

// KVOps turns the calls that act on a single key (the workload's put, get,
// delete and compare-and-swap shapes) into the checkers' language: the
// scenario's judging, kept out of the clients' own record. Calls of
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
