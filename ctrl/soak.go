package ctrl

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/internal/memguard"
)

// A test binary whose test calls Check is a worker of hasim's nightly
// soaks and replays their failures, exactly as hasim's own scenarios are:
//
//	go test -c -o operator.test ./operator
//	hasim soak --out DIR --seeds 5000 --exec ./operator.test -- -test.run '^TestOperator$'
//	hasim report DIR
//	hasim repro DIR/failures/failure-17-shrunk.json
//
// With $HASIM_SOAK_WORKER set (hasim soak does it), Check serves the
// soak's seeds instead of rapid's cases: each seed's schedule is
// generated from the seed over the same fault options, run, judged, and
// reported back, failures shrunk; every VerifyEvery-th passing seed is run
// again and a different trace reported as a divergence (your reconciler
// is nondeterministic). With $HASIM_REPRO naming a failure file (hasim
// repro does it), Check replays that seed and schedule and fails if the
// failure recurs or the replay is not the recorded run.

// soakOrRepro serves a soak or replays a failure when hasim asks this
// binary to; it reports whether it did (Check has nothing more to do).
func soakOrRepro(t *testing.T, s Setup) bool {
	t.Helper()
	config, repro := os.Getenv(scenarios.WorkerEnv), os.Getenv(scenarios.ReproEnv)
	if config == "" && repro == "" {
		return false
	}
	r, err := newRunner(s, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	if repro != "" {
		r.repro(repro, os.Getenv(scenarios.ReproOutEnv))
		return true
	}
	if err := r.serveSoak(config); err != nil {
		t.Fatalf("hasim/ctrl: soak worker: %v", err)
	}
	return true
}

// SoakShrinkRuns bounds the runs a soak worker spends shrinking one
// failure.
const SoakShrinkRuns = 100

// serveSoak is the soak worker's loop.
func (r *runner) serveSoak(configPath string) error {
	b, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	var cfg scenarios.SoakConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %v", configPath, err)
	}
	if cfg.SimDuration != "" {
		d, err := time.ParseDuration(cfg.SimDuration)
		if err != nil || d <= r.s.Cluster.Settle {
			return fmt.Errorf("%s: sim_duration %q: a run must outlast the cluster's settle time (%s)", configPath, cfg.SimDuration, r.s.Cluster.Settle)
		}
		r.s.Duration = d
		r.opts.Duration = d
	}
	// hasim soak --exec gives its heap limit (--max-memory-mb): a worker
	// past it exits, and its seed fails as a crash, out of memory.
	if mb, ok, err := memguard.FromEnv(); err != nil {
		return err
	} else if ok {
		go memguard.Watch(mb) // real time, outside the simulation's bubble
	}
	passed := 0
	return scenarios.ServeWorker(os.Stdin, os.Stdout, func(seed uint64, send func(scenarios.WorkerMsg) error) (scenarios.SoakResult, func() error, error) {
		c := caseSpec{seed: seed, sched: harness.GenerateSchedule(harness.NewRand(seed, "faults"), r.opts)}
		out, err := r.runTraced(c, harness.TraceOptions{}, "")
		if err != nil {
			return scenarios.SoakResult{}, nil, err
		}
		res := out.res
		result, broke := scenarios.NewSoakResult(seed, res)
		if len(broke) == 0 {
			passed++
			if cfg.VerifyEvery <= 0 || passed%cfg.VerifyEvery != 0 {
				return result, nil, nil
			}
			result.Verified = true
			a, err := r.run(c, true, "")
			if err != nil {
				return result, nil, err
			}
			if a.res.TraceHash == res.TraceHash {
				return result, nil, nil
			}
			// Kept, two more traces show where runs part.
			d := traceDiff(a.res.Trace, mustRun(r, c).res.Trace)
			if d == "" {
				d = fmt.Sprintf("(trace hashes %s, then %s; two more runs agreed: the difference comes and goes)", res.TraceHash, a.res.TraceHash)
			}
			result.Class = scenarios.ClassDivergence
			result.Detail = "your reconciler is nondeterministic: the same seed gave two traces; first difference at " + d
			f := scenarios.NewExecFailure(scenarios.ExecSpec{}, seed, r.s.Duration, c.sched, res, "soak: "+result.Detail)
			f.Class = scenarios.ClassDivergence
			return result, nil, send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgFound, Failure: &f})
		}
		result.Class, result.Detail = scenarios.ClassViolation, scenarios.JoinChecks(broke)+" violated"
		f := scenarios.NewExecFailure(scenarios.ExecSpec{}, seed, r.s.Duration, c.sched, res, "soak")
		f.Class = scenarios.ClassViolation
		if err := send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgFound, Failure: &f}); err != nil {
			return result, nil, err
		}
		shrink := func() error {
			run := func(s harness.Schedule) (harness.Result, error) {
				o, err := r.run(caseSpec{seed: seed, sched: s}, false, "")
				return o.res, err
			}
			small, runs, err := scenarios.ShrinkWith(run, c.sched, broke, SoakShrinkRuns)
			if err != nil || small.String() == c.sched.String() {
				return err
			}
			o, err := r.runTraced(caseSpec{seed: seed, sched: small}, harness.TraceOptions{}, "")
			if err != nil {
				return err
			}
			fs := scenarios.NewExecFailure(scenarios.ExecSpec{}, seed, r.s.Duration, small, o.res,
				fmt.Sprintf("soak, shrunk from %d to %d entries in %d runs", len(c.sched), len(small), runs))
			fs.Class, fs.Shrunk = scenarios.ClassViolation, true
			return send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgShrunk, Failure: &fs})
		}
		return result, shrink, nil
	})
}

// mustRun runs a case with its trace kept, failing the test on an error.
func mustRun(r *runner, c caseSpec) outcome {
	o, err := r.run(c, true, "")
	if err != nil {
		r.t.Fatal(err)
	}
	return o
}

// repro replays a failure file of a soak of this binary: it prints the
// comparison with the recorded run and fails the test if the failure
// recurs or the replay diverges. With out set, the trace and the
// checkers' views are written there.
func (r *runner) repro(path, out string) {
	t := r.t
	f, err := scenarios.ReadFailure(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Duration != "" {
		d, _ := time.ParseDuration(f.Duration)
		r.s.Duration = d
	}
	sched, _ := harness.ParseSchedule(f.Schedule)
	o, err := r.run(caseSpec{seed: f.Seed, sched: sched}, true, out)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		trace := filepath.Join(out, "trace.txt")
		if err := os.WriteFile(trace, o.res.Trace, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("trace: %s\n", trace)
		for _, p := range o.paths {
			fmt.Printf("view: %s\n", p)
		}
	}
	same, violated := f.CompareReplay(os.Stdout, o.res)
	switch {
	case !same:
		t.Fatalf("hasim/ctrl: the replay of %s is not the recorded run (trace hash %s, recorded %s): is the binary built from other code?", path, o.res.TraceHash, f.TraceHash)
	case violated:
		t.Fatalf("hasim/ctrl: the failure of %s recurs: %s", path, brief(o.broke))
	}
	t.Logf("hasim/ctrl: %s replayed: the run passes now", path)
}
