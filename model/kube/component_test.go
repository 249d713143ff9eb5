package kube

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model/election"
)

// A user's own leader-elected controller, added with one registration: it
// mirrors the workload ReplicaSet's desired replicas into a ConfigMap.
// Every check and tool of the cluster must cover it from the registration
// alone; each test below plants a bug of the kind real controllers have and
// shows the derived check catch it.

const mirrorName = "default/web-replicas"

// mirror is a level-triggered controller: on every change it saw, and on
// becoming the leader, it compares the ConfigMap with the ReplicaSet and
// writes the difference. Its informers stay warm while it stands by.
type mirror struct {
	bugs        mirrorBugs
	rs, cms     Informer
	pass        SyncQueue
	lastWritten string
	seen        bool // updatesOnly: the ReplicaSet was seen before
}

type mirrorBugs struct {
	// withoutLease: standbys act too (the leader check was forgotten).
	withoutLease bool
	// updatesOnly: it reacts to updates of the ReplicaSet only, not to its
	// creation, and not when it starts leading (an informer handler with an
	// UpdateFunc and no AddFunc).
	updatesOnly bool
}

func mirrorComponent(b mirrorBugs) Elected {
	return Elected{Name: "mirror", Lease: "kube-system/mirror",
		New: func() Controller { return &mirror{bugs: b} },
		Recovered: func(t *Truth) error {
			rs, ok := t.Get(ReplicaSets, RSName)
			if !ok {
				return errors.New("no ReplicaSet " + RSName)
			}
			cm, ok := t.Get(ConfigMaps, mirrorName)
			if !ok {
				return errors.New("no ConfigMap " + mirrorName)
			}
			if want := strconv.Itoa(rs.Replicas); cm.Data != want {
				return fmt.Errorf("%s says %q, the ReplicaSet wants %s", mirrorName, cm.Data, want)
			}
			return nil
		}}
}

func (m *mirror) Start(ctx *harness.Ctx, r *Replica) {
	m.pass = SyncQueue{Tag: "mirror-sync"}
	m.rs = Informer{Kind: ReplicaSets, Client: r.Client(), OnChange: func(ctx *harness.Ctx, o Object, deleted bool) {
		if o.Name != RSName {
			return
		}
		if m.bugs.updatesOnly {
			// The informer's store already holds the object: an update
			// is a change to one this handler saw before.
			seen := m.seen
			m.seen = !deleted
			if !seen || deleted {
				return
			}
		}
		m.pass.Add(ctx)
	}}
	m.cms = Informer{Kind: ConfigMaps, Client: r.Client(), OnChange: func(ctx *harness.Ctx, o Object, _ bool) {
		if o.Name == mirrorName && !m.bugs.updatesOnly {
			m.pass.Add(ctx)
		}
	}}
	m.rs.Start(ctx)
	m.cms.Start(ctx)
}

func (m *mirror) Lead(ctx *harness.Ctx, _ *Replica) {
	if !m.bugs.updatesOnly {
		m.pass.Add(ctx)
	}
}

func (m *mirror) Handle(ctx *harness.Ctx, r *Replica, in harness.Input) bool {
	if m.rs.Handle(ctx, in) || m.cms.Handle(ctx, in) {
		return true
	}
	if m.pass.Due(in) {
		m.sync(ctx, r)
		return true
	}
	return false
}

func (m *mirror) sync(ctx *harness.Ctx, r *Replica) {
	if (!r.Leading() && !m.bugs.withoutLease) || !m.rs.Synced() || !m.cms.Synced() {
		return
	}
	rs, ok := m.rs.Get(RSName)
	if !ok {
		return
	}
	want := strconv.Itoa(rs.Replicas)
	cm, exists := m.cms.Get(mirrorName)
	if exists && cm.Data == want || m.lastWritten == want {
		return
	}
	verb := Update
	if !exists {
		verb = Create
	}
	m.lastWritten = want
	r.Write(ctx, Request{Verb: verb, Kind: ConfigMaps, Name: mirrorName, Obj: Object{Data: want}}, func(resp Response) {
		if resp.Code != StatusOK && resp.Code != StatusCreated {
			m.lastWritten = ""
			m.pass.Retry(ctx, time.Second) // requeue with a delay
		}
	})
}

