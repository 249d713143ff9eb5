package ctrl

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"pgregory.net/rapid"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"hasim/checkers/judge"
	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model/election"
	"hasim/model/kube"
	"hasim/properties"
)

// Setup is what Check runs: the user's scheme and reconcilers, the objects
// a user of the API creates and changes, and what must hold.
type Setup struct {
	// Scheme knows the user's kinds.
	Scheme *runtime.Scheme
	// Reconcilers are registered in the cluster, each with a replica on
	// every master (see Options).
	Reconcilers []Options
	// Objects are created at the start of every run, in order, by a user
	// of the API outside the fault model (on host DriverHost, through the
	// load balancer), each retried until it lands.
	Objects []client.Object
	// Changes are what that user writes later, in time order, each after
	// the one before it has landed.
	Changes []Change
	// Invariants, if set, makes a run's safety invariants, afresh for
	// every run (so that an invariant may remember what it saw earlier in
	// the run, such as the highest observedGeneration). Each is judged at
	// every new store revision, on the store's ground truth, and gives the
	// verdict invariant/<Name>.
	Invariants func() []Invariant
	// Settled, if set, is what "settled" means once the faults are over:
	// it must hold within the cluster's recovery budget after the last
	// fault heals (judged as kube.Elected.Recovered, in
	// recovers-after-heal, under the first reconciler's condition
	// "<lease> recovered").
	Settled func(s State) error
	// Duration is each run's simulated length [4m]; the last
	// Cluster.Settle of it [100s, more than the cluster's recovery
	// budget] is left free of faults, so that Settled is judged.
	Duration time.Duration
	// Cluster sets the cluster's knobs (Masters, Workers, Topology,
	// Timings, Settle, ...); the reconcilers' registrations and kinds are
	// added to its Components and Resources.
	Cluster kube.Config
	// Cases is how many cases Check draws [rapid's -rapid.checks, 100;
	// rapid runs a fifth under -short].
	Cases int
	// ShrinkRuns bounds how many more runs rapid may spend shrinking a
	// failure once found, and then how many the shrink of the schedule
	// itself may (dropping entries, shortening faults) [0: rapid up to
	// its -rapid.shrinktime, 30s; then SoakShrinkRuns].
	ShrinkRuns int
	// WatchGaps lets generated schedules make the reconcilers' watches
	// lose their events for a while (the cluster's watch-gap signal). Off
	// by default: a Kubernetes informer does not lose events silently, so
	// this is a fault beyond the real cluster's, for reconcilers that
	// mean to survive a cache that missed a change for good (reading what
	// matters through Replica.GetAPIReader, say); one that reads only its
	// caches cannot.
	WatchGaps bool
	// RecheckEvery: every RecheckEvery-th case (and the first, and the
	// failure reported) is run twice and the traces compared [10;
	// negative: only the first and the failure].
	RecheckEvery int
}

// Invariant is a user's safety property of the API's objects, judged on
// the ground truth at every new store revision.
type Invariant struct {
	// Name is a word of lower-case letters, digits and dashes.
	Name string
	// Check returns why the state breaks the invariant, or nil.
	Check func(s State) error
}

// Seeds is how many root seeds the cases draw from: few enough that rapid
// shrinks a seed quickly (a whole run per try); the schedule makes the
// variety.
const Seeds = 1 << 12

// FailureDir is where Check writes a failure's files, under the test
// package's directory, in a directory named after the test.
const FailureDir = "hasim-failures"

// Failure is what Find found: a case that fails, shrunk, or a
// nondeterministic reconciler.
type Failure struct {
	// Nondeterministic: the same case ran twice gave two traces; Diff
	// says where they part.
	Nondeterministic bool
	Diff             string
	// Broke names what failed ("invariant/at-most-replicas violated").
	Broke []string
	// Seed and Schedule are the (shrunk) case; Duration its length.
	Seed     uint64
	Schedule harness.Schedule
	Duration time.Duration
	// Verdicts are every check's verdict of the case.
	Verdicts []harness.Verdict
	// FoundAt is the number of the case (from 1) that first failed;
	// Cases how many cases ran in all, shrinking included.
	FoundAt, Cases int
	// Dir holds the failure's files: case.txt (what the replay runs),
	// trace.txt, and the checkers' views.
	Dir string
	// Replay is the command that replays the case exactly.
	Replay string
	// Report is the whole message Check fails with.
	Report string
}

