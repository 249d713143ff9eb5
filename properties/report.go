package properties

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
)

// artifactScenario is a scenario whose checkers can write their views.
type artifactScenario interface {
	scenarios.Scenario
	SetArtifacts(dir string)
	ArtifactPaths() []string
}

// failureReport writes a failing case's artifacts (under FailureDir/name,
// with write) and returns the message a person needs: what failed, the
// case and its (shrunk) schedule, every verdict, where the trace and views
// are, and the commands that replay it.
func failureReport(name, what, caseDesc string, sched harness.Schedule, verdicts []harness.Verdict, write func(dir string) ([]string, error)) string {
	dir := filepath.Join(FailureDir, name)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", name, what)
	fmt.Fprintf(&b, "  case: %s\n", caseDesc)
	fmt.Fprintf(&b, "  schedule (%d faults):\n%s\n", Faults(sched), indent(sched.String(), "    "))
	// Run again with the trace and the checkers' views going to files.
	paths, err := write(dir)
	if err != nil {
		fmt.Fprintf(&b, "  (could not write artifacts: %v)\n", err)
	}
	for _, v := range verdicts {
		fmt.Fprintf(&b, "  %-8s %s: %s\n", v.Status, v.Check, v.Detail)
	}
	for _, p := range paths {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	fmt.Fprintf(&b, "  replay the run: go run ./cmd/hasim repro %s\n", filepath.Join("properties", dir, "failure.json"))
	fmt.Fprintf(&b, "  replay the property: go test ./properties -run '^%s$' (rapid replays its fail file; it prints -rapid.seed)\n", name)
	return b.String()
}

// writeRunArtifacts runs a case again with its trace going to dir, and
// writes the failure file, the checkers' views and, when timeline is
// given, a text timeline there. found says what the property found.
func writeRunArtifacts(dir string, sc artifactScenario, seed uint64, d time.Duration, sched harness.Schedule, found string,
	timeline func(*harness.Sim) []harness.Span) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tracePath := filepath.Join(dir, "trace.txt")
	tf, err := os.Create(tracePath)
	if err != nil {
		return nil, err
	}
	defer tf.Close()
	sc.SetArtifacts(dir)
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: d, Trace: harness.TraceOptions{File: tf}}, seed, sched)
	if err != nil {
		return nil, err
	}
	f, err := scenarios.NewFailure(sc, seed, d, sched, res, "property "+found)
	if err != nil {
		return nil, err
	}
	failurePath := filepath.Join(dir, "failure.json")
	if err := f.Write(failurePath); err != nil {
		return nil, err
	}
	paths := []string{"failure file: " + failurePath, "trace: " + tracePath}
	if timeline != nil {
		timelinePath := filepath.Join(dir, "timeline.txt")
		if err := writeTimelineText(timelinePath, timeline(res.Sim)); err != nil {
			return nil, err
		}
		paths = append(paths, "timeline: "+timelinePath)
	}
	for _, a := range sc.ArtifactPaths() {
		paths = append(paths, "view: "+a)
	}
	return paths, nil
}
