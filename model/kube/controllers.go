package kube

import (
	"slices"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
)

// BugActBeforeSync makes the ReplicaSet controller act before its pod
// informer has synced.
const BugActBeforeSync = "controller-act-before-sync"

func init() {
	model.Register(model.Bug{Name: BugActBeforeSync, Scenarios: []string{"cluster"}, Caught: []harness.CheckName{model.CheckNoSurplusPods},
		Plants: "a new controller-manager leader syncs ReplicaSets before its pod cache is filled, and creates pods that already exist"})
}

// Lease names of the two elected components.
const (
	LeaseControllerManager = "kube-system/kube-controller-manager"
	LeaseScheduler         = "kube-system/kube-scheduler"
)

// ControllerManagerComponent is kube-controller-manager, running the
// ReplicaSet controller and the garbage collector. Its informers start
// only once it leads (as kube-controller-manager builds its controllers in
// the leader callback); a stopped one simply dies (it does not release its
// lease).
var ControllerManagerComponent = Elected{Name: "cm", Lease: LeaseControllerManager,
	New: func() Controller { return &controllerManager{} }}

// controllerManager runs kube-controller-manager's controllers.
type controllerManager struct {
	rs replicaSetController
	gc garbageCollector
}

// Start implements Controller.
func (c *controllerManager) Start(ctx *harness.Ctx, r *Replica) {
	c.rs.Start(ctx, r)
	c.gc.start(r)
}

// Lead implements Controller.
func (c *controllerManager) Lead(ctx *harness.Ctx, r *Replica) {
	c.rs.Lead(ctx, r)
	c.gc.lead(ctx, r)
}

// Handle implements Controller.
func (c *controllerManager) Handle(ctx *harness.Ctx, r *Replica, in harness.Input) bool {
	return c.rs.Handle(ctx, r, in) || c.gc.handle(ctx, r, in)
}

// States reports the informers' states.
func (c *controllerManager) States(now time.Duration, dst []string) []string {
	return c.gc.states(c.rs.States(now, dst))
}

// SchedulerComponent is kube-scheduler: its informers stay warm while it
// stands by; while it leads it binds pending pods to the node with the
// most room. It runs its elector with ReleaseOnCancel, so a graceful stop
// gives the lease up first and a standby takes over at its next retry
// instead of after a whole lease duration.
var SchedulerComponent = Elected{Name: "scheduler", Lease: LeaseScheduler, ReleaseOnStop: true,
	New: func() Controller { return &scheduler{} }}

// CreateDecided is the ReplicaSet controller's fact: before it creates
// pods for Owner (at resourceVersion OwnerRV, as its informer held it) it
// saw Saw of them, in a pod informer that had (or had not) synced.
type CreateDecided struct {
	Owner   string
	OwnerRV int64
	Saw     int
	Synced  bool
}

// CreateFailed is the ReplicaSet controller's fact: a pod create answered
// with an error, which the controller takes for a failure though a 5xx or a
// time-out leaves the outcome unknown.
type CreateFailed struct{ Pod string }

func (CreateDecided) fact() {}
func (CreateFailed) fact()  {}

// replicaSetController is the ReplicaSet controller of one
// kube-controller-manager replica.
type replicaSetController struct {
	rsInf, podInf Informer
	expect        map[string]*expectation
	seen          map[string]bool // pods the informer has shown
	dirty         map[string]bool
	sync          SyncQueue
	bugs          model.Bugs
}

// expectation is the ReplicaSet controller's ControllerExpectations entry:
// creates and deletes it issued and has not yet seen in its informer.
type expectation struct {
	adds, dels int
	at         time.Duration
}

// ExpectationsTimeout: expectations older than this are ignored
// (client-go's ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// BurstReplicas caps the creates or deletes of one sync.
const BurstReplicas = 500

// Start implements Controller.
func (c *replicaSetController) Start(_ *harness.Ctx, r *Replica) {
	c.expect, c.dirty, c.seen = map[string]*expectation{}, map[string]bool{}, map[string]bool{}
	c.bugs, c.sync = r.Bugs(), SyncQueue{Tag: "rs-sync"}
}

// Handle implements Controller.
func (c *replicaSetController) Handle(ctx *harness.Ctx, r *Replica, in harness.Input) bool {
	if c.rsInf.Handle(ctx, in) || c.podInf.Handle(ctx, in) {
		return true
	}
	if c.sync.Due(in) {
		c.syncAll(ctx, r)
		return true
	}
	return false
}

// States reports the informers' states.
func (c *replicaSetController) States(_ time.Duration, dst []string) []string {
	return c.podInf.States(c.rsInf.States(dst))
}