func TestRegisteredComponentCleanRunsPass(t *testing.T) {
	cfg := Config{Components: []Elected{mirrorComponent(mirrorBugs{})}}
	// The active mirror's host crashes for a minute, then a partition cuts
	// the new one off: the role resolves to the mirror's active replica.
	sc, res := runCluster(t, cfg, 1, "at 20s crash @active-mirror for 1m\nat 1m40s partition {@active-mirror} | {m1 m2 m3} for 30s", 5*time.Minute)
	allOK(t, "clean mirror", res)
	v := verdicts(res)
	if _, ok := v["single-active/mirror"]; !ok {
		t.Fatalf("no single-active/mirror verdict: %v", res.Verdicts)
	}
	if d := v["recovers-after-heal"].Detail; !strings.Contains(d, "one active mirror after") || !strings.Contains(d, "mirror recovered after") {
		t.Errorf("recovers-after-heal does not judge the mirror: %s", d)
	}
	if d := v["deposed-writes"].Detail; !strings.Contains(d, "3 leases") {
		t.Errorf("deposed-writes does not follow the mirror's lease: %s", d)
	}
	if len(res.Faults) != 2 {
		t.Fatalf("%d faults fired, want 2", len(res.Faults))
	}
	for _, f := range res.Faults {
		if got := f.Resolved["active-mirror"]; !strings.HasSuffix(got, "/mirror") || len(f.Skipped) > 0 {
			t.Errorf("fault #%d: @active-mirror resolved to %q (skipped: %v)", f.Entry, got, f.Skipped)
		}
	}
	lanes := map[string]int{}
	for _, sp := range sc.Timeline(res.Sim) {
		lanes[sp.Lane]++
	}
	if lanes["active mirror"] < 2 {
		t.Errorf("timeline lane %q has %d tenures, want a failover", "active mirror", lanes["active mirror"])
	}
}

func TestRegisteredComponentSingleActive(t *testing.T) {
	cfg := Config{Components: []Elected{mirrorComponent(mirrorBugs{})}}
	// A pause longer than the lease: the leader wakes up acting after its
	// successor took over.
	_, res := runCluster(t, cfg, 1, "at 30s pause @active-mirror for 30s", 3*time.Minute)
	v := verdicts(res)["single-active/mirror"]
	if v.Status != harness.Violated || !strings.Contains(v.Detail, "-mirror-") {
		t.Fatalf("single-active/mirror = %s: %s", v.Status, v.Detail)
	}
	if v.Outside == "" {
		t.Errorf("a 30s pause is outside leader election's envelope; the verdict should say so")
	}
}

func TestRegisteredComponentDeposedWrites(t *testing.T) {
	cfg := Config{Components: []Elected{mirrorComponent(mirrorBugs{withoutLease: true})}}
	_, res := runCluster(t, cfg, 1, "", 3*time.Minute)
	v := verdicts(res)["deposed-writes"]
	if v.Status != harness.Violated || !strings.Contains(v.Detail, "configmaps/"+mirrorName) {
		t.Fatalf("deposed-writes = %s: %s", v.Status, v.Detail)
	}
	// The clean mirror, the same run: no write without the lease.
	cfg = Config{Components: []Elected{mirrorComponent(mirrorBugs{})}}
	_, res = runCluster(t, cfg, 1, "", 3*time.Minute)
	if v := verdicts(res)["deposed-writes"]; v.Status != harness.OK {
		t.Fatalf("clean mirror: deposed-writes = %s: %s", v.Status, v.Detail)
	}
}

