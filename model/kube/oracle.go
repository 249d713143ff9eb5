package kube

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model/store"
)

// The ground truth: what the cluster's observers read outside the
// simulated network, sampled every 100ms of true time. The store's state on
// its furthest member, whether the API could serve through the load
// balancer, the workload and the liveness conditions; the Observer hears
// each sample.

type revAt struct {
	rev int64
	at  time.Duration
}

// seenPod is a workload pod as the surplus sampling knows it.
type seenPod struct {
	creator string // "" when no controller's create is known
	landed  time.Duration
	failed  bool // its creator was told the create failed
}

// appliedAt returns when some member first reached revision rev (now if
// the record does not reach back that far).
func (sc *Scenario) appliedAt(rev int64) time.Duration {
	i, _ := slices.BinarySearchFunc(sc.applied, rev, func(r revAt, rev int64) int { return cmp.Compare(r.rev, rev) })
	if i < len(sc.applied) {
		return sc.applied[i].at
	}
	return sc.sim.Now()
}

// observe samples the ground truth every 100ms of true time: pods on a
// crashed worker stop; the availability oracle, the workload and the
// liveness conditions.
func (sc *Scenario) observe(s *harness.Sim) {
	now := s.Now()
	for _, w := range sc.workers {
		if !s.HostUp(w) {
			for _, pod := range sc.Running(w) {
				sc.StopPod(nil, w, pod, StopHostDown)
			}
		}
	}
	allDown := true
	for _, m := range sc.masters {
		if s.HostUp(m) && !s.HostPaused(m) {
			allDown = false
		}
	}
	switch {
	case allDown && sc.downSince < 0:
		sc.downSince = now
	case !allDown && sc.downSince >= 0:
		sc.obs.MastersDown(sc.downSince, now)
		sc.downSince = -1
	}
	serving, state := sc.servable(s)
	sc.obs.Servable(now, serving, state)
	if now%time.Second == 0 {
		sc.sample(s, now)
	}
	if now%(30*time.Second) == 0 {
		sc.obs.Tick(now)
		// Writes that never landed as far as any API server saw (failed,
		// or of unknown outcome) are forgotten after ten minutes.
		for len(sc.applied) > 1 && now-sc.applied[0].at > 10*time.Minute {
			sc.applied = sc.applied[1:]
		}
		//detlint:allow maprange deleting by a predicate: the result does not depend on the order
		for k, is := range sc.issuedAt {
			if now-is.at > 10*time.Minute {
				delete(sc.issuedAt, k)
			}
		}
		//detlint:allow maprange deleting by a predicate: the result does not depend on the order
		for pod, c := range sc.creators {
			if _, ok := sc.issuedAt[c.key]; !ok {
				delete(sc.creators, pod) // a create that never landed, forgotten
			}
		}
	}
	if next := now + 100*time.Millisecond; next < s.Duration() {
		s.At(next, func() { sc.observe(s) })
	}
}

