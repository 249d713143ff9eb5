package judge

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// LinearizabilityTimeout bounds porcupine's search per run; past it the
// verdict is unknown, never ok.
const LinearizabilityTimeout = 20 * time.Second

// StoreRecoveryBudget is how long after the last fault the store must have
// a leader and serve a write and a linearizable read: two randomized
// election rounds (up to 2s each, with pre-vote), then the prober's period
// and call timeout, and slack: 10s.
var StoreRecoveryBudget = checkers.RecoveryBudget(store.ElectionTicks*store.TickInterval, 0, 0, 6*time.Second)

// KeyIdle is how long a key the clients have moved past must see no call
// before it is judged (see Store).
const KeyIdle = 2 * time.Minute

// Store is the store scenario judged. Its verdicts, in order: raft-safety
// (observed as the members ran), linearizability (porcupine over the
// single-key calls; its HTML view is written to the artifacts directory on
// a violation), acked-durable (no acknowledged write lost, no revision
// going back for a client) and recovers-after-heal (within
// StoreRecoveryBudget of the last fault's end: a raft leader, a write and
// a linearizable read through the prober).
//
// Long runs keep flat memory: the workload and the prober move to fresh
// keys every store.KeyEpoch of their local clocks and never return to old
// ones, so a key has a complete history once every client has called in
// a later epoch, none of its calls is in flight and it has seen no call
// for KeyIdle. (Idleness alone is not enough: a client that stood still
// for minutes comes back to its epoch's keys.) The judge checks it then
// (linearizability and durability, one key at a time as both checkers do
// anyway), keeps only a summary of what the key may finally hold, and
// has the history forget its calls. At the end the prober's read of every
// workload key checks the summaries: a write lost after its key went idle
// is still found.
type Store struct {
	store.Scenario
	// LinearizabilityTimeout overrides the package's for this judge (a
	// checker setting, not part of the run's spec).
	LinearizabilityTimeout time.Duration

	raft          *checkers.RaftSafety
	live          *checkers.Liveness
	win           window
	artifacts     string
	artifactPaths []string
}

// NewStore returns the store scenario of c, judged.
func NewStore(c store.Config) *Store { return &Store{Scenario: store.Scenario{Cfg: c}} }

// The liveness conditions: the leader sampling's, then the prober's.
const condLeader = "raft leader"

// Build implements harness.Scenario: it observes the scenario it builds.
func (j *Store) Build(s *harness.Sim) error {
	j.raft = checkers.NewRaftSafety()
	j.live = checkers.NewLiveness(model.CheckRecoversAfterHeal)
	j.live.Budget(StoreRecoveryBudget)
	for _, c := range []string{condLeader, store.ProbeWrite, store.ProbeRead} {
		j.live.Condition(c)
	}
	j.win.init()
	j.Observer, j.Raft = j, j.raft
	return j.Scenario.Build(s)
}

// SetArtifacts sets the directory where the linearizability view of a
// violation is written.
func (j *Store) SetArtifacts(dir string) { j.artifacts = dir }

// ArtifactPaths lists the views written by the last Check.
func (j *Store) ArtifactPaths() []string { return j.artifactPaths }

// Sampled implements store.Observer: a leader is a liveness condition, and
// every 30s the keys every client has moved past are judged.
func (j *Store) Sampled(s *harness.Sim, leader string) {
	j.live.Observe(s.Now(), condLeader, leader != "none", "leader "+leader)
	if s.Now()%(30*time.Second) == 0 {
		j.sweep(s)
	}
}

// Probed implements store.Observer.
func (j *Store) Probed(at time.Duration, cond string, ok bool, detail string) {
	j.live.Observe(at, cond, ok, detail)
}

// Check implements harness.Scenario.
func (j *Store) Check(s *harness.Sim) []harness.Verdict {
	j.artifactPaths = nil
	if j.win.html != "" {
		j.artifactPaths = append(j.artifactPaths, j.win.html)
	}
	for _, key := range harness.SortedKeys(j.win.open) {
		j.judge(s, key, j.finalOps(key))
	}
	linV := j.win.lin.Verdict(idleSummary(j.win.lin), nil)
	revs := append([]string(nil), j.win.revBad...)
	if n := j.win.revBackwards - len(revs); n > 0 {
		revs[len(revs)-1] += fmt.Sprintf(" (and %d more times a client's revision went backwards)", n)
	}
	final := j.checkFinal()
	durV := j.win.dur.Verdict(idleSummary(j.win.dur), append(revs, final...))
	if durV.Status == harness.Violated {
		durV.At = j.win.durAt
		if len(revs) > 0 {
			durV.At = earliest(durV.At, j.win.revAt)
		}
		if len(final) > 0 {
			// A lost write found only by the end-of-run read shows then.
			durV.At = earliest(durV.At, j.FinalRead().End)
		}
	}
	j.live.Healed(s.LastFaultEnd())
	liveV := j.live.Verdict(s.Now())
	if dist := s.Disturbed(); len(dist) > 0 {
		// Recovery is judged only once every fault is undone.
		liveV = harness.Verdict{Check: liveV.Check, Status: harness.Unknown,
			Detail: "faults still in effect at the end: " + strings.Join(dist, ", ")}
	}
	return []harness.Verdict{j.raft.Verdict(), linV, durV, liveV}
}

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

