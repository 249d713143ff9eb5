package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
)

func soakArgs(out string, extra ...string) []string {
	return append([]string{"soak", "--seeds", "24", "--workers", "2", "--scenario", "store",
		"--bug", "store-stale-read", "--sim-duration", "30s", "--out", out}, extra...)
}

func reportOf(t *testing.T, dirs ...string) report {
	t.Helper()
	code, out, errs := hasim(t, append([]string{"report", "--json"}, dirs...)...)
	if code != 1 {
		t.Fatalf("report exit %d: %s", code, errs)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A soak finds the planted bug, writes a failure file (and a shrunk one)
// per failing seed, each of which replays; two shards merged report the
// same failures as one unsharded soak over the same seeds.
func TestSoakShardsAndReport(t *testing.T) {
	t.Setenv("HASIM_TEST_AS_MAIN", "1") // workers are this test binary
	dir := t.TempDir()
	whole, s1, s2 := filepath.Join(dir, "whole"), filepath.Join(dir, "s1"), filepath.Join(dir, "s2")
	for _, c := range []struct {
		out   string
		extra []string
	}{{whole, nil}, {s1, []string{"--shard", "1/2"}}, {s2, []string{"--shard", "2/2"}}} {
		code, _, errs := hasim(t, soakArgs(c.out, c.extra...)...)
		if code != 1 {
			t.Fatalf("soak %s: exit %d (want 1: failures found)\n%s", c.out, code, errs)
		}
	}
	a, b := reportOf(t, whole), reportOf(t, s1, s2)
	if a.Seeds != 24 || b.Seeds != 24 || a.Failures == 0 {
		t.Fatalf("seeds %d and %d, failures %d", a.Seeds, b.Seeds, a.Failures)
	}
	if !reflect.DeepEqual(a.ByClass, b.ByClass) || !reflect.DeepEqual(a.ByCheck, b.ByCheck) {
		t.Fatalf("sharded report differs:\nwhole %v %v\nshards %v %v", a.ByClass, a.ByCheck, b.ByClass, b.ByCheck)
	}
	sigs := func(r report) map[string][]uint64 {
		m := map[string][]uint64{}
		for _, s := range r.Signatures {
			m[s.Signature] = s.Seeds
		}
		return m
	}
	if !reflect.DeepEqual(sigs(a), sigs(b)) {
		t.Fatalf("signatures differ:\n%v\n%v", sigs(a), sigs(b))
	}
	// Every failure file replays to the same trace hash and verdict.
	// A failure's schedule is shrunk when some of it is not needed: a
	// seed that fails with no faults at all has nothing to shrink.
	files, _ := filepath.Glob(filepath.Join(whole, "failures", "*.json"))
	shrunk, _ := filepath.Glob(filepath.Join(whole, "failures", "*-shrunk.json"))
	if len(files)-len(shrunk) != a.Failures || len(shrunk) == 0 {
		t.Fatalf("%d failure files, %d of them shrunk, for %d failures (want one as found each, and some shrunk)", len(files), len(shrunk), a.Failures)
	}
	for _, f := range files[:4] {
		code, out, errs := hasim(t, "repro", f)
		if code != 1 || !strings.Contains(out, "identical to the recorded run") {
			t.Fatalf("repro %s: exit %d\n%s%s", f, code, out, errs)
		}
	}
	// The HTML report renders its tables.
	page := filepath.Join(dir, "report.html")
	if code, _, errs := hasim(t, "report", "--html", page, s1, s2); code != 1 {
		t.Fatalf("report --html: %d %s", code, errs)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("report page: %v", err)
	}
	for _, id := range []string{"signatures", "by-class", "by-check", "marks"} {
		if !strings.Contains(string(html), `id="`+id+`"`) {
			t.Errorf("the report page has no %s table", id)
		}
	}
}

// Interrupting a soak loses nothing, and running it again finishes the
// seeds not yet done without repeating any.
func TestSoakInterruptAndResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "soak")
	args := []string{"soak", "--seeds", "30", "--workers", "2", "--scenario", "store", "--sim-duration", "20s",
		"--bug", "store-ack-before-commit", "--out", dir}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HASIM_TEST_AS_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.jsonl")
	deadline := time.Now().Add(time.Minute)
	for lines(results) < 8 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the soak made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("an interrupted soak exited %v (code %d), want code 3", err, cmd.ProcessState.ExitCode())
	}
	first := lines(results)
	if first >= 30 {
		t.Skip("the soak finished before the interrupt")
	}
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	if code, _, errs := hasim(t, args...); code != 1 {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	seen := map[uint64]int{}
	f, _ := os.Open(results)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r scenarios.SoakResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		seen[r.Seed]++
		if r.Class != "ok" {
			if _, err := os.Stat(filepath.Join(dir, r.Failure)); err != nil {
				t.Errorf("seed %d failed but its failure file is missing: %v", r.Seed, err)
			}
		}
	}
	if len(seen) != 30 {
		t.Fatalf("%d seeds recorded after resuming (%d before), want 30", len(seen), first)
	}
	for s, n := range seen {
		if n != 1 {
			t.Fatalf("seed %d recorded %d times", s, n)
		}
	}
	t.Logf("interrupted after %d seeds, resumed to 30", first)
}

func TestSoakBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"soak", "--seeds", "5"}, "--out"},
		{[]string{"soak", "--out", dir}, "exactly one of --seeds"},
		{[]string{"soak", "--out", dir, "--seeds", "5", "--duration", "1m"}, "exactly one of --seeds"},
		{[]string{"soak", "--out", dir, "--seeds", "5", "--shard", "3/2"}, "--shard"},
		{[]string{"soak", "--out", dir, "--seeds", "5", "--workers", "0"}, "--workers"},
		{[]string{"soak", "--out", dir, "--seeds", "5", "--max-memory-mb", "0"}, "--max-memory-mb: 0 is below 64"},
		{[]string{"soak", "--out", dir, "--seeds", "5", "--seed-timeout", "-1s"}, "--seed-timeout: must be positive"},
		{[]string{"repro", "x.json", "--timeout", "0s"}, "--timeout: must be positive"},
		{[]string{"repro", "x.json", "--max-memory-mb", "-5"}, "--max-memory-mb: -5 is below 64"},
		{[]string{"soak", "--out", dir, "--seeds", "5", "--bug", "nope"}, "unknown switch"},
		{[]string{"report"}, "at least one soak directory"},
		{[]string{"report", dir}, "not a soak directory"},
	} {
		code, _, stderr := hasim(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// A directory of another soak is refused, not mixed.
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	out := filepath.Join(dir, "s")
	hasim(t, "soak", "--out", out, "--seeds", "1", "--workers", "1", "--sim-duration", "10s")
	code, _, stderr := hasim(t, "soak", "--out", out, "--seeds", "1", "--workers", "1", "--sim-duration", "20s")
	if code != 2 || !strings.Contains(stderr, "another configuration") {
		t.Fatalf("reusing a soak directory for another config: exit %d %s", code, stderr)
	}
}

func lines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// A worker that panics, hangs past the seed budget or outgrows its memory
// limit fails that seed (class crash or timeout) and the soak goes on.
func TestSoakWorkerFailures(t *testing.T) {
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	for _, c := range []struct{ fault, class, detail string }{
		{"panic:3", "crash", "injected panic on seed 3"},
		{"hang:3", "timeout", "no result after 2s"},
		{"oom:3", "crash", "out of memory"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			t.Setenv("HASIM_SOAK_TEST_FAULT", c.fault)
			dir := filepath.Join(t.TempDir(), "soak")
			code, _, errs := hasim(t, "soak", "--out", dir, "--seeds", "6", "--workers", "2", "--sim-duration", "10s",
				"--seed-timeout", "2s", "--max-memory-mb", "256")
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, errs)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
			var got []scenarios.SoakResult
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var r scenarios.SoakResult
				json.Unmarshal([]byte(l), &r)
				got = append(got, r)
			}
			if len(got) != 6 {
				t.Fatalf("%d results, want 6 (the soak must go on)", len(got))
			}
			for _, r := range got {
				want := "ok"
				if r.Seed == 3 {
					want = c.class
					if !strings.Contains(r.Detail, c.detail) {
						t.Errorf("seed 3 detail %q lacks %q", r.Detail, c.detail)
					}
					if _, err := os.Stat(filepath.Join(dir, r.Failure)); err != nil {
						t.Errorf("no failure file for seed 3: %v", err)
					}
				}
				if r.Class != want {
					t.Errorf("seed %d: class %q, want %q", r.Seed, r.Class, want)
				}
			}
		})
	}
}

