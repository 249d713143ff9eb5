package ctrl

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/harness"
	"hasim/model"
	"hasim/model/kube"
)

// widgetSetup is the widget reconciler's Check setup: one widget, its
// message changed once, and what "configured" means as Settled.
func widgetSetup(newRec func(r Replica) reconcile.Reconciler) Setup {
	w := func(msg string) *Widget {
		return &Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "w1"}, Spec: WidgetSpec{Message: msg}}
	}
	return Setup{
		Scheme:      newScheme(),
		Reconcilers: []Options{{Name: "widgets", For: &Widget{}, Owns: []client.Object{&WidgetConfig{}}, New: newRec}},
		Objects:     []client.Object{w("hello")},
		Changes:     []Change{{At: time.Minute, Object: w("again")}},
		Settled:     widgetConfigured,
		Duration:    3 * time.Minute,
	}
}

// widgetConfigured is configured, read through State.
func widgetConfigured(s State) error {
	var w Widget
	if err := s.Get(client.ObjectKey{Namespace: "default", Name: "w1"}, &w); err != nil {
		return err
	}
	var cfg WidgetConfig
	if err := s.Get(client.ObjectKey{Namespace: "default", Name: configName("w1")}, &cfg); err != nil {
		return err
	}
	if got := cfg.Spec.Data["message"]; got != w.Spec.Message {
		return fmt.Errorf("config holds %q, the widget %q", got, w.Spec.Message)
	}
	return nil
}

