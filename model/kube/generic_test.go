package kube

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

var widgets = Resource{Kind: "widgets", APIVersion: "example.com/v1"}

// apiStep is one call of a scripted API session and what its answer must
// be; check returns a complaint, or "".
type apiStep struct {
	what  string
	req   func() Request
	check func(Response) string
}

// scripted is an elected component whose leader runs a list of API calls
// in order, once, and records what went wrong.
type scripted struct {
	steps  []apiStep
	failed *[]string
	done   *bool
	ran    *int // steps answered
	// write: the steps go out as the component's writes (Replica.Write,
	// which gives its cues), not as plain calls.
	write bool
}

func (s *scripted) Start(*harness.Ctx, *Replica)                      {}
func (s *scripted) Handle(*harness.Ctx, *Replica, harness.Input) bool { return false }
func (s *scripted) Lead(ctx *harness.Ctx, r *Replica) {
	if !*s.done {
		*s.done = true
		s.run(ctx, r, 0)
	}
}

func (s *scripted) run(ctx *harness.Ctx, r *Replica, i int) {
	if i == len(s.steps) {
		return
	}
	st := s.steps[i]
	cb := func(resp Response) {
		*s.ran = i + 1
		if msg := st.check(resp); msg != "" {
			*s.failed = append(*s.failed, fmt.Sprintf("step %d (%s): %s; got code %d %q %v", i+1, st.what, msg, resp.Code, resp.Reason, resp.Obj))
		}
		s.run(ctx, r, i+1)
	}
	req := st.req()
	switch {
	case s.write:
		r.Write(ctx, req, cb)
	case (req.Verb == Get || req.Verb == List) && req.RV == "":
		r.Read(ctx, req, cb) // judged by api-linearizable/objects
	default:
		r.Client().Do(ctx, req, 30*time.Second, cb)
	}
}

// runScript runs steps in a quiet cluster serving widgets, and returns the
// complaints.
func runScript(t *testing.T, steps []apiStep) []string {
	t.Helper()
	var failed []string
	done, ran := false, 0
	comp := Elected{Name: "script", New: func() Controller { return &scripted{steps: steps, failed: &failed, done: &done, ran: &ran} }}
	_, res := runCluster(t, Config{Resources: []Resource{widgets}, Components: []Elected{comp}}, 1, "", time.Minute)
	if !done || ran != len(steps) {
		t.Fatalf("%d of %d steps answered", ran, len(steps))
	}
	// Scripts without a quorum read leave api-linearizable/objects
	// unknown.
	allOK(t, "generic objects", res, "recovers-after-heal", model.CheckAPILinearizable.Of("objects"))
	return failed
}

func code(want int) func(Response) string {
	return func(r Response) string {
		if r.Code != want {
			return fmt.Sprintf("want code %d", want)
		}
		return ""
	}
}

func names(items []Object) []string {
	var out []string
	for _, o := range items {
		out = append(out, o.Name)
	}
	return out
}

