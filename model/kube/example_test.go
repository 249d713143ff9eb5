package kube_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model/kube"
)

// summarizer is a user's controller: it keeps a Widget, a custom resource,
// whose status holds the workload ReplicaSet's desired replicas. It is
// level-triggered: whatever it sees change, and whenever it starts to
// lead, it compares and writes the difference.
type summarizer struct {
	rs, widgets kube.Informer
	sync        kube.SyncQueue
}

const summary = "default/web-summary"

var widgetResource = kube.Resource{Kind: "widgets", APIVersion: "example.com/v1"}

// Start runs on every replica when its process starts: informers stay warm
// while it stands by.
func (s *summarizer) Start(ctx *harness.Ctx, r *kube.Replica) {
	s.sync = kube.SyncQueue{Tag: "summarize"}
	changed := func(ctx *harness.Ctx, _ kube.Object, _ bool) { s.sync.Add(ctx) }
	s.rs = kube.Informer{Kind: kube.ReplicaSets, Client: r.Client(), OnChange: changed}
	s.widgets = kube.Informer{Kind: widgetResource.Kind, Client: r.Client(), OnChange: changed}
	s.rs.Start(ctx)
	s.widgets.Start(ctx)
}

// Lead runs when the replica wins the lease.
func (s *summarizer) Lead(ctx *harness.Ctx, _ *kube.Replica) { s.sync.Add(ctx) }

// Handle takes what the replica's elector did not: informer and own timers.
func (s *summarizer) Handle(ctx *harness.Ctx, r *kube.Replica, in harness.Input) bool {
	if s.rs.Handle(ctx, in) || s.widgets.Handle(ctx, in) {
		return true
	}
	if s.sync.Due(in) {
		s.reconcile(ctx, r)
		return true
	}
	return false
}

func (s *summarizer) reconcile(ctx *harness.Ctx, r *kube.Replica) {
	rs, ok := s.rs.Get(kube.RSName)
	if !r.Leading() || !ok || !s.widgets.Synced() {
		return
	}
	retry := func(resp kube.Response) {
		if resp.Code >= 300 {
			s.sync.Retry(ctx, time.Second) // requeue after an error
		}
	}
	w, exists := s.widgets.Get(summary)
	want := fmt.Sprintf(`{"replicas":%d}`, rs.Replicas)
	switch {
	case !exists:
		r.Write(ctx, kube.Request{Verb: kube.Create, Kind: widgetResource.Kind, Name: summary, Obj: kube.Object{Spec: `{}`}}, retry)
	case w.Status != want:
		r.Write(ctx, kube.Request{Verb: kube.Patch, Kind: widgetResource.Kind, Name: summary, Subresource: kube.SubresourceStatus,
			PatchBody: `{"status":` + want + `}`}, retry)
	}
}

// summarized is what "recovered" means for it, judged on the store's
// ground truth once the faults heal.
func summarized(t *kube.Truth) error {
	rs, ok := t.Get(kube.ReplicaSets, kube.RSName)
	w, found := t.Get(widgetResource.Kind, summary)
	if !ok || !found {
		return errors.New("no summary yet")
	}
	var st struct{ Replicas int }
	if json.Unmarshal([]byte(w.Status), &st); st.Replicas != rs.Replicas {
		return fmt.Errorf("summary says %d replicas, the ReplicaSet wants %d", st.Replicas, rs.Replicas)
	}
	return nil
}

// One registration puts a controller in the loop: a replica on every
// master, leader election on its own lease, and every check, role,
// recovery condition, timeline lane and generated fault of the cluster
// made for it.
func Example_ownController() {
	cfg := kube.Config{
		Resources: []kube.Resource{widgetResource},
		Components: []kube.Elected{{Name: "summarizer", New: func() kube.Controller { return &summarizer{} },
			Recovered: summarized}},
	}
	// The active summarizer's host crashes for a minute; then its
	// successor is cut off from the other masters for 30s.
	sched, err := harness.ParseSchedule("at 20s crash @active-summarizer for 1m\nat 2m partition {@active-summarizer} | {m1 m2 m3} for 30s")
	if err != nil {
		panic(err)
	}
	res, err := harness.Run(harness.Config{Scenario: judge.NewCluster(cfg), Duration: 5 * time.Minute}, 1, sched)
	if err != nil {
		panic(err)
	}
	for _, v := range res.Verdicts {
		switch v.Check {
		case "single-active/summarizer", "deposed-writes", "recovers-after-heal":
			fmt.Println(v.Check, v.Status)
		}
	}
	// Output:
	// single-active/summarizer ok
	// deposed-writes ok
	// recovers-after-heal ok
}
