package checkers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReadKVHistory reads a history file of the kv model (for CheckLinearizable
// and `hasim check --model kv`); ReadRegisterHistory reads one of the
// register model (for CheckRegister and `hasim check --model register`).
// Both reject bad input with an error that names the line and the field.
//
// # History files
//
// A history file holds one operation per line, as a JSON object ("JSON
// lines"), in any order. Blank lines and lines whose first non-blank
// character is # are comments.
//
// Every operation has these fields:
//
//   - "op": what it did (the model's operations, below). Required.
//   - "client": who called it, an integer ≥ 0 (default 0): a client or a
//     Jepsen process.
//   - "call": when it was called. Required.
//   - "return": when it returned. Required unless the op is indeterminate
//     or failed (then it is optional and not judged).
//   - "indeterminate": true when the outcome is unknown (a write that timed
//     out; Jepsen's :info): the op may have taken effect at any time after
//     its call, or never. It has no outputs.
//   - "failed": true when the op certainly had no effect (a refused
//     connection, a read that timed out; Jepsen's :fail). It is ignored by
//     the checker, and has no outputs.
//
// Times are either integers, in nanoseconds (1500000000), or Go duration
// strings ("1.5s", "250ms", "1m2.5s", "90us"), counted from any fixed
// origin; they are never negative, and a return is never before its call.
// Intervals are closed: ops that touch at an instant are concurrent.
//
// An unknown field is an error, and so is a field the op does not use, or
// an output of an indeterminate or failed op.
//
// # The kv model
//
// Single-key operations of an etcd-like store. "key" (a non-empty string)
// is required; keys are independent of one another.
//
//   - get: outputs "found" (default false) and, when found, "got" (the
//     value, default ""), "mod", "create" (the key's mod and create
//     revisions) and "version", integers > 0.
//   - put: input "value" (default ""); output "revision", the revision the
//     put created (> 0, required).
//   - delete: outputs "deleted" (0 or 1, default 0) and "revision", the
//     revision the delete created (required when deleted is 1).
//   - cas: inputs "expect_mod" (the mod revision the key must have; 0, the
//     default, means the key must not exist) and "value"; outputs
//     "succeeded" (default false) and, on success, "revision" (required);
//     on failure the key as a get would read it ("found", "got", "mod",
//     "create", "version").
//
// "revision" may also be given on a get, on a delete that removed nothing
// and on a failed cas (the response header's revision); it is not judged
// there. Example:
//
//	{"client": 1, "op": "put", "key": "x", "value": "a", "call": "1s", "return": "1.2s", "revision": 5}
//	{"client": 2, "op": "get", "key": "x", "call": 1300000000, "return": 1400000000, "found": true, "got": "a", "mod": 5, "create": 5, "version": 1}
//	{"client": 3, "op": "cas", "key": "x", "expect_mod": 5, "value": "b", "call": "1.1s", "indeterminate": true}
//
// # The register model
//
// Jepsen-style read, write and compare-and-set on a register that starts
// out empty. "key" is optional: ops with different keys act on independent
// registers. Values are strings; a JSON number is taken as its text (7 and
// "7" are the same value).
//
//   - write: input "value" (required).
//   - read: output "value"; absent or null when the register was empty
//     (never written).
//   - cas: inputs "from" and "to" (required); output "ok" (default false):
//     true when the register held from and now holds to, false when it did
//     not hold from (Jepsen's :fail of a cas is "ok": false, not "failed").
//
// Example:
//
//	{"client": 0, "op": "write", "value": "1", "call": 0, "return": 10}
//	{"client": 1, "op": "cas", "from": "1", "to": "2", "call": 5, "return": 15, "ok": true}
//	{"client": 2, "op": "read", "call": 20, "return": 30, "value": "2"}
func ReadKVHistory(r io.Reader) ([]KVOp, error) {
	var ops []KVOp
	err := readHistLines(r, func(l *histLine) error {
		op, err := parseKVOp(l)
		if err != nil {
			return err
		}
		ops = append(ops, op)
		return nil
	})
	return ops, err
}

// ReadRegisterHistory reads a history file of the register model: see
// ReadKVHistory for the format.
func ReadRegisterHistory(r io.Reader) ([]RegisterOp, error) {
	var ops []RegisterOp
	err := readHistLines(r, func(l *histLine) error {
		op, err := parseRegisterOp(l)
		if err != nil {
			return err
		}
		ops = append(ops, op)
		return nil
	})
	return ops, err
}

// HistoryError is a bad line of a history file.
type HistoryError struct {
	Line  int
	Field string // "" when the line as a whole is bad
	Msg   string
}

func (e *HistoryError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Msg)
}

