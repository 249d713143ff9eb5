package kube

import (
	"time"

	"hasim/harness"
	"hasim/model"
)

// BugStopOnAPILoss makes kubelets kill their pods when they lose the API.
const BugStopOnAPILoss = "kubelet-stop-on-api-loss"

func init() {
	model.Register(model.Bug{Name: BugStopOnAPILoss, Scenarios: []string{"cluster"}, Caught: []harness.CheckName{model.CheckWorkloadContinuity},
		Plants: "a kubelet that cannot renew its node lease for 60s stops every pod it runs"})
}

// Runtime is the container runtime of the worker hosts: which pods run
// where. It outlives kubelet restarts (containers keep running when the
// kubelet dies) but not a host crash. The scenario implements it and
// reports every start and stop to the continuity check.
type Runtime interface {
	Running(node string) []string
	IsRunning(node, pod string) bool
	StartPod(ctx *harness.Ctx, node, pod string)
	StopPod(ctx *harness.Ctx, node, pod, cause string)
}

// Kubelet registers its node, renews the node's Lease every 10s through
// the load balancer, and runs the pods bound to its node; it keeps them
// running whatever happens to the API.
//
// Deviations, named: pods start one second after the kubelet sees them
// bound and report no status; a deleted pod stops at once (no grace
// period); the kubelet filters pods by node itself instead of asking the
// server for a field selector.
type Kubelet struct {
	Node     string
	Server   harness.ProcID
	Resolve  func() harness.ProcID // the VIP's holder, when the LB floats
	Capacity int
	Runtime  Runtime
	Bugs     model.Bugs

	client     Client
	pods       Informer
	starting   map[string]bool
	registered bool
	lastRenew  time.Duration
}

// States implements harness.StateReporter.
func (k *Kubelet) States(_ time.Duration, dst []string) []string { return k.pods.States(dst) }

// NodeLeaseInterval is how often kubelets renew their node Lease.
const NodeLeaseInterval = 10 * time.Second

// Step implements harness.Process.
func (k *Kubelet) Step(ctx *harness.Ctx, in harness.Input) {
	if in.Kind == harness.InputStart {
		k.client = Client{Server: k.Server, Resolve: k.Resolve, ID: ctx.ClientID(0), Agent: "kubelet/" + k.Node}
		k.starting = map[string]bool{}
		k.lastRenew = ctx.Now()
		k.pods = Informer{Kind: Pods, Client: &k.client, OnChange: k.podChanged, OnSync: k.cleanup}
		k.pods.Start(ctx)
		k.register(ctx)
		ctx.After(NodeLeaseInterval, "kubelet-lease", 0)
		return
	}
	if k.client.Handle(ctx, in) || k.pods.Handle(ctx, in) || in.Kind != harness.InputTimer {
		return
	}
	switch in.Tag {
	case "kubelet-register":
		k.register(ctx)
	case "kubelet-lease":
		k.renew(ctx)
		ctx.After(NodeLeaseInterval, "kubelet-lease", 0)
	case "kubelet-start":
		for _, pod := range harness.SortedKeys(k.starting) {
			delete(k.starting, pod)
			if o, ok := k.pods.Get(pod); ok && o.Node == k.Node && !k.Runtime.IsRunning(k.Node, pod) {
				k.Runtime.StartPod(ctx, k.Node, pod)
			}
		}
	}
}

func (k *Kubelet) register(ctx *harness.Ctx) {
	node := Object{Capacity: k.Capacity}
	k.client.Do(ctx, Request{Verb: Create, Kind: Nodes, Name: k.Node, Obj: node}, 10*time.Second, func(r Response) {
		if r.Code == StatusCreated || r.Code == StatusConflict {
			k.registered = true
			return
		}
		ctx.After(2*time.Second, "kubelet-register", 0)
	})
}

// renew updates the node's Lease (an unconditional update; a create when
// it does not exist yet).
func (k *Kubelet) renew(ctx *harness.Ctx) {
	name := "kube-node-lease/" + k.Node
	lease := Object{Holder: k.Node, LeaseDuration: 40 * time.Second, RenewTime: ctx.WallNow()}
	done := func(r Response) {
		if r.Code == StatusOK || r.Code == StatusCreated {
			k.lastRenew = ctx.Now()
			return
		}
		if k.Bugs.Has(BugStopOnAPILoss) && ctx.Now()-k.lastRenew >= 60*time.Second {
			for _, pod := range k.Runtime.Running(k.Node) {
				k.Runtime.StopPod(ctx, k.Node, pod, "api-unreachable")
			}
		}
	}
	k.client.Do(ctx, Request{Verb: Update, Kind: Leases, Name: name, Obj: lease}, NodeLeaseInterval, func(r Response) {
		if r.Code == StatusNotFound {
			k.client.Do(ctx, Request{Verb: Create, Kind: Leases, Name: name, Obj: lease}, NodeLeaseInterval, done)
			return
		}
		done(r)
	})
}

func (k *Kubelet) podChanged(ctx *harness.Ctx, o Object, deleted bool) {
	if deleted {
		delete(k.starting, o.Name)
		if k.Runtime.IsRunning(k.Node, o.Name) {
			k.Runtime.StopPod(ctx, k.Node, o.Name, "deleted")
		}
		return
	}
	if o.Node == k.Node && !k.Runtime.IsRunning(k.Node, o.Name) && !k.starting[o.Name] {
		if len(k.starting) == 0 {
			ctx.After(time.Second, "kubelet-start", 0)
		}
		k.starting[o.Name] = true
	}
}

// cleanup stops pods that run here but no longer exist in the API (a
// kubelet that restarted learns of deletions only from a list). The list
// may come from a stale watch cache, so a pod missing from it is stopped
// only once a quorum read confirms it is gone.
func (k *Kubelet) cleanup(ctx *harness.Ctx) {
	for _, pod := range k.Runtime.Running(k.Node) {
		if o, ok := k.pods.Get(pod); ok && o.Node == k.Node {
			continue
		}
		k.client.Do(ctx, Request{Verb: Get, Kind: Pods, Name: pod}, NodeLeaseInterval, func(r Response) {
			if r.Code == StatusNotFound || r.Code == StatusOK && r.Obj.Node != k.Node {
				k.Runtime.StopPod(ctx, k.Node, pod, "deleted")
			}
		})
	}
}
