package checkers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"hasim/harness"
)

// Tests and benchmarks of the register model.
//
// Porcupine's module carries 103 Jepsen histories of an etcd register
// (test_data/jepsen/etcd_NNN.log). They are real recordings with timeouts
// and crashed clients, 23 of them linearizable, so they check that the
// register model's verdicts match an independent model's, and measure the
// model's speed against porcupine's own.

// jepsenEtcdLinearizable are the logs porcupine's own tests expect to be
// linearizable; the other 80 are not.
var jepsenEtcdLinearizable = map[int]bool{
	2: true, 5: true, 7: true, 18: true, 25: true, 31: true, 38: true, 45: true, 48: true, 49: true,
	51: true, 53: true, 56: true, 67: true, 75: true, 76: true, 80: true, 87: true, 92: true, 98: true,
	100: true, 101: true, 102: true,
}

const jepsenEtcdLogs = 103

// jepsenEtcdEmpty is the empty log (etcd did not start in that test).
const jepsenEtcdEmpty = 95

var jepsenDir struct {
	once sync.Once
	dir  string
	err  error
}

// jepsenEtcdDir is porcupine's test_data/jepsen in the module cache. The
// module is a dependency, so it is there whenever this package builds.
func jepsenEtcdDir(tb testing.TB) string {
	jepsenDir.once.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anishathalye/porcupine").Output()
		if err != nil {
			jepsenDir.err = fmt.Errorf("go list -m github.com/anishathalye/porcupine: %v", err)
			return
		}
		jepsenDir.dir = filepath.Join(strings.TrimSpace(string(out)), "test_data", "jepsen")
	})
	if jepsenDir.err != nil {
		tb.Fatal(jepsenDir.err)
	}
	return jepsenDir.dir
}

// jepsenEtcdOps converts one Jepsen etcd log into register ops. A line's
// index is its time, so ops are ordered exactly as the log orders their
// calls and returns. :info (timed-out write or cas) is indeterminate, a
// timed-out read (:fail :read :timed-out) failed, and an op still pending
// when the log ends is indeterminate (its client crashed).
func jepsenEtcdOps(path string) ([]RegisterOp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []RegisterOp
	pending := map[int]int{} // process → index in ops
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		w := strings.Fields(sc.Text())
		if len(w) < 6 || w[0] != "INFO" || w[1] != "jepsen.util" || w[2] != "-" {
			return nil, fmt.Errorf("%s:%d: not a jepsen.util line: %q", path, n, sc.Text())
		}
		proc, err := strconv.Atoi(w[3])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: process %q", path, n, w[3])
		}
		typ, f, args := w[4], w[5], w[6:]
		at := time.Duration(n)
		if typ == ":invoke" {
			if _, busy := pending[proc]; busy {
				return nil, fmt.Errorf("%s:%d: process %d invokes with an op pending", path, n, proc)
			}
			op := RegisterOp{Client: proc, Start: at}
			switch {
			case f == ":read" && len(args) == 1 && args[0] == "nil":
				op.Kind = RegisterRead
			case f == ":write" && len(args) == 1:
				op.Kind, op.Value = RegisterWrite, args[0]
			case f == ":cas" && len(args) == 2:
				op.Kind = RegisterCas
				op.From, op.To = strings.TrimPrefix(args[0], "["), strings.TrimSuffix(args[1], "]")
			default:
				return nil, fmt.Errorf("%s:%d: unknown invocation %q", path, n, sc.Text())
			}
			pending[proc] = len(ops)
			ops = append(ops, op)
			continue
		}
		i, ok := pending[proc]
		if !ok {
			return nil, fmt.Errorf("%s:%d: process %d completes nothing", path, n, proc)
		}
		delete(pending, proc)
		op := &ops[i]
		if f != ":"+string(op.Kind) {
			return nil, fmt.Errorf("%s:%d: completes a %s with %s", path, n, op.Kind, f)
		}
		switch {
		case typ == ":ok" && op.Kind == RegisterRead && len(args) == 1:
			op.End = at
			if args[0] == "nil" {
				op.None = true
			} else {
				op.Value = args[0]
			}
		case typ == ":ok" && op.Kind != RegisterRead:
			op.End, op.OK = at, true
		case typ == ":fail" && op.Kind == RegisterCas:
			op.End = at // OK false: the register did not hold From
		case typ == ":fail" && op.Kind == RegisterRead && len(args) == 1 && args[0] == ":timed-out":
			op.Failed = true
		case typ == ":info" && op.Kind != RegisterRead:
			op.Indeterminate = true
		default:
			return nil, fmt.Errorf("%s:%d: unknown completion %q", path, n, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, i := range pending {
		ops[i].Indeterminate = true
	}
	return ops, nil
}

// jepsenEtcd reads log n, converted to a register history file and read
// back as `hasim check` reads it.
func jepsenEtcd(tb testing.TB, n int) []RegisterOp {
	tb.Helper()
	ops, err := jepsenEtcdOps(filepath.Join(jepsenEtcdDir(tb), fmt.Sprintf("etcd_%03d.log", n)))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteRegisterHistory(&buf, ops); err != nil {
		tb.Fatal(err)
	}
	h, err := ReadRegisterHistoryFile(&buf)
	if err != nil {
		tb.Fatalf("etcd_%03d: %v", n, err)
	}
	if len(h.Initial) != 0 || len(h.Ops) != len(ops) {
		tb.Fatalf("etcd_%03d: %d ops read back as %d, with %d initial lines", n, len(ops), len(h.Ops), len(h.Initial))
	}
	return h.Ops
}

// The reference model, written the way porcupine's own etcd test model is:
// the state is an int (values in these logs are small integers), -1 is
// empty, there is no hash and == is equality. It checks the same ops.
type jepsenRefOp struct {
	kind     RegisterKind
	value    int // written, or read (-1: empty)
	from, to int
	ok       bool
	unknown  bool // indeterminate: any outcome
}

func jepsenRefModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return -1 },
		Step: func(state, input, _ any) (bool, any) {
			s, o := state.(int), input.(*jepsenRefOp)
			switch o.kind {
			case RegisterRead:
				return o.unknown || s == o.value, s
			case RegisterWrite:
				return true, o.value
			}
			next := s
			if s == o.from {
				next = o.to
			}
			return o.unknown || o.ok == (s == o.from), next
		},
	}
}