// window is the judge's per-key bookkeeping.
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
	// When acked-durable's violations were first seen (0: none yet), for
	// its verdict's At: a key's from CheckDurability, a client's revision
	// going back from the response that showed it. (Linearizability has
	// no single instant: its At stays unset.)
	durAt, revAt time.Duration
	// epochs: by client, the newest key epoch it called in.
	epochs map[int]int
}

func (w *window) init() {
	*w = window{open: map[string]*keyCalls{}, final: map[string]finalState{}, revs: map[int]int64{}, inFlight: map[int]string{},
		lin: checkers.KeyTally{Check: model.CheckLinearizability}, dur: checkers.KeyTally{Check: model.CheckAckedDurable},
		epochs: map[int]int{}}
}

// earliest returns the earlier of a moment kept (0: none) and t.
func earliest(kept, t time.Duration) time.Duration {
	if kept == 0 || t < kept {
		return t
	}
	return kept
}

// Begin implements store.Observer.
func (j *Store) Begin(i int, c *store.Call) {
	op, ok := KVOp(*c)
	if !ok {
		return
	}
	key := op.Key
	kc := j.win.open[key]
	if kc == nil {
		kc = &keyCalls{}
		j.win.open[key] = kc
	}
	if e, seen := j.win.epochs[c.Client]; !seen || store.KeyEpochOf(key) > e {
		j.win.epochs[c.Client] = store.KeyEpochOf(key)
	}
	kc.calls = append(kc.calls, i)
	j.win.inFlight[i] = key
	kc.pending++
	kc.last = c.Start
}

// End implements store.Observer.
func (j *Store) End(i int, c *store.Call) {
	// Per client, response-header revisions never go backwards (clients
	// are sequential: completion order is call order).
	if c.Resp.Err == store.CodeOK && !c.Indeterminate && c.Resp.Result.Revision > 0 && !c.Serializable {
		rev := c.Resp.Result.Revision
		if prev := j.win.revs[c.Client]; rev < prev {
			j.win.revAt = earliest(j.win.revAt, c.End)
			if j.win.revBackwards++; j.win.revBackwards <= 3 {
				j.win.revBad = append(j.win.revBad, fmt.Sprintf("client %d saw revision %d at %s after %d", c.Client, rev, c.End, prev))
			}
		}
		j.win.revs[c.Client] = max(j.win.revs[c.Client], rev)
	}
	key, ok := j.win.inFlight[i]
	if !ok {
		if c != j.FinalRead() {
			j.History().Forget(i)
		}
		return
	}
	delete(j.win.inFlight, i)
	kc := j.win.open[key]
	kc.pending--
	kc.last = c.End
}

// sweep judges the keys every client has moved past, idle for KeyIdle.
func (j *Store) sweep(s *harness.Sim) {
	// Every client (the workload's and the prober) must have moved on.
	if len(j.win.epochs) < j.Cfg.Clients+1 {
		return
	}
	done, first := 0, true
	for _, c := range harness.SortedKeys(j.win.epochs) {
		if e := j.win.epochs[c]; first || e < done {
			done, first = e, false
		}
	}
	for _, key := range harness.SortedKeys(j.win.open) {
		if kc := j.win.open[key]; kc.pending == 0 && s.Now()-kc.last >= KeyIdle && store.KeyEpochOf(key) < done {
			j.judge(s, key, nil)
		}
	}
}

// judge checks one key's history (plus extra ops) and forgets it.
func (j *Store) judge(s *harness.Sim, key string, extra []checkers.KVOp) {
	kc := j.win.open[key]
	delete(j.win.open, key)
	var ops []checkers.KVOp
	h := j.History()
	for _, i := range kc.calls {
		if op, ok := KVOp(*h.Call(i)); ok {
			ops = append(ops, op)
		}
		h.Forget(i)
	}
	ops = append(ops, extra...)
	if len(ops) == 0 {
		return
	}
	markIndeterminateCommitted(s, ops)
	lin := checkers.LinearizableOptions{Timeout: LinearizabilityTimeout}
	if j.LinearizabilityTimeout > 0 {
		lin.Timeout = j.LinearizabilityTimeout
	}
	if j.artifacts != "" && j.win.html == "" {
		if err := os.MkdirAll(j.artifacts, 0o755); err == nil {
			// Named by seed: a later failure must not overwrite the
			// view an earlier failure file points to.
			lin.HTMLPath = filepath.Join(j.artifacts, fmt.Sprintf("linearizability-store-%d.html", s.Seed()))
			lin.Annotations = j.annotations(s)
		}
	}
	linV, rep := checkers.CheckLinearizable(ops, lin)
	if rep.HTMLPath != "" && linV.Status == harness.Violated {
		j.win.html = rep.HTMLPath
		j.artifactPaths = append(j.artifactPaths, rep.HTMLPath)
	} else if rep.HTMLPath != "" {
		os.Remove(rep.HTMLPath)
	}
	j.win.lin.Add(key, linV, len(ops))
	durV := checkers.CheckDurability(ops)
	if durV.Status == harness.Violated && durV.At > 0 {
		j.win.durAt = earliest(j.win.durAt, durV.At)
	}
	j.win.dur.Add(key, durV, len(ops))
	if strings.HasPrefix(key, "k") {
		j.win.final[key] = finalOf(ops)
	}
}