// The API serves a registered resource as kube-apiserver serves a custom
// resource with the status subresource.
func TestGenericObjectsLifecycle(t *testing.T) {
	var uid string
	var rv int64
	get := func(name string) func() Request {
		return func() Request { return Request{Verb: Get, Kind: widgets.Kind, Name: name} }
	}
	list := func(sel string) func() Request {
		return func() Request { return Request{Verb: List, Kind: widgets.Kind, Selector: sel} }
	}
	listIs := func(want ...string) func(Response) string {
		return func(r Response) string {
			if r.Code != StatusOK || !reflect.DeepEqual(names(r.Items), want) {
				return fmt.Sprintf("want items %v, got %v", want, names(r.Items))
			}
			return ""
		}
	}
	steps := []apiStep{
		{"create w1 with a status", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{
				Labels: map[string]string{"app": "web"}, Finalizers: []string{"example.com/cleanup"},
				Spec: `{"size": 3}`, Status: `{"ready": 1}`}}
		}, func(r Response) string {
			uid, rv = r.Obj.UID, r.Obj.RV
			switch {
			case r.Code != StatusCreated:
				return "want 201"
			case len(r.Obj.UID) != 36 || r.Obj.Generation != 1 || r.Obj.APIVersion != widgets.APIVersion:
				return "want a uid, generation 1 and the resource's apiVersion"
			case r.Obj.Status != "" || r.Obj.Spec != `{"size":3}`:
				return "want the status dropped and the spec kept (compacted)"
			}
			return ""
		}},
		{"create w2", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w2", Obj: Object{Labels: map[string]string{"app": "db"}, Spec: `{}`}}
		}, code(StatusCreated)},
		{"create w1 again", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Spec: `{}`}}
		}, code(StatusConflict)},
		{"create with a spec that is not JSON", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w3", Obj: Object{Spec: `{size: 3`}}
		}, code(StatusBadRequest)},
		{"create with another apiVersion", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w3", Obj: Object{APIVersion: "example.com/v2"}}
		}, code(StatusBadRequest)},
		{"list app=web", list("app=web"), listIs("default/w1")},
		{"list app in (web, db)", list("app in (web, db)"), listIs("default/w1", "default/w2")},
		{"list app!=web", list("app!=web"), listIs("default/w2")},
		{"list !app", list("!app"), listIs()},
		{"list app,tier", list("app,tier"), listIs()},
		{"list with a bad selector", list("app in web"), code(StatusBadRequest)},
		{"list from the cache with a selector", func() Request {
			return Request{Verb: List, Kind: widgets.Kind, RV: RVCache, Selector: "app=db"}
		}, func(r Response) string {
			if r.Code == StatusTooMany {
				return "" // the cache may not be ready yet
			}
			return listIs("default/w2")(r)
		}},
		{"update w1's spec and status", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Obj: Object{RV: rv, Labels: map[string]string{"app": "web"},
				Finalizers: []string{"example.com/cleanup"}, Spec: `{"size":4}`, Status: `{"ready":9}`}}
		}, func(r Response) string {
			rv = r.Obj.RV
			if r.Code != StatusOK || r.Obj.Generation != 2 || r.Obj.Status != "" || r.Obj.UID != uid {
				return "want 200, generation 2, the status untouched and the uid kept"
			}
			return ""
		}},
		{"update with a stale resourceVersion", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Obj: Object{RV: rv - 1, Spec: `{}`}}
		}, code(StatusConflict)},
		{"update the status subresource", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Subresource: SubresourceStatus, Obj: Object{RV: rv, Spec: `{"size":99}`, Status: `{"ready":2}`}}
		}, func(r Response) string {
			if r.Code != StatusOK || r.Obj.Status != `{"ready":2}` || r.Obj.Spec != `{"size":4}` || r.Obj.Generation != 2 {
				return "want the status changed, the spec and generation not"
			}
			return ""
		}},
		{"merge-patch the spec and a label", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", PatchBody: `{"spec":{"size":5,"color":"red"},"metadata":{"labels":{"tier":"front"}},"status":{"ready":7}}`}
		}, func(r Response) string {
			if r.Code != StatusOK || r.Obj.Spec != `{"color":"red","size":5}` || r.Obj.Generation != 3 || r.Obj.Status != `{"ready":2}` ||
				!reflect.DeepEqual(r.Obj.Labels, map[string]string{"app": "web", "tier": "front"}) {
				return "want spec size 5 and color red, generation 3, labels app and tier, the status untouched"
			}
			return ""
		}},
		{"merge-patch removes a key with null", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", PatchBody: `{"spec":{"color":null}}`}
		}, func(r Response) string {
			if r.Code != StatusOK || r.Obj.Spec != `{"size":5}` {
				return "want color removed"
			}
			return ""
		}},
		{"merge-patch the status", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", Subresource: SubresourceStatus, PatchBody: `{"status":{"ready":3}}`}
		}, func(r Response) string {
			if r.Code != StatusOK || r.Obj.Status != `{"ready":3}` || r.Obj.Generation != 4 {
				return "want the status patched, the generation unchanged"
			}
			return ""
		}},
		{"a patch that is not JSON", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", PatchBody: `{`}
		}, code(StatusBadRequest)},
		{"delete w1, which has a finalizer", func() Request { return Request{Verb: Delete, Kind: widgets.Kind, Name: "default/w1"} }, func(r Response) string {
			if r.Code != StatusOK || !r.Obj.Deleting() {
				return "want 200 and a deletionTimestamp"
			}
			return ""
		}},
		{"w1 still exists while its finalizer holds", get("default/w1"), func(r Response) string {
			if r.Code != StatusOK || !r.Obj.Deleting() || len(r.Obj.Finalizers) != 1 {
				return "want it there, deleting"
			}
			rv = r.Obj.RV
			return ""
		}},
		{"remove the last finalizer", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Obj: Object{RV: rv, Labels: map[string]string{"app": "web"}, Spec: `{"size":5}`}}
		}, code(StatusOK)},
		{"w1 is gone", get("default/w1"), code(StatusNotFound)},
		{"delete w2, which has no finalizer", func() Request { return Request{Verb: Delete, Kind: widgets.Kind, Name: "default/w2"} }, code(StatusOK)},
		{"w2 is gone", get("default/w2"), code(StatusNotFound)},
		{"labels on a built-in kind", func() Request {
			return Request{Verb: Create, Kind: ConfigMaps, Name: "default/labelled", Obj: Object{Data: "x", Labels: map[string]string{"a": "b"}}}
		}, func(r Response) string {
			if r.Code != StatusBadRequest || !strings.Contains(r.Reason, "unsupported by hasim") {
				return "want 400 unsupported by hasim"
			}
			return ""
		}},
		{"patch a built-in kind", func() Request {
			return Request{Verb: Patch, Kind: ConfigMaps, Name: "default/k0", PatchBody: `{}`}
		}, func(r Response) string {
			if r.Code != StatusBadRequest || !strings.Contains(r.Reason, "unsupported by hasim") {
				return "want 400 unsupported by hasim"
			}
			return ""
		}},
	}
	for _, f := range runScript(t, steps) {
		t.Error(f)
	}
}