// String returns the report.
func (f *Failure) String() string { return f.Report }

// Check draws cases with rapid, each a seed and a fault schedule
// generated for the cluster (with the reconcilers registered: their roles
// @active-<name>, processes and write cues), runs each (Manager.Run) and
// fails the test on the first case whose verdicts fail (harness.Verdict.Fails:
// an invariant broken, Settled not reached in time, or one of the
// cluster's own checks), shrunk to a minimal schedule. The message gives
// the seed, the schedule, every verdict and one command that replays the
// case exactly; the trace and the checkers' views are written under
// FailureDir. A reconciler whose runs are not deterministic (goroutines,
// map order) is reported as such, with the first trace line that differs.
//
// With -hasim.replay=FILE (a case.txt that Check wrote), Check runs that
// case only, if FILE names this test, and fails as it did.
//
// Simulations run one at a time per process: Check must not run in
// parallel tests.
func Check(t *testing.T, s Setup) {
	t.Helper()
	if soakOrRepro(t, s) {
		return
	}
	if *replayFlag != "" {
		replay(t, t.Name(), s)
		return
	}
	if f := find(t, s, false); f != nil {
		t.Fatal(f.Report)
	}
}

// Find is Check for tests that expect a failure (that a planted bug is
// caught): it returns the failure, or nil when every case passed, and
// fails t only when the setup cannot run. It neither writes nor replays
// rapid's fail files. With -hasim.replay it replays as Check does (and
// returns nil).
func Find(t *testing.T, s Setup) *Failure {
	t.Helper()
	if *replayFlag != "" {
		replay(t, t.Name(), s)
		return nil
	}
	return find(t, s, true)
}

// Fuzz is Check as a fuzz target: each input is decoded into a case as
// rapid draws it (rapid.MakeFuzz), run, and reported as Check reports it
// (every failing input is rechecked for determinism). Call it from a
// FuzzXxx function: go test -fuzz FuzzXxx. -hasim.replay works as for
// Check.
//
// An input too short to draw a whole case is skipped, and the fuzzer's
// own mutations rarely grow one long enough, so the corpus starts from
// FuzzSeeds inputs of FuzzSeedBytes random bytes (the same in every run),
// each a whole case: mutations of them stay runnable.
func Fuzz(f *testing.F, s Setup) {
	f.Helper()
	if *replayFlag != "" {
		f.Add([]byte{})
		f.Fuzz(func(t *testing.T, _ []byte) { replay(t, f.Name(), s) })
		return
	}
	r, err := newRunner(s, f.Name())
	if err != nil {
		f.Fatal(err)
	}
	r.fuzz = true
	for i := range FuzzSeeds {
		data := make([]byte, FuzzSeedBytes)
		_, _ = harness.NewRand(uint64(i), "ctrl-fuzz-seed").Read(data)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r.t = t
		rapid.MakeFuzz(r.prop)(t, data)
	})
}

// FuzzSeeds and FuzzSeedBytes size the corpus Fuzz starts from: a case
// draws a few kilobytes.
const (
	FuzzSeeds     = 8
	FuzzSeedBytes = 8 << 10
)

// runner runs the cases of one Check.
type runner struct {
	s    Setup
	name string // the test's name, for files and the replay command
	t    *testing.T
	opts harness.GenOptions
	fuzz bool

	cases, foundAt int
	// The last failing case (rapid's smallest so far), its key and its
	// outcome; spent counts the runs since the first failure.
	failing    *caseSpec
	failingKey string
	failingOut outcome
	spent      int
	// nondet is set once two runs of a case differed.
	nondet *Failure
}

// caseSpec is one case: what a run depends on besides the setup.
type caseSpec struct {
	seed  uint64
	sched harness.Schedule
}

func (c caseSpec) key() string { return strconv.FormatUint(c.seed, 10) + "\n" + c.sched.String() }

// outcome is what a run of a case gave.
type outcome struct {
	res   harness.Result
	broke []string
	paths []string
}

