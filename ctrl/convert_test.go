package ctrl

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/model/kube"
)

// testManager serves Widgets and WidgetConfigs, as a registration does.
func testManager(t *testing.T) *Manager {
	t.Helper()
	m := NewManager(newScheme())
	m.Elected(Options{Name: "widgets", For: &Widget{}, Owns: []client.Object{&WidgetConfig{}},
		New: func(Replica) reconcile.Reconciler { return nil }})
	return m
}

func ownedConfig() *WidgetConfig {
	yes := true
	return &WidgetConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "w1-config", UID: "u-2", ResourceVersion: "17", Generation: 3,
			Labels:     map[string]string{"widget": "w1"},
			Finalizers: []string{"example.com/keep"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Widget", Name: "w1", UID: "u-1",
				Controller: &yes, BlockOwnerDeletion: &yes}}},
		Spec: WidgetConfigSpec{Data: map[string]string{"message": "hi", "size": "3"}},
	}
}

func TestResourcesAreTheWatchedKinds(t *testing.T) {
	m := testManager(t)
	want := []kube.Resource{{Kind: widgetConfigs, APIVersion: "example.com/v1"}, {Kind: widgets, APIVersion: "example.com/v1"}}
	if got := m.Resources(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Resources() = %v, want %v", got, want)
	}
}

// A typed object becomes the API model's generic object (owners named by
// their resource), and comes back as it was.
func TestTypedObjectRoundTrip(t *testing.T) {
	m := testManager(t)
	in := ownedConfig()
	o, k, err := m.toModel(in)
	if err != nil {
		t.Fatal(err)
	}
	want := kube.Object{Kind: widgetConfigs, Name: "default/w1-config", RV: 17, APIVersion: "example.com/v1", UID: "u-2",
		Labels: map[string]string{"widget": "w1"}, Finalizers: []string{"example.com/keep"}, Generation: 3,
		OwnerRefs: []kube.OwnerRef{{APIVersion: "example.com/v1", Kind: widgets, Name: "w1", UID: "u-1", Controller: true, BlockOwnerDeletion: true}},
		Spec:      `{"data":{"message":"hi","size":"3"}}`}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("toModel:\n got %+v\nwant %+v", o, want)
	}
	var out WidgetConfig
	if err := m.fromModel(o, k, &out); err != nil {
		t.Fatal(err)
	}
	in.TypeMeta = metav1.TypeMeta{APIVersion: "example.com/v1", Kind: "WidgetConfig"}
	if !reflect.DeepEqual(&out, in) {
		t.Fatalf("fromModel:\n got %+v\nwant %+v", out, *in)
	}
}

func TestDeletionTimestampReadsSimulatedTime(t *testing.T) {
	m := testManager(t)
	o := kube.Object{Kind: widgets, Name: "default/w1", RV: 4, APIVersion: "example.com/v1", DeletionTimestamp: 90*time.Second + 400*time.Millisecond,
		Spec: `{"message":"x","size":2}`, Status: `{"observedGeneration":2}`}
	var w Widget
	if err := m.fromModel(o, m.kinds[exampleGV.WithKind("Widget")], &w); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2000, 1, 1, 0, 1, 30, 0, time.UTC); w.DeletionTimestamp == nil || !w.DeletionTimestamp.Time.Equal(want) {
		t.Errorf("deletionTimestamp %v, want %v", w.DeletionTimestamp, want)
	}
	if w.Spec.Size != 2 || w.Spec.Message != "x" || w.Status.ObservedGeneration != 2 {
		t.Errorf("spec %+v status %+v", w.Spec, w.Status)
	}
}

func TestUnstructuredObjects(t *testing.T) {
	m := testManager(t)
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"namespace": "default", "name": "w2", "labels": map[string]any{"a": "b"}},
		"spec":     map[string]any{"size": int64(5)}}}
	o, k, err := m.toModel(u)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "default/w2" || o.Kind != widgets || o.Spec != `{"size":5}` || o.Labels["a"] != "b" {
		t.Fatalf("toModel: %+v", o)
	}
	o.RV = 9
	back := &unstructured.Unstructured{}
	if err := m.fromModel(o, k, back); err != nil {
		t.Fatal(err)
	}
	if back.GetResourceVersion() != "9" || back.GetKind() != "Widget" || back.Object["spec"].(map[string]any)["size"] != int64(5) {
		t.Fatalf("fromModel: %v", back.Object)
	}

	u.Object["data"] = map[string]any{"x": "y"}
	if _, _, err := m.toModel(u); err == nil || !strings.Contains(err.Error(), Unsupported) || !apierrors.IsBadRequest(err) {
		t.Errorf("a top-level field besides spec and status: %v", err)
	}
}