func TestSelectors(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for sel, want := range map[string]bool{
		"": true, "app=web": true, "app==web": true, "app=db": false, "app!=db": true, "app!=web": false,
		"app": true, "!app": false, "!zone": true, "app in (web, db)": true, "app notin (web)": false,
		"zone notin (a)": true, "app=web,tier=front": true, "app=web, tier in (back)": false,
		"tier in (front),app": true, "app in(web)": true, "app notin(db),tier": true,
	} {
		s, err := ParseSelector(sel)
		if err != nil {
			t.Errorf("%q: %v", sel, err)
			continue
		}
		if got := s.Matches(labels); got != want {
			t.Errorf("%q matches %v: %v, want %v", sel, labels, got, want)
		}
	}
	for _, bad := range []string{"app in web", "app in (web", "=web", "a b", "app=web,", "(x)", "app in ()", "app=a=b", "app=web x"} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestGenericObjectsRoundTripInTheStore(t *testing.T) {
	o := Object{Kind: "widgets", Name: "default/w1", APIVersion: "example.com/v1", GenerateName: "w", UID: "u1", Labels: map[string]string{"b": "2", "a": "1;x"},
		Annotations: map[string]string{"example.com/note": "free text; any=thing"},
		OwnerRefs:   []OwnerRef{{APIVersion: "example.com/v1", Kind: "gadgets", Name: "g1", UID: "u0", Controller: true, BlockOwnerDeletion: true}},
		Finalizers:  []string{"f"}, CreationTimestamp: 2, DeletionTimestamp: 5, Generation: 3, Spec: `{"s":";data=x"}`, Status: `{"n":1}`, Data: "d;e"}
	enc := o.encode()
	got, ok := decodeObject(Key(o.Kind, o.Name), enc, 0)
	if !ok || !reflect.DeepEqual(got, o) {
		t.Fatalf("%s\ndecoded to %+v (%v)\nwant %+v", enc, got, ok, o)
	}
	if enc != got.encode() {
		t.Fatal("encoding is not canonical")
	}
}

func TestResourceValidation(t *testing.T) {
	for _, c := range []struct {
		res  []Resource
		want string
	}{
		{[]Resource{{Kind: "Widgets", APIVersion: "a/v1"}}, "resources[0].kind"},
		{[]Resource{{Kind: "pods", APIVersion: "a/v1"}}, `resources[0].kind: "pods" is served already`},
		{[]Resource{widgets, widgets}, `resources[1].kind: "widgets" is served already`},
		{[]Resource{{Kind: "widgets", APIVersion: "v1"}}, `resources[0].apiVersion: "v1" is not group/version`},
	} {
		err := (&Scenario{Cfg: Config{Resources: c.res}}).Build(harness.NewSim(1, harness.TraceOptions{}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %q", c.res, err, c.want)
		}
	}
}

var gadgets = Resource{Kind: "gadgets", APIVersion: "example.com/v1"}

// The controller-manager's garbage collector deletes the dependents whose
// owners are all gone (deleted, or replaced by a new object of the same
// name), and keeps the rest, through a failover of the controller-manager.
func TestGarbageCollector(t *testing.T) {
	for _, sched := range []string{"", "at 2s kill @active-cm for 20s"} {
		uids := map[string]string{}
		create := func(k Kind, name string, owners ...OwnerRef) apiStep {
			return apiStep{"create " + name, func() Request {
				var refs []OwnerRef
				for _, o := range owners {
					if o.UID == "" {
						o.UID = uids[o.Name]
					}
					refs = append(refs, o)
				}
				return Request{Verb: Create, Kind: k, Name: "default/" + name, Obj: Object{OwnerRefs: refs, Spec: `{}`}}
			}, func(r Response) string {
				uids[name] = r.Obj.UID
				return code(StatusCreated)(r)
			}}
		}
		owner := func(name string) OwnerRef {
			return OwnerRef{APIVersion: gadgets.APIVersion, Kind: gadgets.Kind, Name: name}
		}
		steps := []apiStep{
			create(gadgets.Kind, "g1"),
			create(gadgets.Kind, "g3"),
			create(widgets.Kind, "w1", owner("g1")),
			create(widgets.Kind, "w2", OwnerRef{APIVersion: gadgets.APIVersion, Kind: gadgets.Kind, Name: "g2", UID: "never-existed"}),
			create(widgets.Kind, "w3", OwnerRef{APIVersion: gadgets.APIVersion, Kind: gadgets.Kind, Name: "g3", UID: "a-former-g3"}),
			create(widgets.Kind, "w4", owner("g3")),
			create(widgets.Kind, "w5", OwnerRef{APIVersion: "v1", Kind: Pods, Name: "p1", UID: "x"}),
			create(widgets.Kind, "w6", owner("g1"), owner("g3")),
			{"delete g1", func() Request { return Request{Verb: Delete, Kind: gadgets.Kind, Name: "default/g1"} }, code(StatusOK)},
		}
		var failed []string
		done, ran := false, 0
		comp := Elected{Name: "script", New: func() Controller { return &scripted{steps: steps, failed: &failed, done: &done, ran: &ran} }}
		sc, res := runCluster(t, Config{Resources: []Resource{gadgets, widgets}, Components: []Elected{comp}}, 1, sched, 2*time.Minute)
		if ran != len(steps) {
			t.Fatalf("%q: %d of %d steps answered", sched, ran, len(steps))
		}
		for _, f := range failed {
			t.Errorf("%q: %s", sched, f)
		}
		allOK(t, sched, res, model.CheckAPILinearizable.Of("objects"))
		truth := sc.truthNow(res.Sim)
		if got, want := names(truth.List(widgets.Kind)), []string{"default/w4", "default/w5", "default/w6"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: widgets left %v, want %v", sched, got, want)
		}
		// w6 keeps its owner g3 and loses its reference to g1.
		if w6, ok := truth.Get(widgets.Kind, "default/w6"); !ok || len(w6.OwnerRefs) != 1 || w6.OwnerRefs[0].Name != "g3" {
			t.Errorf("%q: w6's owners %v, want g3 alone", sched, w6.OwnerRefs)
		}
	}
}

// A spec is compared by value: a metadata-only patch, or an update with
// the same spec written in another key order, keeps the generation, and
// numbers keep the digits they were written with.
func TestSpecIsComparedByValue(t *testing.T) {
	const canonical = `{"big":9007199254740993,"color":"red","f":1.0,"size":3}`
	var rv int64
	sameSpec := func(gen int64) func(Response) string {
		return func(r Response) string {
			rv = r.Obj.RV
			if r.Code >= 300 || r.Obj.Generation != gen || r.Obj.Spec != canonical {
				return fmt.Sprintf("want generation %d and spec %s; got %d and %s", gen, canonical, r.Obj.Generation, r.Obj.Spec)
			}
			return ""
		}
	}
	steps := []apiStep{
		{"create", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Spec: `{"size":3,"color":"red","big":9007199254740993,"f":1.0}`}}
		}, sameSpec(1)},
		{"label-only patch", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", PatchBody: `{"metadata":{"labels":{"a":"b"}}}`}
		}, sameSpec(1)},
		{"update with the spec's keys in another order", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Obj: Object{RV: rv, Labels: map[string]string{"a": "b"},
				Spec: `{ "f": 1.0, "size": 3, "color": "red", "big": 9007199254740993 }`}}
		}, sameSpec(1)},
	}
	for _, f := range runScript(t, steps) {
		t.Error(f)
	}
}

