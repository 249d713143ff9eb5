package kube

import (
	"fmt"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model/store"
)

// The recorder: what the replicas, the kubelets (through the Runtime) and
// the users (through the UserRecorder) do, kept as the cluster's own
// record (tenures, writes issued, decisions to create, running pods) and
// reported to the Observer as it happens.

type apiRun struct {
	from   time.Duration
	ok     bool
	detail string
}

type actor struct {
	identity string
	proc     harness.ProcID
	inc      int
}

type issueKey struct {
	agent string
	id    uint64
}

type issue struct {
	lease, what string
	at          time.Duration
}

// creation is a pod create a controller issued, and the decision it came
// from.
type creation struct {
	key issueKey
	decision
	failed bool // the controller was told it failed
}

// reported implements replicaHooks: the facts the ReplicaSet controller
// reports, for no-surplus-pods.
func (sc *Scenario) reported(_ *harness.Ctx, identity string, f Fact) {
	switch f := f.(type) {
	case CreateFailed:
		if c, ok := sc.creators[f.Pod]; ok {
			c.failed = true
			sc.creators[f.Pod] = c
		}
	case CreateDecided:
		sc.decided(identity, f)
	}
}

// decision is a ReplicaSet controller's decision to create pods: when, and
// whether it counted fewer pods than the store held though its informer
// had synced (stale), or read an older ReplicaSet than the store's
// (staleSpec).
type decision struct {
	at               time.Duration
	stale, staleSpec bool
}

func (sc *Scenario) active(lease string) (harness.ProcID, bool) {
	if a := sc.actors[lease]; len(a) > 0 {
		return a[len(a)-1].proc, true
	}
	return harness.NoProc, false
}

// started, stopped and issued implement replicaHooks.
func (sc *Scenario) started(ctx *harness.Ctx, lease, identity string, proc harness.ProcID) {
	sc.tenures[lease].Start(sc.sim.Now(), identity)
	sc.obs.Acting(sc.sim.Now(), lease, identity, true)
	sc.actors[lease] = append(sc.actors[lease], actor{identity: identity, proc: proc, inc: ctx.Incarnation()})
}

func (sc *Scenario) stopped(_ *harness.Ctx, lease, identity string) {
	sc.tenures[lease].Stop(sc.sim.Now(), identity)
	sc.obs.Acting(sc.sim.Now(), lease, identity, false)
	as := sc.actors[lease]
	for i, a := range as {
		if a.identity == identity {
			sc.actors[lease] = append(as[:i], as[i+1:]...)
			break
		}
	}
}

// replicaStopped ends the tenure of a replica whose process stopped while
// it acted: it acts no more, whatever its elector last said.
func (sc *Scenario) replicaStopped(lease string, st harness.Stopped) {
	now := sc.sim.Now()
	as := sc.actors[lease][:0]
	for _, a := range sc.actors[lease] {
		if a.proc == st.Proc && a.inc == st.Incarnation {
			sc.tenures[lease].Stop(now, a.identity)
			sc.obs.Acting(now, lease, a.identity, false)
			continue
		}
		as = append(as, a)
	}
	sc.actors[lease] = as
}

func (sc *Scenario) issued(_ *harness.Ctx, lease, identity string, id uint64, what string) {
	sc.issuedAt[issueKey{identity, id}] = issue{lease: lease, what: what, at: sc.sim.Now()}
	if pod, ok := strings.CutPrefix(what, "create "+string(Pods)+"/"); ok {
		sc.creators[pod] = creation{key: issueKey{identity, id}, decision: sc.decisions[identity]}
	}
}

// reading implements replicaHooks: the observers hear a replica's quorum
// read and its answer.
func (sc *Scenario) reading(_ *harness.Ctx, identity string, req Request) func(Response) {
	return sc.obs.QuorumRead(QuorumRead{Who: identity, Req: req, Start: sc.sim.Now()})
}

// acquiring implements replicaHooks.
func (sc *Scenario) acquiring(ctx *harness.Ctx, lease, identity string, on bool) {
	sc.races[lease].Acquiring(ctx, identity, on)
}

// decided is the ReplicaSet controller's hook: before it creates pods, the
// scenario notes whether its view was stale, as a list from a lagging watch
// cache (resourceVersion "0") may be: fewer pods than the store held though
// its informer had synced, or a ReplicaSet older than the store's (a spec
// that may want more replicas than it now does).
func (sc *Scenario) decided(identity string, f CreateDecided) {
	held, staleSpec := -1, false
	if f.Owner == RSName {
		if _, pods, ok := sc.workload(sc.sim); ok {
			held = len(pods)
		}
		if t := sc.truthNow(sc.sim); t != nil {
			if rs, ok := t.Get(ReplicaSets, RSName); ok && rs.RV > f.OwnerRV {
				staleSpec = true
			}
		}
	}
	sc.decisions[identity] = decision{at: sc.sim.Now(), stale: f.Synced && f.Saw < held, staleSpec: staleSpec}
}