func TestRegisteredComponentRecovery(t *testing.T) {
	// The ReplicaSet is created once and never rescaled: a mirror that
	// reacts to updates only never writes.
	cfg := Config{ScaleEvery: time.Hour, Components: []Elected{mirrorComponent(mirrorBugs{updatesOnly: true})}}
	_, res := runCluster(t, cfg, 1, "at 20s kill @active-mirror for 10s", 4*time.Minute)
	v := verdicts(res)["recovers-after-heal"]
	if v.Status != harness.Violated || !strings.Contains(v.Detail, "mirror recovered") || !strings.Contains(v.Detail, "no ConfigMap "+mirrorName) {
		t.Fatalf("recovers-after-heal = %s: %s", v.Status, v.Detail)
	}
	cfg.Components = []Elected{mirrorComponent(mirrorBugs{})}
	_, res = runCluster(t, cfg, 1, "at 20s kill @active-mirror for 10s", 4*time.Minute)
	if v := verdicts(res)["recovers-after-heal"]; v.Status != harness.OK {
		t.Fatalf("clean mirror: recovers-after-heal = %s: %s", v.Status, v.Detail)
	}
}

func TestRegisteredComponentGetsGeneratedFaults(t *testing.T) {
	sc := &Scenario{Cfg: Config{Components: []Elected{mirrorComponent(mirrorBugs{})}}}
	o := sc.GenOptions(10 * time.Minute)
	for _, want := range []string{"m1/mirror", "m2/mirror", "m3/mirror"} {
		if !contains(o.Procs, want) {
			t.Errorf("generated faults never strike %s: procs %v", want, o.Procs)
		}
	}
	if !contains(o.Roles, "active-mirror") {
		t.Errorf("generated faults never strike @active-mirror: roles %v", o.Roles)
	}
	cued := false
	for _, c := range o.Cues {
		cued = cued || contains(c.Roles, "active-mirror")
	}
	if !cued {
		t.Errorf("no cue aims at @active-mirror: %v", o.Cues)
	}
	// Some of a few dozen generated schedules strike the mirror, and every
	// one of them runs.
	struck := 0
	for seed := uint64(1); seed <= 40 && struck == 0; seed++ {
		sched := harness.Generate(harness.NewRand(seed, "faults"), o)
		if strings.Contains(sched.String(), "mirror") {
			struck++
		}
	}
	if struck == 0 {
		t.Fatalf("40 generated schedules never struck the mirror")
	}
}

func TestRegisteredComponentValidation(t *testing.T) {
	ok := mirrorComponent(mirrorBugs{})
	for _, c := range []struct {
		comps []Elected
		want  string
	}{
		{[]Elected{{Name: "Mirror", New: ok.New}}, "components[0].name"},
		{[]Elected{{Name: "apiserver", New: ok.New}}, "components[0].name: \"apiserver\" is taken"},
		{[]Elected{ok, ok}, "components[1].name: \"mirror\" is registered twice"},
		{[]Elected{{Name: "cm", New: ok.New}}, "components[0].name: \"cm\" is registered twice"},
		{[]Elected{{Name: "m2", Lease: LeaseScheduler, New: ok.New}}, "components[0].lease"},
		{[]Elected{{Name: "m2", Lease: "default/kube-scheduler", New: ok.New}}, "has the name of another component's lease"},
		{[]Elected{{Name: "m2", Lease: "nolease", New: ok.New}}, "components[0].lease: \"nolease\" is not namespace/name"},
		{[]Elected{{Name: "m2"}}, "components[0].new"},
	} {
		s := harness.NewSim(1, harness.TraceOptions{})
		err := (&Scenario{Cfg: Config{Components: c.comps}}).Build(s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("components %v: error %v, want one naming %q", c.comps, err, c.want)
		}
	}
}