// What kube-apiserver's validation refuses (422) is refused: new
// finalizers on an object being deleted, an update without a
// resourceVersion, ownerReferences without a uid, with a namespaced name
// or with two controllers. Deletion marks a new generation.
func TestGenericObjectValidation(t *testing.T) {
	var rv int64
	invalid := func(want string) func(Response) string {
		return func(r Response) string {
			if r.Code != StatusInvalid || !strings.Contains(r.Reason, want) {
				return fmt.Sprintf("want 422 naming %q", want)
			}
			return ""
		}
	}
	ref := func(name, uid string, controller bool) OwnerRef {
		return OwnerRef{APIVersion: widgets.APIVersion, Kind: widgets.Kind, Name: name, UID: uid, Controller: controller}
	}
	create := func(name string, refs ...OwnerRef) func() Request {
		return func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: name, Obj: Object{Spec: `{}`, OwnerRefs: refs}}
		}
	}
	steps := []apiStep{
		{"create", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Finalizers: []string{"f1"}, Spec: `{}`}}
		}, code(StatusCreated)},
		{"delete", func() Request { return Request{Verb: Delete, Kind: widgets.Kind, Name: "default/w1"} }, func(r Response) string {
			rv = r.Obj.RV
			if r.Code != StatusOK || r.Obj.Generation != 2 {
				return "want 200 and generation 2 (markAsDeleting)"
			}
			return ""
		}},
		{"add a finalizer to a deleting object", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Obj: Object{RV: rv, Finalizers: []string{"f1", "f2"}, Spec: `{}`}}
		}, invalid(`no new finalizers can be added if the object is being deleted, found new finalizer "f2"`)},
		{"patch a finalizer onto a deleting object", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", PatchBody: `{"metadata":{"finalizers":["f1","f3"]}}`}
		}, invalid(`found new finalizer "f3"`)},
		{"update without a resourceVersion", func() Request {
			return Request{Verb: Update, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Finalizers: []string{"f1"}, Spec: `{"x":1}`}}
		}, invalid("metadata.resourceVersion: must be specified")},
		{"an ownerReference without a uid", create("default/w2", ref("w1", "", false)), invalid("metadata.ownerReferences[0].uid")},
		{"an ownerReference with a namespaced name", create("default/w2", ref("default/w1", "u", false)), invalid("metadata.ownerReferences[0].name")},
		{"two controllers", create("default/w2", ref("w1", "u", true), ref("w3", "v", true)), invalid("only one reference can have controller set to true")},
		{"a bad label", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w2", Obj: Object{Spec: `{}`, Labels: map[string]string{"app": "a b"}}}
		}, invalid("metadata.labels")},
		{"a bad annotation key", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w2", Obj: Object{Spec: `{}`, Annotations: map[string]string{"a key": "v"}}}
		}, invalid("metadata.annotations")},
		// A body that is not JSON is refused as such (and traced without
		// harm), even when it names its apiVersion.
		{"a spec that is not JSON", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w2", Obj: Object{APIVersion: widgets.APIVersion, Spec: `{size: 3`}}
		}, code(StatusBadRequest)},
	}
	for _, f := range runScript(t, steps) {
		t.Error(f)
	}
}