func jepsenRefHistory(tb testing.TB, ops []RegisterOp) []porcupine.Operation {
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			tb.Fatalf("value %q: %v", s, err)
		}
		return n
	}
	var last int64
	for _, op := range ops {
		last = max(last, int64(op.Start), int64(op.End))
	}
	var hist []porcupine.Operation
	for _, op := range ops {
		if op.Failed {
			continue
		}
		in := &jepsenRefOp{kind: op.Kind, value: -1, ok: op.OK, unknown: op.Indeterminate}
		switch op.Kind {
		case RegisterWrite:
			in.value = atoi(op.Value)
		case RegisterRead:
			if !op.None && !op.Indeterminate {
				in.value = atoi(op.Value)
			}
		case RegisterCas:
			in.from, in.to = atoi(op.From), atoi(op.To)
		}
		ret := int64(op.End)
		if op.Indeterminate {
			ret = last + 1
		}
		hist = append(hist, porcupine.Operation{ClientId: op.Client, Input: in, Output: in, Call: int64(op.Start), Return: ret})
	}
	return hist
}

func TestRegisterJepsenEtcdVerdicts(t *testing.T) {
	for n := range jepsenEtcdLogs {
		ops := jepsenEtcd(t, n)
		if n == jepsenEtcdEmpty {
			if len(ops) != 0 {
				t.Errorf("etcd_%03d: %d ops from an empty log", n, len(ops))
			}
			continue
		}
		want := harness.Violated
		if jepsenEtcdLinearizable[n] {
			want = harness.OK
		}
		v, _ := CheckRegister(ops, LinearizableOptions{Timeout: time.Minute})
		ref := porcupine.CheckOperations(jepsenRefModel(), jepsenRefHistory(t, ops))
		if v.Status != want || ref != (want == harness.OK) {
			t.Errorf("etcd_%03d: CheckRegister %s, reference model linearizable=%t; porcupine's tests expect linearizable=%t\n%s",
				n, v.Status, ref, want == harness.OK, v.Detail)
		}
	}
}