// testRunner returns a runner of s's cases for t.
func testRunner(t *testing.T, s Setup) *runner {
	t.Helper()
	r, err := newRunner(s, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	return r
}

// runCase runs one case of s, with its trace kept if keep.
func runCase(t *testing.T, s Setup, seed uint64, sched harness.Schedule, keep bool) outcome {
	t.Helper()
	out, err := testRunner(t, s).run(caseSpec{seed: seed, sched: sched}, keep, "")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The widget reconciler passes Check: its cases draw faults aimed at its
// role and writes, and every verdict holds.
func TestCheckPassesTheWidgetReconciler(t *testing.T) {
	Check(t, Setup(widgetSetup(func(r Replica) reconcile.Reconciler { return &widgetReconciler{c: r.GetClient()} })))
}

// mapPicker creates one of eight configs per reconcile, picking the first
// name that ranging over a map gives: Go randomizes map order, so two
// runs of the same case pick differently.
type mapPicker struct{ c client.Client }

func (p *mapPicker) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var w Widget
	if err := p.c.Get(ctx, req.NamespacedName, &w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	names := map[string]bool{"a": true, "b": true, "c": true, "d": true, "e": true, "f": true, "g": true, "h": true}
	for name := range names { //detlint:allow maprange the nondeterminism this test plants
		cfg := &WidgetConfig{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.Name + "-" + name}}
		if err := controllerutil.SetControllerReference(&w, cfg, p.c.Scheme()); err != nil {
			return reconcile.Result{}, err
		}
		if err := p.c.Create(ctx, cfg); err != nil {
			return reconcile.Result{}, client.IgnoreAlreadyExists(err)
		}
		break
	}
	return reconcile.Result{RequeueAfter: 10 * time.Second}, nil
}

// A reconciler that ranges over a map to pick what to create is reported
// as nondeterministic, with the first trace line that differs, and not as
// a violation of any check.
func TestNondeterministicReconcilerIsReported(t *testing.T) {
	s := widgetSetup(func(r Replica) reconcile.Reconciler { return &mapPicker{c: r.GetClient()} })
	s.Settled = nil
	f := Find(t, s)
	switch {
	case f == nil:
		t.Fatal("no failure found")
	case !f.Nondeterministic || len(f.Broke) > 0:
		t.Fatalf("want a nondeterminism report, got %s", f.Report)
	case !strings.Contains(f.Report, "your reconciler is nondeterministic") || !strings.Contains(f.Diff, "first run:") ||
		!strings.Contains(f.Diff, "second run:"):
		t.Fatalf("the report does not say so: %s", f.Report)
	case f.FoundAt != 1:
		t.Errorf("found at case %d, want the first (it is rechecked)", f.FoundAt)
	}
	t.Log(f.Report)
}

// The schedule of a failure rapid shrank is shrunk further, entry by
// entry: here the invariant breaks with no fault at all (the widget's
// message changes to one it forbids), so every entry of the case goes.
func TestFailingScheduleIsMinimized(t *testing.T) {
	s := widgetSetup(func(r Replica) reconcile.Reconciler { return &widgetReconciler{c: r.GetClient()} })
	s.Invariants = func() []Invariant {
		return []Invariant{{Name: "never-again", Check: func(st State) error {
			var w Widget
			if err := st.Get(client.ObjectKey{Namespace: "default", Name: "w1"}, &w); err == nil && w.Spec.Message == "again" {
				return fmt.Errorf("the widget says %q", w.Spec.Message)
			}
			return nil
		}}}
	}
	r := testRunner(t, s)
	sched, err := harness.ParseSchedule("at 10s kill @active-widgets\nat 20s isolate m2 for 5s\nat 90s on widgets-write crash @cued for 3s")
	if err != nil {
		t.Fatal(err)
	}
	c := caseSpec{seed: 7, sched: sched}
	if r.judgeCase(c) == "" {
		t.Fatal("the case passed")
	}
	small := r.minimize(*r.failing)
	if len(small.sched) != 0 || small.seed != c.seed {
		t.Fatalf("shrunk to seed %d and\n%s\nwant seed %d and no entries", small.seed, small.sched, c.seed)
	}
	if r.cases < 2 {
		t.Errorf("%d cases counted, want the shrink's runs counted too", r.cases)
	}
}

// A watch gap loses the widget's change at 1m from the active replica's
// cache for good (nothing changes the widget after it). A reconciler that
// reads only its cache never sees the new message, and Settled fails; one
// that reads the widget through its API reader sees it at its next
// requeue, a minute after the last, and the cluster settles.
func TestAPIReaderRecoversFromAWatchGap(t *testing.T) {
	sched, err := harness.ParseSchedule("at 50s signal @active-widgets watch-gap for 30s")
	if err != nil {
		t.Fatal(err)
	}
	for _, fresh := range []bool{false, true} {
		s := widgetSetup(func(r Replica) reconcile.Reconciler {
			w := &widgetReconciler{c: r.GetClient()}
			if fresh {
				w.api = r.GetAPIReader()
			}
			return w
		})
		s.WatchGaps = true
		out := runCase(t, s, 3, sched, true)
		reads := strings.Count(string(out.res.Trace), "reads get widgets default/w1 from the API")
		lists := strings.Count(string(out.res.Trace), "reads list widgetconfigs from the API")
		switch {
		case fresh && (len(out.broke) > 0 || reads < 2 || lists < 2):
			t.Errorf("reading through the API reader: %d reads, %d lists, broke %v", reads, lists, out.broke)
		case !fresh && (!slices.Equal(out.broke, []string{"recovers-after-heal violated"}) || reads > 0):
			t.Errorf("reading the cache only: %d reads from the API, broke %v; want recovers-after-heal violated", reads, out.broke)
		}
	}
}

// The API reader answers only a Reconcile (whose context carries its
// run): a read from anywhere else is refused, saying so; a read at a
// resourceVersion is unsupported.
func TestAPIReaderReadsFromReconcileOnly(t *testing.T) {
	m := NewManager(newScheme())
	if _, err := m.serve(&Widget{}); err != nil {
		t.Fatal(err)
	}
	h := &host{spec: &hostSpec{m: m}}
	h.cl = &Client{h: h}
	api := replica{h}.GetAPIReader()
	key := client.ObjectKey{Namespace: "default", Name: "w1"}
	err := api.Get(context.Background(), key, &Widget{})
	if err == nil || !strings.Contains(err.Error(), "a read of the API reader must be made from Reconcile") {
		t.Errorf("Get outside Reconcile: %v", err)
	}
	err = api.List(context.Background(), &WidgetList{})
	if err == nil || !strings.Contains(err.Error(), "must be made from Reconcile") {
		t.Errorf("List outside Reconcile: %v", err)
	}
	err = api.Get(context.Background(), key, &Widget{}, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "5"}})
	if err == nil || !strings.Contains(err.Error(), Unsupported) {
		t.Errorf("Get at a resourceVersion: %v", err)
	}
}