// An object a client receives shares nothing with the server's cache: a
// caller that modifies what it listed changes nobody else's view.
func TestObjectsAreNotSharedWithTheCache(t *testing.T) {
	steps := []apiStep{
		{"create", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Labels: map[string]string{"app": "web"}, Spec: `{}`}}
		}, code(StatusCreated)},
		{"a consistent list (the cache catches up)", func() Request { return Request{Verb: List, Kind: widgets.Kind} }, code(StatusOK)},
		{"list from the cache and modify the result", func() Request { return Request{Verb: List, Kind: widgets.Kind, RV: RVCache} }, func(r Response) string {
			if r.Code != StatusOK || len(r.Items) != 1 {
				return "want one item"
			}
			r.Items[0].Labels["app"] = "evil"
			return ""
		}},
		{"list from the cache again", func() Request {
			return Request{Verb: List, Kind: widgets.Kind, RV: RVCache, Selector: "app=evil"}
		}, func(r Response) string {
			if r.Code != StatusOK || len(r.Items) != 0 {
				return "a client's change reached the server's cache"
			}
			return ""
		}},
	}
	for _, f := range runScript(t, steps) {
		t.Error(f)
	}
}

// A registered kind's watch window reaches back to the cache's list, as a
// built-in kind's does, whether the server was told of the kind or first
// sees it in an event.
func TestRegisteredKindWatchWindow(t *testing.T) {
	for _, res := range [][]Resource{{widgets}, nil} {
		var c cache
		c.init(100, res)
		c.reset(10)
		o := Object{Kind: widgets.Kind, Name: "default/w1", APIVersion: widgets.APIVersion, Spec: `{}`}
		c.apply(store.Event{Type: store.EventPut, KV: store.KeyValue{Key: Key(widgets.Kind, o.Name), Value: o.encode(), ModRevision: 12}})
		if _, ok := c.since(widgets.Kind, 11); !ok {
			t.Errorf("resources %v: 410 from revision 11, though the cache holds every event since 10", res)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"a in (b)", "a,b", "!a", "a!=b", "(", "a in ()", "a in(b,c),d", "k=a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err == nil {
			sel.Matches(map[string]string{"a": "b"})
		}
	})
}