// servable is the availability oracle: the API can serve through the load
// balancer when the LB runs, every user reaches it over a clear link, and
// some API server behind it runs, is reachable, and reaches an etcd member
// that is connected to a quorum. The state names the serving backends.
func (sc *Scenario) servable(s *harness.Sim) (bool, string) {
	net := s.Network()
	up := func(h string) bool { return s.HostUp(h) && !s.HostPaused(h) }
	lbHost := s.ProcHost(sc.vip)
	if !up(lbHost) || !s.Running(sc.vip) {
		return false, "load balancer down"
	}
	for i := range sc.Cfg.Users {
		u := "u" + strconv.Itoa(i+1)
		if !up(u) || !net.Clear(u, lbHost) || !net.Clear(lbHost, u) {
			return false, "user " + u + " cut off"
		}
	}
	if d := s.Impaired(); d != "" {
		return false, "degraded: " + d
	}
	both := func(a, b string) bool { return net.Clear(a, b) && net.Clear(b, a) }
	members := sc.memberHosts
	memberOK := make([]bool, len(members))
	for j := range members {
		memberOK[j] = up(members[j]) && s.Running(sc.store.Members()[j])
	}
	// A member serves while it and the raft leader reach each other and a
	// quorum: one cut from the leader alone, though connected to a
	// majority, stays without a leader as long as the others still hear
	// from it (CheckQuorum makes them refuse its votes).
	leaderProc, hasLeader := sc.store.Leader()
	if !hasLeader {
		return false, "no raft leader"
	}
	leader := s.ProcHost(leaderProc)
	quorum := make([]bool, len(members))
	for j := range members {
		if !memberOK[j] || !both(members[j], leader) {
			continue
		}
		n := 0
		for k := range members {
			if memberOK[k] && both(members[j], members[k]) {
				n++
			}
		}
		quorum[j] = n > len(members)/2
	}
	var good, flaky []string
	for i, m := range sc.masters {
		if !up(m) || !s.Running(sc.apiservers[i]) || !net.Clear(lbHost, m) || !net.Clear(m, lbHost) {
			continue
		}
		ok := false
		if sc.Cfg.Topology == store.Stacked {
			ok = quorum[i]
		} else {
			// Externally, an API server sends to every member in turn: the
			// members it reaches are part of the state, since calls sent
			// to one it cannot reach hang until its etcd client's
			// keepalive gives up on it. A member it reaches that is not
			// connected to the quorum (cut one way from the others) still
			// answers the client, so the client never gives up on it and
			// every call sent there fails. Its /healthz, answered through
			// the members in turn, passes at times, so the load balancer
			// may keep it in rotation for good: while such a server runs,
			// the API cannot be counted on.
			var reach, stray []string
			for j := range members {
				if both(m, members[j]) {
					reach = append(reach, members[j])
					ok = ok || quorum[j]
					if !quorum[j] {
						stray = append(stray, members[j])
					}
				}
			}
			if ok && len(stray) > 0 {
				return false, "degraded: " + m + " also sends to " + strings.Join(stray, ",") + ", cut from the etcd quorum, and its /healthz passes at times"
			}
			// Its /healthz probes the members in turn too, with a
			// deadline of its own: a probe sent to a member it cannot
			// reach fails, and the health client never gives up on that
			// member (its calls end too soon), so the health check fails
			// now and then, three times in a row at times, and the load
			// balancer takes the server out and back. Only a server that
			// reaches every member, all connected to the quorum, stays in
			// rotation for sure.
			if ok && len(reach) < len(members) {
				flaky = append(flaky, m+"("+strings.Join(reach, ",")+")")
				continue
			}
			m += "(" + strings.Join(reach, ",") + ")"
		}
		if ok {
			good = append(good, m)
		}
	}
	if len(good) == 0 && len(flaky) > 0 {
		return false, "degraded: the /healthz of " + strings.Join(flaky, ",") + " fails at times: some members are out of reach"
	}
	if len(good) == 0 {
		return false, "no API server reaches an etcd quorum"
	}
	// The members connected to a quorum are part of the state: when one is
	// cut off, API servers still send to it (externally: until their etcd
	// client's keepalive gives up on it), and the grace starts again.
	var live []string
	for j, h := range members {
		if quorum[j] {
			live = append(live, h)
		}
	}
	return true, "serving via " + lbHost + " and " + strings.Join(good, ",") + "; etcd quorum on " + strings.Join(live, ",") + " led by " + leader
}

