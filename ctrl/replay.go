package ctrl

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
)

// replayFlag names a case file to replay (-hasim.replay=FILE).
var replayFlag = flag.String("hasim.replay", "", "hasim/ctrl: replay the case in this file (a case.txt a failing Check wrote, in the test it names; or a soak's failure file, in the test -run selects)")

// caseHeader starts a case file.
const caseHeader = "# hasim/ctrl case"

// writeCase writes the case file and the trace of a failing case into dir
// and returns their descriptions for the report.
func (r *runner) writeCase(dir string, c caseSpec, res harness.Result) ([]string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: replay with -hasim.replay=<this file>\n", caseHeader)
	fmt.Fprintf(&b, "test %s\nseed %d\nduration %s\ntrace-hash %s\nschedule\n", r.name, c.seed, r.s.durationOrDefault(), res.TraceHash)
	b.WriteString(c.sched.String())
	casePath, tracePath := filepath.Join(dir, "case.txt"), filepath.Join(dir, "trace.txt")
	if err := os.WriteFile(casePath, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(tracePath, res.Trace, 0o644); err != nil {
		return nil, err
	}
	return []string{"case: " + casePath, "trace: " + tracePath}, nil
}

// savedCase is a case file read back.
type savedCase struct {
	// test is the test the case is of ("": whichever test replays it).
	test      string
	c         caseSpec
	duration  time.Duration
	traceHash string
}

// readCase reads a case file that Check wrote, or the failure file of a
// soak of the test binary (hasim soak --exec), which names no test.
func readCase(path string) (savedCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return savedCase{}, err
	}
	text := string(data)
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		return readSoakFailure(path)
	}
	if !strings.HasPrefix(text, caseHeader) {
		return savedCase{}, fmt.Errorf("%s: not a hasim/ctrl case file (nor a soak's failure file)", path)
	}
	head, sched, ok := strings.Cut(text, "\nschedule\n")
	if !ok {
		return savedCase{}, fmt.Errorf("%s: no schedule line", path)
	}
	var sc savedCase
	for _, line := range strings.Split(head, "\n")[1:] {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "test":
			sc.test = val
		case "seed":
			sc.c.seed, err = strconv.ParseUint(val, 10, 64)
		case "duration":
			sc.duration, err = time.ParseDuration(val)
		case "trace-hash":
			sc.traceHash = val
		default:
			err = fmt.Errorf("unknown line %q", line)
		}
		if err != nil {
			return savedCase{}, fmt.Errorf("%s: %v", path, err)
		}
	}
	if sc.c.sched, err = harness.ParseSchedule(sched); err != nil {
		return savedCase{}, fmt.Errorf("%s: %v", path, err)
	}
	return sc, nil
}

// readSoakFailure reads the failure file of a soak of a test binary as a
// case; its duration is the test's own when the file gives none.
func readSoakFailure(path string) (savedCase, error) {
	f, err := scenarios.ReadFailure(path)
	if err != nil {
		return savedCase{}, err
	}
	if f.Exec == nil {
		return savedCase{}, fmt.Errorf("%s: a failure of hasim's own scenario %q: replay it with hasim repro", path, f.Spec.Scenario)
	}
	sc := savedCase{c: caseSpec{seed: f.Seed}, traceHash: f.TraceHash}
	sc.c.sched, _ = harness.ParseSchedule(f.Schedule) // ReadFailure checked both
	if f.Duration != "" {
		sc.duration, _ = time.ParseDuration(f.Duration)
	}
	return sc, nil
}

// replayCommand is the command that replays a case file in its test.
func replayCommand(test, casePath string) string {
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	var run []string
	for _, part := range strings.Split(test, "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	return fmt.Sprintf("cd %s && go test -count=1 -run '%s' . -hasim.replay=%s", wd, strings.Join(run, "/"), casePath)
}

// replay runs the case of -hasim.replay in the test it names (other tests
// skip), writes its trace next to the case file, and fails as the case
// did; it also fails when the trace differs from the one recorded.
func replay(t *testing.T, name string, s Setup) {
	t.Helper()
	sc, err := readCase(*replayFlag)
	if err != nil {
		t.Fatal(err)
	}
	if sc.test != "" && sc.test != name {
		t.Skipf("hasim/ctrl: -hasim.replay replays %s, not %s", sc.test, name)
	}
	r, err := newRunner(s, name)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.s.durationOrDefault(); sc.duration != 0 && d != sc.duration {
		t.Fatalf("hasim/ctrl: the case ran %s, the setup runs %s", sc.duration, d)
	}
	r.t = t
	dir := filepath.Dir(*replayFlag)
	out, err := r.run(sc.c, true, dir)
	if err != nil {
		t.Fatal(err)
	}
	tracePath := filepath.Join(dir, "trace.txt")
	if err := os.WriteFile(tracePath, out.res.Trace, 0o644); err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	fmt.Fprintf(&w, "hasim/ctrl: replayed seed %d, schedule (%d faults):\n%s\n", sc.c.seed, len(sc.c.sched), indent(sc.c.sched.String(), "    "))
	for _, v := range out.res.Verdicts {
		fmt.Fprintf(&w, "    %-8s %s: %s\n", v.Status, v.Check, v.Detail)
	}
	fmt.Fprintf(&w, "  trace: %s (hash %s)\n", tracePath, out.res.TraceHash)
	if out.res.TraceHash != sc.traceHash {
		fmt.Fprintf(&w, "  the trace differs from the one recorded (%s): the code changed since, or it is nondeterministic\n", sc.traceHash)
	}
	if len(out.broke) > 0 {
		t.Fatalf("%s  fails: %s", w.String(), brief(out.broke))
	}
	t.Logf("%s  passes", w.String())
}