// Annotations are stored, merged by a patch (null removes one), kept by a
// status write, and change no generation; an ownerReference's
// blockOwnerDeletion is kept as written.
func TestAnnotationsAndBlockOwnerDeletion(t *testing.T) {
	want := func(ann map[string]string, gen int64, block bool) func(Response) string {
		return func(r Response) string {
			switch {
			case r.Code != StatusOK && r.Code != StatusCreated:
				return fmt.Sprintf("code %d: %s", r.Code, r.Reason)
			case !reflect.DeepEqual(r.Obj.Annotations, ann):
				return fmt.Sprintf("annotations %v, want %v", r.Obj.Annotations, ann)
			case r.Obj.Generation != gen:
				return fmt.Sprintf("generation %d, want %d", r.Obj.Generation, gen)
			case len(r.Obj.OwnerRefs) != 1 || r.Obj.OwnerRefs[0].BlockOwnerDeletion != block:
				return fmt.Sprintf("ownerReferences %+v, want blockOwnerDeletion %v", r.Obj.OwnerRefs, block)
			}
			return ""
		}
	}
	owner := OwnerRef{APIVersion: widgets.APIVersion, Kind: widgets.Kind, Name: "w0", UID: "u0", Controller: true, BlockOwnerDeletion: true}
	steps := []apiStep{
		{"create", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/w1", Obj: Object{Spec: `{}`, OwnerRefs: []OwnerRef{owner},
				Annotations: map[string]string{"example.com/a": "1", "example.com/b": "two words"}}}
		}, want(map[string]string{"example.com/a": "1", "example.com/b": "two words"}, 1, true)},
		{"patch the annotations", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", PatchBody: `{"metadata":{"annotations":{"example.com/a":null,"example.com/c":"3"}}}`}
		}, want(map[string]string{"example.com/b": "two words", "example.com/c": "3"}, 1, true)},
		{"patch the status", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: "default/w1", Subresource: SubresourceStatus, PatchBody: `{"status":{"n":1},"metadata":{"annotations":{"example.com/b":null}}}`}
		}, want(map[string]string{"example.com/b": "two words", "example.com/c": "3"}, 1, true)},
	}
	for _, f := range runScript(t, steps) {
		t.Error(f)
	}
}

