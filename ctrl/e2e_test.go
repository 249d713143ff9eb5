package ctrl

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model/kube"
)

// widgetCluster registers the widget reconciler, made by newRec, and the
// seeder in a 3-master cluster.
func widgetCluster(newRec func(c client.Client) *widgetReconciler, recovered func(*kube.Truth) error) (*Manager, kube.Config) {
	m := NewManager(newScheme())
	widgets := m.Elected(Options{Name: "widgets", For: &Widget{}, Owns: []client.Object{&WidgetConfig{}},
		New:       func(r Replica) reconcile.Reconciler { return newRec(r.GetClient()) },
		Recovered: recovered})
	seed := kube.Elected{Name: "seeder", New: func() kube.Controller { return &seeder{} }}
	return m, kube.Config{Masters: 3, Resources: m.Resources(), Components: []kube.Elected{widgets, seed}}
}

func runCluster(t *testing.T, m *Manager, cfg kube.Config, seed uint64, schedule string, d time.Duration) harness.Result {
	t.Helper()
	sched, err := harness.ParseSchedule(schedule)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(t, harness.Config{Scenario: judge.NewCluster(cfg), Duration: d, Trace: harness.TraceOptions{Keep: true}}, seed, sched)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// traceNote is a "widgets: ..." note of the trace.
type traceNote struct {
	at   time.Duration
	proc string
	text string
}

var noteLine = regexp.MustCompile(`^(\d+)\.(\d{9}) note (\S+) widgets: (.*)$`)

func widgetNotes(trace []byte) []traceNote {
	var out []traceNote
	for line := range strings.SplitSeq(string(trace), "\n") {
		m := noteLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s, _ := strconv.ParseInt(m[1], 10, 64)
		ns, _ := strconv.ParseInt(m[2], 10, 64)
		out = append(out, traceNote{at: time.Duration(s)*time.Second + time.Duration(ns), proc: m[3], text: m[4]})
	}
	return out
}

func verdicts(res harness.Result) map[harness.CheckName]harness.Verdict {
	out := map[harness.CheckName]harness.Verdict{}
	for _, v := range res.Verdicts {
		out[v.Check] = v
	}
	return out
}

// The widget reconciler, unmodified controller-runtime code, runs in the
// elected replicas of a 3-master cluster; the active replica's host
// crashes for a minute. Another replica takes over, and the cluster's
// derived checks hold: one replica acts at a time, no write of a deposed
// replica lands, and after the heal the config is there, owned by its
// widget and up to date.
func TestReconcilerThroughCrashOfActive(t *testing.T) {
	var lastErr error
	recovered := func(tr *kube.Truth) error { lastErr = configured(tr); return lastErr }
	m, cfg := widgetCluster(func(c client.Client) *widgetReconciler { return &widgetReconciler{c: c} }, recovered)
	res := runCluster(t, m, cfg, 1, "at 40s crash @active-widgets for 1m", 5*time.Minute)

	v := verdicts(res)
	for _, name := range []harness.CheckName{"single-active/widgets", "deposed-writes", "recovers-after-heal"} {
		if got, ok := v[name]; !ok || got.Status != harness.OK {
			t.Errorf("%s: %s %s", name, got.Status, got.Detail)
		}
	}
	if lastErr != nil {
		t.Errorf("at the end: %v", lastErr)
	}
	if len(res.Faults) == 0 {
		t.Fatal("the crash did not fire")
	}
	crash := res.Faults[0]
	before, after := map[string]bool{}, map[string]bool{}
	var done, creates int
	for _, n := range widgetNotes(res.Trace) {
		if strings.HasPrefix(n.text, "reconcile default/w1") {
			if n.at < crash.At {
				before[n.proc] = true
			} else {
				after[n.proc] = true
			}
		}
		if n.text == "reconciled default/w1: requeue after 1m0s" {
			done++
		}
	}
	creates = bytes.Count(res.Trace, []byte("issues create widgetconfigs/default/w1-config"))
	if len(before) != 1 || len(after) == 0 {
		t.Fatalf("reconciles before the crash by %v, after it by %v", before, after)
	}
	for p := range before {
		if after[p] {
			t.Errorf("%s reconciled both before and after its host crashed", p)
		}
	}
	if done < 3 || creates < 1 {
		t.Errorf("%d reconciles ended with a requeue, %d creates of the config", done, creates)
	}
	t.Logf("%d events, %s simulated; faults: %v", res.Events, res.SimTime, res.Faults)
}

// Two runs of a seed give byte-identical traces, and user code's
// time.Now() reads simulated time: each Reconcile starts at the true time
// its trace line gives (no host clock is skewed here, so local time is
// true time), the bubble starting at midnight, 1 January 2000 UTC.
func TestDeterministicAndSimulatedTime(t *testing.T) {
	run := func() (harness.Result, []time.Time) {
		var seen []time.Time
		m, cfg := widgetCluster(func(c client.Client) *widgetReconciler {
			return &widgetReconciler{c: c, seen: func(now time.Time) { seen = append(seen, now) }}
		}, configured)
		return runCluster(t, m, cfg, 7, "at 50s crash @active-widgets for 40s", 3*time.Minute), seen
	}
	a, seenA := run()
	b, seenB := run()
	if a.TraceHash == "" || a.TraceHash != b.TraceHash || !bytes.Equal(a.Trace, b.Trace) {
		t.Fatalf("the traces differ: %s vs %s", a.TraceHash, b.TraceHash)
	}
	t.Logf("trace hash %s (%d lines)", a.TraceHash, a.Lines)
	var starts []time.Duration
	for _, n := range widgetNotes(a.Trace) {
		if strings.HasPrefix(n.text, "reconcile ") {
			starts = append(starts, n.at)
		}
	}
	if len(starts) < 3 || len(seenA) != len(starts) || len(seenB) != len(starts) {
		t.Fatalf("%d reconciles in the trace, %d and %d seen by user code", len(starts), len(seenA), len(seenB))
	}
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, at := range starts {
		if got := seenA[i].Sub(epoch); got != at || !seenA[i].Equal(seenB[i]) {
			t.Errorf("reconcile %d at %s: time.Now() read %s (epoch +%s), the other run %s", i, at, seenA[i], got, seenB[i])
		}
	}
}

// What the API model cannot serve is refused with an error saying
// "unsupported by hasim", a 400 Bad Request, never silently dropped.
func TestUnsupportedCallsSayUnsupportedByHasim(t *testing.T) {
	errs := map[string]error{}
	m, cfg := widgetCluster(func(c client.Client) *widgetReconciler {
		return &widgetReconciler{c: c, probe: func(what string, err error) {
			if _, ok := errs[what]; !ok {
				errs[what] = err
			}
		}}
	}, nil)
	runCluster(t, m, cfg, 3, "", 90*time.Second)
	want := []string{"apply", "delete-all-of", "field-selector", "foreground-delete", "json-patch"}
	if len(errs) != len(want) {
		t.Fatalf("probed %d calls, want %d: %v", len(errs), len(want), errs)
	}
	for _, what := range want {
		err := errs[what]
		if err == nil || !strings.Contains(err.Error(), Unsupported) || !apierrors.IsBadRequest(err) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

// The active replica is cut off from the other masters while it
// reconciles: its status write hangs, the reconciler's 2s context deadline
// (simulated) ends the wait, the item backs off 5ms, then 10ms, ...; when
// the replica loses its lease its process exits with a write in flight,
// and the reconcile is abandoned (the write's caller sees ErrAbandoned)
// when the process starts again. Another replica takes over and the
// cluster recovers.
//
// A deadline does not recall a write: the writes the deposed replica gave
// up on land when the partition heals, long after its successor began,
// and deposed-writes (advisory) reports them. Made conditional on the
// resourceVersion read (an optimistic lock), the same writes are refused
// with a conflict instead, and none lands. (Each partition is timed to
// begin just before the active replica's next stamp is due.)
func TestPartitionedReplicaAbandonsItsReconcile(t *testing.T) {
	t.Run("merge-patch", func(t *testing.T) { partitionedReplica(t, false, "61s") })
	t.Run("optimistic-lock", func(t *testing.T) { partitionedReplica(t, true, "76s") })
}

func partitionedReplica(t *testing.T, locked bool, at string) {
	var errs []error
	m, cfg := widgetCluster(func(c client.Client) *widgetReconciler {
		return &widgetReconciler{c: c, stamp: true, locked: locked, failed: func(err error) { errs = append(errs, err) }}
	}, configured)
	res := runCluster(t, m, cfg, 1, "at "+at+" partition {@active-widgets} | {m1 m2 m3} for 1m", 4*time.Minute)

	v := verdicts(res)
	for _, name := range []harness.CheckName{"single-active/widgets", "recovers-after-heal"} {
		if got := v[name]; got.Status != harness.OK {
			t.Errorf("%s: %s %s", name, got.Status, got.Detail)
		}
	}
	deposed := v["deposed-writes"]
	switch {
	case res.Failed():
		t.Errorf("the run failed: %v", res.Verdicts)
	case locked && deposed.Status != harness.OK:
		t.Errorf("deposed-writes with an optimistic lock: %s %s", deposed.Status, deposed.Detail)
	case !locked && (deposed.Status != harness.Violated || !deposed.Advisory ||
		!strings.Contains(deposed.Detail, `m3-widgets-1 stopped acting`)):
		t.Errorf("deposed-writes without a lock: %s %s", deposed.Status, deposed.Detail)
	}
	var deadlines, abandoned int
	for _, err := range errs {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			deadlines++
		case errors.Is(err, ErrAbandoned):
			abandoned++
		case locked && apierrors.IsConflict(err):
			// Its cache had not yet seen its own last write.
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if deadlines < 2 || abandoned != 1 {
		t.Errorf("%d deadlines and %d abandoned reconciles seen by user code", deadlines, abandoned)
	}

	// Deadlines and backoffs, in simulated time, from the trace.
	notes := widgetNotes(res.Trace)
	var issued, failed time.Duration = -1, -1
	var waits, backoffs []time.Duration
	var abandonNotes int
	for _, n := range notes {
		switch {
		case strings.HasPrefix(n.text, "reconcile default/w1: context deadline passed"):
			waits = append(waits, n.at-issued)
		case strings.HasPrefix(n.text, "reconciled default/w1: error (retry after backoff): context deadline exceeded"):
			failed = n.at
		case n.text == "reconcile default/w1" && failed >= 0:
			backoffs = append(backoffs, n.at-failed)
			failed = -1
		case strings.HasPrefix(n.text, "abandoned the reconcile of default/w1"):
			abandonNotes++
		}
		if n.text == "reconcile default/w1" {
			issued = n.at // its write goes out in the same step
		}
	}
	if len(waits) < 2 || len(backoffs) < 2 || abandonNotes != 1 {
		t.Fatalf("waits %v, backoffs %v, %d abandon notes", waits, backoffs, abandonNotes)
	}
	for i, w := range waits {
		if w != 2*time.Second {
			t.Errorf("deadline %d passed %s after its reconcile began, want 2s", i, w)
		}
	}
	for i, b := range backoffs[:2] {
		if want := BackoffBase << i; b != want {
			t.Errorf("backoff %d: %s, want %s", i, b, want)
		}
	}
}
