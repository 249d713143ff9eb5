package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model"
)

// planned is one call a test makes at a fixed time through chosen members.
type planned struct {
	at           time.Duration
	via          []string // member hosts
	txn          Txn
	serializable bool
	timeout      time.Duration
	// viaLeader sends the call to whichever member leads when it is made.
	viaLeader bool
	// viaFollower sends the call to the first member of via that does not
	// lead when it is made.
	viaFollower bool
	// compact > 0 makes the call a compaction to that revision.
	compact int64
	// watch, if set, opens this watch instead of a call.
	watch *WatchRequest
	// progress asks the member for a progress notification.
	progress bool
}

// scripted is a store cluster driven by a script of calls instead of the
// random workload; results land in hist, one client ID per planned call.
// Its one verdict is raft safety's, the oracle of these tests.
type scripted struct {
	Scenario
	safety  *checkers.RaftSafety
	plan    []planned
	hist    *History
	watched []WatchResponse
	readVia harness.ProcID // where the last viaFollower call went
	// probes run at fixed true times and may record observations.
	probes []probe
}

type probe struct {
	at time.Duration
	f  func(sc *scripted, s *harness.Sim)
}

func (t *scripted) Build(s *harness.Sim) error {
	t.Cfg.NoWorkload = true
	t.safety = checkers.NewRaftSafety()
	t.Raft = t.safety
	if err := t.Scenario.Build(s); err != nil {
		return err
	}
	t.hist = NewHistory(s.Now)
	s.AddHost(harness.HostConfig{Name: "t1"})
	s.AddProcess("t1", "script", harness.Datagrams, func() harness.Process { return &script{t: t} })
	for _, p := range t.probes {
		p := p
		s.At(p.at, func() { p.f(t, s) })
	}
	return nil
}

func (t *scripted) Check(*harness.Sim) []harness.Verdict {
	return []harness.Verdict{t.safety.Verdict()}
}

type script struct {
	t       *scripted
	clients []*Client
}

func (p *script) Step(ctx *harness.Ctx, in harness.Input) {
	for _, c := range p.clients {
		if c.Handle(ctx, in) {
			return
		}
	}
	switch in.Kind {
	case harness.InputStart:
		for i, pl := range p.t.plan {
			var eps []harness.ProcID
			for _, h := range pl.via {
				eps = append(eps, ctx.Lookup(h+"/"+MemberProc))
			}
			p.clients = append(p.clients, &Client{Endpoints: eps, Timeout: pl.timeout, ID: i + 1, History: p.t.hist})
			ctx.After(pl.at-ctx.Now(), "call", uint64(i))
		}
	case harness.InputMessage:
		if w, ok := in.Msg.Payload.(WatchResponse); ok {
			p.t.watched = append(p.t.watched, w)
		}
	case harness.InputTimer:
		if in.Tag == "call" {
			pl := p.t.plan[in.Arg]
			if pl.watch != nil {
				ctx.Send(p.clients[in.Arg].Endpoints[0], *pl.watch)
				return
			}
			if pl.progress {
				ctx.Send(p.clients[in.Arg].Endpoints[0], WatchProgress{})
				return
			}
			if pl.compact > 0 {
				p.clients[in.Arg].Compact(ctx, pl.compact, nil)
				return
			}
			if pl.viaLeader {
				if l, ok := p.t.Leader(); ok {
					p.clients[in.Arg].Endpoints = []harness.ProcID{l}
				}
			}
			if pl.viaFollower {
				l, _ := p.t.Leader()
				for _, e := range p.clients[in.Arg].Endpoints {
					if e != l {
						p.clients[in.Arg].Endpoints = []harness.ProcID{e}
						p.t.readVia = e
						break
					}
				}
			}
			p.clients[in.Arg].Do(ctx, pl.txn, pl.serializable, nil)
		}
	}
}

func put(k, v string) Txn { return Txn{Success: []Op{{Kind: OpPut, Key: k, Value: v}}} }
func get(k string) Txn    { return Txn{Success: []Op{{Kind: OpRange, Key: k}}} }