func newRunner(s Setup, name string) (*runner, error) {
	if s.Scheme == nil || len(s.Reconcilers) == 0 {
		return nil, fmt.Errorf("hasim/ctrl: a Setup needs a Scheme and at least one reconciler")
	}
	if s.Duration == 0 {
		s.Duration = 4 * time.Minute
	}
	if s.Cluster.Settle == 0 {
		s.Cluster.Settle = 100 * time.Second
	}
	if s.RecheckEvery == 0 {
		s.RecheckEvery = 10
	}
	if s.Cluster.Settle >= s.Duration {
		return nil, fmt.Errorf("hasim/ctrl: Cluster.Settle %s leaves no time for faults in a run of %s", s.Cluster.Settle, s.Duration)
	}
	r := &runner{s: s, name: name}
	_, cfg, _, err := r.build()
	if err != nil {
		return nil, err
	}
	r.opts = election.Safe.Bound((&kube.Scenario{Cfg: cfg}).GenOptions(s.Duration))
	// Every case aims half its faults at cues (the reconcilers' writes
	// first among them) rather than drawing the share, which leaves a
	// third of the cases aiming at nothing: here the moments that matter
	// are known. (Under rapid, which favours small draws, somewhat fewer
	// than half end up aimed.)
	r.opts.Aim = 50
	if !s.WatchGaps {
		var keep []harness.SignalSpec
		for _, sig := range r.opts.Signals {
			if sig.Name != kube.SignalWatchGap {
				keep = append(keep, sig)
			}
		}
		r.opts.Signals = keep
	}
	return r, nil
}

// build makes a run's manager, cluster config and driver writes.
func (r *runner) build() (*Manager, kube.Config, []plannedWrite, error) {
	m := NewManager(r.s.Scheme)
	cfg := r.s.Cluster
	cfg.Components = append([]kube.Elected(nil), cfg.Components...)
	for i, o := range r.s.Reconcilers {
		if i == 0 && r.s.Settled != nil {
			own := o.Recovered
			o.Recovered = func(t *kube.Truth) error {
				if own != nil {
					if err := own(t); err != nil {
						return err
					}
				}
				return r.s.Settled(State{m: m, t: t})
			}
		}
		cfg.Components = append(cfg.Components, m.Elected(o))
	}
	for i, o := range r.s.Objects {
		if _, err := m.serve(o); err != nil {
			return nil, cfg, nil, fmt.Errorf("hasim/ctrl: objects[%d]: %w", i, err)
		}
	}
	for i, c := range r.s.Changes {
		if _, err := m.serve(c.Object); err != nil {
			return nil, cfg, nil, fmt.Errorf("hasim/ctrl: changes[%d]: %w", i, err)
		}
	}
	cfg.Resources = append(append([]kube.Resource(nil), cfg.Resources...), m.Resources()...)
	writes, err := m.plan(r.s.Objects, r.s.Changes)
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("hasim/ctrl: %w", err)
	}
	return m, cfg, writes, nil
}

// run runs a case: with its trace kept in memory when keep is set, and the
// checkers' views written to artifacts when it is not "".
func (r *runner) run(c caseSpec, keep bool, artifacts string) (outcome, error) {
	trace := harness.TraceOptions{Off: true}
	if keep {
		trace = harness.TraceOptions{Keep: true}
	}
	return r.runTraced(c, trace, artifacts)
}

// runTraced runs a case with the trace options given.
func (r *runner) runTraced(c caseSpec, trace harness.TraceOptions, artifacts string) (outcome, error) {
	m, cfg, writes, err := r.build()
	if err != nil {
		return outcome{}, err
	}
	j := judge.NewCluster(cfg)
	if r.s.Invariants != nil {
		g := &gate{m: m}
		for i, inv := range r.s.Invariants() {
			g.last = append(g.last, nil)
			j.Invariants = append(j.Invariants, judge.Invariant{Name: inv.Name,
				Check: func(t *kube.Truth) error {
					if g.changed(t) {
						g.last[i] = inv.Check(State{m: m, t: t})
					}
					return g.last[i]
				}})
		}
	}
	if artifacts != "" {
		j.SetArtifacts(artifacts)
	}
	start := time.Now() //detlint:allow wallclock the run's real duration, measured outside the bubble
	res, err := m.Run(r.t, harness.Config{Scenario: &withDriver{Cluster: j, writes: writes}, Duration: r.s.Duration, Trace: trace}, c.seed, c.sched)
	if err != nil {
		return outcome{}, err
	}
	// Inside the bubble the run's own wall clock is simulated time.
	res.Wall = time.Since(start) //detlint:allow wallclock as above
	out := outcome{res: res, paths: j.ArtifactPaths()}
	for _, v := range res.Verdicts {
		if v.Fails() {
			out.broke = append(out.broke, string(v.Check)+" violated")
		}
	}
	return out, nil
}

