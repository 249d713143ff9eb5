package ctrl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/harness"
	"hasim/model/kube"
)

// A user's custom resources, written by hand as controller-gen would
// generate them: a Widget, and the WidgetConfig it owns.

var exampleGV = schema.GroupVersion{Group: "example.com", Version: "v1"}

type Widget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              WidgetSpec   `json:"spec,omitempty"`
	Status            WidgetStatus `json:"status,omitempty"`
}

type WidgetSpec struct {
	Message string `json:"message,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

type WidgetStatus struct {
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
	Config             string `json:"config,omitempty"`
	// StampedAt is when the reconciler last stamped the widget (RFC 3339).
	StampedAt string `json:"stampedAt,omitempty"`
}

func (w *Widget) DeepCopy() *Widget {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

func (w *Widget) DeepCopyObject() runtime.Object { return w.DeepCopy() }

type WidgetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Widget `json:"items"`
}

func (l *WidgetList) DeepCopyObject() runtime.Object {
	c := *l
	l.ListMeta.DeepCopyInto(&c.ListMeta)
	c.Items = make([]Widget, len(l.Items))
	for i := range l.Items {
		c.Items[i] = *l.Items[i].DeepCopy()
	}
	return &c
}

type WidgetConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              WidgetConfigSpec `json:"spec,omitempty"`
}

type WidgetConfigSpec struct {
	Data map[string]string `json:"data,omitempty"`
}

func (w *WidgetConfig) DeepCopy() *WidgetConfig {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	c.Spec.Data = maps.Clone(w.Spec.Data)
	return &c
}

func (w *WidgetConfig) DeepCopyObject() runtime.Object { return w.DeepCopy() }

type WidgetConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WidgetConfig `json:"items"`
}

func (l *WidgetConfigList) DeepCopyObject() runtime.Object {
	c := *l
	l.ListMeta.DeepCopyInto(&c.ListMeta)
	c.Items = make([]WidgetConfig, len(l.Items))
	for i := range l.Items {
		c.Items[i] = *l.Items[i].DeepCopy()
	}
	return &c
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	s.AddKnownTypes(exampleGV, &Widget{}, &WidgetList{}, &WidgetConfig{}, &WidgetConfigList{})
	metav1.AddToGroupVersion(s, exampleGV)
	return s
}

// widgetReconciler is ordinary controller-runtime code: it keeps a
// WidgetConfig, owned by its Widget, holding the Widget's message, and
// records in the Widget's status which generation it acted on.
type widgetReconciler struct {
	c client.Client
	// api, if set, is the API reader the widget and the list of its
	// configs are read through (the config itself comes from the cache).
	api client.Reader
	// seen, if set, hears time.Now() at the start of every Reconcile.
	seen func(time.Time)
	// probe, if set, hears the errors of calls hasim does not support,
	// made once per Reconcile.
	probe func(what string, err error)
	// stamp makes it stamp the widget's status with time.Now() when the
	// last stamp is 30s old or more, with a 2s deadline on the write, and
	// look again every 30s.
	stamp bool
	// locked makes its status patches conditional on the resourceVersion
	// it read (client.MergeFromWithOptimisticLock).
	locked bool
	// failed, if set, hears every error Reconcile returns.
	failed func(error)
}

// stampEvery is how old a stamp may grow before it is renewed.
const stampEvery = 30 * time.Second

func (r *widgetReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	res, err := r.reconcile(ctx, req)
	if err != nil && r.failed != nil {
		r.failed(err)
	}
	return res, err
}

func configName(w string) string { return w + "-config" }

func (r *widgetReconciler) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if r.seen != nil {
		r.seen(time.Now())
	}
	var w Widget
	var read client.Reader = r.c
	if r.api != nil {
		read = r.api
	}
	if err := read.Get(ctx, req.NamespacedName, &w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if r.probe != nil {
		r.probeUnsupported(ctx, &w)
	}
	want := map[string]string{"message": w.Spec.Message}
	key := types.NamespacedName{Namespace: w.Namespace, Name: configName(w.Name)}
	var cfg WidgetConfig
	switch err := r.c.Get(ctx, key, &cfg); {
	case apierrors.IsNotFound(err):
		cfg = WidgetConfig{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{"widget": w.Name}}, Spec: WidgetConfigSpec{Data: want}}
		if err := controllerutil.SetControllerReference(&w, &cfg, r.c.Scheme()); err != nil {
			return reconcile.Result{}, err
		}
		if err := r.c.Create(ctx, &cfg); err != nil {
			return reconcile.Result{}, err
		}
	case err != nil:
		return reconcile.Result{}, err
	case !maps.Equal(cfg.Spec.Data, want):
		cfg.Spec.Data = want
		if err := r.c.Update(ctx, &cfg); err != nil {
			return reconcile.Result{}, err
		}
	}
	// The cache may not show a config created a moment ago; it never
	// shows two.
	var mine WidgetConfigList
	if err := read.List(ctx, &mine, client.InNamespace(w.Namespace), client.MatchingLabels{"widget": w.Name}); err != nil {
		return reconcile.Result{}, err
	}
	if n := len(mine.Items); n > 1 {
		return reconcile.Result{}, fmt.Errorf("%d configs labelled for %s", n, w.Name)
	}
	now := time.Now()
	stamped, _ := time.Parse(time.RFC3339, w.Status.StampedAt)
	stale := r.stamp && now.Sub(stamped) >= stampEvery
	if w.Status.ObservedGeneration != w.Generation || w.Status.Config != key.Name || stale {
		patch := client.MergeFrom(w.DeepCopy())
		if r.locked {
			patch = client.MergeFromWithOptions(w.DeepCopy(), client.MergeFromWithOptimisticLock{})
		}
		w.Status.ObservedGeneration, w.Status.Config = w.Generation, key.Name
		if stale {
			w.Status.StampedAt = now.UTC().Format(time.RFC3339)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := r.c.Status().Patch(wctx, &w, patch); err != nil {
			return reconcile.Result{}, err
		}
	}
	if r.stamp {
		return reconcile.Result{RequeueAfter: stampEvery}, nil
	}
	return reconcile.Result{RequeueAfter: time.Minute}, nil
}

// probeUnsupported makes calls the API model cannot serve.
func (r *widgetReconciler) probeUnsupported(ctx context.Context, w *Widget) {
	r.probe("json-patch", r.c.Patch(ctx, w.DeepCopy(), client.RawPatch(types.JSONPatchType, []byte(`[]`))))
	r.probe("apply", r.c.Apply(ctx, nil))
	r.probe("delete-all-of", r.c.DeleteAllOf(ctx, &WidgetConfig{}, client.InNamespace(w.Namespace)))
	r.probe("field-selector", r.c.List(ctx, &WidgetConfigList{}, client.MatchingFields{"metadata.name": w.Name}))
	r.probe("foreground-delete", r.c.Delete(ctx, &WidgetConfig{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: "nope"}},
		client.PropagationPolicy(metav1.DeletePropagationForeground)))
}

// The widgets' and their configs' resources, as the cluster serves them.
const (
	widgets       kube.Kind = "widgets"
	widgetConfigs kube.Kind = "widgetconfigs"
)

// seeder is a plain kube.Controller standing in for a user of the API: it
// creates the Widget default/w1 and changes its message every 45s of its
// clock, while it leads.
type seeder struct {
	widgets kube.Informer
	sync    kube.SyncQueue
}

const tagSeederTick = "seeder-tick"

func (s *seeder) Start(ctx *harness.Ctx, r *kube.Replica) {
	s.sync = kube.SyncQueue{Tag: "seeder-sync"}
	s.widgets = kube.Informer{Kind: widgets, Client: r.Client(),
		OnChange: func(ctx *harness.Ctx, _ kube.Object, _ bool) { s.sync.Add(ctx) }}
	s.widgets.Start(ctx)
}

func (s *seeder) Lead(ctx *harness.Ctx, _ *kube.Replica) {
	s.sync.Add(ctx)
	ctx.After(45*time.Second, tagSeederTick, 0)
}

func (s *seeder) Handle(ctx *harness.Ctx, r *kube.Replica, in harness.Input) bool {
	switch {
	case s.widgets.Handle(ctx, in):
	case s.sync.Due(in):
		s.seed(ctx, r, false)
	case in.Kind == harness.InputTimer && in.Tag == tagSeederTick:
		s.seed(ctx, r, true)
		ctx.After(45*time.Second, tagSeederTick, 0)
	default:
		return false
	}
	return true
}

func (s *seeder) seed(ctx *harness.Ctx, r *kube.Replica, tick bool) {
	if !r.Leading() || !s.widgets.Synced() {
		return
	}
	retry := func(resp kube.Response) {
		if resp.Code >= 300 {
			s.sync.Retry(ctx, time.Second)
		}
	}
	message := fmt.Sprintf(`{"message":"m%d"}`, ctx.Now()/(45*time.Second))
	if _, ok := s.widgets.Get("default/w1"); !ok {
		r.Write(ctx, kube.Request{Verb: kube.Create, Kind: widgets, Name: "default/w1",
			Obj: kube.Object{APIVersion: exampleGV.String(), Spec: message}}, retry)
	} else if tick {
		r.Write(ctx, kube.Request{Verb: kube.Patch, Kind: widgets, Name: "default/w1", PatchBody: `{"spec":` + message + `}`}, retry)
	}
}

// configured is what "recovered" means for the widget reconciler: the
// config exists, is owned by the widget, holds its message, and the
// widget's status names the generation it saw.
func configured(t *kube.Truth) error {
	w, ok := t.Get(widgets, "default/w1")
	if !ok {
		return errors.New("no widget default/w1")
	}
	cfg, ok := t.Get(widgetConfigs, "default/"+configName("w1"))
	if !ok {
		return errors.New("no config for default/w1")
	}
	if len(cfg.OwnerRefs) != 1 || cfg.OwnerRefs[0].UID != w.UID || !cfg.OwnerRefs[0].Controller || cfg.OwnerRefs[0].Kind != widgets {
		return fmt.Errorf("config's owners %+v, widget uid %s", cfg.OwnerRefs, w.UID)
	}
	var spec WidgetSpec
	if err := json.Unmarshal([]byte(w.Spec), &spec); err != nil {
		return err
	}
	if want := fmt.Sprintf(`{"data":{"message":%q}}`, spec.Message); cfg.Spec != want {
		return fmt.Errorf("config spec %s, want %s", cfg.Spec, want)
	}
	var status WidgetStatus
	if err := json.Unmarshal([]byte(w.Status), &status); err != nil {
		return err
	}
	if status.Config != configName("w1") || status.ObservedGeneration != w.Generation {
		return fmt.Errorf("widget status %s at generation %d", w.Status, w.Generation)
	}
	return nil
}