func runScripted(t *testing.T, sc *scripted, seed uint64, sched string, d time.Duration) harness.Result {
	t.Helper()
	s, err := harness.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, seed, s)
	if err != nil {
		t.Fatal(err)
	}
	if v := sc.safety.Verdict(); v.Status == harness.Violated {
		t.Fatalf("raft safety violated: %s", v.Detail)
	}
	return res
}

// leaderAt records, at each probe, which member leads (0: none).
func leaderOf(sc *scripted, s *harness.Sim) uint64 {
	if p, ok := sc.Leader(); ok {
		return s.Instance(p).(*Member).ID()
	}
	return 0
}

func TestThreeMembersElectALeaderWithin2s(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		sc := &scripted{}
		first := time.Duration(-1)
		for ms := 100; ms <= 5000; ms += 100 {
			at := time.Duration(ms) * time.Millisecond
			sc.probes = append(sc.probes, probe{at, func(sc *scripted, s *harness.Sim) {
				if first < 0 && leaderOf(sc, s) != 0 {
					first = s.Now()
				}
			}})
		}
		runScripted(t, sc, seed, "", 6*time.Second)
		if first < 0 || first > 2*time.Second {
			t.Fatalf("seed %d: first leader at %s, want within 2s", seed, first)
		}
	}
}

// With one member cut off, writes through the majority succeed; writes
// through the isolated member time out, indeterminate, and never commit.
func TestWriteNeedsAMajority(t *testing.T) {
	sc := &scripted{plan: []planned{
		{at: 5 * time.Second, via: []string{"m1"}, txn: put("a", "majority-1"), timeout: 3 * time.Second},
		{at: 6 * time.Second, via: []string{"m3"}, txn: put("a", "isolated"), timeout: 3 * time.Second},
		{at: 7 * time.Second, via: []string{"m2"}, txn: put("b", "majority-2"), timeout: 3 * time.Second},
		{at: 20 * time.Second, via: []string{"m1"}, txn: get("a"), timeout: 3 * time.Second},
		{at: 20 * time.Second, via: []string{"m3"}, txn: get("a"), timeout: 3 * time.Second},
	}}
	runScripted(t, sc, 3, "at 3s isolate m3 for 12s", 25*time.Second)
	c := sc.hist.Calls
	for _, i := range []int{0, 2} {
		if !c[i].OK() || !c[i].Resp.Result.Succeeded {
			t.Errorf("write through the majority: %s", c[i])
		}
	}
	if !c[1].Indeterminate || c[1].Resp.Err != CodeTimeout {
		t.Errorf("write through the isolated member: %s; want indeterminate timeout", c[1])
	}
	for _, i := range []int{3, 4} {
		kvs := c[i].Resp.Result.Results[0].KVs
		if !c[i].OK() || len(kvs) != 1 || kvs[0].Value != "majority-1" {
			t.Errorf("read after heal: %s; want majority-1 (the isolated write never committed)", c[i])
		}
	}
}

// Killing the leader: the others elect a new one within raft's budget
// (election timeout 1–2s after the last heartbeat, plus a pre-vote round).
func TestLeaderCrashElectsAnother(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		sc := &scripted{}
		var before, after uint64
		var newAt time.Duration = -1
		sc.probes = append(sc.probes, probe{4999 * time.Millisecond, func(sc *scripted, s *harness.Sim) { before = leaderOf(sc, s) }})
		for ms := 5100; ms <= 12000; ms += 100 {
			sc.probes = append(sc.probes, probe{time.Duration(ms) * time.Millisecond, func(sc *scripted, s *harness.Sim) {
				if l := leaderOf(sc, s); newAt < 0 && l != 0 && l != before {
					newAt, after = s.Now(), l
				}
			}})
		}
		res := runScripted(t, sc, seed, "at 5s crash @raft-leader for 20s", 30*time.Second)
		if before == 0 || after == 0 {
			t.Fatalf("seed %d: leader before %d, after %d", seed, before, after)
		}
		if got := res.Faults[0].Resolved["raft-leader"]; got != fmt.Sprintf("m%d/etcd", before) {
			t.Fatalf("seed %d: crash resolved @raft-leader to %s, leader was %d", seed, got, before)
		}
		if newAt-5*time.Second > 3*time.Second {
			t.Fatalf("seed %d: new leader after %s; budget 3s", seed, newAt-5*time.Second)
		}
	}
}

