package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"hasim/checkers/judge/scenarios"
)

// Soak options for hunting bugs: stop after N failing seeds, keep faults
// inside leader election's envelope; both are in --help.
func TestSoakHuntingOptions(t *testing.T) {
	code, _, errs := hasim(t, "soak", "--help")
	for _, want := range []string{"-max-failures", "-envelope", "-swarm", "-set", "-fault-rate", "-faults", "-aim"} {
		if !strings.Contains(errs, want) {
			t.Errorf("soak --help lacks %s (exit %d):\n%s", want, code, errs)
		}
	}
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	out := filepath.Join(t.TempDir(), "s")
	code, stdout, errs := hasim(t, "soak", "--out", out, "--seeds", "40", "--workers", "1", "--scenario", "store",
		"--bug", "store-stale-read", "--sim-duration", "30s", "--set", "size=3", "--set", "clients=3", "--max-failures", "2")
	if code != 1 || !strings.Contains(stdout, "stopped after 2 failing seeds (--max-failures)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	results, err := readResults(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, r := range results {
		if failing(r.Class) {
			failed++
		}
		if r.Settings["size"] != "3" || r.Settings["clients"] != "3" || r.Settings["latency"] == "" {
			t.Fatalf("seed %d settings %v: pins not held, or the rest not drawn", r.Seed, r.Settings)
		}
	}
	if failed != 2 || len(results) >= 40 {
		t.Fatalf("%d results, %d failing; want the soak to stop at 2 failures", len(results), failed)
	}
}

