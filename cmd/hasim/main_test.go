package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hasim/checkers/judge/scenarios"
)

// TestMain lets the tests run this binary as the hasim command itself (for
// the GOMAXPROCS check in a fresh process), or as a user's test binary.
func TestMain(m *testing.M) {
	if os.Getenv(scenarios.WorkerEnv) != "" || os.Getenv(scenarios.ReproEnv) != "" {
		os.Exit(fakeUserBinary()) // a user's test binary, played (exec_test.go)
	}
	if os.Getenv("HASIM_TEST_AS_MAIN") == "1" {
		os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func hasim(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func runJSON(t *testing.T, args ...string) jsonSummary {
	t.Helper()
	code, out, errs := hasim(t, append([]string{"run", "--json"}, args...)...)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var js jsonSummary
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return js
}

func TestRunJSONIsDeterministic(t *testing.T) {
	a := runJSON(t, "--seed", "7", "--duration", "5m")
	b := runJSON(t, "--seed", "7", "--duration", "5m")
	c := runJSON(t, "--seed", "8", "--duration", "5m")
	if len(a.TraceHash) != 64 || a.TraceHash != b.TraceHash {
		t.Fatalf("seed 7 gave %q then %q", a.TraceHash, b.TraceHash)
	}
	if c.TraceHash == a.TraceHash {
		t.Fatalf("seeds 7 and 8 gave the same trace hash %s", a.TraceHash)
	}
	if a.Seed != 7 || a.SimSeconds != 300 || a.Events == 0 || a.WallSeconds <= 0 || len(a.Checks) == 0 {
		t.Fatalf("summary incomplete: %+v", a)
	}
	for name, v := range a.Checks {
		if v.Verdict != "ok" {
			t.Errorf("check %s: %s %s", name, v.Verdict, v.Detail)
		}
	}
}

// The same run in a fresh process with GOMAXPROCS=1 prints the same hash.
func TestRunGOMAXPROCS1(t *testing.T) {
	want := runJSON(t, "--seed", "7", "--duration", "5m").TraceHash
	cmd := exec.Command(os.Args[0], "run", "--json", "--seed", "7", "--duration", "5m")
	cmd.Env = append(os.Environ(), "HASIM_TEST_AS_MAIN=1", "GOMAXPROCS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v", err)
	}
	var js jsonSummary
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatal(err)
	}
	if js.TraceHash != want {
		t.Fatalf("GOMAXPROCS=1 gave %s, want %s", js.TraceHash, want)
	}
}

func TestRunViolationExitsOne(t *testing.T) {
	dir := t.TempDir()
	sched := filepath.Join(dir, "s.txt")
	os.WriteFile(sched, []byte("# two crashes just before the lazy fsync\nat 11.9s crash n1 for 3s\nat 21.9s crash n2 for 3s\n"), 0o644)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := hasim(t, "run", "--scenario", "counter", "--seed", "1", "--duration", "40s", "--schedule", sched,
		"--bug", "counter-lazy-fsync", "--out", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	failure := filepath.Join(out, "failure-counter-1.json")
	for _, want := range []string{"violated acked-durable", "failure file: " + failure, "replay: go run ./cmd/hasim repro " + failure, "trace: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// The failure file replays to the same trace and verdict, with flags
	// before the file or after it (the README's order).
	code, rout, rerr := hasim(t, "repro", failure)
	if code != 1 || !strings.Contains(rout, "identical to the recorded run") || !strings.Contains(rout, "violated → violated") {
		t.Fatalf("repro: exit %d\n%s%s", code, rout, rerr)
	}
	replayDir := filepath.Join(dir, "replay")
	code, rout, rerr = hasim(t, "repro", failure, "--out", replayDir)
	if _, err := os.Stat(filepath.Join(replayDir, "trace.txt")); code != 1 || err != nil || !strings.Contains(rout, "identical to the recorded run") {
		t.Fatalf("repro FILE --out DIR: exit %d %v\n%s%s", code, err, rout, rerr)
	}
	trace, err := os.ReadFile(filepath.Join(out, "trace.txt"))
	if err != nil || !bytes.Contains(trace, []byte(" crash n1 lost-writes=")) {
		t.Fatalf("trace file: %v\n%.300s", err, trace)
	}
	// The printed replay reproduces the same trace hash.
	a := runJSON(t, "--scenario", "counter", "--seed", "1", "--duration", "40s", "--bug", "counter-lazy-fsync", "--schedule", sched, "--out", t.TempDir())
	b := runJSON(t, "--scenario", "counter", "--seed", "1", "--duration", "40s", "--bug", "counter-lazy-fsync", "--schedule", sched, "--out", t.TempDir())
	if a.TraceHash != b.TraceHash || a.Checks["acked-durable"].Verdict != "violated" {
		t.Fatalf("replay: %s vs %s, %v", a.TraceHash, b.TraceHash, a.Checks)
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("at 1s crash n1\nat 2s explode n2\n"), 0o644)
	wrongHost := filepath.Join(dir, "host.txt")
	os.WriteFile(wrongHost, []byte("at 1s crash m9\n"), 0o644)
	badRole := filepath.Join(dir, "role.txt")
	os.WriteFile(badRole, []byte("at 1s crash @active-cm\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--seed", "x"}, "--seed"},
		{[]string{"run", "--seed", "-3"}, "--seed"},
		{[]string{"run", "--duration", "0s"}, "--duration"},
		{[]string{"run", "--duration", "ten"}, "duration"},
		{[]string{"run", "--bug", "nope"}, "unknown switch \"nope\""},
		{[]string{"run", "--scenario", "nope"}, "unknown \"nope\""},
		{[]string{"run", "--schedule", filepath.Join(dir, "missing.txt")}, "--schedule"},
		{[]string{"run", "--schedule", bad}, "schedule line 2: fault: unknown fault \"explode\""},
		{[]string{"run", "--schedule", wrongHost}, "unknown host \"m9\""},
		{[]string{"run", "--size", "-1"}, "--size"},
		{[]string{"run", "--workers", "0"}, "--workers: must be positive, got 0"},
		{[]string{"run", "--masters", "0"}, "--masters: must be positive, got 0"},
		{[]string{"run", "--scenario", "store", "--size", "0"}, "--size: must be positive, got 0"},
		{[]string{"run", "--scenario", "store", "--size", "12"}, `--size: "12" is not an integer in [1, 9]`},
		{[]string{"run", "--duration", "100000h"}, "--duration: 100000h0m0s out of range (0, 100h0m0s]"},
		{[]string{"run", "--scenario", "store", "--bug", "lb-no-health-check"}, "--bug: lb-no-health-check does nothing in the store scenario"},
		{[]string{"run", "--scenario", "store", "--schedule", badRole}, badRole + ": schedule entry 1"},
		{[]string{"soak", "--out", dir, "--seeds", "-5"}, "--seeds: must be positive, got -5"},
		{[]string{"soak", "--out", dir, "--sim-duration", "200h", "--seeds", "1"}, "--sim-duration: 200h0m0s out of range"},
		{[]string{"run", "stray"}, "unexpected argument"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		code, _, stderr := hasim(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// Each failing run's porcupine view is named by its seed: a later failure
// never overwrites the view an earlier failure file points to.
func TestViewsAreNamedBySeed(t *testing.T) {
	dir := t.TempDir()
	for _, seed := range []string{"1", "2"} {
		code, out, errs := hasim(t, "run", "--scenario", "store", "--bug", "store-stale-read", "--seed", seed,
			"--duration", "40s", "--set", "size=3", "--set", "clients=3", "--faults", "partition", "--fault-rate", "8", "--out", dir)
		if code != 1 || !strings.Contains(out, "violated linearizability") {
			t.Fatalf("seed %s: exit %d\n%s%s", seed, code, out, errs)
		}
	}
	for _, seed := range []string{"1", "2"} {
		if _, err := os.Stat(filepath.Join(dir, "linearizability-store-"+seed+".html")); err != nil {
			t.Errorf("seed %s's view: %v", seed, err)
		}
	}
}

func TestBugsLists(t *testing.T) {
	code, out, _ := hasim(t, "bugs")
	if code != 0 || !strings.Contains(out, "counter-lazy-fsync") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestStoreScenarioFlags(t *testing.T) {
	js := runJSON(t, "--scenario", "store", "--topology", "external", "--size", "5", "--seed", "3", "--duration", "40s")
	if js.Scenario != "store" || js.Checks["raft-safety"].Verdict != "ok" {
		t.Fatalf("%+v", js)
	}
	if !strings.Contains(js.Replay, "--scenario store --size 5 --topology external") {
		t.Fatalf("replay %q lacks the scenario flags", js.Replay)
	}
	for _, s := range js.Schedule {
		if strings.Contains(s, " m1") {
			t.Fatalf("external topology but the schedule names m1: %s", s)
		}
	}
	code, _, stderr := hasim(t, "run", "--scenario", "store", "--topology", "ring")
	if code != 2 || !strings.Contains(stderr, "--topology: \"ring\" is not one of stacked, external") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, out, _ := hasim(t, "run", "--scenario", "store", "--size", "4", "--duration", "20s")
	if code != 0 || !strings.Contains(out, "warning: 4 members") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestReproRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	cases := []struct{ file, want string }{
		{filepath.Join(dir, "missing.json"), "no such file"},
		{write("garbage.json", "not json"), "not a hasim failure file"},
		{write("version.json", `{"hasim_failure": 9, "trace_hash": "x"}`), "hasim_failure: version 9"},
		{write("nohash.json", `{"hasim_failure": 1}`), "trace_hash: missing"},
		{write("unknown.json", `{"hasim_failure": 1, "trace_hash": "x", "extra": 1}`), "unknown field \"extra\""},
		{write("scenario.json", `{"hasim_failure": 1, "trace_hash": "x", "spec": {"scenario": "nope"}, "duration": "1s"}`), "spec: scenario: unknown \"nope\""},
		{write("duration.json", `{"hasim_failure": 1, "trace_hash": "x", "spec": {"scenario": "counter", "counter": {}}, "duration": "soon"}`), "duration: \"soon\""},
		{write("schedule.json", `{"hasim_failure": 1, "trace_hash": "x", "spec": {"scenario": "counter", "counter": {}}, "duration": "10s", "schedule": "at 1s boom"}`), "schedule: schedule line 1"},
		{write("bugs.json", `{"hasim_failure": 1, "trace_hash": "x", "spec": {"scenario": "counter", "counter": {"Bugs": ["nope"]}}, "duration": "10s"}`), "unknown switch \"nope\""},
	}
	for _, c := range cases {
		code, _, stderr := hasim(t, "repro", c.file)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, %q; want 2 and %q", filepath.Base(c.file), code, stderr, c.want)
		}
	}
	// A failure file whose hash does not match is a divergence: exit 1.
	good := write("good.json", `{"hasim_failure": 1, "trace_hash": "0000", "spec": {"scenario": "counter", "counter": {}}, "duration": "10s", "seed": 3}`)
	code, out, _ := hasim(t, "repro", good)
	if code != 1 || !strings.Contains(out, "DIVERGENCE") {
		t.Fatalf("divergent replay: exit %d\n%s", code, out)
	}
}