// BenchmarkRegisterJepsenEtcd times CheckRegister, which `hasim check
// --model register` runs, on the slowest of the logs to check (and on the
// slowest violated one), against the reference model (porcupine's own etcd
// model) with the same search, CheckOperationsVerbose (which keeps partial
// linearizations for the report, as CheckRegister does), and with
// CheckOperations (which does not).
func BenchmarkRegisterJepsenEtcd(b *testing.B) {
	for _, n := range []int{jepsenSlowest, jepsenSlowestViolated} {
		ops := jepsenEtcd(b, n)
		ref := jepsenRefHistory(b, ops)
		b.Run(fmt.Sprintf("etcd_%03d/hasim", n), func(b *testing.B) {
			for b.Loop() {
				CheckRegister(ops, LinearizableOptions{Timeout: time.Minute})
			}
		})
		b.Run(fmt.Sprintf("etcd_%03d/reference-verbose", n), func(b *testing.B) {
			for b.Loop() {
				porcupine.CheckOperationsVerbose(jepsenRefModel(), ref, time.Minute)
			}
		})
		b.Run(fmt.Sprintf("etcd_%03d/reference", n), func(b *testing.B) {
			for b.Loop() {
				porcupine.CheckOperations(jepsenRefModel(), ref)
			}
		})
	}
}

// The logs the register model takes longest on: etcd_002 (linearizable,
// the slowest of all) and etcd_057 (the slowest violated one).
const (
	jepsenSlowest         = 2
	jepsenSlowestViolated = 57
)

// BenchmarkRegisterJepsenEtcdAll checks all the logs, one after another.
func BenchmarkRegisterJepsenEtcdAll(b *testing.B) {
	var all [][]RegisterOp
	for n := range jepsenEtcdLogs {
		all = append(all, jepsenEtcd(b, n))
	}
	b.ResetTimer()
	for b.Loop() {
		for _, ops := range all {
			CheckRegister(ops, LinearizableOptions{Timeout: time.Minute})
		}
	}
}

// The model's Step and Equal run for every step of porcupine's search:
// they must not allocate (a boxed struct state and a formatted hash once
// made the model cost as much as the search).
func TestRegisterModelDoesNotAllocate(t *testing.T) {
	ops := []RegisterOp{
		rWrite(0, "1", 0, 1),
		rRead(1, "1", 2, 3),
		rCas(2, "1", "2", true, 4, 5),
		rCas(2, "1", "3", false, 6, 7),
		rInfo(rWrite(3, "a value long enough to be worth hashing", 8, 0)),
		rInfo(rCas(3, "2", "4", false, 9, 0)),
		rRead(1, "", 10, 11),
		{Client: 1, Kind: RegisterCas, FromNone: true, To: "5", OK: true, Start: lt(12), End: lt(13)},
	}
	items := make([]*linItem, len(ops))
	for i := range ops {
		items[i] = &linItem{index: i, reg: &ops[i]}
	}
	for _, initial := range [][]RegisterInitial{nil, {{Value: "1"}}} {
		m := newRegModel(initial, ops).porcupine()
		steps, unequal := 0, false
		allocs := testing.AllocsPerRun(100, func() {
			s := m.Init()
			for _, it := range items {
				ok, next := m.Step(s, it, it)
				unequal = unequal || !m.Equal(next, next)
				if ok {
					s = next
					steps++
				}
			}
		})
		if allocs != 0 {
			t.Errorf("initial %v: %.1f allocations per pass", initial, allocs)
		}
		if steps == 0 || unequal {
			t.Errorf("initial %v: %d steps taken; a state unequal to itself: %t", initial, steps, unequal)
		}
	}
}