// histLine is one object of a history file.
type histLine struct {
	n      int
	fields map[string]json.RawMessage
}

func (l *histLine) errf(field, format string, args ...any) error {
	return &HistoryError{Line: l.n, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (l *histLine) has(field string) bool {
	_, ok := l.fields[field]
	return ok
}

func (l *histLine) isNull(field string) bool {
	return string(l.fields[field]) == "null"
}

func readHistLines(r io.Reader, each func(*histLine) error) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if t := strings.TrimSpace(text); t != "" && !strings.HasPrefix(t, "#") {
			l := &histLine{n: n}
			dec := json.NewDecoder(strings.NewReader(t))
			dec.UseNumber()
			if derr := dec.Decode(&l.fields); derr != nil || l.fields == nil {
				msg := "not a JSON object"
				if derr != nil {
					msg += ": " + derr.Error()
				}
				return &HistoryError{Line: n, Msg: msg}
			}
			if dec.More() {
				return &HistoryError{Line: n, Msg: "more than one JSON value on the line"}
			}
			if perr := each(l); perr != nil {
				return perr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// checkFields rejects fields outside allowed, in name order.
func (l *histLine) checkFields(allowed map[string]bool) error {
	names := make([]string, 0, len(l.fields))
	for k := range l.fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowed[k] {
			return &HistoryError{Line: l.n, Field: k, Msg: "unknown field"}
		}
	}
	return nil
}

// notUsed rejects fields that this op does not use.
func (l *histLine) notUsed(what string, fields ...string) error {
	for _, f := range fields {
		if l.has(f) {
			return l.errf(f, "not used by %s", what)
		}
	}
	return nil
}

func (l *histLine) str(field string) (string, error) {
	raw, ok := l.fields[field]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", l.errf(field, "want a string, got %s", raw)
	}
	return s, nil
}

// value is a string, or a number taken as its text.
func (l *histLine) value(field string) (string, error) {
	raw, ok := l.fields[field]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&num); err == nil {
		return num.String(), nil
	}
	return "", l.errf(field, "want a string or a number, got %s", raw)
}

func (l *histLine) integer(field string) (int64, error) {
	raw, ok := l.fields[field]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, l.errf(field, "want an integer, got %s", raw)
	}
	return n, nil
}

func (l *histLine) boolean(field string) (bool, error) {
	raw, ok := l.fields[field]
	if !ok {
		return false, nil
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, l.errf(field, "want true or false, got %s", raw)
}

func (l *histLine) duration(field string) (time.Duration, error) {
	raw := l.fields[field]
	var d time.Duration
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, l.errf(field, "bad duration %q (want nanoseconds as an integer, or a Go duration such as \"1.5s\")", s)
		}
	} else {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return 0, l.errf(field, "bad duration %s (want nanoseconds as an integer, or a Go duration such as \"1.5s\")", raw)
		}
		d = time.Duration(n)
	}
	if d < 0 {
		return 0, l.errf(field, "negative duration %s", d)
	}
	return d, nil
}

// histCommon holds the fields every op has.
type histCommon struct {
	client                int
	start, end            time.Duration
	indeterminate, failed bool
}