// A member down while the others write (and compact their logs) restarts
// and catches up: by log entries, or by snapshot when it fell too far behind.
func TestRestartedMemberCatchesUp(t *testing.T) {
	for _, snapshot := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snapshot), func(t *testing.T) {
			sc := &scripted{}
			sc.Cfg.SnapshotCount, sc.Cfg.CatchUpEntries = 1000, 100
			if snapshot {
				sc.Cfg.SnapshotCount, sc.Cfg.CatchUpEntries = 20, 5
			}
			for i := 0; i < 60; i++ {
				sc.plan = append(sc.plan, planned{at: 4*time.Second + time.Duration(i)*100*time.Millisecond,
					via: []string{"m1", "m2"}, txn: put(fmt.Sprintf("k%d", i%7), fmt.Sprintf("v%d", i)), timeout: 3 * time.Second})
			}
			var revs [3]int64
			var applied [3]uint64
			sc.probes = append(sc.probes, probe{25 * time.Second, func(sc *scripted, s *harness.Sim) {
				for i, p := range sc.members {
					m := s.Instance(p).(*Member)
					revs[i], applied[i] = m.KV().Rev(), m.Applied()
				}
			}})
			res := runScripted(t, sc, 5, "at 3s crash m3 for 10s", 26*time.Second)
			for _, c := range sc.hist.Calls {
				if !c.OK() {
					t.Fatalf("write failed: %s", c)
				}
			}
			if revs[2] != revs[0] || revs[0] != 61 || applied[2] != applied[0] {
				t.Fatalf("revisions %v applied %v; m3 did not catch up (want rev 61 everywhere)", revs, applied)
			}
			restored := strings.Contains(string(traceOf(t, sc, res)), "m3/etcd restored snapshot")
			if restored != snapshot {
				t.Fatalf("snapshot restore on m3: %v, want %v", restored, snapshot)
			}
		})
	}
}

// traceOf reruns a scripted case keeping its trace.
func traceOf(t *testing.T, sc *scripted, res harness.Result) []byte {
	t.Helper()
	again, err := harness.Run(harness.Config{Scenario: sc, Duration: res.SimTime, Trace: harness.TraceOptions{Keep: true}},
		res.Seed, scheduleOf(res))
	if err != nil {
		t.Fatal(err)
	}
	if again.TraceHash != res.TraceHash {
		t.Fatalf("rerun diverged: %s vs %s", again.TraceHash, res.TraceHash)
	}
	return again.Trace
}

func scheduleOf(res harness.Result) harness.Schedule {
	var out harness.Schedule
	for _, f := range res.Faults {
		s, _ := harness.ParseSchedule("at " + f.At.String() + " " + strings.SplitN(f.Text, " [", 2)[0])
		out = append(out, s...)
	}
	return out
}

// Five members keep serving with two of them down.
func TestFiveMembersSurviveTwoFailures(t *testing.T) {
	sc := &scripted{}
	sc.Cfg.Members = 5
	for i := 0; i < 10; i++ {
		sc.plan = append(sc.plan, planned{at: 8*time.Second + time.Duration(i)*500*time.Millisecond,
			via: []string{"m1", "m2", "m3"}, txn: put("k", fmt.Sprintf("v%d", i)), timeout: 5 * time.Second})
	}
	sc.plan = append(sc.plan, planned{at: 15 * time.Second, via: []string{"m2"}, txn: get("k"), timeout: 5 * time.Second})
	runScripted(t, sc, 2, "at 4s crash m4\nat 5s crash m5", 20*time.Second)
	for _, c := range sc.hist.Calls {
		if !c.OK() {
			t.Fatalf("with 2 of 5 down: %s", c)
		}
	}
	last := sc.hist.Calls[len(sc.hist.Calls)-1]
	if kv := last.Resp.Result.Results[0].KVs; len(kv) != 1 || kv[0].Value != "v9" || kv[0].Version != 10 {
		t.Fatalf("final read %s; want v9 at version 10", last)
	}
}

