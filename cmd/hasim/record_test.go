package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"hasim/checkers"
	"hasim/cmd/hasim/realetcd"
)

// TestRecordAgainstEtcd records 20s of the workload against a real 3-member
// etcd under the schedule's kills and pauses, twice in parallel: with
// linearizable gets the history must check ok, with serializable gets
// (answered from members' possibly stale local state) violated. CI installs
// etcd (.ci/run); without it the test is skipped.
func TestRecordAgainstEtcd(t *testing.T) {
	if _, err := realetcd.FindBinary(""); err != nil {
		t.Skipf("recording against real etcd skipped: %v", err)
	}
	for _, tc := range []struct {
		name    string
		flags   []string
		code    int
		verdict string
	}{
		{"linearizable", nil, 0, "\n  ok       linearizability  linearizable: "},
		{"serializable", []string{"--serializable"}, 1, "\n  violated linearizability  not linearizable: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "history.jsonl")
			etcdDir := filepath.Join(dir, "etcd")
			args := append([]string{"record", "--duration", "20s", "--seed", "1", "--out", out, "--dir", etcdDir}, tc.flags...)
			code, stdout, stderr := hasim(t, args...)
			// Every member the recorder started is gone when it returns,
			// whatever the verdict.
			if left := etcdProcessesUnder(t, etcdDir); len(left) > 0 {
				t.Errorf("etcd processes still running after hasim record: %v", left)
			}
			if code != tc.code || !strings.Contains(stdout, tc.verdict) || stderr != "" {
				t.Fatalf("exit %d (want %d)\n%s%s", code, tc.code, stdout, stderr)
			}
			// Every kind of fault was carried out, and no member died
			// unasked.
			for _, want := range []string{"kill -9 m", "restart m", "(leader)", "(follower)", "SIGCONT m"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("no %q in the fault log:\n%s", want, stdout)
				}
			}
			if strings.Contains(stdout, "warning:") || strings.Contains(stdout, "failed:") || strings.Contains(stdout, "skipped") {
				t.Errorf("a fault or a member misbehaved:\n%s", stdout)
			}
			// The file is a history `hasim check` reads to the same verdict.
			code2, out2, errs2 := hasim(t, "check", "--model", "kv", out)
			if code2 != tc.code {
				t.Errorf("hasim check %s: exit %d, want %d\n%s%s", out, code2, tc.code, out2, errs2)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ops, err := checkers.ReadKVHistory(f)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[checkers.KVKind]int{}
			for _, op := range ops {
				kinds[op.Kind]++
			}
			if len(ops) < 1000 || kinds[checkers.KVGet] == 0 || kinds[checkers.KVPut] == 0 ||
				kinds[checkers.KVDelete] == 0 || kinds[checkers.KVCas] == 0 {
				t.Errorf("%d ops, by kind %v: want over 1000, of every kind", len(ops), kinds)
			}
		})
	}
}

// etcdProcessesUnder lists the running processes whose command line names
// dir (the members' data directories are under it); Linux only.
func etcdProcessesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})); strings.Contains(cmd, dir) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

func TestRecordUsage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "h.jsonl")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--clients", "0"}, "--clients"},
		{[]string{"--keys", "0"}, "--keys"},
		{[]string{"--rate", "-1"}, "--rate"},
		{[]string{"--timeout", "0s"}, "--timeout"},
		{[]string{"--seed", "x"}, "--seed"},
		{[]string{"--etcd", filepath.Join(t.TempDir(), "no-etcd-here")}, "--etcd"},
		{[]string{"--out", ""}, "--out"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	} {
		args := append([]string{"record", "--out", out}, tc.args...)
		code, stdout, stderr := hasim(t, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 naming %s\n%s%s", tc.args, code, tc.want, stdout, stderr)
		}
	}
}

func TestRecordSchedule(t *testing.T) {
	const d = 17500 * time.Millisecond // the shortest run with every kind
	for seed := uint64(0); seed < 500; seed++ {
		s := recordSchedule(seed, d)
		if !reflect.DeepEqual(s, recordSchedule(seed, d)) {
			t.Fatalf("seed %d: two schedules from one seed differ", seed)
		}
		kinds := map[recFaultKind]bool{}
		end := time.Duration(0)
		for _, f := range s {
			kinds[f.Kind] = true
			// One fault at a time, so that two members are always up.
			if f.At < end+time.Second || f.For <= 0 {
				t.Fatalf("seed %d: %s overlaps the previous fault or follows it too closely (ended %s)", seed, f, end)
			}
			end = f.At + f.For
			if f.Kind == recPauseLeader && f.For <= time.Second {
				t.Errorf("seed %d: %s: not past the election timeout", seed, f)
			}
		}
		if end > d-recordQuietTail {
			t.Errorf("seed %d: faults until %s, into the quiet tail", seed, end)
		}
		if len(kinds) != 3 {
			t.Errorf("seed %d: %v: not every kind of fault", seed, s)
		}
	}
	if s := recordSchedule(1, 3*time.Second); len(s) != 0 {
		t.Errorf("a 3s run has no room for faults, got %v", s)
	}
}

// TestRecordHistoryFormat: what the recorder writes is what `hasim check
// --model kv` reads, outcomes and all.
func TestRecordHistoryFormat(t *testing.T) {
	ops := []checkers.KVOp{
		{Client: 1, Kind: checkers.KVPut, Key: "k0.1", Value: "c1-1", Start: 10, End: 20, Revision: 2},
		{Client: 0, Kind: checkers.KVGet, Key: "k0.1", Start: 5, End: 30, Found: true, Got: "c1-1", Mod: 2, Create: 2, Version: 1, Revision: 2},
		{Client: 2, Kind: checkers.KVCas, Key: "k0.1", Value: "c2-1", ExpectMod: 2, Start: 40, End: 50, Succeeded: true, Revision: 3},
		{Client: 3, Kind: checkers.KVCas, Key: "k0.1", Value: "c3-1", ExpectMod: 0, Start: 41, End: 52, Found: true, Got: "c2-1", Mod: 3, Create: 2, Version: 2, Revision: 3},
		{Client: 1, Kind: checkers.KVDelete, Key: "k0.1", Start: 60, End: 70, Deleted: 1, Revision: 4},
		{Client: 4, Kind: checkers.KVPut, Key: "k0.2", Value: "c4-1", Start: 61, End: 2000, Indeterminate: true},
		{Client: 5, Kind: checkers.KVGet, Key: "k0.2", Start: 62, End: 2000, Failed: true},
	}
	var b bytes.Buffer
	if err := writeHistory(&b, []string{"header", "fault: 1s kill -9 m1"}, ops); err != nil {
		t.Fatal(err)
	}
	got, err := checkers.ReadKVHistory(&b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	// Written in call order (an indeterminate or failed op keeps the time
	// the recorder gave up on it; the checker does not judge it).
	want := []checkers.KVOp{ops[1], ops[0], ops[2], ops[3], ops[4], ops[5], ops[6]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%v\nwant\n%v", got, want)
	}
	if v, _ := checkers.CheckLinearizable(got, checkers.LinearizableOptions{}); v.Status != "ok" {
		t.Errorf("verdict %s: %s", v.Status, v.Detail)
	}
}
