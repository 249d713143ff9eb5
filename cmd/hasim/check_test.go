package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkData = "../../checkers/testdata/"

func TestCheckOK(t *testing.T) {
	for _, tc := range []struct{ model, file string }{
		{"kv", "kv_ok.jsonl"},
		{"register", "register_ok.jsonl"},
		{"kv", "kv_initial.jsonl"},
		{"register", "register_initial.jsonl"},
	} {
		code, out, errs := hasim(t, "check", "--model", tc.model, checkData+tc.file)
		if code != 0 || !strings.Contains(out, "ok       linearizability  linearizable: ") || errs != "" {
			t.Errorf("%s: exit %d\n%s%s", tc.file, code, out, errs)
		}
	}
	// Flags after the file; kv is the default model.
	code, out, errs := hasim(t, "check", checkData+"kv_ok.jsonl", "--timeout", "30s")
	if code != 0 || !strings.Contains(out, "8 ops (1 indeterminate) on 2 keys; 1 failed ops ignored") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

func TestCheckViolated(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ model, file, want string }{
		{"kv", "kv_violated.jsonl", `key "x": at most 2 of its 3 ops linearize`},
		{"register", "register_violated.jsonl", `the register: at most 2 of its 3 ops linearize`},
	} {
		html := filepath.Join(dir, tc.model+".html")
		code, out, errs := hasim(t, "check", "--model", tc.model, "--html", html, checkData+tc.file)
		if code != 1 || !strings.Contains(out, "violated linearizability  not linearizable") ||
			!strings.Contains(out, tc.want) || !strings.Contains(out, "view: "+html) {
			t.Errorf("%s: exit %d\n%s%s", tc.file, code, out, errs)
		}
		if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "<html") {
			t.Errorf("%s: no view written: %v", tc.file, err)
		}
	}

	// JSON, and no view asked for.
	code, out, errs := hasim(t, "check", "--json", checkData+"kv_violated.jsonl")
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var js jsonCheckResult
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if js.Check != "linearizability" || js.Verdict != "violated" || js.HTML != "" || js.Model != "kv" ||
		js.Ops != 4 || js.Keys != 2 || len(js.FailingKeys) != 1 || js.FailingKeys[0] != "x" ||
		!strings.Contains(js.Detail, "stale") && !strings.Contains(js.Detail, `c2 get "x" -> "a"`) {
		t.Errorf("%+v", js)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"check", "verdict", "detail", "html"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
}

