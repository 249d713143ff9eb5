package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"hasim/harness"
	"hasim/model/scenarios"
)

// cmdRepro replays a failure file exactly: same spec, seed, duration and
// schedule; it checks that the trace hash is the one recorded and prints
// the verdicts next to the recorded ones.
func cmdRepro(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim repro", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the trace (and the checkers' views) of the replay")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hasim repro [--out DIR] FAILURE_FILE\n\nReplays a failure file exactly and checks that the trace hash matches.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("takes exactly one failure file, got %d arguments", fs.NArg())
	}
	f, err := scenarios.ReadFailure(fs.Arg(0))
	if err != nil {
		return usagef("%v", err)
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
	res, err := harness.Run(cfg, f.Seed, plan.Schedule)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hasim repro %s: scenario %s, seed %d, %s, %d schedule entries\n",
		fs.Arg(0), f.Spec.Scenario, f.Seed, plan.Duration, len(plan.Schedule))
	same := res.TraceHash == f.TraceHash
	switch {
	case f.Class == scenarios.ClassCrash || f.Class == scenarios.ClassTimeout:
		// The recorded run never finished, so there is no hash to match;
		// a crash that reproduces does not get here (it crashes again).
		same = true
		fmt.Fprintf(stdout, "recorded as a %s (%s); this replay ran to the end with trace hash %s: not reproduced in this process\n",
			f.Class, f.Found, res.TraceHash)
	case same:
		fmt.Fprintf(stdout, "trace hash %s: identical to the recorded run\n", res.TraceHash)
	default:
		fmt.Fprintf(stdout, "DIVERGENCE: trace hash %s, recorded %s: the replay is not the recorded run\n", res.TraceHash, f.TraceHash)
	}
	fmt.Fprintln(stdout, "checks (recorded → now):")
	violated := false
	for _, v := range res.Verdicts {
		was := f.Verdicts[v.Check].Verdict
		if was == "" {
			was = "-"
		}
		fmt.Fprintf(stdout, "  %-22s %-8s → %-8s %s\n", v.Check, was, v.Status, v.Detail)
		violated = violated || v.Status == harness.Violated
	}
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
