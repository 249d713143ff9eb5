package kube

import (
	"time"

	"hasim/model/election"
)

// Observer hears the facts the cluster reports as it runs. The cluster
// judges nothing itself: a judge (checkers/judge) sets itself as the
// observer and feeds the facts to its checkers, as a test's oracle watches
// a system from outside.
type Observer interface {
	// Acting: a replica of the component on lease (Elected.LeaseRef)
	// began (on) or stopped acting, at true time at. Every report comes
	// through, a repeated one too.
	Acting(at time.Duration, lease, identity string, on bool)
	// Landed: a write a replica issued landed in the store.
	Landed(w LandedWrite)
	// PodStarted and PodStopped: a pod's containers started or stopped on
	// a node; cause says why (StopDeleted, StopHostDown, or the kubelet's
	// own word).
	PodStarted(at time.Duration, node, pod string)
	PodStopped(at time.Duration, node, pod, cause string)
	// MastersDown: every master was down or paused from from to to
	// (Scenario.MastersDownSince tells of a stretch still open).
	MastersDown(from, to time.Duration)
	// UserCall: a user's call is made; the function returned hears its
	// answer, at the true time it came.
	UserCall(c UserCall) func(Response)
	// QuorumRead: a replica's quorum read (Replica.Read) is made; the
	// function returned hears its answer, at the true time it came.
	QuorumRead(r QuorumRead) func(Response)
	// Servable: every 100ms of true time, whether the API could serve
	// through the load balancer, as the ground truth has it, and the state
	// that decides it (a change of state restarts any grace).
	Servable(at time.Duration, ok bool, state string)
	// Workload: the workload ReplicaSet and its pods in the store, once a
	// second and at each write to either.
	Workload(w WorkloadSample)
	// Condition: once a second, whether each liveness condition
	// (Scenario.Conditions) holds, and what was seen.
	Condition(at time.Duration, cond string, ok bool, detail string)
	// Tick: every 30s of true time, after the rest of that instant's
	// reports.
	Tick(at time.Duration)
}

// Why a pod stopped, as PodStopped reports it; any other cause (such as
// "api-unreachable") is one the cluster cannot explain.
const (
	// StopDeleted: the kubelet saw the pod deleted through the API, and
	// the store no longer binds it to the node.
	StopDeleted = "deleted"
	// StopHostDown: the node's host crashed or was powered off.
	StopHostDown = "host-down"
)

// LandedWrite is a write a replica issued while it acted for a lease, and
// when it landed in the store (when a member first applied it).
type LandedWrite struct {
	Who, Lease, What string
	Issued, Landed   time.Duration
}

// UserCall is a user's call to the API through the load balancer.
type UserCall struct {
	User   string
	Client int // the user's process
	Req    Request
	// Prev is the data the user last read with the resourceVersion an
	// update is conditional on.
	Prev  string
	Start time.Duration
}

// QuorumRead is a replica's quorum read (a GET, or a consistent LIST).
type QuorumRead struct {
	Who   string // the replica's identity
	Req   Request
	Start time.Duration
}

// WorkloadSample is the workload as the store's ground truth holds it.
type WorkloadSample struct {
	At time.Duration
	RS string
	// Known is false while the truth is unknown: the member that had got
	// furthest is down, and the others hold an older state.
	Known bool
	// Want is the most replicas the ReplicaSet wanted since the last
	// sample; Pods, how many it owns.
	Want, Pods int
	// Excuses says, for each pod created since the last sample, why its
	// creator could not know it was one too many, if it could not (see
	// sampleSurplus).
	Excuses []string
}

// Tenures returns the tenures of the component on lease (Elected.LeaseRef),
// in the order they began; End is -1 while it acts.
func (sc *Scenario) Tenures(lease string) []election.Tenure {
	if l := sc.tenures[lease]; l != nil {
		return l.List
	}
	return nil
}

// nobody is the observer of a cluster run without a judge.
type nobody struct{}

func (nobody) Acting(time.Duration, string, string, bool)       {}
func (nobody) Landed(LandedWrite)                               {}
func (nobody) PodStarted(time.Duration, string, string)         {}
func (nobody) PodStopped(time.Duration, string, string, string) {}
func (nobody) MastersDown(time.Duration, time.Duration)         {}
func (nobody) UserCall(UserCall) func(Response)                 { return func(Response) {} }
func (nobody) QuorumRead(QuorumRead) func(Response)             { return func(Response) {} }
func (nobody) Servable(time.Duration, bool, string)             {}
func (nobody) Workload(WorkloadSample)                          {}
func (nobody) Condition(time.Duration, string, bool, string)    {}
func (nobody) Tick(time.Duration)                               {}