// Each planted bug is caught by raft safety or by a store test.
func TestBugNoFsyncIsCaught(t *testing.T) {
	sc := &scripted{}
	sc.Cfg.Bugs = model.MustBugs(BugNoFsync)
	for i := 0; i < 20; i++ {
		sc.plan = append(sc.plan, planned{at: 3*time.Second + time.Duration(i)*200*time.Millisecond,
			via: []string{"m1"}, txn: put("k", fmt.Sprintf("v%d", i)), timeout: 3 * time.Second})
	}
	s, _ := harness.ParseSchedule("at 8s crash m1 for 2s\nat 8s crash m2 for 2s\nat 8s crash m3 for 2s")
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: 20 * time.Second}, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Verdicts[0]; v.Status != harness.Violated {
		t.Fatalf("raft safety with %s after a whole-cluster crash: %s %s", BugNoFsync, v.Status, v.Detail)
	}
}

// Followers that acknowledge appends before their (slow) disks have them,
// then crash, lose entries the leader committed and applied; a follower
// elected next lacks them (leader completeness).
func TestBugSendBeforeSyncIsCaught(t *testing.T) {
	sched := "at 3s disk m1 latency 1s + disk m2 latency 1s + disk m3 latency 1s for 10s\n" +
		"at 3s disk @raft-leader latency 2ms for 10s\n" +
		"at 5.5s crash m1 + crash m2 + crash m3 for 1s\n"
	run := func(seed uint64, bugs model.Bugs) harness.Verdict {
		sc := &scripted{}
		sc.Cfg.Bugs = bugs
		for i := 0; i < 30; i++ {
			sc.plan = append(sc.plan, planned{at: 3*time.Second + time.Duration(i)*83*time.Millisecond,
				via: []string{"m1", "m2", "m3"}, txn: put("k", fmt.Sprintf("v%d", i)), timeout: 3 * time.Second})
		}
		s, err := harness.ParseSchedule(sched)
		if err != nil {
			t.Fatal(err)
		}
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: 20 * time.Second}, seed, s)
		if err != nil {
			t.Fatal(err)
		}
		return res.Verdicts[0]
	}
	caught := 0
	for seed := uint64(1); seed <= 10; seed++ {
		if v := run(seed, model.MustBugs(BugSendBeforeSync)); v.Status == harness.Violated {
			if !strings.Contains(v.Detail, "leader completeness") {
				t.Fatalf("seed %d with %s: violated, but not leader completeness: %s", seed, BugSendBeforeSync, v.Detail)
			}
			caught++
		}
		if v := run(seed, model.Bugs{}); v.Status != harness.OK {
			t.Fatalf("seed %d without the bug: %s %s", seed, v.Status, v.Detail)
		}
	}
	if caught < 3 {
		t.Fatalf("%s caught in %d of 10 seeds; want at least 3", BugSendBeforeSync, caught)
	}
}

// A leader cut off from the others acknowledges a write that never commits:
// a write the client was told succeeded is gone.
func TestBugAckBeforeCommitIsCaught(t *testing.T) {
	sc := &scripted{plan: []planned{
		{at: 5100 * time.Millisecond, via: []string{"m1"}, viaLeader: true, txn: put("a", "lost"), timeout: 3 * time.Second},
		{at: 20 * time.Second, via: []string{"m1", "m2", "m3"}, txn: get("a"), timeout: 3 * time.Second},
	}}
	sc.Cfg.Bugs = model.MustBugs(BugAckBeforeCommit)
	// The leader, cut off, still appends for the moment CheckQuorum lets
	// it believe it leads.
	const sched = "at 5s partition {@raft-leader} | {m1 m2 m3} for 12s"
	runScripted(t, sc, 3, sched, 25*time.Second)
	w, r := sc.hist.Calls[0], sc.hist.Calls[1]
	if !w.OK() {
		t.Fatalf("with %s the isolated member should acknowledge: %s", BugAckBeforeCommit, w)
	}
	if kvs := r.Resp.Result.Results[0].KVs; !r.OK() || len(kvs) != 0 {
		t.Fatalf("read: %s", r)
	}
	// Without the bug the same write is not acknowledged.
	clean := &scripted{plan: sc.plan}
	runScripted(t, clean, 3, sched, 25*time.Second)
	if clean.hist.Calls[0].OK() {
		t.Fatalf("without the bug the isolated write was acknowledged: %s", clean.hist.Calls[0])
	}
}