func (l *histLine) commonFields() (histCommon, error) {
	var c histCommon
	client, err := l.integer("client")
	if err != nil {
		return c, err
	}
	if client < 0 || client > 1<<31-1 {
		return c, l.errf("client", "want an integer ≥ 0, got %d", client)
	}
	c.client = int(client)
	if c.indeterminate, err = l.boolean("indeterminate"); err != nil {
		return c, err
	}
	if c.failed, err = l.boolean("failed"); err != nil {
		return c, err
	}
	if c.indeterminate && c.failed {
		return c, l.errf("failed", "an op cannot be both indeterminate and failed")
	}
	if !l.has("call") {
		return c, l.errf("call", "missing")
	}
	if c.start, err = l.duration("call"); err != nil {
		return c, err
	}
	if !l.has("return") {
		if !c.indeterminate && !c.failed {
			return c, l.errf("return", "missing (only indeterminate and failed ops may lack one)")
		}
		return c, nil
	}
	if c.end, err = l.duration("return"); err != nil {
		return c, err
	}
	if c.end < c.start {
		return c, l.errf("return", "%s is before the call at %s", c.end, c.start)
	}
	return c, nil
}

// noOutputs rejects outputs on an op that has none.
func (l *histLine) noOutputs(c histCommon, outputs ...string) error {
	if !c.indeterminate && !c.failed {
		return nil
	}
	what := "an indeterminate"
	if c.failed {
		what = "a failed"
	}
	for _, f := range outputs {
		if l.has(f) {
			return l.errf(f, "%s op has no outputs", what)
		}
	}
	return nil
}

var kvHistFields = map[string]bool{
	"client": true, "op": true, "key": true, "value": true, "expect_mod": true,
	"call": true, "return": true, "indeterminate": true, "failed": true,
	"revision": true, "succeeded": true, "found": true, "got": true,
	"mod": true, "create": true, "version": true, "deleted": true,
}

// opKind checks a line's fields against the model's and returns its
// (required) "op".
func (l *histLine) opKind(allowed map[string]bool) (string, error) {
	if err := l.checkFields(allowed); err != nil {
		return "", err
	}
	if !l.has("op") {
		return "", l.errf("op", "missing")
	}
	return l.str("op")
}

var kvHistReadFields = []string{"found", "got", "mod", "create", "version"}

func parseKVOp(l *histLine) (KVOp, error) {
	var op KVOp
	kind, err := l.opKind(kvHistFields)
	if err != nil {
		return op, err
	}
	op.Kind = KVKind(kind)
	switch op.Kind {
	case KVGet, KVPut, KVDelete, KVCas:
	default:
		return op, l.errf("op", "unknown op %q (want get, put, delete or cas)", kind)
	}
	if op.Key, err = l.str("key"); err != nil {
		return op, err
	}
	if op.Key == "" {
		return op, l.errf("key", "missing")
	}
	c, err := l.commonFields()
	if err != nil {
		return op, err
	}
	op.Client, op.Start, op.End, op.Indeterminate, op.Failed = c.client, c.start, c.end, c.indeterminate, c.failed

	// Which fields this kind uses.
	var unused, outputs []string
	switch op.Kind {
	case KVGet:
		unused = []string{"value", "expect_mod", "succeeded", "deleted"}
		outputs = append([]string{"revision"}, kvHistReadFields...)
	case KVPut:
		unused = append([]string{"expect_mod", "succeeded", "deleted"}, kvHistReadFields...)
		outputs = []string{"revision"}
	case KVDelete:
		unused = append([]string{"value", "expect_mod", "succeeded"}, kvHistReadFields...)
		outputs = []string{"deleted", "revision"}
	case KVCas:
		unused = []string{"deleted"}
		outputs = append([]string{"succeeded", "revision"}, kvHistReadFields...)
	}
	if err := l.notUsed(kind, unused...); err != nil {
		return op, err
	}
	if err := l.noOutputs(c, outputs...); err != nil {
		return op, err
	}
	if op.Value, err = l.str("value"); err != nil {
		return op, err
	}
	if op.ExpectMod, err = l.integer("expect_mod"); err != nil {
		return op, err
	}
	if op.ExpectMod < 0 {
		return op, l.errf("expect_mod", "negative (%d)", op.ExpectMod)
	}
	if op.Revision, err = l.integer("revision"); err != nil {
		return op, err
	}
	if op.Deleted, err = l.integer("deleted"); err != nil {
		return op, err
	}
	if op.Succeeded, err = l.boolean("succeeded"); err != nil {
		return op, err
	}
	if op.Found, err = l.boolean("found"); err != nil {
		return op, err
	}
	if op.Got, err = l.str("got"); err != nil {
		return op, err
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"mod", &op.Mod}, {"create", &op.Create}, {"version", &op.Version}} {
		if *f.dst, err = l.integer(f.name); err != nil {
			return op, err
		}
	}
	if op.Kind == KVCas && op.Succeeded {
		if err := l.notUsed("a successful cas (it reads nothing)", kvHistReadFields...); err != nil {
			return op, err
		}
	}
	if (op.Kind == KVGet || op.Kind == KVCas && !op.Succeeded) && !op.Found {
		for _, f := range kvHistReadFields[1:] {
			raw := string(l.fields[f])
			if l.has(f) && raw != "0" && raw != `""` {
				return op, l.errf(f, "the key was not found, so it has no %s", f)
			}
		}
	}
	if err := op.validate(); err != nil {
		return op, l.errf(err.field, "%s", err.msg)
	}
	return op, nil
}

