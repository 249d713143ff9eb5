package checkers

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func TestKVHistoryRoundTrip(t *testing.T) {
	ops := []KVOp{
		lPut(1, "x", "a", 0, 1, 2),
		lGet(2, "x", 2, 3, "a", 2, 2, 1),
		lGetNone(2, "y", 2, 3),
		lDel(1, "x", 4, 5, 1, 3),
		lDel(1, "y", 4, 5, 0, 3),
		lCas(1, "x", 0, "", 6, 7, 4),
		lCasFail(3, "x", 9, "c", 8, 9, "", 0, 0, 4),
		lCasFail(3, "x", 9, "c", 8, 9, "b", 4, 4, 1),
		lIndet(lCas(2, "k with spaces\n", 4, "v\"q", 10, 0, 0)),
		lFailed(lGet(2, "x", 11, 0, "", 0, 0, 0)),
		{Client: 0, Kind: KVGet, Key: "x", Start: 1500 * time.Microsecond, End: time.Hour + 1, Revision: 9},
	}
	var buf bytes.Buffer
	if err := WriteKVHistory(&buf, ops); err != nil {
		t.Fatal(err)
	}
	got, err := ReadKVHistory(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	// The failed get's output is not written.
	want := append([]KVOp(nil), ops...)
	want[9] = KVOp{Client: 2, Kind: KVGet, Key: "x", Start: lt(11), Failed: true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the history:\n%s\ngot  %+v\nwant %+v", buf.String(), got, want)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(ops) {
		t.Errorf("%d lines for %d ops", lines, len(ops))
	}
	t.Logf("\n%s", buf.String())

	// An op the checker could not judge is not written.
	if err := WriteKVHistory(&buf, []KVOp{lPut(1, "x", "a", 0, 1, 0)}); err == nil || !strings.Contains(err.Error(), "revision") {
		t.Errorf("writing a put without revision: %v", err)
	}
}

func TestRegisterHistoryRoundTrip(t *testing.T) {
	ops := []RegisterOp{
		rRead(0, "", 0, 2),
		rWrite(1, "1", 1, 10),
		rRead(2, "1", 3, 4),
		rCas(0, "1", "2", true, 11, 12),
		rCas(1, "1", "3", false, 11, 13),
		rInfo(rWrite(2, "", 14, 0)),
		{Client: 3, Kind: RegisterRead, Key: "other", Start: lt(15), Failed: true},
		{Client: 3, Kind: RegisterRead, Key: "other", Value: "", Start: lt(15), End: lt(16), None: true},
	}
	var buf bytes.Buffer
	if err := WriteRegisterHistory(&buf, ops); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRegisterHistory(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, ops) {
		t.Fatalf("round trip changed the history:\n%s\ngot  %+v\nwant %+v", buf.String(), got, ops)
	}
	t.Logf("\n%s", buf.String())
}

func TestReadHistoryFormats(t *testing.T) {
	text := `
# comment
   # indented comment

{"op": "put", "key": "x", "value": "a", "call": 1500000000, "return": "1.5s", "revision": 2}
{"client": 7, "op": "get", "key": "x", "call": "1m2.5s", "return": "1m3s", "found": true, "got": "a", "mod": 2, "create": 2, "version": 1}
{"client": 7, "op": "delete", "key": "x", "call": "2m", "indeterminate": true}
{"client": 7, "op": "put", "key": "x", "value": "b", "call": "90us", "return": 90000, "failed": true}
{"client": 7, "op": "cas", "key": "x", "value": "b", "call": 0, "return": 0, "succeeded": true, "revision": 3}` // no final newline
	ops, err := ReadKVHistory(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []KVOp{
		{Kind: KVPut, Key: "x", Value: "a", Start: 1500 * time.Millisecond, End: 1500 * time.Millisecond, Revision: 2},
		{Client: 7, Kind: KVGet, Key: "x", Start: time.Minute + 2500*time.Millisecond, End: time.Minute + 3*time.Second,
			Found: true, Got: "a", Mod: 2, Create: 2, Version: 1},
		{Client: 7, Kind: KVDelete, Key: "x", Start: 2 * time.Minute, Indeterminate: true},
		{Client: 7, Kind: KVPut, Key: "x", Value: "b", Start: 90 * time.Microsecond, End: 90 * time.Microsecond, Failed: true},
		{Client: 7, Kind: KVCas, Key: "x", Value: "b", Succeeded: true, Revision: 3},
	}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("got  %+v\nwant %+v", ops, want)
	}
	if ops, err := ReadKVHistory(strings.NewReader("# nothing\n\n")); err != nil || len(ops) != 0 {
		t.Errorf("an empty history: %v %v", ops, err)
	}
}

func TestReadHistoryErrors(t *testing.T) {
	const ok = `{"op": "put", "key": "x", "value": "a", "call": "0s", "return": "1s", "revision": 2}`
	for _, tc := range []struct {
		name, line string
		register   bool
		want       string // the error, after "line 3: "
	}{
		{"not JSON", `{"op": "put", `, false, "not a JSON object"},
		{"not an object", `["put"]`, false, "not a JSON object"},
		{"two objects", ok + ok, false, "more than one JSON value"},
		{"unknown field", `{"op": "put", "key": "x", "vaule": "a", "call": 0, "return": 1, "revision": 2}`, false, "field vaule: unknown field"},
		{"missing op", `{"key": "x", "call": 0, "return": 1}`, false, "field op: missing"},
		{"unknown op", `{"op": "incr", "key": "x", "call": 0, "return": 1}`, false, `field op: unknown op "incr"`},
		{"op not a string", `{"op": 3, "key": "x", "call": 0, "return": 1}`, false, "field op: want a string"},
		{"missing key", `{"op": "get", "call": 0, "return": 1}`, false, "field key: missing"},
		{"missing call", `{"op": "get", "key": "x", "return": 1}`, false, "field call: missing"},
		{"missing return", `{"op": "get", "key": "x", "call": 1}`, false, "field return: missing"},
		{"return before call", `{"op": "get", "key": "x", "call": "2s", "return": "1s"}`, false, "field return: 1s is before the call at 2s"},
		{"bad duration string", `{"op": "get", "key": "x", "call": "1.5 parsecs", "return": "2s"}`, false, `field call: bad duration "1.5 parsecs"`},
		{"fractional nanoseconds", `{"op": "get", "key": "x", "call": 1.5, "return": 2}`, false, "field call: bad duration 1.5"},
		{"negative duration", `{"op": "get", "key": "x", "call": "-1s", "return": "2s"}`, false, "field call: negative duration"},
		{"negative client", `{"client": -1, "op": "get", "key": "x", "call": 0, "return": 1}`, false, "field client: want an integer ≥ 0"},
		{"client not an integer", `{"client": "c1", "op": "get", "key": "x", "call": 0, "return": 1}`, false, "field client: want an integer"},
		{"bool not a bool", `{"op": "get", "key": "x", "call": 0, "return": 1, "found": "yes"}`, false, "field found: want true or false"},
		{"put without revision", `{"op": "put", "key": "x", "value": "a", "call": 0, "return": 1}`, false, "field revision: a completed put needs"},
		{"field not used by the op", `{"op": "get", "key": "x", "value": "a", "call": 0, "return": 1}`, false, "field value: not used by get"},
		{"outputs of an indeterminate op", `{"op": "put", "key": "x", "value": "a", "call": 0, "indeterminate": true, "revision": 3}`, false, "field revision: an indeterminate op has no outputs"},
		{"outputs of a failed op", `{"op": "get", "key": "x", "call": 0, "failed": true, "found": true}`, false, "field found: a failed op has no outputs"},
		{"indeterminate and failed", `{"op": "put", "key": "x", "call": 0, "indeterminate": true, "failed": true}`, false, "field failed: an op cannot be both"},
		{"found without mod", `{"op": "get", "key": "x", "call": 0, "return": 1, "found": true, "got": "a", "create": 2, "version": 1}`, false, "field mod: a found key needs"},
		{"not found with a mod", `{"op": "get", "key": "x", "call": 0, "return": 1, "mod": 2}`, false, "field mod: the key was not found"},
		{"deleted 2", `{"op": "delete", "key": "x", "call": 0, "return": 1, "deleted": 2, "revision": 3}`, false, "field deleted: must be 0 or 1"},
		{"negative expect_mod", `{"op": "cas", "key": "x", "expect_mod": -1, "call": 0, "return": 1}`, false, "field expect_mod: negative"},
		{"successful cas with a read", `{"op": "cas", "key": "x", "call": 0, "return": 1, "succeeded": true, "revision": 3, "got": "a"}`, false, "field got: not used by a successful cas"},
		{"register: unknown op", `{"op": "append", "value": "1", "call": 0, "return": 1}`, true, `field op: unknown op "append" (want read, write or cas)`},
		{"register: kv field", `{"op": "read", "call": 0, "return": 1, "found": true}`, true, "field found: unknown field"},
		{"register: write without value", `{"op": "write", "call": 0, "return": 1}`, true, "field value: missing"},
		{"register: cas without from", `{"op": "cas", "to": "2", "call": 0, "return": 1, "ok": true}`, true, "field from: missing"},
		{"register: cas with value", `{"op": "cas", "from": "1", "to": "2", "value": "1", "call": 0, "return": 1}`, true, "field value: not used by cas"},
		{"register: value not a string", `{"op": "write", "value": [1], "call": 0, "return": 1}`, true, "field value: want a string or a number"},
		{"register: info read with a value", `{"op": "read", "value": "1", "call": 0, "indeterminate": true}`, true, "field value: an indeterminate op has no outputs"},
		{"register: ok not a bool", `{"op": "cas", "from": "1", "to": "2", "call": 0, "return": 1, "ok": 1}`, true, "field ok: want true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "# header\n" + ok + "\n" + tc.line + "\n" + ok + "\n"
			var err error
			if tc.register {
				text = "# header\n" + `{"op": "write", "value": "1", "call": 0, "return": 1}` + "\n" + tc.line + "\n"
				_, err = ReadRegisterHistory(strings.NewReader(text))
			} else {
				_, err = ReadKVHistory(strings.NewReader(text))
			}
			if err == nil {
				t.Fatalf("no error for %s", tc.line)
			}
			if want := "line 3: " + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got  %v\nwant %s…", err, want)
			}
			var he *HistoryError
			if !errors.As(err, &he) || he.Line != 3 {
				t.Fatalf("not a HistoryError on line 3: %#v", err)
			}
		})
	}
}

// The files under testdata are what the cmd tests check too.
func TestHistoryTestdata(t *testing.T) {
	for _, tc := range []struct {
		file string
		want harness.Status // "" : malformed
	}{
		{"kv_ok.jsonl", harness.OK},
		{"kv_violated.jsonl", harness.Violated},
		{"kv_malformed.jsonl", ""},
		{"register_ok.jsonl", harness.OK},
		{"register_violated.jsonl", harness.Violated},
		{"register_malformed.jsonl", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var v harness.Verdict
			if strings.HasPrefix(tc.file, "kv") {
				var ops []KVOp
				if ops, err = ReadKVHistory(f); err == nil {
					v, _ = CheckLinearizable(ops, LinearizableOptions{})
				}
			} else {
				var ops []RegisterOp
				if ops, err = ReadRegisterHistory(f); err == nil {
					v, _ = CheckRegister(ops, LinearizableOptions{})
				}
			}
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("read without error")
			case tc.want != "" && err != nil:
				t.Fatal(err)
			case v.Status != tc.want:
				t.Fatalf("got %s %s", v.Status, v.Detail)
			}
		})
	}
}