// A watch from a past revision gets every event since, in order, then new
// ones as they apply; a progress request is answered; compaction makes old
// revisions unreadable and a watch from them is canceled.
func TestWatchAndCompaction(t *testing.T) {
	sc := &scripted{}
	at := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	for i := 0; i < 6; i++ {
		sc.plan = append(sc.plan, planned{at: at(3000 + 100*i), via: []string{"m1"}, txn: put(fmt.Sprintf("w/%d", i%2), fmt.Sprintf("v%d", i)), timeout: 3 * time.Second})
	}
	sc.plan = append(sc.plan,
		planned{at: at(4000), via: []string{"m2"}, watch: &WatchRequest{ID: 7, Key: "w/", Prefix: true, FromRev: 3}},
		planned{at: at(4500), via: []string{"m1"}, txn: put("w/0", "late"), timeout: 3 * time.Second},
		planned{at: at(4600), via: []string{"m1"}, txn: put("other", "x"), timeout: 3 * time.Second},
		planned{at: at(5000), via: []string{"m2"}, progress: true},
		planned{at: at(6000), via: []string{"m1"}, compact: 5, timeout: 3 * time.Second},
		planned{at: at(7000), via: []string{"m3"}, txn: Txn{Success: []Op{{Kind: OpRange, Key: "w/0", Revision: 3}}}, timeout: 3 * time.Second},
		planned{at: at(7000), via: []string{"m3"}, txn: Txn{Success: []Op{{Kind: OpRange, Key: "w/0", Revision: 6}}}, timeout: 3 * time.Second},
		planned{at: at(7500), via: []string{"m3"}, watch: &WatchRequest{ID: 8, Key: "w/", Prefix: true, FromRev: 4}},
	)
	runScripted(t, sc, 1, "", 10*time.Second)
	var revs []int64
	progress, canceled := false, false
	for _, w := range sc.watched {
		switch {
		case w.ID == 7 && len(w.Events) > 0:
			for _, e := range w.Events {
				revs = append(revs, e.KV.ModRevision)
			}
		case w.ID == 7 && w.Revision == 9:
			progress = true
		case w.ID == 8 && w.Canceled && w.Err == CodeCompacted:
			canceled = true
		}
	}
	if fmt.Sprint(revs) != "[3 4 5 6 7 8]" {
		t.Errorf("watch 7 saw revisions %v; want 3..8 (puts 2..7 and the late put at 8; 'other' is outside the prefix)", revs)
	}
	if !progress || !canceled {
		t.Errorf("progress notification %v, compacted watch canceled %v; watch responses %v", progress, canceled, sc.watched)
	}
	c := sc.hist.Calls
	if cmp := c[len(c)-3]; cmp.Compact != 5 || !cmp.OK() {
		t.Errorf("compaction: %s", cmp)
	}
	if old := c[len(c)-2]; old.Resp.Err != CodeCompacted {
		t.Errorf("read below the compaction: %s; want compacted", old)
	}
	if kept := c[len(c)-1]; !kept.OK() || kept.Resp.Result.Results[0].KVs[0].Value != "v4" {
		t.Errorf("read at revision 6: %s; want v4", kept)
	}
}

