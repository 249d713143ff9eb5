package ctrl

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/harness"
	"hasim/model/kube"
)

// Options describe one reconciler, as controller-runtime's builder is told
// them: the kind it reconciles (For), the kinds it owns (Owns), and how to
// make it.
type Options struct {
	// Name is the component's name: its replicas run as <master>/<Name>
	// and the role @active-<Name> strikes the active one (lower-case
	// letters, digits and dashes).
	Name string
	// Lease is the Lease its replicas contend for [kube-system/<Name>].
	Lease string
	// For is an object of the kind reconciled: a change to one enqueues
	// its namespace/name.
	For client.Object
	// Owns are objects of the kinds it creates and owns: a change to one
	// enqueues its controller owner (the ownerReference with controller
	// true, of For's kind).
	Owns []client.Object
	// New makes the reconciler afresh at every start of a replica's
	// process, from what the replica gives it (its client, API reader and
	// scheme, as a manager gives them); nothing survives a restart but
	// what the API holds.
	New func(r Replica) reconcile.Reconciler
	// Recovered, if set, says what "recovered" means for the reconciler,
	// judged on the store's ground truth once the faults heal (see
	// kube.Elected.Recovered).
	Recovered func(t *kube.Truth) error
}

// Replica is what a replica of a registered reconciler hands the New that
// makes it: its methods are those of a controller-runtime manager that a
// reconciler is usually made from ({Client: mgr.GetClient(), Scheme:
// mgr.GetScheme()}), so that the same line serves both.
type Replica interface {
	// GetClient is the client that reads the replica's caches and writes
	// through the API server (see Client).
	GetClient() client.Client
	// GetAPIReader reads the API server, bypassing the caches: each Get
	// and List is a quorum read, as up to date as the store, made from
	// Reconcile, which waits (suspended) for the answer; it fails as a
	// write does when the master is cut off. A reconciler that must see
	// a change its cache may have missed (a watch gap) reads through it.
	GetAPIReader() client.Reader
	GetScheme() *runtime.Scheme
	GetRESTMapper() meta.RESTMapper
}

// Manager holds what the replicas of the registered reconcilers share:
// the scheme, the kinds served, and the bridge to simulated time. Make one
// with NewManager, register reconcilers with Elected, put Resources and the
// registrations in the cluster's kube.Config, and run it with Run.
type Manager struct {
	scheme *runtime.Scheme
	mapper *meta.DefaultRESTMapper
	// kinds are the served kinds by group/version/kind; resources the
	// same by resource name.
	kinds     map[schema.GroupVersionKind]kindInfo
	resources map[kube.Kind]kindInfo
	clock     clock
	// live are the reconciles in flight, by the process that runs them.
	live map[string]*run
}

// kindInfo is a kind the manager serves: its group/version/kind and the
// resource (plural) name the simulated API serves it under.
type kindInfo struct {
	gvk schema.GroupVersionKind
	res kube.Kind
}

func (k kindInfo) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.gvk.Group, Resource: string(k.res)}
}

// NewManager returns a manager whose objects are converted through scheme.
func NewManager(scheme *runtime.Scheme) *Manager {
	return &Manager{scheme: scheme, mapper: meta.NewDefaultRESTMapper(nil),
		kinds: map[schema.GroupVersionKind]kindInfo{}, resources: map[kube.Kind]kindInfo{},
		clock: clock{epoch: defaultEpoch}, live: map[string]*run{}}
}

// Scheme returns the manager's scheme.
func (m *Manager) Scheme() *runtime.Scheme { return m.scheme }

