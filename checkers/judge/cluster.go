package judge

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
	"hasim/model/kube"
	"hasim/model/store"
)

// AvailabilityGrace is how long after any change the API may stay
// unavailable through the load balancer: three failed health checks of 2s
// each plus their timeouts, a raft election, and a call's timeout.
const AvailabilityGrace = 25 * time.Second

// ClusterRecoveryBudget is how long after the last fault the whole control
// plane may take to recover: a raft election, a lease duration and retry
// for the new leaders, the load balancer's rise, and slack for what
// callers need to notice broken connections (client-go's 30s read-idle
// ping and its 15s timeout) and for the workload to converge.
func ClusterRecoveryBudget(t election.Timings) time.Duration {
	rise := kube.DefaultLBRise * kube.DefaultLBCheckInterval
	slack := 45*time.Second + 2*t.RetryPeriod + 15*time.Second
	return checkers.RecoveryBudget(store.ElectionTicks*store.TickInterval, t.LeaseDuration, rise, slack)
}

// Cluster is the cluster scenario judged. Its verdicts, in order:
// raft-safety; single-active for each elected component (claimed inside
// leader election's envelope: a violation outside it is expected, and
// says so); deposed-writes (advisory: leader election has no fencing);
// api-linearizable (the users' ConfigMaps, through the load balancer);
// with registered resources, api-linearizable/objects (the quorum reads
// components make of their objects, Replica.Read, judged against each
// object's timeline in the store: checkers.FreshReads);
// no-time-travel of quorum reads (and, with cache reads, of those:
// advisory, since resourceVersion "0" reads may go back in time, as in
// real clusters); workload-continuity; no-surplus-pods; api-available;
// recovers-after-heal; then invariant/<name> for each of Invariants.
type Cluster struct {
	kube.Scenario
	// LinearizabilityTimeout bounds porcupine per key [LinearizabilityTimeout].
	LinearizabilityTimeout time.Duration
	// Invariants are the user's safety properties of the API's objects,
	// judged at every new store revision.
	Invariants []Invariant

	sim        *harness.Sim
	raft       *checkers.RaftSafety
	single     map[string]*checkers.SingleActive // by lease
	deposed    *checkers.DeposedWrites
	continuity *checkers.Continuity
	travel     *checkers.NoTimeTravel
	avail      *checkers.Availability
	surplus    *checkers.Surplus
	live       *checkers.Liveness
	keys       map[string]*keyHistory // register histories still open
	userEpoch  map[string]int         // by user, the newest key epoch it called in
	lin        linTally
	inv        invariants
	// fresh judges the quorum reads of registered resources' objects
	// (nil without resources) against their timeline in the store:
	// freshLast is each object's last resourceVersion seen, freshAt when
	// the last snapshot was taken, freshRev its revision, freshUnknown
	// whether the truth was unknown at a revision since.
	fresh        *checkers.FreshReads
	freshKinds   map[kube.Kind]bool
	freshLast    map[string]int64
	freshLive    int // how many objects freshLast holds as existing
	freshAt      time.Duration
	freshRev     int64
	freshUnknown bool

	artifacts     string
	artifactPaths []string
}

// NewCluster returns the cluster scenario of c, judged.
func NewCluster(c kube.Config) *Cluster { return &Cluster{Scenario: kube.Scenario{Cfg: c}} }

// SetArtifacts sets where the linearizability view of a violation is
// written.
func (j *Cluster) SetArtifacts(dir string) { j.artifacts = dir }

// ArtifactPaths lists the files the last Check wrote.
func (j *Cluster) ArtifactPaths() []string { return j.artifactPaths }