// A cluster with registered components and resources (the mirror, a
// script that creates and deletes owners and dependents for the garbage
// collector) under generated faults is deterministic: the same seed gives
// the same trace, byte for byte, with GOMAXPROCS 1 and 2.
func TestRegisteredComponentsAreDeterministic(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	run := func(seed uint64, procs int) harness.Result {
		runtime.GOMAXPROCS(procs)
		var failed []string
		done, ran := false, 0
		uid := ""
		steps := []apiStep{
			{"create g1", func() Request {
				return Request{Verb: Create, Kind: gadgets.Kind, Name: "default/g1", Obj: Object{Spec: `{}`}}
			},
				func(r Response) string { uid = r.Obj.UID; return "" }},
			{"create w1", func() Request {
				return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Spec: `{"n":1}`, Labels: map[string]string{"b": "2", "a": "1"},
					OwnerRefs: []OwnerRef{{APIVersion: gadgets.APIVersion, Kind: gadgets.Kind, Name: "g1", UID: uid}}}}
			}, func(Response) string { return "" }},
			{"delete g1", func() Request { return Request{Verb: Delete, Kind: gadgets.Kind, Name: "default/g1"} }, func(Response) string { return "" }},
		}
		script := Elected{Name: "script", New: func() Controller { return &scripted{steps: steps, failed: &failed, done: &done, ran: &ran} }}
		sc := &Scenario{Cfg: Config{Resources: []Resource{gadgets, widgets}, Components: []Elected{mirrorComponent(mirrorBugs{}), script}}}
		sched := harness.Generate(harness.NewRand(seed, "faults"), sc.GenOptions(3*time.Minute))
		res, err := harness.Run(harness.Config{Scenario: unjudged{sc}, Duration: 3 * time.Minute, Trace: harness.TraceOptions{Keep: true}}, seed, sched)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for seed := uint64(1); seed <= 3; seed++ {
		a, b := run(seed, 1), run(seed, 2)
		if a.TraceHash != b.TraceHash || !bytes.Equal(a.Trace, b.Trace) {
			t.Fatalf("seed %d: the traces differ (%s vs %s)", seed, a.TraceHash, b.TraceHash)
		}
	}
}

// A registered component's writes are cues: an entry aimed at
// mirror-write strikes the replica that wrote, at the instant its
// write went out (the write still lands: it left before the kill).
func TestRegisteredComponentWritesAreCues(t *testing.T) {
	sched, err := harness.ParseSchedule("at 30s on mirror-write kill @cued for 20s")
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Cfg: Config{ScaleEvery: 40 * time.Second, Components: []Elected{mirrorComponent(mirrorBugs{})}}}
	res, err := harness.Run(harness.Config{Scenario: unjudged{sc}, Duration: 2 * time.Minute, Trace: harness.TraceOptions{Keep: true}}, 1, sched)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Faults) != 1 || len(res.Faults[0].Skipped) > 0 {
		t.Fatalf("faults %+v, want the kill to fire", res.Faults)
	}
	f := res.Faults[0]
	proc := f.Resolved["cued"]
	if !strings.HasSuffix(proc, "/mirror") {
		t.Fatalf("@cued resolved to %q, want a mirror replica", proc)
	}
	at := harness.FormatTime(f.At)
	issued := false
	for _, line := range strings.Split(string(res.Trace), "\n") {
		if strings.HasPrefix(line, at+" ") && strings.Contains(line, proc) && strings.Contains(line, "issues update configmaps/"+mirrorName) {
			issued = true
		}
	}
	if !issued {
		t.Fatalf("no write of %s went out at %s, when the kill fired", proc, at)
	}
	o := sc.GenOptions(10 * time.Minute)
	aimed := false
	for _, c := range o.Cues {
		aimed = aimed || c.Name == "mirror-write" && contains(c.Roles, "active-mirror")
		if c.Name == ControllerManagerComponent.WriteCue() {
			t.Errorf("generated faults aim at the built-in controller-manager's writes: %v", c)
		}
	}
	if !aimed {
		t.Errorf("generated faults never aim at the mirror's writes (and only at registered components'): %v", o.Cues)
	}
}

