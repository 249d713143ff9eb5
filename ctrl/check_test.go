package ctrl

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// widgetSetup is the widget reconciler's Check setup: one widget, its
// message changed once, and what "configured" means as Settled.
func widgetSetup(newRec func(c client.Client) reconcile.Reconciler) Setup {
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

// The widget reconciler passes Check: its cases draw faults aimed at its
// role and writes, and every verdict holds.
func TestCheckPassesTheWidgetReconciler(t *testing.T) {
	Check(t, Setup(widgetSetup(func(c client.Client) reconcile.Reconciler { return &widgetReconciler{c: c} })))
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
	s := widgetSetup(func(c client.Client) reconcile.Reconciler { return &mapPicker{c: c} })
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