// Build implements harness.Scenario: it observes the scenario it builds.
func (j *Cluster) Build(s *harness.Sim) error {
	j.sim = s
	j.raft = checkers.NewRaftSafety()
	j.Observer, j.Raft = j, j.raft
	j.inv = invariants{list: j.Invariants, state: make([]invState, len(j.Invariants)), truth: j.Truth}
	if err := j.inv.validate(); err != nil {
		return err
	}
	if len(j.Cfg.Resources) > 0 {
		j.fresh = checkers.NewFreshReads(model.CheckAPILinearizable.Of("objects"))
		j.freshKinds, j.freshLast = map[kube.Kind]bool{}, map[string]int64{}
		for _, r := range j.Cfg.Resources {
			j.freshKinds[r.Kind] = true
		}
	}
	if len(j.Invariants) > 0 || j.fresh != nil {
		j.Raft = store.RevisionTap{Next: j.raft, Heard: j.revision}
	}
	if err := j.Scenario.Build(s); err != nil {
		return err
	}
	c := j.Cfg // filled by Build
	j.single = map[string]*checkers.SingleActive{}
	for _, e := range j.Components() {
		j.single[e.LeaseRef()] = checkers.NewSingleActive(e.SingleActiveCheck())
	}
	j.keys, j.lin = map[string]*keyHistory{}, linTally{KeyTally: checkers.KeyTally{Check: model.CheckAPILinearizable}}
	j.userEpoch = map[string]int{}
	j.deposed = checkers.NewDeposedWrites(model.CheckDeposedWrites)
	j.continuity = checkers.NewContinuity(model.CheckWorkloadContinuity)
	j.travel = checkers.NewNoTimeTravel(model.CheckNoTimeTravel)
	grace := AvailabilityGrace
	if c.Topology == store.External {
		// An API server keeps sending to a dead external member until
		// its etcd client's keepalive gives up on it.
		grace += store.KeepaliveDead
	}
	j.avail = checkers.NewAvailability(model.CheckAPIAvailable, grace)
	j.avail.Resolution = 100 * time.Millisecond
	j.surplus = checkers.NewSurplus(model.CheckNoSurplusPods, time.Minute)
	j.live = checkers.NewLiveness(model.CheckRecoversAfterHeal)
	j.live.Budget(ClusterRecoveryBudget(c.Timings))
	for _, cond := range j.Conditions() {
		j.live.Condition(cond)
	}
	return nil
}

// revision is the store's first application of each new revision: the
// invariants are judged, and the registered resources' objects are
// snapshot for api-linearizable/objects.
func (j *Cluster) revision(at time.Duration, rev int64) {
	j.inv.revision(at, rev)
	if j.fresh == nil || rev <= j.freshRev {
		return
	}
	t := j.Truth()
	if t == nil {
		j.freshUnknown = true // what changed meanwhile began after freshAt
		return
	}
	lo := at
	if j.freshUnknown {
		lo = j.freshAt
	}
	j.freshRev, j.freshAt, j.freshUnknown = t.Rev(), at, false
	seen := map[string]bool{}
	for _, k := range harness.SortedKeys(j.freshKinds) {
		for _, v := range t.Versions(k) {
			key := string(k) + "/" + v.Name
			seen[key] = true
			if last := j.freshLast[key]; last != v.RV {
				if last == 0 {
					j.freshLive++
				}
				j.freshLast[key] = v.RV
				j.fresh.Changed(lo, at, key, v.RV, t.Rev())
			}
		}
	}
	if len(seen) == j.freshLive {
		return // nothing was deleted
	}
	for _, key := range harness.SortedKeys(j.freshLast) {
		if !seen[key] && j.freshLast[key] != 0 {
			j.freshLast[key], j.freshLive = 0, j.freshLive-1
			j.fresh.Changed(lo, at, key, 0, t.Rev())
		}
	}
}

// QuorumRead implements kube.Observer: a quorum read of a registered
// resource's objects is judged against their timeline in the store once
// its answer comes (answers other than 200 and a GET's 404 say nothing of
// the object).
func (j *Cluster) QuorumRead(r kube.QuorumRead) func(kube.Response) {
	if j.fresh == nil || !j.freshKinds[r.Req.Kind] {
		return func(kube.Response) {}
	}
	return func(resp kube.Response) {
		now := j.sim.Now()
		switch {
		case r.Req.Verb == kube.Get && resp.Code == kube.StatusOK:
			j.fresh.Read(r.Start, now, string(r.Req.Kind)+"/"+r.Req.Name, resp.Obj.RV)
		case r.Req.Verb == kube.Get && resp.Code == kube.StatusNotFound:
			j.fresh.Read(r.Start, now, string(r.Req.Kind)+"/"+r.Req.Name, 0)
		case r.Req.Verb == kube.List && resp.Code == kube.StatusOK:
			for _, o := range resp.Items {
				j.fresh.Read(r.Start, now, string(r.Req.Kind)+"/"+o.Name, o.RV)
			}
		}
	}
}

// Acting implements kube.Observer.
func (j *Cluster) Acting(at time.Duration, lease, identity string, on bool) {
	if on {
		j.single[lease].Start(at, identity)
		j.deposed.Start(lease, identity, at)
	} else {
		j.single[lease].Stop(at, identity)
		j.deposed.Stop(lease, identity, at)
	}
}

// Landed implements kube.Observer.
func (j *Cluster) Landed(w kube.LandedWrite) {
	j.deposed.Write(checkers.ActorWrite{Who: w.Who, Lease: w.Lease, What: w.What, Issued: w.Issued, Landed: w.Landed})
}