// serve registers the kind of obj and returns it.
func (m *Manager) serve(obj runtime.Object) (kindInfo, error) {
	gvk, err := apiutil.GVKForObject(obj, m.scheme)
	if err != nil {
		return kindInfo{}, err
	}
	if gvk.Group == "" {
		return kindInfo{}, unsupported("%s: built-in kinds carry no object metadata in the API model; reconcile custom resources (a group/version of your own)", gvk.Kind)
	}
	if k, ok := m.kinds[gvk]; ok {
		return k, nil
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	k := kindInfo{gvk: gvk, res: kube.Kind(plural.Resource)}
	if other, ok := m.resources[k.res]; ok {
		return kindInfo{}, fmt.Errorf("%s and %s are both served as %q", other.gvk, gvk, k.res)
	}
	m.kinds[gvk], m.resources[k.res] = k, k
	m.mapper.Add(gvk, meta.RESTScopeNamespace)
	return k, nil
}

// Elected registers a reconciler: it returns the kube.Elected to put in
// the cluster's kube.Config.Components. It panics when the options are
// incomplete or name a kind the scheme does not know (a wiring error).
func (m *Manager) Elected(o Options) kube.Elected {
	if o.For == nil || o.New == nil {
		panic(fmt.Sprintf("hasim/ctrl: reconciler %q: For and New must be set", o.Name))
	}
	forKind, err := m.serve(o.For)
	if err != nil {
		panic(fmt.Sprintf("hasim/ctrl: reconciler %q: For: %v", o.Name, err))
	}
	owns := make([]kindInfo, 0, len(o.Owns))
	for i, obj := range o.Owns {
		k, err := m.serve(obj)
		if err != nil {
			panic(fmt.Sprintf("hasim/ctrl: reconciler %q: Owns[%d]: %v", o.Name, i, err))
		}
		if k.res != forKind.res && !slices.Contains(owns, k) {
			owns = append(owns, k)
		}
	}
	spec := &hostSpec{m: m, name: o.Name, forKind: forKind, owns: owns,
		newRec: o.New}
	return kube.Elected{Name: o.Name, Lease: o.Lease, Recovered: o.Recovered,
		New: func() kube.Controller { return &host{spec: spec} }}
}

// Resources are the kinds the registered reconcilers use, as the custom
// resources the cluster must serve (kube.Config.Resources), in a fixed
// order.
func (m *Manager) Resources() []kube.Resource {
	out := make([]kube.Resource, 0, len(m.kinds))
	for _, res := range harness.SortedKeys(m.resources) {
		k := m.resources[res]
		out = append(out, kube.Resource{Kind: k.res, APIVersion: k.gvk.GroupVersion().String()})
	}
	return out
}

// kindOf returns the served kind of obj, or an "unsupported by hasim"
// error for a kind no registered reconciler uses.
func (m *Manager) kindOf(obj runtime.Object) (kindInfo, error) {
	gvk, err := apiutil.GVKForObject(obj, m.scheme)
	if err != nil {
		return kindInfo{}, err
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	k, ok := m.kinds[gvk]
	if !ok {
		return kindInfo{}, unsupported("%s: not a kind any reconciler watches (For or Owns)", gvk)
	}
	return k, nil
}

// Run runs the simulation, as harness.Run does, inside a testing/synctest
// bubble, so that user code reads simulated time (see the package doc). It
// stops the reconciles still in flight when the run ends (Stop). Two runs with the
// same seed and schedule give the same trace. Runs, like harness.Run, one at
// a time per process.
func (m *Manager) Run(t *testing.T, cfg harness.Config, seed uint64, sched harness.Schedule) (harness.Result, error) {
	var res harness.Result
	var err error
	synctest.Test(t, func(*testing.T) {
		m.clock = clock{bubble: true, epoch: time.Now()} //detlint:allow wallclock the bubble's start, on its fake clock
		m.live = map[string]*run{}
		defer m.Stop()
		res, err = harness.Run(cfg, seed, sched)
	})
	m.clock = clock{epoch: defaultEpoch}
	return res, err
}

// abandon stops the reconcile that the process proc (a former incarnation
// of it) left in flight, and returns its item ("" if there was none).
func (m *Manager) abandon(proc string) string {
	r := m.live[proc]
	if r == nil {
		return ""
	}
	delete(m.live, proc)
	r.abandon()
	return r.item
}

// Stop abandons every reconcile still in flight when a run ends, in
// process order, so that no coroutine outlives the run. Run calls it; call
// it after harness.Run when running without Run.
func (m *Manager) Stop() {
	for _, p := range harness.SortedKeys(m.live) {
		m.abandon(p)
	}
}
