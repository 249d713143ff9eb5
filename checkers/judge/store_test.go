package judge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// Without bugs the raft safety check holds on generated fault schedules.
func TestRaftSafetyUnderGeneratedFaults(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 30
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		var c store.Config
		if seed%4 == 0 {
			c.Members = 5
		}
		if seed%3 == 0 {
			c.Topology = store.External
			c.SnapshotCount, c.CatchUpEntries = 50, 10
		}
		sc := NewStore(c)
		d := 40 * time.Second
		sched := harness.GenerateSchedule(harness.NewRand(seed, "faults"), sc.GenOptions(d))
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, seed, sched)
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Verdicts[0]; v.Status != harness.OK {
			t.Fatalf("seed %d: %s %s: %s\nschedule:\n%s", seed, v.Check, v.Status, v.Detail, sched)
		}
	}
}

// writes is a judged store cluster without the workload, plus a writer on
// host t1 that makes planned calls through every member; the judge sees
// them as it sees the workload's.
type writes struct {
	*Store
	plan []plannedCall
}

type plannedCall struct {
	at  time.Duration
	txn store.Txn
}

func (w *writes) Build(s *harness.Sim) error {
	w.Cfg.NoWorkload = true
	if err := w.Store.Build(s); err != nil {
		return err
	}
	s.AddHost(harness.HostConfig{Name: "t1"})
	s.AddProcess("t1", "writer", harness.Datagrams, func() harness.Process { return &writer{w: w} })
	return nil
}

type writer struct {
	w       *writes
	clients []*store.Client
}

func (p *writer) Step(ctx *harness.Ctx, in harness.Input) {
	for _, c := range p.clients {
		if c.Handle(ctx, in) {
			return
		}
	}
	switch in.Kind {
	case harness.InputStart:
		for i, pl := range p.w.plan {
			p.clients = append(p.clients, &store.Client{Endpoints: p.w.Members(), Timeout: 5 * time.Second,
				ID: i + 1, History: p.w.History()}) // no other clients: numbers from 1, as hand-made
			ctx.After(pl.at-ctx.Now(), "call", uint64(i))
		}
	case harness.InputTimer:
		if in.Tag == "call" {
			p.clients[in.Arg].Do(ctx, p.w.plan[in.Arg].txn, false, nil)
		}
	}
}

// Without fsync a whole-cluster power loss forgets writes the clients were
// told were durable: acked-durable reports them lost; with fsync the same
// run is clean.
func TestBugNoFsyncLosesAcknowledgedWrites(t *testing.T) {
	run := func(bugs model.Bugs) harness.Verdict {
		w := &writes{Store: NewStore(store.Config{Bugs: bugs})}
		for i := 0; i < 10; i++ {
			w.plan = append(w.plan, plannedCall{at: 3*time.Second + time.Duration(i)*200*time.Millisecond,
				txn: store.Txn{Success: []store.Op{{Kind: store.OpPut, Key: fmt.Sprintf("k%d", i%3), Value: fmt.Sprintf("v%d", i)}}}})
		}
		for i := 0; i < 3; i++ {
			w.plan = append(w.plan, plannedCall{at: 15 * time.Second,
				txn: store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: fmt.Sprintf("k%d", i)}}}})
		}
		s, _ := harness.ParseSchedule("at 8s crash m1 + crash m2 + crash m3 for 2s")
		res, err := harness.Run(harness.Config{Scenario: w, Duration: 25 * time.Second}, 4, s)
		if err != nil {
			t.Fatal(err)
		}
		return res.Verdicts[2]
	}
	if v := run(model.Bugs{}); v.Check != model.CheckAckedDurable || v.Status != harness.OK {
		t.Fatalf("without the bug: %s %s %s", v.Check, v.Status, v.Detail)
	}
	if v := run(model.MustBugs(store.BugNoFsync)); v.Status != harness.Violated || !strings.Contains(v.Detail, "lost acknowledged write") {
		t.Fatalf("with %s: %s %s", store.BugNoFsync, v.Status, v.Detail)
	}
}

// The members' cues and states: aimed entries strike a member with a read
// waiting on its read index, with a write proposed, a candidate as votes
// race, a follower whose election is due; each fault marks the state it
// struck; the run stays clean.
func TestMemberCuesAndStates(t *testing.T) {
	sched, err := harness.ParseSchedule("at 5s on read-index pause @cued for 300ms\n" +
		"at 6s on write-proposed isolate @cued for 1s\n" +
		"at 10s partition {@raft-leader} | {m1 m2 m3} for 4s\n" +
		"at 10s on raft-campaign pause @cued for 200ms\n" +
		"at 10s on election-due +200ms pause @cued for 200ms\n")
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(harness.Config{Scenario: NewStore(store.Config{}), Duration: 40 * time.Second}, 4, sched)
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for _, r := range res.Faults {
		if strings.Contains(r.Text, "@cued=m") {
			fired++
		}
	}
	if fired != 4 {
		t.Fatalf("%d aimed entries fired on a member, want 4: %+v", fired, res.Faults)
	}
	for _, st := range []string{store.CueReadIndex, store.StateWritePending, store.CueCampaign, store.CueElectionDue} {
		if res.Marks["fault-during/"+st] == 0 {
			t.Errorf("no fault struck %s: marks %v", st, res.Marks)
		}
	}
	if res.Failed() {
		t.Fatalf("verdicts %+v", res.Verdicts)
	}
}

// Clients that stand still for longer than KeyIdle within a key epoch come
// back to the same keys: a key is judged only once every client has moved
// to a later epoch, or its new calls would start a history mid-stream and
// could not linearize (a false alarm).
func TestKeysAreJudgedOnlyAfterTheirEpoch(t *testing.T) {
	sched, err := harness.ParseSchedule("at 30s pause c1 + pause c2 + pause c3 + pause p1 for 2m30s")
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		res, err := harness.Run(harness.Config{Scenario: NewStore(store.Config{Clients: 3, Keys: 2}), Duration: 4 * time.Minute}, seed, sched)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Verdicts {
			if v.Status != harness.OK {
				t.Errorf("seed %d: %s %s: %s", seed, v.Check, v.Status, v.Detail)
			}
		}
	}
}