// Lead implements Controller.
func (c *replicaSetController) Lead(ctx *harness.Ctx, r *Replica) {
	c.rsInf = Informer{Kind: ReplicaSets, Client: r.Client(), OnChange: func(ctx *harness.Ctx, o Object, deleted bool) { c.rsChanged(ctx, r, o, deleted) },
		OnSync: func(ctx *harness.Ctx) { c.queueAll(ctx, r) }}
	c.podInf = Informer{Kind: Pods, Client: r.Client(), OnChange: func(ctx *harness.Ctx, o Object, deleted bool) { c.podChanged(ctx, r, o, deleted) },
		OnSync: func(ctx *harness.Ctx) { c.queueAll(ctx, r) }}
	c.rsInf.Start(ctx)
	c.podInf.Start(ctx)
}

func (c *replicaSetController) queueAll(ctx *harness.Ctx, r *Replica) {
	for _, rs := range c.rsInf.List() {
		c.dirty[rs.Name] = true
	}
	c.queue(ctx, r)
}

func (c *replicaSetController) queue(ctx *harness.Ctx, r *Replica) {
	if c.bugs.Has(BugActBeforeSync) {
		c.syncAll(ctx, r) // at once, whatever the pod cache holds yet
		return
	}
	c.sync.Add(ctx)
}

func (c *replicaSetController) rsChanged(ctx *harness.Ctx, r *Replica, o Object, deleted bool) {
	c.dirty[o.Name] = true
	if deleted {
		delete(c.expect, o.Name)
	}
	c.queue(ctx, r)
}

func (c *replicaSetController) podChanged(ctx *harness.Ctx, r *Replica, o Object, deleted bool) {
	if o.Owner == "" {
		return
	}
	added := !deleted && !c.seen[o.Name]
	if deleted {
		delete(c.seen, o.Name)
	} else {
		c.seen[o.Name] = true
	}
	if e := c.expect[o.Owner]; e != nil {
		if deleted && e.dels > 0 {
			e.dels--
		} else if added && e.adds > 0 {
			e.adds--
		}
	}
	c.dirty[o.Owner] = true
	c.queue(ctx, r)
}

func (c *replicaSetController) syncAll(ctx *harness.Ctx, r *Replica) {
	if !r.Leading() || !c.rsInf.Synced() {
		return
	}
	if !c.podInf.Synced() && !c.bugs.Has(BugActBeforeSync) {
		return
	}
	for _, name := range harness.SortedKeys(c.dirty) {
		delete(c.dirty, name)
		if rs, ok := c.rsInf.Get(name); ok {
			c.syncRS(ctx, r, rs)
		}
	}
}

// syncRS is syncReplicaSet: compare the pods the cache holds with the
// desired count and create or delete the difference, unless earlier
// creates or deletes are still expected.
func (c *replicaSetController) syncRS(ctx *harness.Ctx, r *Replica, rs Object) {
	e := c.expect[rs.Name]
	if e != nil && (e.adds > 0 || e.dels > 0) && ctx.Now()-e.at < ExpectationsTimeout {
		return
	}
	var pods []Object
	for _, p := range c.podInf.List() {
		if p.Owner == rs.Name {
			pods = append(pods, p)
		}
	}
	diff := len(pods) - rs.Replicas
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		c.expect[rs.Name] = &expectation{adds: n, at: ctx.Now()}
		ctx.Notef("replicaset %s: %d pods, want %d: creating %d", rs.Name, len(pods), rs.Replicas, n)
		r.Report(ctx, CreateDecided{Owner: rs.Name, OwnerRV: rs.RV, Saw: len(pods), Synced: c.podInf.Synced()})
		c.slowStart(ctx, r, rs.Name, n, 1)
	case diff > 0:
		n := min(diff, BurstReplicas)
		// getPodsToDelete: unscheduled pods first, then the newest.
		slices.SortStableFunc(pods, func(a, b Object) int {
			if (a.Node == "") != (b.Node == "") {
				if a.Node == "" {
					return -1
				}
				return 1
			}
			return int(b.RV - a.RV)
		})
		c.expect[rs.Name] = &expectation{dels: n, at: ctx.Now()}
		ctx.Notef("replicaset %s: %d pods, want %d: deleting %d", rs.Name, len(pods), rs.Replicas, n)
		for _, p := range pods[:n] {
			owner := rs.Name
			r.Write(ctx, Request{Verb: Delete, Kind: Pods, Name: p.Name}, func(resp Response) {
				if resp.Code != StatusOK {
					if e := c.expect[owner]; e != nil && e.dels > 0 {
						e.dels--
					}
				}
			})
		}
	}
}