// A member whose process is down refuses connections: the client moves on
// to the next endpoint at once, for reads and writes alike.
func TestClientRetriesRefusedRequests(t *testing.T) {
	sc := &scripted{plan: []planned{
		{at: 6 * time.Second, via: []string{"m1", "m2"}, txn: put("a", "1"), timeout: 3 * time.Second},
		{at: 7 * time.Second, via: []string{"m1", "m2"}, txn: get("a"), timeout: 3 * time.Second},
	}}
	// m1 dies early enough for the others to have a leader by 6s.
	runScripted(t, sc, 1, "at 1.5s kill m1/etcd", 9*time.Second)
	for _, c := range sc.hist.Calls {
		if !c.OK() || c.End-c.Start > 100*time.Millisecond {
			t.Fatalf("%s: want a quick success through m2", c)
		}
	}
}

// A one-member store elects itself and serves.
func TestSingleMember(t *testing.T) {
	sc := &scripted{plan: []planned{
		{at: 3 * time.Second, via: []string{"m1"}, txn: put("a", "1"), timeout: 3 * time.Second},
		{at: 4 * time.Second, via: []string{"m1"}, txn: get("a"), timeout: 3 * time.Second},
	}}
	sc.Cfg.Members = 1
	runScripted(t, sc, 1, "at 5s crash m1 for 1s", 8*time.Second)
	for _, c := range sc.hist.Calls {
		if !c.OK() {
			t.Fatalf("%s", c)
		}
	}
}

// A ReadIndex request lost on the way is sent again every 500ms until the
// read is served; a member that cannot reach a leader gives up after its
// request timeout and the client retries the read elsewhere.
func TestReadIndexRetries(t *testing.T) {
	sc := &scripted{plan: []planned{
		{at: 5 * time.Second, via: []string{"m1", "m2", "m3"}, viaFollower: true, txn: get("a"), timeout: 3 * time.Second},
		{at: 10 * time.Second, via: []string{"m3", "m1"}, txn: get("a"), timeout: 9 * time.Second},
	}}
	// The links between the first read's member (a follower) and the
	// others lose everything for 1.2s: its ReadIndex needs re-sending.
	// The first follower among m1..m3 is m1 unless m1 leads.
	sched := "at 4.9s net loss 100% between {m1 m2} | {m3} for 1.2s\nat 4.9s net loss 100% between {m1} | {m2} for 1.2s\n" +
		"at 9.9s partition {m3} | {m1 m2} for 9s"
	res := runScripted(t, sc, 2, sched, 21*time.Second)
	c := sc.hist.Calls
	if !c[0].OK() || c[0].End-c[0].Start < time.Second {
		t.Errorf("first read %s: want success after the loss ends", c[0])
	}
	if !c[1].OK() || c[1].End-c[1].Start < RequestTimeout {
		t.Errorf("second read %s: want m3's request timeout, then success through m1", c[1])
	}
	// The follower sent its MsgReadIndex at two instants at least: the
	// first was lost, the retry got through.
	follower := strings.TrimSuffix(res.Sim.ProcName(sc.readVia), "/etcd")
	rounds := map[string]map[string]bool{}
	for _, line := range strings.Split(string(traceOf(t, sc, res)), "\n") {
		at, rest, _ := strings.Cut(line, " ")
		if !strings.Contains(rest, " "+follower+"/etcd->") || !strings.Contains(rest, "MsgReadIndex") {
			continue
		}
		if _, ctx, ok := strings.Cut(rest, "Context:"); ok {
			if rounds[ctx] == nil {
				rounds[ctx] = map[string]bool{}
			}
			rounds[ctx][at] = true
		}
	}
	most := 0
	for _, r := range rounds {
		most = max(most, len(r))
	}
	if most < 2 {
		t.Errorf("%s never re-sent its ReadIndex: %v", follower, rounds)
	}
}

// poller reads a key through a client every second.
type poller struct {
	c    *Client
	eps  []string
	fail []time.Duration // local times of calls that failed
	took time.Duration   // the longest call
}

func (p *poller) Step(ctx *harness.Ctx, in harness.Input) {
	if p.c.Handle(ctx, in) {
		return
	}
	switch in.Kind {
	case harness.InputStart:
		var eps []harness.ProcID
		for _, h := range p.eps {
			eps = append(eps, ctx.Lookup(h+"/"+MemberProc))
		}
		p.c = &Client{Endpoints: eps, Timeout: 60 * time.Second, ID: 1}
		ctx.After(2*time.Second, "poll", 0)
	case harness.InputTimer:
		at := ctx.Now()
		p.c.Do(ctx, get("k"), false, func(r Response) {
			if r.Err != CodeOK {
				p.fail = append(p.fail, at)
			}
			p.took = max(p.took, ctx.Now()-at)
		})
		ctx.After(time.Second, "poll", 0)
	}
}