var regHistFields = map[string]bool{
	"client": true, "op": true, "key": true, "value": true, "from": true, "to": true, "ok": true,
	"call": true, "return": true, "indeterminate": true, "failed": true,
}

func parseRegisterOp(l *histLine) (RegisterOp, error) {
	var op RegisterOp
	kind, err := l.opKind(regHistFields)
	if err != nil {
		return op, err
	}
	op.Kind = RegisterKind(kind)
	if op.Key, err = l.str("key"); err != nil {
		return op, err
	}
	c, err := l.commonFields()
	if err != nil {
		return op, err
	}
	op.Client, op.Start, op.End, op.Indeterminate, op.Failed = c.client, c.start, c.end, c.indeterminate, c.failed
	switch op.Kind {
	case RegisterRead:
		if err := l.notUsed(kind, "from", "to", "ok"); err != nil {
			return op, err
		}
		if err := l.noOutputs(c, "value"); err != nil {
			return op, err
		}
		if !l.has("value") || l.isNull("value") {
			op.None = !c.indeterminate && !c.failed
		} else if op.Value, err = l.value("value"); err != nil {
			return op, err
		}
	case RegisterWrite:
		if err := l.notUsed(kind, "from", "to", "ok"); err != nil {
			return op, err
		}
		if !l.has("value") || l.isNull("value") {
			return op, l.errf("value", "missing (what the write writes)")
		}
		if op.Value, err = l.value("value"); err != nil {
			return op, err
		}
	case RegisterCas:
		if err := l.notUsed(kind, "value"); err != nil {
			return op, err
		}
		if err := l.noOutputs(c, "ok"); err != nil {
			return op, err
		}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"from", &op.From}, {"to", &op.To}} {
			if f.name == "from" && l.has("from") && l.isNull("from") {
				op.FromNone = true // a create: the register must be empty
				continue
			}
			if !l.has(f.name) || l.isNull(f.name) {
				return op, l.errf(f.name, "missing")
			}
			if *f.dst, err = l.value(f.name); err != nil {
				return op, err
			}
		}
		if op.OK, err = l.boolean("ok"); err != nil {
			return op, err
		}
	default:
		return op, l.errf("op", "unknown op %q (want read, write or cas)", kind)
	}
	if err := op.validate(); err != nil {
		return op, l.errf(err.field, "%s", err.msg)
	}
	return op, nil
}