// gate calls a run's invariants only at the revisions that changed an
// object of a served kind: the others (leases renewed, pods, the users'
// ConfigMaps) change nothing an invariant reads, and each keeps its last
// answer. Converting the objects through the scheme is what costs.
type gate struct {
	m    *Manager
	rev  int64
	seen string // the served objects' names and resourceVersions at rev
	diff bool   // whether they changed at rev
	last []error
}

// changed reports whether the served objects changed at t's revision.
func (g *gate) changed(t *kube.Truth) bool {
	if t.Rev() == g.rev && g.seen != "" {
		return g.diff
	}
	var b strings.Builder
	for _, res := range harness.SortedKeys(g.m.resources) {
		for _, o := range t.Versions(res) { // names and resourceVersions only: nothing decoded
			b.WriteString(o.Name)
			b.WriteByte(' ')
			b.WriteString(strconv.FormatInt(o.RV, 10))
			b.WriteByte('\n')
		}
		b.WriteByte('|')
	}
	now := b.String()
	g.rev, g.diff, g.seen = t.Rev(), now != g.seen, now
	return g.diff
}

// prop is the rapid property: draw a case, run it, fail if it fails.
func (r *runner) prop(rt *rapid.T) {
	c := caseSpec{seed: rapid.Uint64Range(0, Seeds-1).Draw(rt, "seed")}
	c.sched = properties.DrawSchedule(rt, r.opts, nil)
	msg := r.judgeCase(c)
	if msg != "" {
		rt.Fatal(msg) // one call site: rapid tells failures apart by where they come from
	}
}

// judgeCase runs a case (unless its outcome is known) and returns why it
// fails, or "".
func (r *runner) judgeCase(c caseSpec) string {
	if r.nondet != nil {
		// Found already: every further case fails at once, so that
		// rapid's shrinking ends quickly.
		return "nondeterministic (found before)"
	}
	key := c.key()
	if r.failing != nil && key == r.failingKey {
		return brief(r.failingOut.broke) // runs are deterministic
	}
	if r.failing != nil && r.s.ShrinkRuns > 0 && r.spent >= r.s.ShrinkRuns {
		return "" // the shrink budget is spent: rapid keeps the smallest failure so far
	}
	if r.failing != nil {
		r.spent++
	}
	r.cases++
	recheck := r.cases == 1 || r.s.RecheckEvery > 0 && r.cases%r.s.RecheckEvery == 0
	out, err := r.run(c, recheck, "")
	if err != nil {
		r.t.Fatalf("hasim/ctrl: seed %d: %v", c.seed, err)
	}
	if recheck {
		again, err := r.run(c, true, "")
		if err != nil {
			r.t.Fatalf("hasim/ctrl: seed %d: %v", c.seed, err)
		}
		if d := traceDiff(out.res.Trace, again.res.Trace); d != "" {
			r.nondet = r.nondeterministic(c, d)
			if r.fuzz {
				return r.nondet.Report
			}
			return "nondeterministic"
		}
	}
	if len(out.broke) == 0 {
		return ""
	}
	if r.foundAt == 0 {
		r.foundAt = r.cases
	}
	r.failing, r.failingKey, r.failingOut = &c, key, out
	if r.fuzz {
		if f := r.finish(); f != nil {
			return f.Report
		}
	}
	return brief(out.broke)
}

func brief(broke []string) string { return strings.Join(broke, ", ") }