// A call a brief partition cut does not hang until its caller's deadline
// while its member answers what was sent after it (one TCP connection
// loses nothing in the middle): the client takes it for lost after
// LostAfter and moves on.
func TestClientMovesOnFromALostCall(t *testing.T) {
	p, res := runPoller(t, "at 10s partition {t2} | {m1} for 4s", 60*time.Second)
	dropped := 0
	for _, l := range strings.Split(string(res.Trace), "\n") {
		if strings.Contains(l, " drop ") && strings.Contains(l, "t2/poll->m1/etcd (partition) req") {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("the partition cut no call to m1")
	}
	if len(p.fail) > 0 {
		t.Errorf("calls issued at %v failed; reads cut on their way should move on to another member", p.fail)
	}
	if p.took < LostAfter || p.took > LostAfter+2*time.Second {
		t.Errorf("the longest call took %s; want about LostAfter (%s): lost after it, and not before", p.took, LostAfter)
	}
}

// The client gives up on a member that stays silent for KeepaliveDead, as
// clientv3's gRPC keepalive does, and sends it nothing but reconnection
// probes (backing off) until it answers again, as gRPC's subchannel only
// comes back once a connection succeeds: no call hangs on it meanwhile.
func TestClientAvoidsADeadMemberUntilItAnswers(t *testing.T) {
	p, res := runPoller(t, "at 10s partition {t2} | {m1} for 140s", 240*time.Second)
	for _, at := range p.fail {
		if at < 10*time.Second || at > 10*time.Second+KeepaliveDead {
			t.Errorf("a call issued at %s failed: only those stuck on m1 before the keepalive gave up on it may", at)
		}
	}
	var probes, after int
	for _, l := range strings.Split(string(res.Trace), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.Contains(l, "t2/poll->m1/etcd") {
			continue
		}
		at, _ := time.ParseDuration(f[0] + "s")
		switch {
		case at > 10*time.Second+KeepaliveDead+time.Second && at < 150*time.Second:
			if !strings.Contains(l, "serializable txn if() then() else()") {
				t.Errorf("a call went to m1 while it was taken for dead: %s", l)
			}
			probes++
		case at > 150*time.Second && strings.Contains(l, "deliver") && strings.Contains(l, `range k="k"`):
			after++
		}
	}
	if probes == 0 || probes > 8 {
		t.Errorf("%d reconnection probes to m1 while cut off; want a few, backing off", probes)
	}
	if after == 0 {
		t.Error("m1 never came back after the partition healed")
	}
}

// runPoller runs a store cluster without workload, plus a poller on host
// t2 reading through m1, m2 and m3, under sched (seed 1, trace kept).
func runPoller(t *testing.T, sched string, d time.Duration) (*poller, harness.Result) {
	t.Helper()
	var p *poller
	sc := &scripted{}
	sc.Cfg.NoWorkload = true
	build := func(s *harness.Sim) error {
		if err := sc.Build(s); err != nil {
			return err
		}
		s.AddHost(harness.HostConfig{Name: "t2"})
		s.AddProcess("t2", "poll", harness.Datagrams, func() harness.Process { p = &poller{eps: []string{"m1", "m2", "m3"}}; return p })
		return nil
	}
	sch, err := harness.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(harness.Config{Scenario: &buildOverride{sc, build}, Duration: d, Trace: harness.TraceOptions{Keep: true}}, 1, sch)
	if err != nil {
		t.Fatal(err)
	}
	return p, res
}

// buildOverride runs another Build for a scenario.
type buildOverride struct {
	*scripted
	build func(s *harness.Sim) error
}

func (b *buildOverride) Build(s *harness.Sim) error { return b.build(s) }