// field is one name/value pair of a line being written.
type histField struct {
	name  string
	value any
}

func writeHistLine(w io.Writer, fs []histField) error {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		name, _ := json.Marshal(f.name)
		val, err := json.Marshal(f.value)
		if err != nil {
			return err
		}
		b.Write(name)
		b.WriteString(": ")
		b.Write(val)
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// times appends call and return (return only when meaningful).
func histTimes(fs []histField, start, end time.Duration, completed bool) []histField {
	fs = append(fs, histField{"call", start.String()})
	if completed || end >= start {
		fs = append(fs, histField{"return", end.String()})
	}
	return fs
}

// WriteKVHistory writes ops as a history file of the kv model (see
// ReadKVHistory), times as Go duration strings. Outputs of indeterminate
// and failed ops are left out. An op that CheckLinearizable could not judge
// is an error.
func WriteKVHistory(w io.Writer, ops []KVOp) error {
	for i, op := range ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("op #%d (%s): %v", i, op, err)
		}
		fs := []histField{{"client", op.Client}, {"op", op.Kind}, {"key", op.Key}}
		switch op.Kind {
		case KVPut:
			fs = append(fs, histField{"value", op.Value})
		case KVCas:
			fs = append(fs, histField{"expect_mod", op.ExpectMod}, histField{"value", op.Value})
		}
		completed := !op.Indeterminate && !op.Failed
		fs = histTimes(fs, op.Start, op.End, completed)
		switch {
		case op.Indeterminate:
			fs = append(fs, histField{"indeterminate", true})
		case op.Failed:
			fs = append(fs, histField{"failed", true})
		}
		if completed {
			read := func() {
				fs = append(fs, histField{"found", op.Found})
				if op.Found {
					fs = append(fs, histField{"got", op.Got}, histField{"mod", op.Mod}, histField{"create", op.Create}, histField{"version", op.Version})
				}
			}
			switch op.Kind {
			case KVGet:
				read()
			case KVDelete:
				fs = append(fs, histField{"deleted", op.Deleted})
			case KVCas:
				fs = append(fs, histField{"succeeded", op.Succeeded})
				if !op.Succeeded {
					read()
				}
			}
			if op.Revision != 0 {
				fs = append(fs, histField{"revision", op.Revision})
			}
		}
		if err := writeHistLine(w, fs); err != nil {
			return err
		}
	}
	return nil
}

// WriteRegisterHistory writes ops as a history file of the register model
// (see ReadKVHistory), times as Go duration strings. Outputs of
// indeterminate and failed ops are left out.
func WriteRegisterHistory(w io.Writer, ops []RegisterOp) error {
	for i, op := range ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("op #%d (%s): %v", i, op, err)
		}
		fs := []histField{{"client", op.Client}, {"op", op.Kind}}
		if op.Key != "" {
			fs = append(fs, histField{"key", op.Key})
		}
		completed := !op.Indeterminate && !op.Failed
		switch op.Kind {
		case RegisterWrite:
			fs = append(fs, histField{"value", op.Value})
		case RegisterCas:
			var from any = op.From
			if op.FromNone {
				from = nil
			}
			fs = append(fs, histField{"from", from}, histField{"to", op.To})
		}
		fs = histTimes(fs, op.Start, op.End, completed)
		switch {
		case op.Indeterminate:
			fs = append(fs, histField{"indeterminate", true})
		case op.Failed:
			fs = append(fs, histField{"failed", true})
		}
		if completed {
			switch op.Kind {
			case RegisterRead:
				if op.None {
					fs = append(fs, histField{"value", nil})
				} else {
					fs = append(fs, histField{"value", op.Value})
				}
			case RegisterCas:
				fs = append(fs, histField{"ok", op.OK})
			}
		}
		if err := writeHistLine(w, fs); err != nil {
			return err
		}
	}
	return nil
}