// Equal contents (however reached) are equal states; different ones are
// not.
func TestRegisterModelStates(t *testing.T) {
	ops := []RegisterOp{
		rWrite(0, "1", 0, 1),
		rCas(1, "0", "1", true, 2, 3),
		rWrite(0, "", 4, 5), // the empty string is a value, not empty
		rRead(0, "", 6, 7),
	}
	items := make([]*linItem, len(ops))
	for i := range ops {
		items[i] = &linItem{index: i, reg: &ops[i]}
	}
	m := newRegModel([]RegisterInitial{{Value: "0"}}, ops).porcupine()
	_, viaWrite := m.Step(m.Init(), items[0], items[0])
	ok, viaCas := m.Step(m.Init(), items[1], items[1])
	if !ok || !m.Equal(viaWrite, viaCas) {
		t.Fatalf("write 1 and cas 0→1 from 0 differ: %s, %s", m.DescribeState(viaWrite), m.DescribeState(viaCas))
	}
	_, blank := m.Step(viaWrite, items[2], items[2])
	if m.Equal(blank, viaWrite) || m.DescribeState(blank) != `""` {
		t.Fatalf("a write of \"\" is %s", m.DescribeState(blank))
	}
	if ok, _ := m.Step(blank, items[3], items[3]); ok {
		t.Fatalf("a read of empty follows a write of \"\"")
	}
	if got := m.DescribeState(m.Init()); got != "in its initial state" {
		t.Fatalf("the initial state is described as %q", got)
	}
}

func TestCheckRegisterFromInitial(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial []RegisterInitial
		ops     []RegisterOp
		want    harness.Status
	}{
		{"a read of the initial value", []RegisterInitial{{Value: "3"}}, []RegisterOp{rRead(0, "3", 0, 1)}, harness.OK},
		{"a read of another value", []RegisterInitial{{Value: "3"}}, []RegisterOp{rRead(0, "4", 0, 1)}, harness.Violated},
		{"a read of empty", []RegisterInitial{{Value: "3"}}, []RegisterOp{rRead(0, "", 0, 1)}, harness.Violated},
		{"the empty string is a value", []RegisterInitial{{Value: ""}}, []RegisterOp{{Kind: RegisterRead, End: lt(1)}}, harness.OK},
		{"a cas from the initial value", []RegisterInitial{{Value: "3"}}, []RegisterOp{
			rCas(0, "3", "4", true, 0, 1),
			rRead(1, "4", 2, 3),
		}, harness.OK},
		{"a create-cas fails on a value", []RegisterInitial{{Value: "3"}}, []RegisterOp{
			{Kind: RegisterCas, FromNone: true, To: "4", OK: true, End: lt(1)},
		}, harness.Violated},
		{"an indeterminate cas from the initial value lands", []RegisterInitial{{Value: "3"}}, []RegisterOp{
			rInfo(rCas(0, "3", "4", false, 0, 0)),
			rRead(1, "4", 2, 3),
		}, harness.OK},
		{"stated empty", []RegisterInitial{{None: true}}, []RegisterOp{rRead(0, "", 0, 1)}, harness.OK},
		{"each register from its own value", []RegisterInitial{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}, []RegisterOp{
			{Kind: RegisterRead, Key: "a", Value: "1", End: lt(1)},
			{Kind: RegisterRead, Key: "b", Value: "2", End: lt(1)},
			{Kind: RegisterRead, Key: "c", None: true, End: lt(1)},
		}, harness.OK},
		{"one register's value is not another's", []RegisterInitial{{Key: "a", Value: "1"}}, []RegisterOp{
			{Kind: RegisterRead, Key: "b", Value: "1", End: lt(1)},
		}, harness.Violated},
		{"two values for a register", []RegisterInitial{{Value: "1"}, {Value: "2"}}, []RegisterOp{rRead(0, "1", 0, 1)}, harness.Unknown},
		{"empty with a value", []RegisterInitial{{None: true, Value: "1"}}, []RegisterOp{rRead(0, "1", 0, 1)}, harness.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := CheckRegisterFrom(tc.initial, tc.ops, LinearizableOptions{})
			if v.Status != tc.want {
				t.Fatalf("got %s %q, want %s", v.Status, v.Detail, tc.want)
			}
			if v.Status == harness.Unknown && !strings.HasPrefix(v.Detail, "cannot judge: initial state #") {
				t.Fatalf("unknown for another reason: %s", v.Detail)
			}
		})
	}
}
