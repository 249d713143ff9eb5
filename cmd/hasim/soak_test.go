package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
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
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), `id="signatures"`) {
		t.Fatalf("report page: %v", err)
	}
}

// Interrupting a soak loses nothing, and running it again finishes the
// seeds not yet done without repeating any.
func TestSoakInterruptAndResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "soak")
	args := []string{"soak", "--seeds", "60", "--workers", "2", "--scenario", "store", "--sim-duration", "60s",
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
	cmd.Wait()
	first := lines(results)
	if first >= 60 {
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
		var r soakResult
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
	if len(seen) != 60 {
		t.Fatalf("%d seeds recorded after resuming (%d before), want 60", len(seen), first)
	}
	for s, n := range seen {
		if n != 1 {
			t.Fatalf("seed %d recorded %d times", s, n)
		}
	}
	t.Logf("interrupted after %d seeds, resumed to 60", first)
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
			var got []soakResult
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var r soakResult
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