// A create with generateName and no name is named by the server: the
// prefix (cut to leave room for five characters in 63) and a random
// suffix; one with neither is refused (422). The server stamps the
// creationTimestamp, on its clock, and keeps it through every update.
func TestGenericObjectsGeneratedNamesAndCreationTimestamp(t *testing.T) {
	var first, second Object
	long := strings.Repeat("x", 70)
	steps := []apiStep{
		{"create with generateName", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/", Obj: Object{GenerateName: "w-", Spec: `{}`}}
		}, func(r Response) string {
			first = r.Obj
			_, short, _ := strings.Cut(r.Obj.Name, "/")
			switch {
			case r.Code != StatusCreated:
				return "want 201"
			case !strings.HasPrefix(short, "w-") || len(short) != len("w-")+5 || strings.Trim(short[2:], "bcdfghjklmnpqrstvwxz2456789") != "":
				return fmt.Sprintf("want w- and five characters, got %q", short)
			case r.Obj.GenerateName != "w-":
				return "want generateName kept"
			case r.Obj.CreationTimestamp <= 0:
				return "want a creationTimestamp"
			}
			return ""
		}},
		{"create with the same generateName", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/", Obj: Object{GenerateName: "w-", Spec: `{}`}}
		}, func(r Response) string {
			second = r.Obj
			if r.Code != StatusCreated || r.Obj.Name == first.Name {
				return fmt.Sprintf("want another name than %s", first.Name)
			}
			return ""
		}},
		{"create with a long generateName", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/", Obj: Object{GenerateName: long, Spec: `{}`}}
		}, func(r Response) string {
			if _, short, _ := strings.Cut(r.Obj.Name, "/"); r.Code != StatusCreated || len(short) != 63 || !strings.HasPrefix(short, long[:58]) {
				return fmt.Sprintf("want a name of 63 characters, got %q", short)
			}
			return ""
		}},
		{"create with neither name nor generateName", func() Request {
			return Request{Verb: Create, Kind: widgets.Kind, Name: "default/", Obj: Object{Spec: `{}`}}
		}, code(StatusInvalid)},
		{"update the first", func() Request {
			o := first
			o.Spec = `{"size":2}`
			o.CreationTimestamp = 0 // the server's to keep, whatever a client sends
			return Request{Verb: Update, Kind: widgets.Kind, Name: first.Name, Obj: o}
		}, func(r Response) string {
			if r.Code != StatusOK || r.Obj.CreationTimestamp != first.CreationTimestamp || r.Obj.Generation != 2 {
				return fmt.Sprintf("want the creationTimestamp %s kept, got %s", first.CreationTimestamp, r.Obj.CreationTimestamp)
			}
			return ""
		}},
		{"patch the second's status", func() Request {
			return Request{Verb: Patch, Kind: widgets.Kind, Name: second.Name, Subresource: SubresourceStatus, PatchBody: `{"status":{"ready":1}}`}
		}, func(r Response) string {
			if r.Code != StatusOK || r.Obj.CreationTimestamp != second.CreationTimestamp {
				return "want the creationTimestamp kept"
			}
			return ""
		}},
	}
	if failed := runScript(t, steps); len(failed) > 0 {
		t.Fatal(strings.Join(failed, "\n"))
	}
}

// A generated name already in use is drawn again, as kube-apiserver's
// RetryGenerateName does. The names a server draws follow its random
// stream, the same in every run of a seed: the first run learns the name
// the generateName create gets, the second creates that name first
// (drawing as much of the stream as the first run's create did) and sees
// its generateName create named otherwise.
func TestGeneratedNameInUseIsDrawnAgain(t *testing.T) {
	script := func(first string, named *string) []apiStep {
		return []apiStep{
			{"create " + first, func() Request {
				return Request{Verb: Create, Kind: widgets.Kind, Name: "default/" + first, Obj: Object{Spec: `{}`}}
			}, code(StatusCreated)},
			{"create with generateName", func() Request {
				return Request{Verb: Create, Kind: widgets.Kind, Name: "default/", Obj: Object{GenerateName: "w-", Spec: `{}`}}
			}, func(r Response) string {
				*named = r.Obj.Name
				return code(StatusCreated)(r)
			}},
		}
	}
	var drawn, redrawn string
	if failed := runScript(t, script("x-12345", &drawn)); len(failed) > 0 {
		t.Fatal(strings.Join(failed, "\n"))
	}
	_, short, _ := strings.Cut(drawn, "/")
	if len(short) != len("x-12345") {
		t.Fatalf("drew %q, want a name as long as x-12345 (so that the second run draws alike)", drawn)
	}
	if failed := runScript(t, script(short, &redrawn)); len(failed) > 0 {
		t.Fatal(strings.Join(failed, "\n"))
	}
	if redrawn == drawn || !strings.HasPrefix(redrawn, "default/w-") {
		t.Fatalf("the second run's generateName create got %q; the name it drew first, %q, was in use", redrawn, drawn)
	}
}
