package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/internal/memguard"
)

// cmdRepro replays a failure file exactly: same spec, seed, duration and
// schedule; it checks that the trace hash is the one recorded and prints
// the verdicts next to the recorded ones.
func cmdRepro(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim repro", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the trace (and the checkers' views) of the replay")
	budget := fs.Duration("timeout", 10*time.Minute, "a crash or time-out replay: wall time after which the run counts as hung")
	maxMem := fs.Int64("max-memory-mb", 4096, "a crash or time-out replay: heap beyond which the run counts as out of memory")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hasim repro [--out DIR] FAILURE_FILE [--out DIR]\n\nReplays a failure file exactly and checks that the trace hash matches; a\nrecorded crash or time-out is replayed in this process and said whether it\nrecurs.\n\n")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) != 1:
		return usagef("takes exactly one failure file, got %d", len(files))
	case *budget <= 0:
		return usagef("--timeout: must be positive, got %s", *budget)
	case *maxMem < memguard.MinMB:
		return usagef("--max-memory-mb: %d is below %d", *maxMem, memguard.MinMB)
	}
	file := files[0]
	f, err := scenarios.ReadFailure(file)
	if err != nil {
		return usagef("%v", err)
	}
	if f.Exec != nil {
		return reproExec(f, file, *out, stdout, stderr)
	}
	plan, err := f.Plan()
	if err != nil {
		return usagef("%v", err)
	}
	cfg := harness.Config{Scenario: plan.Scenario, Duration: plan.Duration}
	traceFile := ""
	if *out != "" {
		tf, path, err := createTrace(*out)
		if err != nil {
			return err
		}
		defer tf.Close()
		traceFile, cfg.Trace.File = path, tf
		if a, ok := plan.Scenario.(interface{ SetArtifacts(string) }); ok {
			a.SetArtifacts(*out)
		}
	}
	fmt.Fprintf(stdout, "hasim repro %s: scenario %s, seed %d, %s, %d schedule entries\n",
		file, f.Spec.Scenario, f.Seed, plan.Duration, len(plan.Schedule))
	broke := f.Class == scenarios.ClassCrash || f.Class == scenarios.ClassTimeout
	var res harness.Result
	if broke {
		// The recorded run never finished: replay it under guard, and say
		// whether the crash, the hang or the memory growth recurs.
		var why string
		res, why, err = guardedRun(cfg, f.Seed, plan.Schedule, *budget, *maxMem<<20)
		if err != nil {
			return err
		}
		if why != "" {
			fmt.Fprintf(stdout, "recorded as a %s (%s)\nREPRODUCED: %s\n", f.Class, f.Found, why)
			return errViolated
		}
	} else if res, err = harness.Run(cfg, f.Seed, plan.Schedule); err != nil {
		return err
	}
	if broke {
		// There is no recorded hash to match.
		fmt.Fprintf(stdout, "recorded as a %s (%s); this replay ran to the end with trace hash %s within %s and %d MB: not reproduced\n",
			f.Class, f.Found, res.TraceHash, *budget, *maxMem)
	}
	same, violated := f.CompareReplay(stdout, res)
	if traceFile != "" {
		fmt.Fprintf(stdout, "trace: %s\n", traceFile)
		page := filepath.Join(*out, "timeline.html")
		title := fmt.Sprintf("hasim repro: %s seed %d", f.Spec.Scenario, f.Seed)
		if err := writeTimeline(page, title, res, spansOf(plan.Scenario, res.Sim)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "timeline: %s\n", page)
		if a, ok := plan.Scenario.(interface{ ArtifactPaths() []string }); ok {
			for _, v := range a.ArtifactPaths() {
				fmt.Fprintf(stdout, "view: %s\n", v)
			}
		}
	}
	if !same {
		return errViolated // a divergence is a failure of its own class
	}
	if violated {
		return errViolated
	}
	return nil
}

// reproExec replays a failure of a user's test binary there: the binary
// runs with ReproEnv naming the failure file (and ReproOutEnv the --out
// directory), replays the seed and schedule, compares, and fails if the
// failure recurs or the replay diverges.
func reproExec(f scenarios.Failure, file, out string, stdout, stderr io.Writer) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hasim repro %s: seed %d, replayed by %s\n", file, f.Seed, f.Exec)
	cmd := exec.Command(f.Exec.Binary, f.Exec.Args...)
	cmd.Env = append(os.Environ(), scenarios.ReproEnv+"="+abs)
	if out != "" {
		dir, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		cmd.Env = append(cmd.Env, scenarios.ReproOutEnv+"="+dir)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return errViolated // the binary says the failure recurs, or the replay diverged
	}
	return err
}

// guardedRun runs a simulation in this process while watching it: a panic,
// a run past budget of wall time, or a heap past maxHeap bytes is what a
// soak worker dies of, and why says which (empty when the run ended). A
// run past its budget is left behind: the process is about to exit.
func guardedRun(cfg harness.Config, seed uint64, sched harness.Schedule, budget time.Duration, maxHeap int64) (res harness.Result, why string, err error) {
	type outcome struct {
		res   harness.Result
		err   error
		panic any
		stack []byte
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{panic: p, stack: debug.Stack()}
			}
		}()
		r, err := harness.Run(cfg, seed, sched)
		done <- outcome{res: r, err: err}
	}()
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var ms runtime.MemStats
	for {
		select {
		case o := <-done:
			if o.panic != nil {
				stack := string(o.stack)
				if lines := strings.Split(stack, "\n"); len(lines) > 16 {
					stack = strings.Join(lines[:16], "\n") + "\n…"
				}
				return harness.Result{}, fmt.Sprintf("the run panicked: %v\n%s", o.panic, stack), nil
			}
			return o.res, "", o.err
		case <-tick.C:
			if el := time.Since(start); el > budget {
				return harness.Result{}, fmt.Sprintf("the run is still going after %s of wall time (--timeout)", el.Round(time.Second)), nil
			}
			runtime.ReadMemStats(&ms)
			if int64(ms.HeapAlloc) > maxHeap {
				return harness.Result{}, fmt.Sprintf("the run's heap reached %d MB, past %d MB (--max-memory-mb)", ms.HeapAlloc>>20, maxHeap>>20), nil
			}
		}
	}
}
