package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model"
	"hasim/model/counter"
)

// fakeUserBinary plays a user's test binary for hasim soak --exec and
// hasim repro, through the protocol a real one speaks (ctrl.Check does):
// its "own" system is the counter with its lazy-fsync bug, each seed's
// schedule generated from the seed. As a soak worker ($HASIM_SOAK_WORKER)
// it serves seeds; with $HASIM_REPRO it replays a failure file and fails
// (exit 1) if the failure recurs or the replay diverges. It returns the
// exit code.
func fakeUserBinary() int {
	build := func() (scenarios.Scenario, error) {
		return &counter.Scenario{Cfg: counter.Config{Bugs: model.MustBugs(counter.BugLazyFsync)}}, nil
	}
	d := time.Minute
	if path := os.Getenv(scenarios.ReproEnv); path != "" {
		f, err := scenarios.ReadFailure(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		sched, _ := harness.ParseSchedule(f.Schedule)
		sc, _ := build()
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, f.Seed, sched)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if same, violated := f.CompareReplay(os.Stdout, res); !same || violated {
			return 1
		}
		return 0
	}
	b, err := os.ReadFile(os.Getenv(scenarios.WorkerEnv))
	var cfg scenarios.SoakConfig
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if cfg.SimDuration != "" {
		d, _ = time.ParseDuration(cfg.SimDuration)
	}
	err = scenarios.ServeWorker(os.Stdin, os.Stdout, func(seed uint64, send func(scenarios.WorkerMsg) error) (scenarios.SoakResult, func() error, error) {
		sc, _ := build()
		sched := harness.GenerateSchedule(harness.NewRand(seed, "faults"), sc.(*counter.Scenario).GenOptions(d))
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, seed, sched)
		if err != nil {
			return scenarios.SoakResult{}, nil, err
		}
		r, broke := scenarios.NewSoakResult(seed, res)
		if len(broke) == 0 {
			return r, nil, nil
		}
		r.Class, r.Detail = scenarios.ClassViolation, "violated"
		f := scenarios.NewExecFailure(scenarios.ExecSpec{}, seed, d, sched, res, "a user's binary")
		f.Class = scenarios.ClassViolation
		if err := send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgFound, Failure: &f}); err != nil {
			return r, nil, err
		}
		return r, nil, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// hasim soak --exec runs a user's test binary (here this one, playing
// one) as its workers: its results land in the soak directory as hasim's
// own do, hasim report merges two shards of it, and hasim repro replays
// its failure files through the binary.
func TestSoakExecRunsAUsersBinary(t *testing.T) {
	dir := t.TempDir()
	bin := os.Args[0]
	s1, s2 := filepath.Join(dir, "s1"), filepath.Join(dir, "s2")
	for _, c := range []struct{ out, shard string }{{s1, "1/2"}, {s2, "2/2"}} {
		code, _, errs := hasim(t, "soak", "--out", c.out, "--seeds", "12", "--workers", "2", "--shard", c.shard,
			"--exec", bin, "--", "-test.run=^$")
		if code != 0 && code != 1 {
			t.Fatalf("soak --exec %s: exit %d\n%s", c.shard, code, errs)
		}
	}
	r := reportOf(t, s1, s2)
	if r.Seeds != 12 || r.Failures == 0 || !strings.Contains(string(r.Spec), `"exec"`) {
		t.Fatalf("report: %d seeds, %d failures, spec %s; want 12 seeds, some failing, of the binary", r.Seeds, r.Failures, r.Spec)
	}
	files, _ := filepath.Glob(filepath.Join(s1, "failures", "*.json"))
	files2, _ := filepath.Glob(filepath.Join(s2, "failures", "*.json"))
	files = append(files, files2...)
	if len(files) == 0 {
		t.Fatal("no failure file")
	}
	f, err := scenarios.ReadFailure(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Exec == nil || f.Exec.Binary != bin || !slices.Equal(f.Exec.Args, []string{"-test.run=^$"}) || f.Spec.Scenario != "" {
		t.Fatalf("failure file: exec %+v, spec %+v; want the binary and its arguments, no spec", f.Exec, f.Spec)
	}
	code, out, errs := hasim(t, "repro", files[0])
	if code != 1 || !strings.Contains(out, "identical to the recorded run") || !strings.Contains(out, "replayed by "+bin) {
		t.Fatalf("repro: exit %d (want 1: the failure recurs)\n%s\n%s", code, out, errs)
	}
	// Flags of the built-in scenarios do not apply to a binary.
	if code, _, errs := hasim(t, "soak", "--out", filepath.Join(dir, "x"), "--seeds", "1", "--exec", bin, "--scenario", "store"); code != 2 || !strings.Contains(errs, "--scenario") {
		t.Fatalf("--exec with --scenario: exit %d: %s", code, errs)
	}
	if code, _, errs := hasim(t, "soak", "--out", filepath.Join(dir, "y"), "--seeds", "1", "--exec", dir); code != 2 || !strings.Contains(errs, "not an executable file") {
		t.Fatalf("--exec of a directory: exit %d: %s", code, errs)
	}
}
