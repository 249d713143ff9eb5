package checkers

import (
	"bytes"
	"errors"
	"io"
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

		// Times and integers that would overflow the checker's sums.
		{"call MaxInt64", `{"op": "get", "key": "x", "call": 9223372036854775807, "return": 9223372036854775807}`, false, "field call: 9223372036854775807 is out of range (times must be below 2^62 ns"},
		{"return 2^62", `{"op": "get", "key": "x", "call": 0, "return": 4611686018427387904}`, false, "field return: 4611686018427387904 is out of range"},
		{"return beyond int64", `{"op": "get", "key": "x", "call": 0, "return": 99999999999999999999}`, false, "field return: 99999999999999999999 is out of range"},
		{"duration string ≥ 2^62", `{"op": "get", "key": "x", "call": "0s", "return": "2562047h"}`, false, `field return: "2562047h" is out of range`},
		{"duration string beyond int64", `{"op": "get", "key": "x", "call": "0s", "return": "9999999h"}`, false, `field return: bad duration "9999999h"`},
		{"indeterminate call MaxInt64", `{"op": "put", "key": "x", "value": "a", "call": 9223372036854775807, "indeterminate": true}`, false, "field call: 9223372036854775807 is out of range"},
		{"revision MaxInt64", `{"op": "put", "key": "x", "value": "a", "call": 0, "return": 1, "revision": 9223372036854775807}`, false, "field revision: 9223372036854775807 is out of range (integers must be below 2^62"},
		{"mod beyond int64", `{"op": "get", "key": "x", "call": 0, "return": 1, "found": true, "got": "a", "mod": 99999999999999999999, "create": 1, "version": 1}`, false, "field mod: 99999999999999999999 is out of range"},
		{"expect_mod 2^62", `{"op": "cas", "key": "x", "expect_mod": 4611686018427387904, "call": 0, "indeterminate": true}`, false, "field expect_mod: 4611686018427387904 is out of range"},
		{"register: call MaxInt64", `{"op": "read", "call": 9223372036854775807, "return": 9223372036854775807}`, true, "field call: 9223372036854775807 is out of range"},

		// Repeated fields: encoding/json would keep the last silently.
		{"repeated key", `{"op": "get", "key": "x", "key": "y", "call": 0, "return": 1}`, false, "field key: given twice"},
		{"repeated found, differently", `{"op": "get", "key": "x", "call": 0, "return": 1, "found": true, "found": false}`, false, "field found: given twice"},
		{"repeated as null", `{"op": "get", "key": "x", "call": 0, "return": 1, "return": null}`, false, "field return: given twice"},
		{"repeated, spelt differently", `{"op": "get", "key": "x", "call": 0, "return": 1, "\u0072eturn": 2}`, false, "field return: given twice"},
		{"register: repeated value", `{"op": "write", "value": "1", "value": "2", "call": 0, "return": 1}`, true, "field value: given twice"},

		// Text that encoding/json would turn into U+FFFD.
		{"invalid UTF-8 in a value", "{\"op\": \"put\", \"key\": \"x\", \"value\": \"a\xff\", \"call\": 0, \"return\": 1, \"revision\": 2}", false, "field value: not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"op\": \"get\", \"key\": \"\xc3\", \"call\": 0, \"return\": 1}", false, "field key: not valid UTF-8"},
		{"invalid UTF-8 in got", "{\"op\": \"get\", \"key\": \"x\", \"call\": 0, \"return\": 1, \"found\": true, \"got\": \"\xed\xa0\x80\", \"mod\": 2, \"create\": 2, \"version\": 1}", false, "field got: not valid UTF-8"},
		{"invalid UTF-8 in a field name", "{\"op\": \"get\", \"key\": \"x\", \"call\": 0, \"return\": 1, \"v\xffl\": 2}", false, "field name \"v\ufffdl\": not valid UTF-8"},
		{"lone high surrogate", `{"op": "put", "key": "x", "value": "a\ud800", "call": 0, "return": 1, "revision": 2}`, false, `field value: unpaired surrogate escape \ud800`},
		{"lone low surrogate", `{"op": "put", "key": "x\uDC00", "value": "a", "call": 0, "return": 1, "revision": 2}`, false, `field key: unpaired surrogate escape \uDC00`},
		{"high surrogate then no low", `{"op": "put", "key": "x", "value": "\ud83d\u0041", "call": 0, "return": 1, "revision": 2}`, false, `field value: unpaired surrogate escape \ud83d`},
		{"register: invalid UTF-8 in to", "{\"op\": \"cas\", \"from\": \"1\", \"to\": \"\xff\", \"call\": 0, \"return\": 1}", true, "field to: not valid UTF-8"},

		// null is a field left out, so a required one is missing.
		{"op null", `{"op": null, "key": "x", "call": 0, "return": 1}`, false, "field op: missing"},
		{"call null", `{"op": "get", "key": "x", "call": null, "return": 1}`, false, "field call: missing"},
		{"return null on a completed op", `{"op": "get", "key": "x", "call": 0, "return": null}`, false, "field return: missing (only indeterminate and failed ops may lack one)"},
		{"revision null on a put", `{"op": "put", "key": "x", "value": "a", "call": 0, "return": 1, "revision": null}`, false, "field revision: a completed put needs"},
		{"register: write value null", `{"op": "write", "value": null, "call": 0, "return": 1}`, true, "field value: missing"},
		{"register: cas to null", `{"op": "cas", "from": "1", "to": null, "call": 0, "return": 1}`, true, "field to: missing"},

		// What follows the object.
		{"a stray closing brace", ok + "}", false, "text after the JSON object"},
		{"text after the object", ok + " x", false, "text after the JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "# header\n" + ok + "\n" + tc.line + "\n" + ok + "\n"
			if tc.register {
				text = "# header\n" + `{"op": "write", "value": "1", "call": 0, "return": 1}` + "\n" + tc.line + "\n"
			}
			// Both readers reject it alike: the ops-only one and the
			// one `hasim check` uses.
			for _, read := range historyReaders(tc.register) {
				err := read(text)
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
		{"kv_initial.jsonl", harness.OK},
		{"kv_needs_initial.jsonl", ""},
		{"register_initial.jsonl", harness.OK},
		{"register_needs_initial.jsonl", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// As `hasim check` reads and checks them.
			var v harness.Verdict
			if strings.HasPrefix(tc.file, "kv") {
				var h KVHistory
				if h, err = ReadKVHistoryFile(f); err == nil {
					v, _ = CheckLinearizableFrom(h.Initial, h.Ops, LinearizableOptions{})
				}
			} else {
				var h RegisterHistory
				if h, err = ReadRegisterHistoryFile(f); err == nil {
					v, _ = CheckRegisterFrom(h.Initial, h.Ops, LinearizableOptions{})
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

// historyReaders read a text with ReadXHistory and ReadXHistoryFile.
func historyReaders(register bool) []func(string) error {
	if register {
		return []func(string) error{
			func(text string) error { _, err := ReadRegisterHistory(strings.NewReader(text)); return err },
			func(text string) error { _, err := ReadRegisterHistoryFile(strings.NewReader(text)); return err },
		}
	}
	return []func(string) error{
		func(text string) error { _, err := ReadKVHistory(strings.NewReader(text)); return err },
		func(text string) error { _, err := ReadKVHistoryFile(strings.NewReader(text)); return err },
	}
}

// Times up to the bound are taken; null is the same as a field left out.
func TestReadHistoryEdges(t *testing.T) {
	const maxTime = time.Duration(1<<62 - 1)
	for _, tc := range []struct {
		name, line string
		want       KVOp
	}{
		{"times just below 2^62", `{"op": "get", "key": "x", "call": 4611686018427387903, "return": 4611686018427387903}`,
			KVOp{Kind: KVGet, Key: "x", Start: maxTime, End: maxTime}},
		{"revision just below 2^62", `{"op": "put", "key": "x", "call": 0, "return": 1, "revision": 4611686018427387903}`,
			KVOp{Kind: KVPut, Key: "x", End: 1, Revision: 1<<62 - 1}},
		{"return null on an indeterminate op", `{"op": "put", "key": "x", "value": "a", "call": 5, "return": null, "indeterminate": true}`,
			KVOp{Kind: KVPut, Key: "x", Value: "a", Start: 5, Indeterminate: true}},
		{"return null on a failed op", `{"op": "get", "key": "x", "call": 5, "return": null, "failed": true}`,
			KVOp{Kind: KVGet, Key: "x", Start: 5, Failed: true}},
		{"null optional fields", `{"client": null, "op": "get", "key": "x", "call": 0, "return": 1, "found": null, "got": null, "mod": null, "revision": null, "indeterminate": null, "failed": null, "initial": null}`,
			KVOp{Kind: KVGet, Key: "x", End: 1}},
		{"null outputs of an indeterminate op", `{"op": "cas", "key": "x", "value": "b", "expect_mod": 2, "call": 0, "indeterminate": true, "succeeded": null, "revision": null}`,
			KVOp{Kind: KVCas, Key: "x", Value: "b", ExpectMod: 2, Indeterminate: true}},
		{"null inputs an op does not use", `{"op": "get", "key": "x", "call": 0, "return": 1, "value": null, "expect_mod": null}`,
			KVOp{Kind: KVGet, Key: "x", End: 1}},
		{"initial false is an op", `{"initial": false, "op": "get", "key": "x", "call": 0, "return": 1}`,
			KVOp{Kind: KVGet, Key: "x", End: 1}},
		{"escaped pair and escaped backslash", `{"op": "put", "key": "\ud83d\ude00\\ud800", "call": 0, "return": 1, "revision": 2}`,
			KVOp{Kind: KVPut, Key: "😀\\ud800", End: 1, Revision: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := ReadKVHistory(strings.NewReader(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != 1 || !reflect.DeepEqual(ops[0], tc.want) {
				t.Fatalf("got  %+v\nwant %+v", ops, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name, line string
		want       RegisterOp
	}{
		{"read value null is empty", `{"op": "read", "call": 0, "return": 1, "value": null}`,
			RegisterOp{Kind: RegisterRead, End: 1, None: true}},
		{"Jepsen info read with value nil", `{"op": "read", "call": 0, "value": null, "indeterminate": true}`,
			RegisterOp{Kind: RegisterRead, Indeterminate: true}},
		{"cas from null expects empty", `{"op": "cas", "from": null, "to": 1, "call": 0, "return": 1, "ok": true}`,
			RegisterOp{Kind: RegisterCas, FromNone: true, To: "1", OK: true, End: 1}},
		{"ok null is false", `{"op": "cas", "from": 1, "to": 2, "call": 0, "return": 1, "ok": null, "key": null}`,
			RegisterOp{Kind: RegisterCas, From: "1", To: "2", End: 1}},
		{"return null on an indeterminate write", `{"op": "write", "value": 3, "call": 2, "return": null, "indeterminate": true}`,
			RegisterOp{Kind: RegisterWrite, Value: "3", Start: 2, Indeterminate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := ReadRegisterHistory(strings.NewReader(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != 1 || !reflect.DeepEqual(ops[0], tc.want) {
				t.Fatalf("got  %+v\nwant %+v", ops, tc.want)
			}
		})
	}
}

// Before the bound, a time of MaxInt64 wrapped the "never returned" time of
// indeterminate ops around to before every call: this history, which is
// linearizable (the indeterminate put took effect before the get), was
// judged violated.
func TestReadHistoryHugeTimeIsNotJudged(t *testing.T) {
	text := `{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "indeterminate": true}
{"client": 2, "op": "get", "key": "x", "call": 10, "return": 9223372036854775807, "found": true, "got": "a", "mod": 2, "create": 2, "version": 1}
`
	_, err := ReadKVHistoryFile(strings.NewReader(text))
	if err == nil || !strings.HasPrefix(err.Error(), "line 2: field return: 9223372036854775807 is out of range") {
		t.Fatalf("got %v", err)
	}
	// Just below the bound it is judged, and right.
	h, err := ReadKVHistoryFile(strings.NewReader(strings.Replace(text, "9223372036854775807", "4611686018427387903", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := CheckLinearizableFrom(h.Initial, h.Ops, LinearizableOptions{}); v.Status != harness.OK {
		t.Fatalf("%s %s", v.Status, v.Detail)
	}
}

func TestReadHistoryInitial(t *testing.T) {
	text := `# A store that held x and r before the history.
{"initial": true, "key": "x", "value": "a", "mod": 3, "create": 2, "version": 2}
{"initial": true, "key": "gone"}
{"initial": true, "key": "one", "value": "", "mod": 4, "create": 4, "version": 1}
{"client": 1, "op": "get", "key": "x", "call": 0, "return": 1, "found": true, "got": "a", "mod": 3, "create": 2, "version": 2}
{"initial": true, "key": "nulls", "value": null, "mod": null, "create": null, "version": null}
`
	h, err := ReadKVHistoryFile(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := KVHistory{
		Initial: []KVInitial{
			{Key: "x", Found: true, Value: "a", Mod: 3, Create: 2, Version: 2},
			{Key: "gone"},
			{Key: "one", Found: true, Mod: 4, Create: 4, Version: 1},
			{Key: "nulls"},
		},
		Ops: []KVOp{lGet(1, "x", 0, 0, "a", 3, 2, 2)},
	}
	want.Ops[0].End = 1
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got  %+v\nwant %+v", h, want)
	}
	// The ops-only reader refuses initial lines rather than drop them.
	if _, err := ReadKVHistory(strings.NewReader(text)); err == nil ||
		!strings.HasPrefix(err.Error(), "line 2: field initial: not taken here") {
		t.Fatalf("ReadKVHistory: %v", err)
	}

	rtext := `{"initial": true, "value": 7}
{"initial": true, "key": "k", "value": "v"}
{"initial": true, "key": "e", "value": null}
{"initial": true, "key": "f"}
{"op": "read", "call": 0, "return": 1, "value": "7"}
`
	rh, err := ReadRegisterHistoryFile(strings.NewReader(rtext))
	if err != nil {
		t.Fatal(err)
	}
	rwant := RegisterHistory{
		Initial: []RegisterInitial{{Value: "7"}, {Key: "k", Value: "v"}, {Key: "e", None: true}, {Key: "f", None: true}},
		Ops:     []RegisterOp{{Kind: RegisterRead, Value: "7", End: 1}},
	}
	if !reflect.DeepEqual(rh, rwant) {
		t.Fatalf("got  %+v\nwant %+v", rh, rwant)
	}
	if _, err := ReadRegisterHistory(strings.NewReader(rtext)); err == nil ||
		!strings.HasPrefix(err.Error(), "line 1: field initial: not taken here") {
		t.Fatalf("ReadRegisterHistory: %v", err)
	}
}

func TestReadHistoryInitialErrors(t *testing.T) {
	const op = `{"op": "put", "key": "x", "value": "b", "call": 0, "return": 1, "revision": 9}`
	for _, tc := range []struct {
		name     string
		lines    []string
		register bool
		want     string
	}{
		{"kv: repeated", []string{`{"initial": true, "key": "x", "value": "a", "mod": 3, "create": 3, "version": 1}`, op,
			`{"initial": true, "key": "x"}`}, false, `line 3: field key: a second initial line for key "x" (the first is line 1)`},
		{"kv: repeated, the same", []string{`{"initial": true, "key": "x"}`, `{"initial": true, "key": "x"}`}, false,
			`line 2: field key: a second initial line for key "x" (the first is line 1)`},
		{"kv: no key", []string{`{"initial": true, "value": "a", "mod": 3, "create": 3, "version": 1}`}, false, "line 1: field key: missing"},
		{"kv: value without revisions", []string{`{"initial": true, "key": "x", "value": "a"}`}, false, "line 1: field mod: missing (a key that exists needs"},
		{"kv: no version", []string{`{"initial": true, "key": "x", "value": "a", "mod": 3, "create": 2}`}, false, "line 1: field version: missing"},
		{"kv: zero mod", []string{`{"initial": true, "key": "x", "value": "a", "mod": 0, "create": 0, "version": 1}`}, false, "line 1: field mod: a key that exists needs its mod revision (> 0)"},
		{"kv: create after mod", []string{`{"initial": true, "key": "x", "mod": 2, "create": 3, "version": 2}`}, false, "line 1: field create: 3 is after the mod revision 2"},
		{"kv: version 1, create ≠ mod", []string{`{"initial": true, "key": "x", "mod": 3, "create": 2, "version": 1}`}, false, "line 1: field version: 1 means the key's last write created it"},
		{"kv: version 2, create = mod", []string{`{"initial": true, "key": "x", "mod": 3, "create": 3, "version": 2}`}, false, "line 1: field version: 2 means the key was written after its creation"},
		{"kv: an op field", []string{`{"initial": true, "op": "get", "key": "x"}`}, false, "line 1: field op: not used by an initial line"},
		{"kv: a time", []string{`{"initial": true, "key": "x", "call": 0}`}, false, "line 1: field call: not used by an initial line"},
		{"kv: got for value", []string{`{"initial": true, "key": "x", "got": "a", "mod": 3, "create": 3, "version": 1}`}, false, "line 1: field got: not used by an initial line"},
		{"kv: unknown field", []string{`{"initial": true, "key": "x", "valeu": "a"}`}, false, "line 1: field valeu: unknown field"},
		{"kv: initial not a bool", []string{`{"initial": "yes", "key": "x"}`}, false, "line 1: field initial: want true or false"},
		{"kv: mod out of range", []string{`{"initial": true, "key": "x", "value": "a", "mod": 9223372036854775807, "create": 1, "version": 2}`}, false, "line 1: field mod: 9223372036854775807 is out of range"},
		{"kv: repeated field", []string{`{"initial": true, "key": "x", "key": "y"}`}, false, "line 1: field key: given twice"},
		{"register: repeated, no key", []string{`{"initial": true, "value": 1}`, `{"initial": true}`}, true,
			"line 2: field initial: a second initial line for the register (the first is line 1)"},
		{"register: repeated key", []string{`{"initial": true, "key": "k", "value": 1}`, `{"initial": true, "key": "k", "value": 1}`}, true,
			`line 2: field key: a second initial line for register "k" (the first is line 1)`},
		{"register: value not a string", []string{`{"initial": true, "value": [1]}`}, true, "line 1: field value: want a string or a number"},
		{"register: cas fields", []string{`{"initial": true, "from": 1}`}, true, "line 1: field from: not used by an initial line"},
		{"register: client", []string{`{"initial": true, "client": 1, "value": 1}`}, true, "line 1: field client: not used by an initial line"},
		{"register: invalid UTF-8", []string{"{\"initial\": true, \"value\": \"\xff\"}"}, true, "line 1: field value: not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Join(tc.lines, "\n")
			var err error
			if tc.register {
				_, err = ReadRegisterHistoryFile(strings.NewReader(text))
			} else {
				_, err = ReadKVHistoryFile(strings.NewReader(text))
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got  %v\nwant %s…", err, tc.want)
			}
		})
	}
}

// An op that shows a key existing before any op could have created it,
// when the key has no initial line, is an error naming the op's line and
// the key; anything else is judged by the checker, violations included.
func TestReadHistoryMissingInitial(t *testing.T) {
	const (
		getA     = `{"client": 2, "op": "get", "key": "x", "call": "10s", "return": "11s", "found": true, "got": "a", "mod": 3, "create": 2, "version": 2}`
		initialX = `{"initial": true, "key": "x", "value": "a", "mod": 3, "create": 2, "version": 2}`
		absentX  = `{"initial": true, "key": "x"}`
	)
	for _, tc := range []struct {
		name     string
		lines    []string
		register bool
		// err: the error's start; "" when the file is read, and then
		// judged verdict.
		err     string
		verdict harness.Status
	}{
		// Needs an initial line.
		{"kv: a get found it, nothing writes it", []string{getA}, false,
			`line 1: field found: key "x" has no initial line, so it starts absent, yet this get found it ("a" mod=3) before any op could have created it`, ""},
		{"kv: the only put is called after the get returned", []string{
			`{"client": 1, "op": "put", "key": "x", "value": "b", "call": "11.5s", "return": "12s", "revision": 9}`, getA}, false,
			`line 2: field found: key "x" has no initial line`, ""},
		{"kv: a failed put does not create", []string{
			`{"client": 1, "op": "put", "key": "x", "value": "a", "call": "1s", "failed": true}`, getA}, false,
			`line 2: field found: key "x" has no initial line`, ""},
		{"kv: a failed create-cas does not create", []string{
			`{"client": 1, "op": "cas", "key": "x", "expect_mod": 0, "value": "a", "call": "1s", "return": "2s", "found": true, "got": "q", "mod": 1, "create": 1, "version": 1}`, getA}, false,
			`line 1: field found: key "x" has no initial line`, ""},
		{"kv: a cas on a nonzero mod succeeded", []string{
			`{"op": "cas", "key": "x", "expect_mod": 3, "value": "b", "call": 0, "return": 1, "succeeded": true, "revision": 4}`}, false,
			`line 1: field expect_mod: key "x" has no initial line, so it starts absent, yet this cas succeeded on it at mod 3`, ""},
		{"kv: a delete removed it", []string{
			`{"op": "delete", "key": "x", "call": 0, "return": 1, "deleted": 1, "revision": 4}`}, false,
			`line 1: field deleted: key "x" has no initial line, so it starts absent, yet this delete removed it`, ""},
		{"kv: the earliest by call time is named, and the other keys", []string{
			`{"op": "delete", "key": "y", "call": "20s", "return": "21s", "deleted": 1, "revision": 4}`,
			`{"op": "delete", "key": "z", "call": "30s", "return": "31s", "deleted": 1, "revision": 5}`,
			getA}, false,
			`line 3: field found: key "x" has no initial line`, ""},
		{"register: a read returned a value", []string{`{"op": "read", "call": 0, "return": 1, "value": 3}`}, true,
			`line 1: field value: the register has no initial line, so it starts empty, yet this read returned "3" before any op could have written it`, ""},
		{"register: a cas from a value succeeded", []string{
			`{"op": "write", "key": "k", "value": 1, "call": 5, "return": 6}`,
			`{"op": "cas", "key": "k", "from": 1, "to": 2, "call": 0, "return": 4, "ok": true}`}, true,
			`line 2: field from: register "k" has no initial line, so it starts empty, yet this cas from "1" succeeded`, ""},
		{"register: a cas from null failed", []string{`{"op": "cas", "from": null, "to": 2, "call": 0, "return": 4, "ok": false}`}, true,
			`line 1: field ok: the register has no initial line, so it starts empty, yet this cas from null failed`, ""},
		{"register: a cas from a value can't create", []string{
			`{"op": "cas", "from": 1, "to": 2, "call": 0, "indeterminate": true}`,
			`{"op": "read", "call": 1, "return": 2, "value": 2}`}, true,
			`line 2: field value: the register has no initial line`, ""},

		// Judged: something may have created the key first.
		{"kv: a put overlaps the get", []string{
			`{"client": 1, "op": "put", "key": "x", "value": "a", "call": "10.5s", "return": "12s", "revision": 3}`,
			`{"client": 2, "op": "get", "key": "x", "call": "10s", "return": "11s", "found": true, "got": "a", "mod": 3, "create": 3, "version": 1}`}, false,
			"", harness.OK},
		{"kv: a put called as the get returns", []string{
			`{"client": 1, "op": "put", "key": "x", "value": "a", "call": "11s", "return": "12s", "revision": 3}`,
			`{"client": 2, "op": "get", "key": "x", "call": "10s", "return": "11s", "found": true, "got": "a", "mod": 3, "create": 3, "version": 1}`}, false,
			"", harness.OK},
		{"kv: an indeterminate put called before", []string{
			`{"client": 1, "op": "put", "key": "x", "value": "a", "call": "1s", "indeterminate": true}`, getA}, false,
			"", harness.Violated}, // it would give version 1, not 2
		{"kv: a stale read after a put is a violation", []string{
			`{"client": 1, "op": "put", "key": "x", "value": "b", "call": "1s", "return": "2s", "revision": 2}`, getA}, false,
			"", harness.Violated},
		{"kv: a create-cas overlaps", []string{
			`{"client": 1, "op": "cas", "key": "x", "expect_mod": 0, "value": "a", "call": "10.5s", "return": "12s", "succeeded": true, "revision": 3}`,
			`{"client": 2, "op": "cas", "key": "x", "expect_mod": 3, "value": "b", "call": "10s", "return": "13s", "succeeded": true, "revision": 4}`}, false,
			"", harness.OK},
		{"kv: a get that did not find it", []string{
			`{"op": "get", "key": "x", "call": 0, "return": 1}`}, false, "", harness.OK},
		{"kv: the initial line", []string{getA, initialX}, false, "", harness.OK},
		{"kv: the initial line says absent", []string{absentX, getA}, false, "", harness.Violated},
		{"kv: a wrong initial line", []string{getA, `{"initial": true, "key": "x", "value": "b", "mod": 3, "create": 2, "version": 2}`}, false, "", harness.Violated},
		{"register: a write before", []string{
			`{"op": "write", "value": 1, "call": 0, "return": 1}`,
			`{"op": "read", "call": 2, "return": 3, "value": 2}`}, true, "", harness.Violated},
		{"register: a create-cas before", []string{
			`{"op": "cas", "from": null, "to": 2, "call": 0, "return": 1, "ok": true}`,
			`{"op": "read", "call": 2, "return": 3, "value": 2}`}, true, "", harness.OK},
		{"register: the initial line", []string{
			`{"initial": true, "value": 2}`,
			`{"op": "cas", "from": 2, "to": 3, "call": 2, "return": 3, "ok": true}`}, true, "", harness.OK},
		{"register: the initial line says empty", []string{
			`{"initial": true}`,
			`{"op": "read", "call": 2, "return": 3, "value": 2}`}, true, "", harness.Violated},
		{"register: initial lines of other registers", []string{
			`{"initial": true, "key": "k", "value": 1}`,
			`{"initial": true, "key": "j", "value": 2}`,
			`{"op": "read", "key": "k", "call": 2, "return": 3, "value": 1}`,
			`{"op": "read", "key": "j", "call": 2, "return": 3, "value": 2}`,
			`{"op": "read", "key": "i", "call": 2, "return": 3, "value": null}`}, true, "", harness.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Join(tc.lines, "\n")
			var err error
			var v harness.Verdict
			if tc.register {
				var h RegisterHistory
				if h, err = ReadRegisterHistoryFile(strings.NewReader(text)); err == nil {
					v, _ = CheckRegisterFrom(h.Initial, h.Ops, LinearizableOptions{})
				}
			} else {
				var h KVHistory
				if h, err = ReadKVHistoryFile(strings.NewReader(text)); err == nil {
					v, _ = CheckLinearizableFrom(h.Initial, h.Ops, LinearizableOptions{})
				}
			}
			switch {
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Fatalf("got  %v (%s)\nwant %s…", err, v.Status, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("read: %v", err)
			case tc.err == "" && v.Status != tc.verdict:
				t.Fatalf("got %s %s, want %s", v.Status, v.Detail, tc.verdict)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// The message says what to add, and names the other keys that need it.
func TestReadHistoryMissingInitialMessage(t *testing.T) {
	const deletes = `{"op": "delete", "key": "y", "call": "20s", "return": "21s", "deleted": 1, "revision": 4}
{"op": "delete", "key": "z", "call": "30s", "return": "31s", "deleted": 1, "revision": 5}
`
	for _, tc := range []struct {
		name, text string
		register   bool
		want       []string
	}{
		{"kv: a get, and other keys", deletes + `{"client": 2, "op": "get", "key": "x", "call": "10s", "return": "11s", "found": true, "got": "a", "mod": 3, "create": 2, "version": 2}`, false, []string{
			`line 3: field found: key "x" has no initial line`,
			`(and so do 2 other keys: "y", "z")`,
			`such as {"initial": true, "key": "x", "value": "a", "mod": 3, "create": 2, "version": 2} if nothing changed it before this get`,
			`if it really started absent, say so with {"initial": true, "key": "x"}, and the check will judge it`,
		}},
		{"kv: a delete, and another key", deletes, false, []string{
			`line 1: field deleted: key "y" has no initial line`,
			`(and so does 1 other key: "z")`,
			`such as {"initial": true, "key": "y", "value": VALUE, "mod": MOD, "create": CREATE, "version": VERSION}; if`,
		}},
		{"kv: a cas", `{"op": "cas", "key": "x", "expect_mod": 3, "value": "b", "call": 0, "return": 1, "succeeded": true, "revision": 4}`, false, []string{
			`such as {"initial": true, "key": "x", "value": VALUE, "mod": 3, "create": CREATE, "version": VERSION} if nothing changed it before this cas`,
		}},
		{"register: a read", `{"op": "read", "key": "k", "call": 0, "return": 1, "value": 3}`, true, []string{
			`line 1: field value: register "k" has no initial line, so it starts empty`,
			`such as {"initial": true, "key": "k", "value": "3"} if nothing changed it before this read`,
			`if it really started empty, say so with {"initial": true, "key": "k"}`,
		}},
		{"register: a cas from null", `{"op": "cas", "from": null, "to": 2, "call": 0, "return": 4, "ok": false}`, true, []string{
			`such as {"initial": true, "value": VALUE}; if it really started empty, say so with {"initial": true}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.register {
				_, err = ReadRegisterHistoryFile(strings.NewReader(tc.text))
			} else {
				_, err = ReadKVHistoryFile(strings.NewReader(tc.text))
			}
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v\nwant …%s…", err, want)
				}
			}
		})
	}

	// The ops-only reader leaves it to the checker: its caller says every
	// key starts absent, so this is a violation.
	ops, err := ReadKVHistory(strings.NewReader(deletes))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := CheckLinearizable(ops, LinearizableOptions{}); v.Status != harness.Violated {
		t.Fatalf("%s %s", v.Status, v.Detail)
	}
}

func TestHistoryInitialRoundTrip(t *testing.T) {
	kv := KVHistory{
		Initial: []KVInitial{
			{Key: "x", Found: true, Value: "a", Mod: 3, Create: 2, Version: 2},
			{Key: "absent"},
		},
		Ops: []KVOp{lCas(1, "x", 3, "b", 0, 1, 4), lGetNone(2, "absent", 2, 3)},
	}
	var buf bytes.Buffer
	if err := WriteKVHistoryFile(&buf, kv); err != nil {
		t.Fatal(err)
	}
	got, err := ReadKVHistoryFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, kv) {
		t.Fatalf("round trip changed the history:\n%s\ngot  %+v\nwant %+v", buf.String(), got, kv)
	}

	reg := RegisterHistory{
		Initial: []RegisterInitial{{Value: "1"}, {Key: "k", None: true}, {Key: "j", Value: ""}},
		Ops:     []RegisterOp{rCas(0, "1", "2", true, 0, 1), rRead(1, "", 2, 3)},
	}
	buf.Reset()
	if err := WriteRegisterHistoryFile(&buf, reg); err != nil {
		t.Fatal(err)
	}
	rgot, err := ReadRegisterHistoryFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(rgot, reg) {
		t.Fatalf("round trip changed the history:\n%s\ngot  %+v\nwant %+v", buf.String(), rgot, reg)
	}

	// What the reader would refuse is not written.
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"kv: repeated initial", WriteKVHistoryFile(io.Discard, KVHistory{Initial: []KVInitial{{Key: "x"}, {Key: "x"}}})},
		{"kv: bad initial", WriteKVHistoryFile(io.Discard, KVHistory{Initial: []KVInitial{{Key: "x", Found: true, Mod: 1, Create: 2, Version: 1}}})},
		{"kv: time out of range", WriteKVHistory(io.Discard, []KVOp{{Kind: KVGet, Key: "x", Start: 1 << 62, End: 1 << 62}})},
		{"kv: invalid UTF-8", WriteKVHistory(io.Discard, []KVOp{lPut(1, "x\xff", "a", 0, 1, 2)})},
		{"register: repeated initial", WriteRegisterHistoryFile(io.Discard, RegisterHistory{Initial: []RegisterInitial{{}, {Value: "1"}}})},
		{"register: empty with a value", WriteRegisterHistoryFile(io.Discard, RegisterHistory{Initial: []RegisterInitial{{None: true, Value: "1"}}})},
		{"register: invalid UTF-8", WriteRegisterHistory(io.Discard, []RegisterOp{rWrite(0, "\xff", 0, 1)})},
	} {
		if tc.err == nil {
			t.Errorf("%s: written", tc.name)
		}
	}
}