// A signature's example is the failure of its lowest seed, whatever the
// order in which the workers wrote their results.
func TestReportExampleIsTheLowestSeed(t *testing.T) {
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	out := filepath.Join(t.TempDir(), "s")
	if code, _, errs := hasim(t, "soak", "--out", out, "--seeds", "12", "--workers", "2", "--scenario", "store",
		"--bug", "store-stale-read", "--sim-duration", "30s", "--set", "size=3", "--set", "clients=3", "--max-failures", "3"); code != 1 {
		t.Fatalf("soak exit %d: %s", code, errs)
	}
	examples := func() map[string]string {
		r := reportOfCode(t, 1, out)
		m := map[string]string{}
		for _, s := range r.Signatures {
			if want := fmt.Sprintf("failure-%d", s.Seeds[0]); !strings.Contains(filepath.Base(s.Example), want) {
				t.Errorf("signature %q: example %s, want seed %d's", s.Signature, s.Example, s.Seeds[0])
			}
			m[s.Signature] = s.Example
		}
		return m
	}
	before := examples()
	path := filepath.Join(out, "results.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Reverse(ls)
	os.WriteFile(path, []byte(strings.Join(ls, "\n")+"\n"), 0o644)
	if after := examples(); !reflect.DeepEqual(before, after) {
		t.Fatalf("examples changed with the order of results:\n%v\n%v", before, after)
	}
}

// A single-active violation outside the envelope is expected: the run
// says so and exits 0; the soak files it apart from failures.
func TestOutsideTheEnvelopeIsNotAFailure(t *testing.T) {
	dir := t.TempDir()
	sched := filepath.Join(dir, "s.txt")
	os.WriteFile(sched, []byte("at 30s pause @active-cm for 30s\n"), 0o644)
	code, out, errs := hasim(t, "run", "--scenario", "election", "--seed", "1", "--duration", "2m", "--schedule", sched, "--out", dir)
	if code != 0 || !strings.Contains(out, "violated single-active") || !strings.Contains(out, "[expected: outside the envelope") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// In the envelope no schedule gets out of it.
	js := runJSON(t, "--scenario", "election", "--seed", "5", "--duration", "2m", "--envelope", "--faults", "pause,clock-rate", "--fault-rate", "16")
	for name, v := range js.Checks {
		if v.Outside != "" || v.Verdict == "violated" {
			t.Fatalf("%s: %s %s (outside %q)", name, v.Verdict, v.Detail, v.Outside)
		}
	}
}

func TestRunSettings(t *testing.T) {
	js := runJSON(t, "--scenario", "store", "--seed", "3", "--duration", "30s", "--swarm", "--set", "keys=2")
	if js.Settings["keys"] != "2" || js.Settings["latency"] == "" || !strings.Contains(js.Replay, "--set keys=2") || !strings.Contains(js.Replay, "--swarm") {
		t.Fatalf("settings %v, replay %q", js.Settings, js.Replay)
	}
	again := runJSON(t, strings.Fields(strings.TrimPrefix(js.Replay, "go run ./cmd/hasim run "))...)
	if again.TraceHash != js.TraceHash {
		t.Fatalf("the replay command gave trace %s, not %s", again.TraceHash, js.TraceHash)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "keys"}, `--set: "keys" is not NAME=VALUE`},
		{[]string{"--scenario", "election", "--set", "keys=2"}, "--set keys: the election scenario has no such setting"},
		{[]string{"--scenario", "store", "--set", "keys=0"}, `--set keys: "0" is not an integer in [1, 1000]`},
		{[]string{"--scenario", "store", "--set", "latency=fast"}, "--set latency: \"fast\" is not lan, zone, wan"},
		{[]string{"--scenario", "store", "--workers", "2"}, "--workers: the store scenario has no such setting"},
		{[]string{"--scenario", "store", "--faults", "explode"}, `--faults: "explode" is not a fault kind`},
		{[]string{"--fault-rate", "lots"}, "--fault-rate"},
		{[]string{"--aim", "300"}, "--aim: 300 out of range"},
		{[]string{"--scenario", "store", "--bug", "lb-no-health-check"}, "--bug: lb-no-health-check does nothing in the store scenario"},
	} {
		code, _, stderr := hasim(t, append([]string{"run"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// One bug, one row: a signature keeps the shape of the first evidence and
// drops keys, counters, times, hosts and identities.
func TestSignaturesGroupOneBug(t *testing.T) {
	for _, group := range [][]string{
		{
			"3 of 9 keys (k1, k3, k7); first: k1: not linearizable",
			"1 of 12 keys (k4); first: k4: not linearizable",
		},
		{
			"leader completeness: member 2 became leader of term 3 at 16.9s without index 7",
			"leader completeness: member 1 became leader of term 12 at 1m2s with term 4 at index 3",
		},
		{
			"m3-cm-3 and m2-cm-2 both acted for 6.26898773s from 2m9.03101227s (m3-cm-3 since 1m47s, m2-cm-2 since 2m9s)",
			"m1-cm-1 and m3-cm-5 both acted for 120ms from 31s (m1-cm-1 since 2s, m3-cm-5 since 31s)",
		},
		{
			"1 surplus creation: default/web grew to 4 pods at 5m52s, wanting at most 3 within 1m0s",
			"2 surplus creations: default/web grew to 7 pods at 3m26s, wanting at most 6 within 1m0s; default/web grew to 8 pods",
		},
		{
			`unavailable for 31.2s from 1m0s while the system could serve ("m1/apiserver" up)`,
			`unavailable for 4m from 2m3s while the system could serve ("m2/apiserver" up)`,
		},
	} {
		sig := func(d string) string {
			return signatureOf(scenarios.SoakResult{Class: "violation", Checks: map[string]scenarios.Verdict{"c": {Verdict: "violated", Detail: d}}})
		}
		a, b := sig(group[0]), sig(group[1])
		if a != b {
			t.Errorf("one bug, two rows:\n  %s\n  %s", a, b)
		}
		if strings.ContainsAny(a, "0123456789") {
			t.Errorf("signature keeps a number or a name with one: %s", a)
		}
	}
	if a, b := headline("two leaders in term 3: ..."), headline("leader completeness: ..."); a == b {
		t.Errorf("two kinds of raft-safety violation share the headline %q", a)
	}
}

// The report lists coverage marks with the share of seeds that reached
// each, in text and JSON.
func TestReportMarkRates(t *testing.T) {
	t.Setenv("HASIM_TEST_AS_MAIN", "1")
	out := filepath.Join(t.TempDir(), "s")
	if code, _, errs := hasim(t, "soak", "--out", out, "--seeds", "6", "--workers", "1", "--scenario", "store", "--sim-duration", "30s", "--fault-rate", "16"); code != 0 {
		t.Fatalf("soak exit %d: %s", code, errs)
	}
	code, text, errs := hasim(t, "report", out)
	if code != 0 || !strings.Contains(text, "coverage marks (hits, seeds that reached it, share of seeds)") || !strings.Contains(text, "%") {
		t.Fatalf("exit %d\n%s%s", code, text, errs)
	}
	_, js, _ := hasim(t, "report", "--json", out)
	var r report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	for k, n := range r.MarkSeeds {
		if want := 100 * float64(n) / float64(r.Seeds); r.MarkRates[k] != want {
			t.Fatalf("mark %s: rate %v, want %v", k, r.MarkRates[k], want)
		}
	}
	if len(r.MarkRates) == 0 {
		t.Fatal("no marks reached in six seeds at 16 faults a minute")
	}
}

// Text output caps a long detail on its line; JSON keeps the whole.
func TestLongDetailsAreCappedInText(t *testing.T) {
	long := strings.Repeat("k1, ", 1000) + "é"
	if got := scenarios.CapDetail(long); len(got) > scenarios.DetailCap+100 || !strings.Contains(got, "more bytes; --json") {
		t.Fatalf("capped to %d bytes: %.80q", len(got), got)
	}
	if got := scenarios.CapDetail("short"); got != "short" {
		t.Fatalf("a short detail changed: %q", got)
	}
}