// wrote is the API servers' hook: a write landed. A write to the
// workload is sampled at once, so that no brief surplus hides between two
// periodic samples. A controller's write landed when the store applied it
// (its revision), not when the API server heard back.
func (sc *Scenario) wrote(_ *harness.Ctx, req Request, obj Object) {
	if req.Kind == Pods || req.Kind == ReplicaSets {
		sc.sampleSurplus(sc.sim.Now())
	}
	k := issueKey{req.Agent, req.ID}
	if is, ok := sc.issuedAt[k]; ok {
		delete(sc.issuedAt, k)
		sc.obs.Landed(LandedWrite{Who: req.Agent, Lease: is.lease, What: is.what, Issued: is.at, Landed: sc.appliedAt(obj.RV)})
	}
}

func (sc *Scenario) backendState(_ *harness.Ctx, i int, up bool) {
	now := sc.sim.Now()
	was := sc.backendUp[i]
	switch {
	case up && was < 0:
		sc.backendUp[i] = now
	case !up && was >= 0:
		sc.spans = append(sc.spans, harness.Span{Lane: "LB backends", Class: "up", Label: sc.masters[i] + " up", Start: was, End: now})
		sc.backendUp[i] = -1
	}
}

// Running, IsRunning, StartPod and StopPod implement Runtime.
func (sc *Scenario) Running(node string) []string { return harness.SortedKeys(sc.running[node]) }

// IsRunning implements Runtime.
func (sc *Scenario) IsRunning(node, pod string) bool { return sc.running[node][pod] }

// StartPod implements Runtime.
func (sc *Scenario) StartPod(ctx *harness.Ctx, node, pod string) {
	if sc.running[node] == nil {
		sc.running[node] = map[string]bool{}
	}
	sc.running[node][pod] = true
	ctx.Notef("pod %s starts on %s", pod, node)
	sc.obs.PodStarted(sc.sim.Now(), node, pod)
}

// StopPod implements Runtime.
func (sc *Scenario) StopPod(ctx *harness.Ctx, node, pod, cause string) {
	if !sc.running[node][pod] {
		return
	}
	if cause == StopDeleted {
		// The kubelet's word is not enough: the pod must really be gone
		// (or bound elsewhere) in the store.
		if kv := sc.truth(sc.sim); kv != nil {
			if res, err := kv.Range(store.Op{Kind: store.OpRange, Key: Key(Pods, pod)}); err == nil && len(res.KVs) == 1 {
				if o, ok := decodeObject(res.KVs[0].Key, res.KVs[0].Value, res.KVs[0].ModRevision); ok && o.Node == node {
					cause = "stopped while still bound here"
				}
			}
		}
	}
	delete(sc.running[node], pod)
	if ctx != nil {
		ctx.Notef("pod %s stops on %s (%s)", pod, node, cause)
	} else {
		sc.sim.Notef("pod %s stops on %s (%s)", pod, node, cause)
	}
	sc.obs.PodStopped(sc.sim.Now(), node, pod, cause)
}

// Begin implements UserRecorder: it notes when the API last answered a
// user and how the users' calls fared (for the liveness condition and the
// timeline), and reports the call.
func (sc *Scenario) Begin(ctx *harness.Ctx, user string, req Request, prev string) func(Response) {
	heard := sc.obs.UserCall(UserCall{User: user, Client: int(ctx.Self()), Req: req, Prev: prev, Start: sc.sim.Now()})
	return func(r Response) {
		now := sc.sim.Now()
		answered := r.Code == StatusOK || r.Code == StatusCreated || r.Code == StatusNotFound || r.Code == StatusConflict
		if answered {
			sc.lastOK = now
		}
		if n := len(sc.apiRuns); n == 0 || sc.apiRuns[n-1].ok != answered {
			detail := ""
			if !answered {
				detail = fmt.Sprintf("%s %s: code %d%s", user, req.Verb, r.Code, ReasonSuffix(r.Reason))
			}
			sc.apiRuns = append(sc.apiRuns, apiRun{from: now, ok: answered, detail: detail})
		}
		heard(r)
	}
}

// ReasonSuffix is ", reason" for a response's reason, if it has one.
func ReasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ", " + r
}