// find runs the property and returns what it found. quiet: rapid's fail
// files are neither written nor replayed.
func find(t *testing.T, s Setup, quiet bool) *Failure {
	t.Helper()
	r, err := newRunner(s, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	restore := setFlags(t, s.Cases, quiet)
	tb := &quietTB{t: t, name: t.Name()}
	if quiet {
		tb.name += "/hasim-find" // never matches a fail file Check wrote
	}
	start := time.Now() //detlint:allow wallclock reports the speed of the cases, outside the simulation
	rapid.Check(tb, r.prop)
	restore()
	wall := time.Since(start) //detlint:allow wallclock as above
	t.Logf("hasim/ctrl: %d cases (each %s simulated) in %s: %.1f cases/s", r.cases, s.durationOrDefault(), wall.Round(time.Millisecond), float64(r.cases)/wall.Seconds())
	if r.nondet != nil {
		r.nondet.Cases = r.cases
		return r.nondet
	}
	if r.failing == nil {
		if tb.failed {
			t.Fatalf("hasim/ctrl: rapid failed without a failing case:\n%s", strings.Join(tb.msgs, "\n"))
		}
		return nil
	}
	return r.finish()
}

func (s Setup) durationOrDefault() time.Duration {
	if s.Duration == 0 {
		return 4 * time.Minute
	}
	return s.Duration
}

// finish turns the failing case into the failure reported: it runs it
// twice more with the trace kept (the first run writing the checkers'
// views) and compares them, writes the case and the trace, and builds the
// report.
func (r *runner) finish() *Failure {
	c := *r.failing
	if !r.fuzz {
		c = r.minimize(c)
	}
	dir, err := filepath.Abs(filepath.Join(FailureDir, fileName(r.name)))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	a, err := r.run(c, true, dir)
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := r.run(c, true, "")
	if err != nil {
		r.t.Fatal(err)
	}
	if d := traceDiff(a.res.Trace, b.res.Trace); d != "" {
		return r.nondeterministic(c, d)
	}
	f := &Failure{Broke: a.broke, Seed: c.seed, Schedule: c.sched, Duration: r.s.durationOrDefault(), Verdicts: a.res.Verdicts,
		FoundAt: r.foundAt, Cases: r.cases, Dir: dir}
	files, err := r.writeCase(dir, c, a.res)
	if err != nil {
		r.t.Fatal(err)
	}
	files = append(files, a.paths...)
	f.Replay = replayCommand(r.name, filepath.Join(dir, "case.txt"))
	var w strings.Builder
	fmt.Fprintf(&w, "hasim/ctrl: %s: %s\n", r.name, brief(a.broke))
	fmt.Fprintf(&w, "  found at case %d; shrunk over %d cases in all\n", r.foundAt, r.cases)
	fmt.Fprintf(&w, "  seed %d, %s simulated, trace hash %s\n", c.seed, f.Duration, a.res.TraceHash)
	fmt.Fprintf(&w, "  schedule (%d faults):\n%s\n", properties.Faults(c.sched), indent(c.sched.String(), "    "))
	w.WriteString("  verdicts:\n")
	for _, v := range a.res.Verdicts {
		fmt.Fprintf(&w, "    %-8s %s: %s\n", v.Status, v.Check, v.Detail)
	}
	for _, p := range files {
		fmt.Fprintf(&w, "  %s\n", p)
	}
	fmt.Fprintf(&w, "  replay: %s\n", f.Replay)
	f.Report = w.String()
	return f
}

// minimize shrinks the failing case's schedule further, with the same
// seed: rapid shrinks the draws the case came from, which can leave
// entries that no longer matter (a fault drawn before the one that
// breaks the check), so whole entries are dropped, composite faults split
// and faults shortened while the case still fails one of the checks it
// failed (scenarios.ShrinkWith, as soaks shrink). It spends at most
// ShrinkRuns runs [SoakShrinkRuns when unset].
func (r *runner) minimize(c caseSpec) caseSpec {
	var want []harness.CheckName
	for _, v := range r.failingOut.res.Verdicts {
		if v.Fails() {
			want = append(want, v.Check)
		}
	}
	budget := r.s.ShrinkRuns
	if budget <= 0 {
		budget = SoakShrinkRuns
	}
	run := func(s harness.Schedule) (harness.Result, error) {
		r.cases++
		o, err := r.run(caseSpec{seed: c.seed, sched: s}, false, "")
		return o.res, err
	}
	small, _, err := scenarios.ShrinkWith(run, c.sched, want, budget)
	if err != nil {
		r.t.Logf("hasim/ctrl: shrinking the schedule further: %v", err)
		return c
	}
	c.sched = small
	return c
}

// nondeterministic describes a case whose two runs differed.
func (r *runner) nondeterministic(c caseSpec, diff string) *Failure {
	f := &Failure{Nondeterministic: true, Diff: diff, Seed: c.seed, Schedule: c.sched, Duration: r.s.durationOrDefault(),
		FoundAt: r.cases, Cases: r.cases}
	var w strings.Builder
	fmt.Fprintf(&w, "hasim/ctrl: %s: your reconciler is nondeterministic: case %d (seed %d), run twice, gave two different traces;\n", r.name, r.cases, c.seed)
	w.WriteString("  hasim needs a run to be a function of its seed and schedule: no goroutines, no ranging over maps\n")
	w.WriteString("  where the order reaches a write, no unseeded randomness, no real time. The first difference:\n")
	w.WriteString(indent(diff, "    ") + "\n")
	fmt.Fprintf(&w, "  schedule (%d faults):\n%s\n", properties.Faults(c.sched), indent(c.sched.String(), "    "))
	f.Report = w.String()
	return f
}

// traceDiff returns where two traces first differ ("" if they do not).
func traceDiff(a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y || i >= len(la) || i >= len(lb) {
			return fmt.Sprintf("line %d:\n  first run:  %s\n  second run: %s", i+1, x, y)
		}
	}
}