// annotations turn the run's faults and raft leaders into marks on the
// linearizability view.
func (j *Store) annotations(s *harness.Sim) []checkers.Annotation {
	var out []checkers.Annotation
	for _, f := range s.FaultLog() {
		end := f.End
		if end < 0 {
			end = s.Now()
		}
		out = append(out, checkers.Annotation{Start: f.At, End: end, Tag: "faults", Description: f.Text})
	}
	for _, l := range j.Leaders() {
		out = append(out, checkers.Annotation{Start: l.From, End: l.To, Tag: "raft leader", Description: l.Who})
	}
	return out
}

// markIndeterminateCommitted marks runs where a write whose client never
// learned its outcome was later read: the indeterminate case that matters.
func markIndeterminateCommitted(s *harness.Sim, ops []checkers.KVOp) {
	pending := map[string]bool{}
	for _, op := range ops {
		if op.Indeterminate && (op.Kind == checkers.KVPut || op.Kind == checkers.KVCas) {
			pending[op.Key+"\x00"+op.Value] = true
		}
	}
	for _, op := range ops {
		if op.Found && pending[op.Key+"\x00"+op.Got] {
			s.Mark("indeterminate-write-committed")
			return
		}
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

// finalRead returns the end-of-run read if it answered.
func (j *Store) finalRead() (*store.Call, bool) {
	fc := j.FinalRead()
	if fc == nil || !fc.Done() || fc.Indeterminate || fc.Resp.Err != store.CodeOK {
		return nil, false
	}
	return fc, true
}

// checkFinal compares the end-of-run read with every judged key's summary.
func (j *Store) checkFinal() []string {
	if len(j.win.final) == 0 {
		return nil
	}
	fc, ok := j.finalRead()
	if !ok {
		return nil // no final read: the judged keys keep their per-key verdicts
	}
	got := map[string]string{}
	for _, kv := range fc.Resp.Result.Results[0].KVs {
		got[kv.Key] = kv.Value
	}
	var bad []string
	for _, key := range harness.SortedKeys(j.win.final) {
		f := j.win.final[key]
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
func (j *Store) finalOps(key string) []checkers.KVOp {
	fc, ok := j.finalRead()
	if !ok || !strings.HasPrefix(key, "k") {
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

// KVOp turns one call into the checkers' language: the calls that act on
// a single key (the workload's put, get, delete and compare-and-swap
// shapes); false for calls of other shapes (multi-key transactions,
// ranges, compactions).
func KVOp(c store.Call) (checkers.KVOp, bool) {
	t := c.Txn
	op := checkers.KVOp{Client: c.Client, Start: c.Start, End: c.End, Indeterminate: c.Indeterminate}
	single := func(ops []store.Op, kind store.OpKind) bool {
		return len(ops) == 1 && ops[0].Kind == kind && !ops[0].Prefix && ops[0].Revision == 0 && ops[0].Limit == 0
	}
	plain := len(t.Compares) == 0 && len(t.Failure) == 0
	switch {
	case c.Compact > 0 || c.Serializable:
		return op, false
	case plain && single(t.Success, store.OpPut):
		op.Kind, op.Key, op.Value = checkers.KVPut, t.Success[0].Key, t.Success[0].Value
	case plain && single(t.Success, store.OpRange):
		op.Kind, op.Key = checkers.KVGet, t.Success[0].Key
	case plain && single(t.Success, store.OpDelete):
		op.Kind, op.Key = checkers.KVDelete, t.Success[0].Key
	case len(t.Compares) == 1 && t.Compares[0].Target == store.TargetMod && t.Compares[0].Result == store.Equal &&
		single(t.Success, store.OpPut) && single(t.Failure, store.OpRange) &&
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
	if !c.Done() || c.Resp.Err != store.CodeOK {
		// A read that failed, or a write refused before it reached a
		// member: no effect. (Writes that may have reached one are
		// indeterminate, above.)
		op.Failed = true
		return op, true
	}
	r := c.Resp.Result
	op.Revision = r.Revision
	op.Succeeded = r.Succeeded
	read := func(res store.OpResult) {
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
