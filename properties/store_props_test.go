package properties

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// TestMain gives every property at least 200 cases unless the command line
// says otherwise (-rapid.checks), and keeps canary fail files out of the tree.
func TestMain(m *testing.M) {
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rapid.checks"] && os.Getenv("RAPID_CHECKS") == "" {
		flag.Set("rapid.checks", "200")
	}
	os.Exit(m.Run())
}

// checkTally insists that a check decided on most cases: a checker that
// mostly says unknown proves nothing.
func checkTally(t *testing.T, name harness.CheckName, tl *Tally) {
	t.Helper()
	total := tl.OK + tl.Unknown + tl.Violated
	t.Logf("%s: %d ok, %d unknown, %d violated", name, tl.OK, tl.Unknown, tl.Violated)
	if total > 0 && tl.OK*10 < total*9 {
		t.Fatalf("%s decided only %d of %d cases", name, tl.OK, total)
	}
}

// checkStoreProperty runs one store property over rapid's cases (200 in
// make test) and insists that its check decided on most of them.
func checkStoreProperty(t *testing.T, check harness.CheckName) {
	var tl Tally
	rapid.Check(t, StoreProperty(t.Name(), model.Bugs{}, check, &tl))
	checkTally(t, check, &tl)
}

func TestStoreLinearizable(t *testing.T)      { checkStoreProperty(t, CheckLinearizable) }
func TestAckedWritesDurable(t *testing.T)     { checkStoreProperty(t, CheckDurable) }
func TestStoreRecoversAfterHeal(t *testing.T) { checkStoreProperty(t, CheckRecovers) }
func TestRaftSafety(t *testing.T)             { checkStoreProperty(t, CheckRaftSafety) }

func FuzzStoreLinearizable(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(StoreProperty("FuzzStoreLinearizable", model.Bugs{}, CheckLinearizable, nil)))
}

func FuzzAckedWritesDurable(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(StoreProperty("FuzzAckedWritesDurable", model.Bugs{}, CheckDurable, nil)))
}

func FuzzStoreRecoversAfterHeal(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(StoreProperty("FuzzStoreRecoversAfterHeal", model.Bugs{}, CheckRecovers, nil)))
}

func FuzzRaftSafety(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(StoreProperty("FuzzRaftSafety", model.Bugs{}, CheckRaftSafety, nil)))
}

// recorder is a rapid.TB that keeps a failure instead of failing the test,
// so that a canary can assert that a property fails.
type recorder struct {
	name   string
	failed bool
	msgs   []string
}

type failNow struct{}

func (r *recorder) Helper()                         {}
func (r *recorder) Name() string                    { return r.name }
func (r *recorder) Logf(format string, args ...any) {}
func (r *recorder) Log(args ...any)                 {}
func (r *recorder) Skipf(format string, args ...any) {
	panic(fmt.Sprintf("skipped: "+format, args...))
}
func (r *recorder) Skip(args ...any) { panic(fmt.Sprint(args...)) }
func (r *recorder) SkipNow()         { panic("skipped") }
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.failed = true; r.msgs = append(r.msgs, fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(failNow{})
}
func (r *recorder) Fatal(args ...any) { r.Error(args...); panic(failNow{}) }
func (r *recorder) FailNow()          { r.failed = true; panic(failNow{}) }
func (r *recorder) Fail()             { r.failed = true }
func (r *recorder) Failed() bool      { return r.failed }

// expectFailure runs a property under the recorder with a fixed seed and
// budget of checks, and reports whether it failed.
func expectFailure(t *testing.T, name string, prop func(*rapid.T), checks int, seed uint64) *recorder {
	t.Helper()
	for k, v := range map[string]string{"rapid.checks": fmt.Sprint(checks), "rapid.seed": fmt.Sprint(seed),
		"rapid.nofailfile": "true", "rapid.shrinktime": "8s"} {
		old := flag.Lookup(k).Value.String()
		if err := flag.Set(k, v); err != nil {
			t.Fatal(err)
		}
		defer flag.Set(k, old)
	}
	r := &recorder{name: name}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(failNow); !ok {
					panic(p)
				}
			}
		}()
		rapid.Check(r, prop)
	}()
	return r
}

// Canaries: each store bug switch makes its property fail within a fixed
// budget, and the shrunk failure is short and replays to the same verdict.
func TestCanaries(t *testing.T) {
	for _, c := range []struct {
		bug   string
		check harness.CheckName
	}{
		{store.BugStaleRead, CheckLinearizable},
		{store.BugAckBeforeCommit, CheckDurable},
		{store.BugNoFsync, CheckRaftSafety},
	} {
		t.Run(c.bug, func(t *testing.T) {
			name := "Canary-" + c.bug
			r := expectFailure(t, name, StoreProperty(name, model.MustBugs(c.bug), c.check, nil), 100, 1)
			if !r.failed {
				t.Fatalf("%s: %s held on 100 cases with the bug on", c.bug, c.check)
			}
			report := strings.Join(r.msgs, "\n")
			for _, want := range []string{string(c.check) + " violated", "schedule (", "replay the run: go run ./cmd/hasim repro", "trace: "} {
				if !strings.Contains(report, want) {
					t.Errorf("the failure report lacks %q:\n%s", want, report)
				}
			}
			path := filepath.Join(FailureDir, name, "failure.json")
			f, err := scenarios.ReadFailure(path)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := f.Plan()
			if err != nil {
				t.Fatal(err)
			}
			if n := Faults(plan.Schedule); n > 5 {
				t.Errorf("shrunk schedule has %d faults, want at most 5:\n%s", n, plan.Schedule)
			}
			res, err := harness.Run(harness.Config{Scenario: plan.Scenario, Duration: plan.Duration}, f.Seed, plan.Schedule)
			if err != nil {
				t.Fatal(err)
			}
			if res.TraceHash != f.TraceHash {
				t.Errorf("replay diverged: %s vs %s", res.TraceHash, f.TraceHash)
			}
			replayed := false
			for _, v := range res.Verdicts {
				replayed = replayed || (v.Check == c.check && v.Status == harness.Violated)
			}
			if !replayed {
				t.Errorf("the replay does not reproduce %s: %v", c.check, res.Verdicts)
			}
			t.Logf("%s shrunk to %d faults:\n%s", c.bug, Faults(plan.Schedule), indent(plan.Schedule.String(), "  "))
		})
	}
}

// Coverage marks: generated cases reach the rare states that make the
// checks meaningful.
func TestGeneratorsReachRareStates(t *testing.T) {
	want := []string{"leader-change-under-load", "read-index-resent", "snapshot-sent", "snapshot-restored",
		"indeterminate-write-committed", "crash-lost-writes", "proposal-dropped"}
	hits := map[string]int{}
	r := expectFailure(t, "marks", func(rt *rapid.T) {
		c := DrawStoreCase(rt, model.Bugs{})
		res, _, err := RunStoreCase(c, CheckRaftSafety, "")
		if err != nil {
			rt.Fatal(err)
		}
		for k, n := range res.Marks {
			hits[k] += n
		}
	}, 300, 7)
	if r.failed {
		t.Fatalf("property failed while counting marks: %v", r.msgs)
	}
	var missing []string
	for _, m := range want {
		if hits[m] == 0 {
			missing = append(missing, m)
		}
	}
	t.Logf("marks over 300 cases: %v", hits)
	if len(missing) > 0 {
		t.Fatalf("generated cases never reached: %s", strings.Join(missing, ", "))
	}
}