// panicScenario panics in the middle of a run, as a model bug would.
type panicScenario struct{}

func (panicScenario) Name() string { return "panics" }
func (panicScenario) Build(s *harness.Sim) error {
	s.AddHost(harness.HostConfig{Name: "h1"})
	s.At(time.Second, func() { panic("the model broke") })
	return nil
}
func (panicScenario) Check(*harness.Sim) []harness.Verdict { return nil }

// A crash or a hang replays in-process under guard, and says whether it
// recurs: a panic, a run past its wall budget, a heap past its limit.
func TestGuardedRunSaysWhetherTheCrashRecurs(t *testing.T) {
	_, why, err := guardedRun(harness.Config{Scenario: panicScenario{}, Duration: time.Minute}, 1, nil, time.Minute, 1<<30)
	if err != nil || !strings.Contains(why, "the run panicked: the model broke") {
		t.Fatalf("panic: %q %v", why, err)
	}
	sc, _ := scenarios.New("store", scenarios.Options{})
	res, why, err := guardedRun(harness.Config{Scenario: sc, Duration: 20 * time.Second}, 1, nil, time.Minute, 1<<30)
	if err != nil || why != "" || res.TraceHash == "" {
		t.Fatalf("a clean run: %q %v", why, err)
	}
	sc, _ = scenarios.New("cluster", scenarios.Options{})
	_, why, _ = guardedRun(harness.Config{Scenario: sc, Duration: 10 * time.Minute}, 1, nil, 20*time.Millisecond, 1<<30)
	if !strings.Contains(why, "still going after") {
		t.Fatalf("hang: %q", why)
	}
	waitRunDone(t)
	sc, _ = scenarios.New("cluster", scenarios.Options{})
	_, why, _ = guardedRun(harness.Config{Scenario: sc, Duration: 10 * time.Minute}, 1, nil, time.Minute, 1<<20)
	if !strings.Contains(why, "heap reached") {
		t.Fatalf("out of memory: %q", why)
	}
	waitRunDone(t)
}

// waitRunDone waits until the simulation a guarded run left behind has
// ended (one simulation at a time per process).
func waitRunDone(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		busy := func() (busy bool) {
			defer func() { busy = recover() != nil }()
			harness.Run(harness.Config{Scenario: panicFreeScenario{}, Duration: time.Millisecond}, 1, nil)
			return false
		}()
		if !busy {
			return
		}
	}
	t.Fatal("the simulation left running never ended")
}

// panicFreeScenario is an empty world.
type panicFreeScenario struct{}

func (panicFreeScenario) Name() string                         { return "empty" }
func (panicFreeScenario) Build(s *harness.Sim) error           { return nil }
func (panicFreeScenario) Check(*harness.Sim) []harness.Verdict { return nil }