// slowStart creates n pods in batches of 1, 2, 4, ...; a batch with a
// failure ends the run and forgets the creates it did not issue
// (slowStartBatch).
func (c *replicaSetController) slowStart(ctx *harness.Ctx, r *Replica, owner string, n, batch int) {
	if n <= 0 || !r.Leading() {
		if e := c.expect[owner]; e != nil {
			e.adds = max(0, e.adds-n)
		}
		return
	}
	b := min(batch, n)
	left, failed := b, false
	for range b {
		name := owner + "-" + nameSuffix(ctx)
		r.Write(ctx, Request{Verb: Create, Kind: Pods, Name: name, Obj: Object{Owner: owner}}, func(resp Response) {
			if resp.Code != StatusCreated {
				r.Report(ctx, CreateFailed{Pod: name})
				failed = true
				if e := c.expect[owner]; e != nil && e.adds > 0 {
					e.adds--
				}
			}
			left--
			if left == 0 {
				if failed {
					if e := c.expect[owner]; e != nil {
						e.adds = max(0, e.adds-(n-b))
					}
					c.dirty[owner] = true
					// A pass a second on, whether or not one is due
					// (the controller does not wait for it).
					ctx.After(time.Second, c.sync.Tag, 0)
					return
				}
				c.slowStart(ctx, r, owner, n-b, 2*batch)
			}
		})
	}
}

// nameSuffix draws a generateName suffix: five characters from
// Kubernetes' alphabet without vowels and look-alikes.
func nameSuffix(ctx *harness.Ctx) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b strings.Builder
	for range 5 {
		b.WriteByte(alphabet[ctx.Rand().Int64n(int64(len(alphabet)))])
	}
	return b.String()
}

// scheduler is the scheduling loop of one kube-scheduler replica.
type scheduler struct {
	podInf, nodeInf Informer
	assumed         map[string]string // pod → node, bound but not yet seen
	sync            SyncQueue
}

// States reports the informers' states.
func (s *scheduler) States(_ time.Duration, dst []string) []string {
	return s.nodeInf.States(s.podInf.States(dst))
}

// Start implements Controller.
func (s *scheduler) Start(ctx *harness.Ctx, r *Replica) {
	s.assumed, s.sync = map[string]string{}, SyncQueue{Tag: "schedule"}
	s.podInf = Informer{Kind: Pods, Client: r.Client(), OnChange: func(ctx *harness.Ctx, o Object, deleted bool) {
		if deleted || o.Node != "" {
			delete(s.assumed, o.Name)
		}
		if !deleted && o.Node == "" {
			s.sync.Add(ctx)
		}
	}}
	s.nodeInf = Informer{Kind: Nodes, Client: r.Client(), OnChange: func(ctx *harness.Ctx, _ Object, _ bool) { s.sync.Add(ctx) }}
	s.podInf.Start(ctx)
	s.nodeInf.Start(ctx)
}

// Lead implements Controller.
func (s *scheduler) Lead(ctx *harness.Ctx, _ *Replica) { s.sync.Add(ctx) }

// Handle implements Controller.
func (s *scheduler) Handle(ctx *harness.Ctx, r *Replica, in harness.Input) bool {
	if s.podInf.Handle(ctx, in) || s.nodeInf.Handle(ctx, in) {
		return true
	}
	if s.sync.Due(in) {
		s.schedule(ctx, r)
		return true
	}
	return false
}

func (s *scheduler) schedule(ctx *harness.Ctx, r *Replica) {
	if !r.Leading() || !s.podInf.Synced() || !s.nodeInf.Synced() {
		return
	}
	used := map[string]int{}
	var pending []Object
	for _, p := range s.podInf.List() {
		node := p.Node
		if node == "" {
			node = s.assumed[p.Name]
		}
		if node != "" {
			used[node]++
		} else {
			pending = append(pending, p)
		}
	}
	nodes := s.nodeInf.List()
	retry := false
	for _, p := range pending {
		best, room := "", 0
		for _, n := range nodes {
			if free := n.Capacity - used[n.Name]; free > room {
				best, room = n.Name, free
			}
		}
		if best == "" {
			retry = true
			break
		}
		used[best]++
		s.assumed[p.Name] = best
		pod := p.Name
		r.Write(ctx, Request{Verb: Bind, Kind: Pods, Name: pod, Node: best}, func(resp Response) {
			if resp.Code != StatusCreated {
				delete(s.assumed, pod)
				s.sync.Retry(ctx, time.Second)
			}
		})
	}
	if retry {
		s.sync.Retry(ctx, time.Second)
	}
}