// A write of an object's status is a cue of its own besides the write
// cue: an entry aimed at script-status-write lets the create before it
// pass and strikes as the status write goes out. Generated faults aim
// held cuts and isolations at it, long enough for a successor to take
// over.
func TestStatusWritesAreCues(t *testing.T) {
	var failed []string
	done, ran := false, 0
	steps := []apiStep{
		{"create w1", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Spec: `{"size":1}`}}
		}, code(StatusCreated)},
		{"status of w1", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", Subresource: SubresourceStatus, PatchBody: `{"status":{"ready":1}}`}
		}, code(StatusOK)},
	}
	script := Elected{Name: "script", New: func() Controller {
		return &scripted{steps: steps, failed: &failed, done: &done, ran: &ran, write: true}
	}}
	sched, err := harness.ParseSchedule("at 0s on script-status-write kill @cued")
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Cfg: Config{Resources: []Resource{widgets}, Components: []Elected{script}}}
	res, err := harness.Run(harness.Config{Scenario: unjudged{sc}, Duration: time.Minute, Trace: harness.TraceOptions{Keep: true}}, 1, sched)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) > 0 || ran != 1 {
		t.Fatalf("%d of 2 steps answered, want the create's answer only (the kill came before the status write's): %v", ran, failed)
	}
	if len(res.Faults) != 1 || len(res.Faults[0].Skipped) > 0 {
		t.Fatalf("faults %+v, want the kill to fire", res.Faults)
	}
	f := res.Faults[0]
	proc, at := f.Resolved["cued"], harness.FormatTime(f.At)
	var created, patched string
	for _, line := range strings.Split(string(res.Trace), "\n") {
		switch {
		case !strings.Contains(line, proc):
		case strings.Contains(line, "issues create widgets/default/w1"):
			created = strings.Fields(line)[0]
		case strings.Contains(line, "issues patch widgets/default/w1"):
			patched = strings.Fields(line)[0]
		}
	}
	if created == "" || patched != at || created == at {
		t.Fatalf("the kill of %s fired at %s; its create went out at %q, its status write at %q", proc, at, created, patched)
	}
	lease := sc.Cfg.Timings.LeaseDuration
	if lease == 0 {
		lease = election.Defaults.LeaseDuration
	}
	for _, c := range sc.GenOptions(10 * time.Minute).Cues {
		if c.Name == script.StatusWriteCue() {
			if !c.Hold || c.MinFor <= lease || !slices.Equal(c.Kinds, []string{harness.KindPartition, harness.KindIsolate}) {
				t.Errorf("the status-write cue takes %v, held %t, for at least %s; want held cuts and isolations past the lease", c.Kinds, c.Hold, c.MinFor)
			}
			return
		}
	}
	t.Errorf("generated faults never aim at the script's status writes")
}

// A watch-gap signal makes the active replica's watches lose their
// events: the mirror misses the rescales made meanwhile and writes nothing
// until a later change reaches it after the gap.
func TestWatchGapLosesEvents(t *testing.T) {
	sched, err := harness.ParseSchedule("at 50s signal @active-mirror watch-gap for 70s")
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Cfg: Config{ScaleEvery: 20 * time.Second, Components: []Elected{mirrorComponent(mirrorBugs{})}}}
	res, err := harness.Run(harness.Config{Scenario: unjudged{sc}, Duration: 3 * time.Minute, Trace: harness.TraceOptions{Keep: true}}, 1, sched)
	if err != nil {
		t.Fatal(err)
	}
	proc := res.Faults[0].Resolved["active-mirror"]
	var lost int
	var inGap, after []string
	for _, line := range strings.Split(string(res.Trace), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.Contains(line, proc) {
			continue
		}
		at, _ := time.ParseDuration(f[0] + "s")
		if i := strings.Index(line, "watch gap over: "); i >= 0 {
			fmt.Sscanf(line[i:], "watch gap over: %d events lost", &lost)
		}
		if strings.Contains(line, "issues update configmaps/"+mirrorName) {
			if at > 51*time.Second && at < 120*time.Second {
				inGap = append(inGap, line)
			} else if at >= 120*time.Second {
				after = append(after, line)
			}
		}
	}
	if lost == 0 {
		t.Fatalf("%s lost no watch events in the gap", proc)
	}
	if len(inGap) > 0 {
		t.Errorf("the mirror followed the ReplicaSet during the gap:\n%s", strings.Join(inGap, "\n"))
	}
	if len(after) == 0 {
		t.Errorf("the mirror never caught up after the gap")
	}
	if o := sc.GenOptions(10 * time.Minute); !contains(o.Kinds, harness.KindSignal) || len(o.Signals) != 1 || !contains(o.Signals[0].Roles, "active-mirror") {
		t.Errorf("generated faults do not send watch-gap to the mirror: kinds %v, signals %+v", o.Kinds, o.Signals)
	}
	if o := (&Scenario{}).GenOptions(10 * time.Minute); contains(o.Kinds, harness.KindSignal) {
		t.Errorf("the default cluster's generated faults send signals: %v", o.Kinds)
	}
}