// A soak killed while writing a result leaves a torn last line: resuming
// cuts it off (and says so) before appending, so the file stays readable.
func TestSoakResumeCutsATornLine(t *testing.T) {
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	dir := filepath.Join(t.TempDir(), "soak")
	args := []string{"soak", "--out", dir, "--seeds", "4", "--workers", "1", "--scenario", "store", "--sim-duration", "10s"}
	if code, _, errs := hasim(t, args...); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	path := filepath.Join(dir, "results.jsonl")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	// Keep two results, and half of the third, as a killed writer would.
	torn := lines[0] + lines[1] + lines[2][:len(lines[2])/2]
	os.WriteFile(path, []byte(torn), 0o644)
	code, _, errs := hasim(t, args...)
	if code != 0 || !strings.Contains(errs, "ended in a torn line") {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	rs, err := readResults(path)
	if err != nil || len(rs) != 4 {
		t.Fatalf("%d results after resuming, err %v", len(rs), err)
	}
	if code, _, errs := hasim(t, "report", dir); code != 0 {
		t.Fatalf("report: exit %d %s", code, errs)
	}
}

// A seed that crashed runs once more on resume (a worker may die of
// something else than its seed); its latest result counts.
func TestSoakResumeRerunsACrashOnce(t *testing.T) {
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	dir := filepath.Join(t.TempDir(), "soak")
	args := []string{"soak", "--out", dir, "--seeds", "4", "--workers", "1", "--scenario", "store", "--sim-duration", "10s"}
	t.Setenv("HASIM_SOAK_TEST_FAULT", "panic:2")
	if code, _, errs := hasim(t, args...); code != 1 {
		t.Fatalf("exit %d %s", code, errs)
	}
	t.Setenv("HASIM_SOAK_TEST_FAULT", "")
	if code, _, errs := hasim(t, args...); code != 0 {
		t.Fatalf("the resumed soak (seed 2 run again, passing) exit %d %s", code, errs)
	}
	rs, _ := readResults(filepath.Join(dir, "results.jsonl"))
	if len(rs) != 5 || rs[4].Seed != 2 || rs[4].Class != "ok" {
		t.Fatalf("results %+v", rs)
	}
	rep := reportOfCode(t, 0, dir)
	if rep.Seeds != 4 || rep.Failures != 0 {
		t.Fatalf("report counts %d seeds, %d failures; the re-run should supersede the crash", rep.Seeds, rep.Failures)
	}
	// A seed that crashes twice is not run a third time.
	t.Setenv("HASIM_SOAK_TEST_FAULT", "panic:3")
	dir2 := filepath.Join(t.TempDir(), "soak2")
	args[2] = dir2
	hasim(t, args...)
	hasim(t, args...)
	code, _, _ := hasim(t, args...)
	rs, _ = readResults(filepath.Join(dir2, "results.jsonl"))
	if code != 1 || len(rs) != 5 {
		t.Fatalf("exit %d, %d results; want 1 and seed 3 recorded twice, then left alone", code, len(rs))
	}
}

// startSoak starts a store soak of 20s seeds on two workers in a process
// of its own (in a process group of its own if group), and waits until
// three seeds are recorded; it returns the process and the results file.
func startSoak(t *testing.T, group bool, args ...string) (*exec.Cmd, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "soak")
	cmd := exec.Command(os.Args[0], append([]string{"soak", "--out", dir, "--workers", "2", "--scenario", "store", "--sim-duration", "20s"}, args...)...)
	cmd.Env = append(os.Environ(), "HASIM_TEST_AS_MAIN=1")
	if group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.jsonl")
	for deadline := time.Now().Add(time.Minute); lines(results) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no progress")
		}
	}
	return cmd, results
}

// A soak that was itself stopped (SIGSTOP) and continued does not blame
// its seeds: no seed is recorded as a time-out or a crash for the time the
// soak stood still, and every seed is recorded once, from its own worker.
func TestSoakSurvivesBeingSuspended(t *testing.T) {
	cmd, results := startSoak(t, false, "--seeds", "30", "--seed-timeout", "2s")
	cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(5 * time.Second) // past the seed time-out: the workers finish their seeds meanwhile
	cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the soak failed after being continued: %v", err)
	}
	rs, _ := readResults(results)
	seen := map[uint64]bool{}
	for _, r := range rs {
		if r.Class != "ok" {
			t.Errorf("seed %d recorded as %s: %s", r.Seed, r.Class, r.Detail)
		}
		if seen[r.Seed] {
			t.Errorf("seed %d recorded twice", r.Seed)
		}
		seen[r.Seed] = true
	}
	if len(seen) != 30 {
		t.Fatalf("%d seeds recorded, want 30", len(seen))
	}
}

// A SIGTERM to the soak's whole process group (systemd, kill -TERM -pgid)
// reaches the workers too: they leave it to the soak, which stops as
// interrupted (exit 3) and records no seed as a crash.
func TestSoakSIGTERMToTheGroup(t *testing.T) {
	cmd, results := startSoak(t, true, "--seeds", "200")
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("the soak ended with %v, want exit 3 (interrupted)", err)
	}
	rs, _ := readResults(results)
	for _, r := range rs {
		if r.Class != "ok" {
			t.Errorf("seed %d recorded as %s: %s", r.Seed, r.Class, r.Detail)
		}
	}
}

func reportOfCode(t *testing.T, want int, dirs ...string) report {
	t.Helper()
	code, out, errs := hasim(t, append([]string{"report", "--json"}, dirs...)...)
	if code != want {
		t.Fatalf("report exit %d: %s", code, errs)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}