func TestUnsupportedMetadataIsRefused(t *testing.T) {
	m := testManager(t)
	for name, mutate := range map[string]func(*WidgetConfig){
		"managedFields": func(c *WidgetConfig) { c.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}} },
		"no namespace":  func(c *WidgetConfig) { c.Namespace = "" },
	} {
		c := ownedConfig()
		mutate(c)
		if _, _, err := m.toModel(c); err == nil || !strings.Contains(err.Error(), Unsupported) {
			t.Errorf("%s: %v", name, err)
		}
	}
	gadget := &unstructured.Unstructured{}
	gadget.SetAPIVersion("example.com/v1")
	gadget.SetKind("Gadget")
	if _, err := m.kindOf(gadget); err == nil || !strings.Contains(err.Error(), Unsupported) {
		t.Errorf("a kind no reconciler watches: %v", err)
	}
}

// A merge patch computed by controller-runtime is rewritten for the API
// model: the optimistic lock's resourceVersion becomes the precondition,
// owners are named by their resource.
func TestMergePatchToModel(t *testing.T) {
	m := testManager(t)
	before := ownedConfig()
	before.OwnerReferences = nil
	after := ownedConfig()
	after.Spec.Data["size"] = "4"
	data, err := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}).Data(after)
	if err != nil {
		t.Fatal(err)
	}
	body, rv, err := m.patchToModel(data)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"ownerReferences":[{"apiVersion":"example.com/v1","blockOwnerDeletion":true,"controller":true,"kind":"widgets","name":"w1","uid":"u-1"}]},"spec":{"data":{"size":"4"}}}`
	if body != want || rv != 17 {
		t.Fatalf("patch %s rv %d,\nwant %s rv 17", body, rv, want)
	}
	named := before.DeepCopy()
	named.GenerateName = "w1-"
	data, _ = client.MergeFrom(before).Data(named)
	if _, _, err := m.patchToModel(data); err == nil || !strings.Contains(err.Error(), Unsupported) {
		t.Errorf("a patch of generateName: %v", err)
	}
	annotated := before.DeepCopy()
	annotated.Annotations = map[string]string{"a": "b"}
	data, _ = client.MergeFrom(before).Data(annotated)
	if body, _, err := m.patchToModel(data); err != nil || body != `{"metadata":{"annotations":{"a":"b"}}}` {
		t.Errorf("a patch of annotations: %s, %v", body, err)
	}
}

// The API's answers become the errors controller-runtime's client gives.
func TestAPIErrors(t *testing.T) {
	k := kindInfo{gvk: exampleGV.WithKind("Widget"), res: widgets}
	for _, c := range []struct {
		verb kube.Verb
		code int
		is   func(error) bool
	}{
		{kube.Create, kube.StatusConflict, apierrors.IsAlreadyExists},
		{kube.Update, kube.StatusConflict, apierrors.IsConflict},
		{kube.Patch, kube.StatusNotFound, apierrors.IsNotFound},
		{kube.Update, kube.StatusInvalid, apierrors.IsInvalid},
		{kube.Patch, kube.StatusBadRequest, apierrors.IsBadRequest},
		{kube.Create, kube.StatusTimeout, apierrors.IsTimeout},
		{kube.Update, kube.StatusInternal, apierrors.IsInternalError},
		{kube.Update, kube.StatusUnavailable, apierrors.IsServiceUnavailable},
		{kube.Update, kube.StatusTooMany, apierrors.IsTooManyRequests},
		{kube.Delete, kube.StatusClientTimeout, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	} {
		err := apiError(c.verb, k, "default/w1", kube.Response{Code: c.code, Reason: "the object has been modified"})
		if err == nil || !c.is(err) {
			t.Errorf("%s answered %d: %v", c.verb, c.code, err)
		}
	}
	if err := apiError(kube.Create, k, "default/w1", kube.Response{Code: kube.StatusCreated}); err != nil {
		t.Errorf("201: %v", err)
	}
}