// PodStarted implements kube.Observer.
func (j *Cluster) PodStarted(at time.Duration, node, pod string) { j.continuity.Started(at, node, pod) }

// PodStopped implements kube.Observer.
func (j *Cluster) PodStopped(at time.Duration, node, pod, cause string) {
	j.continuity.Stopped(at, node, pod, checkers.StopCause(cause))
}

// MastersDown implements kube.Observer.
func (j *Cluster) MastersDown(from, to time.Duration) { j.continuity.MastersDown(from, to) }

// Servable implements kube.Observer.
func (j *Cluster) Servable(at time.Duration, ok bool, state string) { j.avail.State(at, ok, state) }

// Workload implements kube.Observer.
func (j *Cluster) Workload(w kube.WorkloadSample) {
	if !w.Known {
		j.surplus.Skip()
		return
	}
	j.surplus.Sample(w.At, w.RS, w.Want, w.Pods, w.Excuses...)
}

// Condition implements kube.Observer.
func (j *Cluster) Condition(at time.Duration, cond string, ok bool, detail string) {
	j.live.Observe(at, cond, ok, detail)
}

// Tick implements kube.Observer: the ConfigMaps every user has moved past
// are judged.
func (j *Cluster) Tick(time.Duration) { j.sweepKeys() }

// UserCall implements kube.Observer. ConfigMap calls that are not cache
// reads become register operations for the linearizability check (values
// are unique per write, so an update conditional on a resourceVersion is a
// compare-and-set on the data seen with it); every call counts for
// availability, and every read or write that succeeded for no-time-travel.
func (j *Cluster) UserCall(c kube.UserCall) func(kube.Response) {
	req, start := c.Req, c.Start
	key := string(req.Kind) + "/" + req.Name
	if req.Kind == kube.ConfigMaps {
		if e, seen := j.userEpoch[c.User]; !seen || kube.ConfigMapEpoch(req.Name) > e {
			j.userEpoch[c.User] = kube.ConfigMapEpoch(req.Name)
		}
	}
	var kh *keyHistory
	lin := -1
	if req.Kind == kube.ConfigMaps && req.RV != kube.RVCache {
		op := checkers.RegisterOp{Client: c.Client, Key: key, Start: start, End: -1}
		switch req.Verb {
		case kube.Get:
			op.Kind = checkers.RegisterRead
		case kube.Create:
			op.Kind, op.FromNone, op.To = checkers.RegisterCas, true, req.Obj.Data
		case kube.Update:
			op.Kind, op.From, op.To = checkers.RegisterCas, c.Prev, req.Obj.Data
		}
		kh = j.keys[key]
		if kh == nil {
			kh = &keyHistory{epoch: kube.ConfigMapEpoch(req.Name)}
			j.keys[key] = kh
		}
		lin = len(kh.ops)
		kh.ops = append(kh.ops, op)
		kh.pending++
	}
	return func(r kube.Response) {
		now := j.sim.Now()
		answered := r.Code == kube.StatusOK || r.Code == kube.StatusCreated || r.Code == kube.StatusNotFound || r.Code == kube.StatusConflict
		j.avail.Call(start, now, answered, fmt.Sprintf("%s %s %s (code %d%s)", c.User, req.Verb, key, r.Code, kube.ReasonSuffix(r.Reason)))
		if lin >= 0 {
			kh.pending--
			op := &kh.ops[lin]
			op.End = now
			switch {
			case answered && req.Verb == kube.Get:
				op.Value, op.None = r.Obj.Data, r.Code == kube.StatusNotFound
			case answered:
				op.OK = r.Code == kube.StatusOK || r.Code == kube.StatusCreated
			case req.Verb.Write() && kube.Indeterminate(r.Code):
				op.Indeterminate = true
			default:
				op.Failed = true
			}
		}
		if r.Code == kube.StatusOK || r.Code == kube.StatusCreated {
			mode := checkers.RVQuorum
			switch {
			case req.Verb.Write():
				mode = checkers.RVWrite
			case req.RV == kube.RVCache:
				mode = checkers.RVCache
			}
			j.travel.Observe(checkers.RVObservation{Client: c.User, Mode: mode, Key: key, RV: r.Obj.RV, Found: true,
				At: now, Start: start, Server: r.Server})
		}
	}
}