// indent prefixes every line of text.
func indent(text, prefix string) string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return prefix + "(no faults)"
	}
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}

// fileName makes a test's name a directory name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// setFlags sets rapid's case count (when cases > 0) and, when quiet,
// turns its fail files off; the returned function restores them.
func setFlags(t *testing.T, cases int, quiet bool) func() {
	var undo []func()
	set := func(name, value string) {
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("hasim/ctrl: rapid's flag -%s is not registered", name)
		}
		old := f.Value.String()
		if err := f.Value.Set(value); err != nil {
			t.Fatal(err)
		}
		undo = append(undo, func() { _ = f.Value.Set(old) })
	}
	if cases > 0 {
		set("rapid.checks", strconv.Itoa(cases))
	}
	if quiet {
		set("rapid.nofailfile", "true")
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// quietTB is the testing.TB rapid reports to: it keeps rapid's failure
// messages (Check reports its own) and does not stop the test.
type quietTB struct {
	t      *testing.T
	name   string
	failed bool
	msgs   []string
}

func (q *quietTB) Helper()      { q.t.Helper() }
func (q *quietTB) Name() string { return q.name }

// Logf passes rapid's logs on until it fails: after that rapid replays
// the failing case with its draws, which Check's report says better.
func (q *quietTB) Logf(f string, args ...any) {
	if !q.failed {
		q.t.Logf(f, args...)
	}
}

// Log is Logf without a format.
func (q *quietTB) Log(args ...any) {
	if !q.failed {
		q.t.Log(args...)
	}
}
func (q *quietTB) Skipf(f string, args ...any) {
	q.t.Skipf(f, args...)
}
func (q *quietTB) Skip(args ...any)             { q.t.Skip(args...) }
func (q *quietTB) SkipNow()                     { q.t.SkipNow() }
func (q *quietTB) Errorf(f string, args ...any) { q.fail(fmt.Sprintf(f, args...)) }
func (q *quietTB) Error(args ...any)            { q.fail(fmt.Sprint(args...)) }
func (q *quietTB) Fatalf(f string, args ...any) { q.fail(fmt.Sprintf(f, args...)) }
func (q *quietTB) Fatal(args ...any)            { q.fail(fmt.Sprint(args...)) }
func (q *quietTB) FailNow()                     { q.failed = true }
func (q *quietTB) Fail()                        { q.failed = true }
func (q *quietTB) Failed() bool                 { return q.failed }

func (q *quietTB) fail(msg string) {
	q.failed = true
	q.msgs = append(q.msgs, msg)
}