func TestCheckMalformed(t *testing.T) {
	for _, tc := range []struct{ model, file, want string }{
		{"kv", "kv_malformed.jsonl", "kv_malformed.jsonl: line 4: field revision: a completed put needs the revision it created"},
		{"register", "register_malformed.jsonl", "register_malformed.jsonl: line 3: field from: missing"},
		// The wrong model for the file: the first line names the field.
		{"register", "kv_ok.jsonl", "kv_ok.jsonl: line 3: field revision: unknown field"},
		// Data the store held before the history, without initial lines.
		{"kv", "kv_needs_initial.jsonl", `kv_needs_initial.jsonl: line 4: field found: key "x" has no initial line, so it starts absent, yet this get found it`},
		{"register", "register_needs_initial.jsonl", `register_needs_initial.jsonl: line 3: field value: the register has no initial line, so it starts empty, yet this read returned "3"`},
	} {
		code, out, errs := hasim(t, "check", "--model", tc.model, checkData+tc.file)
		if code != 2 || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tc.file, code, out, errs, tc.want)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing the history FILE"},
		{[]string{"--model", "queue", checkData + "kv_ok.jsonl"}, `--model: "queue" is not kv or register`},
		{[]string{"--timeout", "0s", checkData + "kv_ok.jsonl"}, "--timeout: must be positive"},
		{[]string{checkData + "kv_ok.jsonl", checkData + "kv_ok.jsonl"}, "one history FILE only"},
		{[]string{"--frobnicate", checkData + "kv_ok.jsonl"}, "flag provided but not defined"},
		{[]string{checkData + "no-such-file.jsonl"}, "no-such-file.jsonl"},
	} {
		code, _, errs := hasim(t, append([]string{"check"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", tc.args, code, errs, tc.want)
		}
	}
	if code, _, errs := hasim(t, "check", "-h"); code != 0 || !strings.Contains(errs, "usage: hasim check") {
		t.Errorf("-h: exit %d %s", code, errs)
	}
}

func TestCheckUnknown(t *testing.T) {
	// Only comments and a failed op: nothing to judge, so unknown.
	path := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(path, []byte("# nothing\n"+`{"op": "get", "key": "x", "call": 0, "failed": true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := hasim(t, "check", path)
	if code != 0 || !strings.Contains(out, "UNKNOWN  linearizability  nothing to check") || !strings.Contains(out, "warning: UNKNOWN is not ok") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := hasim(t, "check", "--strict", path); code != 1 {
		t.Errorf("--strict: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = hasim(t, "check", "--json", path)
	if code != 0 || !strings.Contains(out, `"verdict": "unknown"`) || !strings.Contains(errs, "UNKNOWN") {
		t.Errorf("--json: exit %d\n%s%s", code, out, errs)
	}
}

// Input that used to be misread (a wrapped time, a repeated field, text
// that encoding/json silently repairs, a malformed or repeated initial
// line) is bad input: exit 2, naming the line and the field.
func TestCheckRejects(t *testing.T) {
	const put = `{"client": 1, "op": "put", "key": "x", "value": "a", "call": "0s", "return": "1ms", "revision": 2}`
	for _, tc := range []struct {
		name, model, text, want string
	}{
		// Without the bound, the indeterminate put's "never returned"
		// time wrapped to before every call, and this linearizable history
		// was judged violated.
		{"a time of MaxInt64", "kv", `{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "indeterminate": true}
{"client": 2, "op": "get", "key": "x", "call": 10, "return": 9223372036854775807, "found": true, "got": "a", "mod": 2, "create": 2, "version": 1}`,
			"line 2: field return: 9223372036854775807 is out of range (times must be below 2^62 ns"},
		{"a duration past 2^62 ns", "register", `{"op": "write", "value": 1, "call": "2000000h", "return": "2000000h"}`,
			`line 1: field call: "2000000h" is out of range`},
		{"a repeated field", "kv", put + "\n" + `{"client": 2, "op": "get", "key": "x", "key": "y", "call": "2ms", "return": "3ms"}`,
			"line 2: field key: given twice"},
		{"invalid UTF-8", "kv", put + "\n" + "{\"client\": 2, \"op\": \"put\", \"key\": \"x\", \"value\": \"\xff\", \"call\": \"2ms\", \"return\": \"3ms\", \"revision\": 3}",
			"line 2: field value: not valid UTF-8"},
		{"an unpaired surrogate", "register", `{"op": "write", "value": "\udfff", "call": 0, "return": 1}`,
			`line 1: field value: unpaired surrogate escape \udfff`},
		{"a repeated initial line", "kv", `{"initial": true, "key": "x"}` + "\n" + put + "\n" + `{"initial": true, "key": "x", "value": "a", "mod": 1, "create": 1, "version": 1}`,
			`line 3: field key: a second initial line for key "x" (the first is line 1)`},
		{"a malformed initial line", "kv", `{"initial": true, "key": "x", "value": "a", "mod": 3, "create": 2, "version": 1}`,
			"line 1: field version: 1 means the key's last write created it"},
		{"an op field on an initial line", "register", `{"initial": true, "value": 1, "call": 0}`,
			"line 1: field call: not used by an initial line"},
		{"return null on a completed op", "kv", `{"op": "get", "key": "x", "call": 0, "return": null}`,
			"line 1: field return: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h.jsonl")
			if err := os.WriteFile(path, []byte(tc.text+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errs := hasim(t, "check", "--model", tc.model, path)
			if code != 2 || !strings.Contains(errs, path+": "+tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errs, tc.want)
			}
		})
	}
}

// null is a field left out: "return": null on an op that need not return
// is taken (it used to be a "bad duration").
func TestCheckNulls(t *testing.T) {
	for _, tc := range []struct{ model, text string }{
		{"kv", `{"client": 1, "op": "put", "key": "x", "value": "a", "call": "0s", "return": null, "indeterminate": true, "revision": null}
{"client": 2, "op": "get", "key": "x", "call": "1ms", "return": "2ms", "found": true, "got": "a", "mod": 2, "create": 2, "version": 1, "revision": null}
{"client": 2, "op": "get", "key": "x", "call": "3ms", "return": null, "failed": true}`},
		{"register", `{"client": 0, "op": "write", "value": 1, "call": 0, "return": null, "indeterminate": true}
{"client": 1, "op": "read", "call": 1, "return": null, "value": null, "indeterminate": true}
{"client": 2, "op": "read", "call": 2, "return": 3, "value": 1, "key": null}`},
	} {
		path := filepath.Join(t.TempDir(), "h.jsonl")
		if err := os.WriteFile(path, []byte(tc.text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := hasim(t, "check", "--model", tc.model, path)
		if code != 0 || !strings.Contains(out, "ok       linearizability  linearizable: ") {
			t.Errorf("%s: exit %d\n%s%s", tc.model, code, out, errs)
		}
	}
}