// Check implements harness.Scenario.
func (j *Cluster) Check(s *harness.Sim) []harness.Verdict {
	now := s.Now()
	if since, down := j.MastersDownSince(); down {
		j.continuity.MastersDown(since, -1)
	}
	j.artifactPaths = nil
	for _, key := range harness.SortedKeys(j.keys) {
		kh := j.keys[key]
		for i := range kh.ops {
			if op := &kh.ops[i]; op.End < 0 && !op.Indeterminate && !op.Failed {
				// Still in flight when the run ended.
				if op.Kind == checkers.RegisterRead {
					op.Failed = true
				} else {
					op.Indeterminate = true
				}
			}
		}
		j.checkKey(key)
	}
	linV := j.lin.verdict()
	j.live.Healed(s.LastFaultEnd())
	liveV := j.live.Verdict(now)
	if dist := s.Disturbed(); len(dist) > 0 {
		liveV = harness.Verdict{Check: liveV.Check, Status: harness.Unknown,
			Detail: "faults still in effect at the end: " + strings.Join(dist, ", ")}
	}
	out := []harness.Verdict{j.raft.Verdict()}
	for _, e := range j.Components() {
		v := j.single[e.LeaseRef()].Verdict(now)
		election.Safe.Excuse(j.Cfg.Timings, &v, s.FaultLog(), now)
		out = append(out, v)
	}
	deposedV := j.deposed.Verdict(now)
	deposedV.Advisory = true
	out = append(out,
		deposedV,
		linV,
	)
	if j.fresh != nil {
		out = append(out, j.fresh.Verdict())
	}
	out = append(out, j.travel.Verdict(checkers.RVQuorum))
	if j.Cfg.CacheReads {
		cacheV := j.travel.Verdict(checkers.RVCache)
		cacheV.Advisory = true
		out = append(out, cacheV)
	}
	out = append(out,
		j.continuity.Verdict(now),
		j.surplus.Verdict(),
		j.avail.Verdict(now),
		liveV,
	)
	return append(out, j.inv.verdicts()...)
}

// keyHistory is the register history of one ConfigMap, kept until every
// user has moved past its key epoch. Users move to fresh keys every epoch
// and never come back to an old one, so a key's history is complete once
// every user has called in a later epoch and none of its calls is in
// flight: it is judged then and dropped, and memory stays flat however
// long the run. (A key merely idle is not done: users cut off from the API
// for minutes come back to the keys of their epoch.)
type keyHistory struct {
	ops     []checkers.RegisterOp
	pending int
	epoch   int
}

// linTally sums the per-key verdicts of the API linearizability check.
type linTally struct {
	checkers.KeyTally
	indeterminate, failed int
	html                  string // the view of the first violation
}

// checkKey judges one key's history with porcupine and forgets it.
func (j *Cluster) checkKey(key string) {
	kh := j.keys[key]
	delete(j.keys, key)
	opts := checkers.LinearizableOptions{Timeout: LinearizabilityTimeout}
	if j.LinearizabilityTimeout > 0 {
		opts.Timeout = j.LinearizabilityTimeout
	}
	if j.artifacts != "" && j.lin.html == "" {
		if err := os.MkdirAll(j.artifacts, 0o755); err == nil {
			// Named by seed: a later failure must not overwrite the
			// view an earlier failure file points to.
			opts.HTMLPath = filepath.Join(j.artifacts, fmt.Sprintf("api-linearizability-%d.html", j.sim.Seed()))
		}
	}
	v, rep := checkers.CheckRegister(kh.ops, opts)
	t := &j.lin
	ops := 0
	for _, op := range kh.ops {
		switch {
		case op.Failed:
			t.failed++
		case op.Indeterminate:
			t.indeterminate++
			ops++
		default:
			ops++
		}
	}
	if v.Status == harness.Violated && t.html == "" && rep.HTMLPath != "" {
		t.html = rep.HTMLPath
		v.Detail += "; view: " + rep.HTMLPath
		j.artifactPaths = append(j.artifactPaths, rep.HTMLPath)
	}
	t.Add(key, v, ops)
}

// sweepKeys judges the keys every user has moved past.
func (j *Cluster) sweepKeys() {
	if len(j.userEpoch) < j.Cfg.Users {
		return // some user has not called yet
	}
	done := -1
	first := true
	for _, u := range harness.SortedKeys(j.userEpoch) {
		if e := j.userEpoch[u]; first || e < done {
			done, first = e, false
		}
	}
	for _, key := range harness.SortedKeys(j.keys) {
		if kh := j.keys[key]; kh.pending == 0 && kh.epoch < done {
			j.checkKey(key)
		}
	}
}

func (t *linTally) verdict() harness.Verdict {
	v := t.Verdict(fmt.Sprintf("linearizable: %d ops (%d indeterminate) on %d ConfigMaps through the load balancer, each judged once every user had moved past its key epoch; %d failed ops ignored",
		t.Ops, t.indeterminate, t.Keys, t.failed), nil)
	if v.Status == harness.Violated {
		v.Detail = "not linearizable on " + v.Detail
	}
	return v
}