// truth returns the freshest store state of a running member (the one
// that applied the most).
func (sc *Scenario) truth(s *harness.Sim) *store.MVCC {
	var best *store.Member
	for _, p := range sc.store.Members() {
		if m, ok := s.Instance(p).(*store.Member); ok && (best == nil || m.KV().Rev() > best.KV().Rev()) {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	return best.KV()
}

// Truth is the ground truth now, for observers: nil while it is unknown
// (see truthNow).
func (sc *Scenario) Truth() *Truth { return sc.truthNow(sc.sim) }

// truthNow is the ground truth for observers, or nil while it is
// unknown (no member runs, or the furthest one is down, so that what the
// others hold is older than what was already seen).
func (sc *Scenario) truthNow(s *harness.Sim) *Truth {
	kv := sc.truth(s)
	if kv == nil || kv.Rev() < sc.truthRev {
		return nil
	}
	return &Truth{kv: kv}
}

// workload reads the ReplicaSet's desired replicas and its pods from the
// store's truth. While the member that had got furthest is down, the
// others' state is older than what was already seen: the truth is unknown
// then (reading it would make pods deleted since come back, to an
// observer).
func (sc *Scenario) workload(s *harness.Sim) (want int, pods []Object, ok bool) {
	kv := sc.truth(s)
	sc.truthBehind = kv != nil && kv.Rev() < sc.truthRev
	if kv == nil || sc.truthBehind {
		return 0, nil, false
	}
	sc.truthRev = kv.Rev()
	rs, err := kv.Range(store.Op{Kind: store.OpRange, Key: Key(ReplicaSets, RSName)})
	if err != nil || len(rs.KVs) == 0 {
		return 0, nil, false
	}
	o, _ := decodeObject(rs.KVs[0].Key, rs.KVs[0].Value, rs.KVs[0].ModRevision)
	res, err := kv.Range(store.Op{Kind: store.OpRange, Key: KindPrefix(Pods), Prefix: true})
	if err != nil {
		return 0, nil, false
	}
	for _, p := range res.KVs {
		if po, ok := decodeObject(p.Key, p.Value, p.ModRevision); ok && po.Owner == RSName {
			po.Created = p.CreateRevision
			pods = append(pods, po)
		}
	}
	return o.Replicas, pods, true
}

// sampleSurplus samples the workload for no-surplus-pods. Four kinds of
// surplus creation are excused, as Kubernetes' design allows them (leader
// election has no fencing; lists from the watch cache may be stale):
//   - a create that landed after its controller stopped acting: a
//     partition may hold a deposed controller's create, its API server long
//     since answered 504, until after the successor made up for it
//     (deposed-writes reports it, and hears of it here when no API server
//     saw it succeed);
//   - a create decided before a create it could not count on landed (another
//     controller's, or one taken for failed): the controller could not
//     know;
//   - a create the controller was told had failed (the API server gave up:
//     504), which landed all the same; the ReplicaSet controller counts it
//     as failed, as Kubernetes' does;
//   - a create decided from an informer that had synced but counted fewer
//     pods than the store held, or from a ReplicaSet older than the
//     store's (lists from a lagging watch cache, as resourceVersion "0"
//     allows).
//
// What no-surplus-pods judges is a controller creating too many from what
// it could know. It returns the workload it read.
func (sc *Scenario) sampleSurplus(now time.Duration) (want int, pods []Object, ok bool) {
	want, pods, ok = sc.workload(sc.sim)
	if !ok {
		if sc.truthBehind {
			sc.obs.Workload(WorkloadSample{At: now, RS: RSName})
		}
		return
	}
	present := make(map[string]bool, len(pods))
	var fresh []Object
	made := map[string]creation{}
	for _, p := range pods {
		present[p.Name] = true
		if _, seen := sc.seenPods[p.Name]; seen {
			continue
		}
		sp := seenPod{landed: sc.appliedAt(p.Created)}
		if c, ok := sc.creators[p.Name]; ok {
			delete(sc.creators, p.Name)
			sp.creator, sp.failed, made[p.Name] = c.key.agent, c.failed, c
		}
		sc.seenPods[p.Name] = sp
		fresh = append(fresh, p)
	}
	for _, name := range harness.SortedKeys(sc.seenPods) {
		if !present[name] {
			delete(sc.seenPods, name)
		}
	}
	var excuses []string
	for _, p := range fresh {
		c, ok := made[p.Name]
		if !ok {
			continue
		}
		landed := sc.seenPods[p.Name].landed
		switch {
		case !sc.tenures[LeaseControllerManager].ActedAt(c.key.agent, landed):
			excuses = append(excuses, "landed after its creator was deposed (see deposed-writes)")
			if is, pending := sc.issuedAt[c.key]; pending {
				delete(sc.issuedAt, c.key)
				sc.obs.Landed(LandedWrite{Who: c.key.agent, Lease: is.lease, What: is.what, Issued: is.at, Landed: landed})
			}
		case c.failed:
			excuses = append(excuses, "landed after its controller took it for failed (a 5xx or a time-out: outcome unknown)")
		case sc.racedBy(c):
			excuses = append(excuses, "decided before a create it could not count on landed (another controller's, or one taken for failed)")
		case c.stale:
			excuses = append(excuses, "decided from a synced but stale watch-cache list")
		case c.staleSpec:
			excuses = append(excuses, "decided from a ReplicaSet older than the store's (a lagging watch cache's)")
		}
	}
	sc.obs.Workload(WorkloadSample{At: now, RS: RSName, Known: true, Want: sc.peakWant(want), Pods: len(pods), Excuses: excuses})
	return
}

// peakWant returns the most replicas the ReplicaSet wanted at any revision
// since the last surplus sample, want (what it wants now) included. A
// spec may hold for only a few milliseconds between two samples (a late
// scale-up that landed after its writer gave up, overwritten at once), and
// a controller that saw it rightly created pods for it. Compaction keeps
// at least the last five minutes; should it have removed the revisions
// (the truth unknown for longer), only the current spec counts.
func (sc *Scenario) peakWant(want int) int {
	kv := sc.truth(sc.sim)
	if kv == nil {
		return want
	}
	from := sc.surplusRev + 1
	sc.surplusRev = kv.Rev()
	evs, err := kv.Events(Key(ReplicaSets, RSName), false, from)
	if err != nil {
		return want
	}
	for _, e := range evs {
		if o, ok := decodeObject(e.KV.Key, e.KV.Value, e.KV.ModRevision); ok && e.Type == store.EventPut {
			want = max(want, o.Replicas)
		}
	}
	return want
}

// racedBy reports whether, after c's decision, a create landed that its
// decider could not count on: another controller's, or one its creator
// had been told failed.
func (sc *Scenario) racedBy(c creation) bool {
	for _, name := range harness.SortedKeys(sc.seenPods) {
		if q := sc.seenPods[name]; q.creator != "" && (q.creator != c.key.agent || q.failed) && q.landed > c.at {
			return true
		}
	}
	return false
}

// sample runs once a second: surplus and liveness.
func (sc *Scenario) sample(s *harness.Sim, now time.Duration) {
	want, pods, ok := sc.sampleSurplus(now)
	_, leader := sc.store.Leader()
	sc.obs.Condition(now, condLeader, leader, "")
	apiOK := sc.lastOK >= 0 && now-sc.lastOK <= 5*time.Second
	sc.obs.Condition(now, condAPI, apiOK, "last answer "+harness.FormatTime(sc.lastOK))
	for _, e := range sc.comps {
		n := len(sc.actors[e.LeaseRef()])
		sc.obs.Condition(now, e.activeCondition(), n == 1, strconv.Itoa(n)+" acting")
	}
	running := 0
	for _, p := range pods {
		if p.Node != "" && sc.running[p.Node][p.Name] {
			running++
		}
	}
	sc.obs.Condition(now, condReplicas, ok && running == want && len(pods) == want,
		fmt.Sprintf("%d of %d pods running, %d exist", running, want, len(pods)))
	var truth *Truth
	for _, e := range sc.comps {
		if e.Recovered == nil {
			continue
		}
		if truth == nil {
			if truth = sc.truthNow(s); truth == nil {
				sc.obs.Condition(now, e.recoveredCondition(), false, "the store's truth is unknown (its furthest member is down)")
				continue
			}
		}
		err := e.Recovered(truth)
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		sc.obs.Condition(now, e.recoveredCondition(), err == nil, detail)
	}
}