// namer creates one config with generateName for its widget, once, and
// remembers what the create answered and when it was made.
type namer struct {
	c       client.Client
	created *WidgetConfig
	at      time.Time
}

func (n *namer) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var w Widget
	if err := n.c.Get(ctx, req.NamespacedName, &w); err != nil || n.created != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	cfg := &WidgetConfig{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, GenerateName: w.Name + "-"}}
	if err := controllerutil.SetControllerReference(&w, cfg, n.c.Scheme()); err != nil {
		return reconcile.Result{}, err
	}
	n.at = time.Now()
	if err := n.c.Create(ctx, cfg); err != nil {
		return reconcile.Result{}, err
	}
	n.created = cfg
	return reconcile.Result{}, nil
}

// A create with generateName is named by the API server, and the object
// the reconciler passed gets the name, as with a real client; the server
// stamps its creationTimestamp on its (simulated) clock.
func TestGenerateNameAndCreationTimestamp(t *testing.T) {
	var n *namer
	s := widgetSetup(func(r Replica) reconcile.Reconciler {
		n = &namer{c: r.GetClient()}
		return n
	})
	s.Settled = nil
	if out := runCase(t, s, 1, nil, false); len(out.broke) > 0 {
		t.Fatalf("broke %v", out.broke)
	}
	if n == nil || n.created == nil {
		t.Fatal("the active replica created no config")
	}
	c := n.created
	suffix, ok := strings.CutPrefix(c.Name, "w1-")
	if !ok || len(suffix) != 5 || c.GenerateName != "w1-" || c.UID == "" {
		t.Errorf("created %q (generateName %q, uid %q), want w1- and five characters", c.Name, c.GenerateName, c.UID)
	}
	// Within the same second as the create went out, on a simulated clock
	// that starts at 2000-01-01.
	if got := c.CreationTimestamp.Time; got.Year() != 2000 || got.Sub(n.at.Truncate(time.Second)) < 0 || got.Sub(n.at) > time.Second {
		t.Errorf("creationTimestamp %s, the create went out at %s", got, n.at)
	}
}

// api-linearizable/objects judges the API reader's quorum reads against
// each object's timeline in the store. The active replica's master (m1
// with this seed) is cut off from the load balancer from 20s, so that the
// user's next write goes to another master, and from the other masters
// just before the widget changes at 1m; the replica's next reconcile,
// while it still holds its lease, reads the widget through its API
// reader. Its API server cannot reach a quorum, so the read fails, and
// every read judged was fresh. With the apiserver-cache-reads bug
// planted, the server answers from its watch cache instead, which the cut
// froze: the read returns the widget as it was before the change, and the
// check catches it.
func TestAPILinearizableObjectsCatchesStaleReads(t *testing.T) {
	sched, err := harness.ParseSchedule("at 20s partition {m1} | {lb} for 75s\nat 58s partition {m1} | {m2 m3} for 37s")
	if err != nil {
		t.Fatal(err)
	}
	for _, bug := range []bool{false, true} {
		s := widgetSetup(func(r Replica) reconcile.Reconciler {
			return &widgetReconciler{c: r.GetClient(), api: r.GetAPIReader()}
		})
		if bug {
			s.Cluster.Bugs = model.MustBugs(kube.BugCacheReads)
		}
		out := runCase(t, s, 3, sched, false)
		var v harness.Verdict
		for _, x := range out.res.Verdicts {
			if x.Check == model.CheckAPILinearizable.Of("objects") {
				v = x
			}
		}
		switch {
		case !bug && v.Status != harness.OK:
			t.Errorf("without the bug: %s %s", v.Status, v.Detail)
		case bug && (v.Status != harness.Violated || !strings.Contains(v.Detail, "a state the store had replaced")):
			t.Errorf("with %s: %s %s", kube.BugCacheReads, v.Status, v.Detail)
		}
		t.Logf("bug %t: %s %s", bug, v.Status, v.Detail)
	}
}
