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
	"unicode/utf16"
	"unicode/utf8"
)

// ReadKVHistory reads the ops of a history file of the kv model whose keys
// all start absent (for CheckLinearizable), and ReadRegisterHistory those
// of one of the register model whose registers all start empty (for
// CheckRegister): a file with initial lines is an error. ReadKVHistoryFile
// and ReadRegisterHistoryFile read any history file, initial lines
// included (for CheckLinearizableFrom and CheckRegisterFrom, and `hasim
// check`). All reject bad input with an error that names the line and the
// field.
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
// Intervals are closed: ops that touch at an instant are concurrent. Times
// and every other integer (revisions, versions) must be below 2^62 (about
// 146 years of nanoseconds), so that nothing the checker computes from
// them can overflow.
//
// A field given as null is the same as a field left out (so a required
// field that is null is missing), except a register cas's "from", where
// null expects an empty register. An unknown field is an error, and so is
// a field the op does not use, an output of an indeterminate or failed op,
// a field given twice on one line, and a string or field name that is not
// valid UTF-8 or holds an unpaired surrogate escape such as "\ud800"
// (encoding/json would silently turn either into U+FFFD, merging distinct
// values).
//
// # Initial state
//
// Keys start absent (registers empty). A history recorded against a store
// that already held data says what a key held before the first op with an
// initial line, which has "initial": true and no op fields:
//
//	{"initial": true, "key": "x", "value": "a", "mod": 3, "create": 2, "version": 2}
//	{"initial": true, "key": "y"}
//	{"initial": true, "key": "r", "value": "7"}
//
// For the kv model, the first line says that key x exists, holding "a"
// (default "") with mod and create revisions 3 and 2 and version 2
// (integers > 0, required when the key exists, and as a get would report
// them: version 1 means create = mod, a later version create < mod); the
// second, with no value, mod, create or version, that y starts absent. For
// the register model, "key" is optional as on ops, and "value" (a string
// or a number, as for a write) is what the register holds; absent or null,
// the register starts empty. A key has at most one initial line.
//
// A key without an initial line starts absent, so an op that finds it
// existing before any op could have created it means the history lacks its
// initial state: ReadKVHistoryFile and ReadRegisterHistoryFile report that
// (naming the op's line and the key) rather than let it be judged a
// linearizability violation. That is: a get or failed cas found the key, a
// cas with a nonzero expect_mod succeeded, or a delete removed it, and no
// put and no cas with expect_mod 0 that succeeded or is indeterminate was
// called on the key before that op returned; for the register model, a
// read returned a value, a cas from a value succeeded or a cas from null
// failed, and no write and no cas from null that succeeded or is
// indeterminate was called on the register before. A history whose key
// really started absent says so with an initial line, and is then judged
// (as a violation). Failed ops are no evidence either way.
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
// out empty (unless an initial line says otherwise). "key" is optional: ops
// with different keys act on independent registers. Values are strings; a
// JSON number is taken as its text (7 and "7" are the same value).
//
//   - write: input "value" (required).
//   - read: output "value"; absent or null when the register was empty.
//   - cas: inputs "from" and "to" (required; "from": null expects an empty
//     register); output "ok" (default false): true when the register held
//     from and now holds to, false when it did not hold from (Jepsen's
//     :fail of a cas is "ok": false, not "failed").
//
// Example:
//
//	{"client": 0, "op": "write", "value": "1", "call": 0, "return": 10}
//	{"client": 1, "op": "cas", "from": "1", "to": "2", "call": 5, "return": 15, "ok": true}
//	{"client": 2, "op": "read", "call": 20, "return": 30, "value": "2"}
func ReadKVHistory(r io.Reader) ([]KVOp, error) {
	h, err := readKVHistory(r, false)
	return h.Ops, err
}

// ReadKVHistoryFile reads a history file of the kv model, initial lines
// included: see ReadKVHistory for the format. An op that shows a key
// without an initial line existing before any op could have created it is
// an error, naming the op's line.
func ReadKVHistoryFile(r io.Reader) (KVHistory, error) {
	return readKVHistory(r, true)
}

func readKVHistory(r io.Reader, withInitial bool) (KVHistory, error) {
	var h KVHistory
	var opLines []int
	initialLines := map[string]int{}
	err := readHistLines(r, func(l *histLine) error {
		initial, err := l.boolean("initial")
		if err != nil {
			return err
		}
		if initial {
			if !withInitial {
				return l.errf("initial", "not taken here: every key of this history starts absent (ReadKVHistoryFile reads initial lines)")
			}
			in, err := parseKVInitial(l)
			if err != nil {
				return err
			}
			if err := l.firstInitial(initialLines, in.Key, "key "+strconv.Quote(in.Key)); err != nil {
				return err
			}
			h.Initial = append(h.Initial, in)
			return nil
		}
		op, err := parseKVOp(l)
		if err != nil {
			return err
		}
		h.Ops = append(h.Ops, op)
		opLines = append(opLines, l.n)
		return nil
	})
	if err == nil && withInitial {
		err = kvMissingInitial(h, opLines)
	}
	if err != nil {
		return KVHistory{}, err
	}
	return h, nil
}

// KVHistory is a history file of the kv model.
type KVHistory struct {
	// Initial holds the file's initial lines, in file order: the state of
	// keys before the first op. Other keys start absent.
	Initial []KVInitial
	Ops     []KVOp
}

// RegisterHistory is a history file of the register model.
type RegisterHistory struct {
	// Initial holds the file's initial lines, in file order: what
	// registers hold before the first op. Other registers start empty.
	Initial []RegisterInitial
	Ops     []RegisterOp
}

// ReadRegisterHistory reads the ops of a history file of the register
// model whose registers all start empty: see ReadKVHistory for the format.
func ReadRegisterHistory(r io.Reader) ([]RegisterOp, error) {
	h, err := readRegisterHistory(r, false)
	return h.Ops, err
}

// ReadRegisterHistoryFile reads a history file of the register model,
// initial lines included: see ReadKVHistory for the format. An op that
// shows a register without an initial line holding a value before any op
// could have written one is an error, naming the op's line.
func ReadRegisterHistoryFile(r io.Reader) (RegisterHistory, error) {
	return readRegisterHistory(r, true)
}

func readRegisterHistory(r io.Reader, withInitial bool) (RegisterHistory, error) {
	var h RegisterHistory
	var opLines []int
	initialLines := map[string]int{}
	err := readHistLines(r, func(l *histLine) error {
		initial, err := l.boolean("initial")
		if err != nil {
			return err
		}
		if initial {
			if !withInitial {
				return l.errf("initial", "not taken here: every register of this history starts empty (ReadRegisterHistoryFile reads initial lines)")
			}
			in, err := parseRegisterInitial(l)
			if err != nil {
				return err
			}
			if err := l.firstInitial(initialLines, in.Key, regName(in.Key)); err != nil {
				return err
			}
			h.Initial = append(h.Initial, in)
			return nil
		}
		op, err := parseRegisterOp(l)
		if err != nil {
			return err
		}
		h.Ops = append(h.Ops, op)
		opLines = append(opLines, l.n)
		return nil
	})
	if err == nil && withInitial {
		err = regMissingInitial(h, opLines)
	}
	if err != nil {
		return RegisterHistory{}, err
	}
	return h, nil
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

// histLimit bounds times and integers: 2^62 leaves room for the sums and
// comparisons the checker makes (an indeterminate op returns one past the
// latest time; a write of unknown revision is one past the last).
const histLimit = 1 << 62

// MaxHistoryTime bounds the times the linearizability checkers judge (the
// history readers reject later ones; a checker called directly says
// unknown).
const MaxHistoryTime = time.Duration(histLimit)

// histLine is one object of a history file.
type histLine struct {
	n      int
	fields map[string]json.RawMessage // given and not null
	nulls  map[string]bool            // given as null
}

func (l *histLine) errf(field, format string, args ...any) error {
	return &HistoryError{Line: l.n, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// has reports whether the field is given, and not as null.
func (l *histLine) has(field string) bool {
	_, ok := l.fields[field]
	return ok
}

func (l *histLine) isNull(field string) bool {
	return l.nulls[field]
}

func readHistLines(r io.Reader, each func(*histLine) error) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if t := strings.TrimSpace(text); t != "" && !strings.HasPrefix(t, "#") {
			l, perr := parseHistObject(n, t)
			if perr != nil {
				return perr
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

// parseHistObject parses one line's object field by field, rather than
// into a map with json.Unmarshal, which keeps the last of repeated fields
// and replaces invalid UTF-8 without a word.
func parseHistObject(n int, t string) (*histLine, error) {
	l := &histLine{n: n, fields: map[string]json.RawMessage{}, nulls: map[string]bool{}}
	bad := func(err error) error {
		msg := "not a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return &HistoryError{Line: n, Msg: msg}
	}
	dec := json.NewDecoder(strings.NewReader(t))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad(err)
	}
	for dec.More() {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, bad(nil)
		}
		// The name as written (with the comma before it): Token has
		// already replaced what is not valid.
		if msg := jsonTextProblem([]byte(t[from:dec.InputOffset()])); msg != "" {
			return nil, &HistoryError{Line: n, Msg: fmt.Sprintf("field name %q: %s", name, msg)}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad(err)
		}
		if l.has(name) || l.isNull(name) {
			return nil, l.errf(name, "given twice (a field appears at most once per line)")
		}
		if msg := jsonTextProblem(raw); msg != "" {
			return nil, l.errf(name, "%s", msg)
		}
		if string(raw) == "null" {
			l.nulls[name] = true
		} else {
			l.fields[name] = raw
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bad(err)
	}
	switch _, err := dec.Token(); {
	case err == nil:
		return nil, &HistoryError{Line: n, Msg: "more than one JSON value on the line"}
	case !errors.Is(err, io.EOF):
		return nil, &HistoryError{Line: n, Msg: "text after the JSON object: " + err.Error()}
	}
	return l, nil
}

// jsonTextProblem says what in syntactically valid JSON text encoding/json
// would silently change: bytes that are not UTF-8, and \u escapes of
// surrogates that do not pair (both decode as U+FFFD). "" when none.
func jsonTextProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "not valid UTF-8"
	}
	// Backslashes only occur in strings, each starting an escape.
	hex := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		if !ok {
			i++ // a one-character escape; skip it (it may be a backslash)
			continue
		}
		esc := string(raw[i : i+6])
		i += 5
		if !utf16.IsSurrogate(r) {
			continue
		}
		low, ok := hex(i + 1)
		if r >= 0xdc00 || !ok || utf16.DecodeRune(r, low) == utf8.RuneError {
			return fmt.Sprintf("unpaired surrogate escape %s (not a character)", esc)
		}
		i += 6
	}
	return ""
}

// checkFields rejects fields outside allowed, in name order.
func (l *histLine) checkFields(allowed map[string]bool) error {
	names := make([]string, 0, len(l.fields)+len(l.nulls))
	for k := range l.fields {
		names = append(names, k)
	}
	for k := range l.nulls {
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

// onlyUsed rejects fields outside used, in name order.
func (l *histLine) onlyUsed(what string, used ...string) error {
	names := make([]string, 0, len(l.fields))
	for k := range l.fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		found := false
		for _, u := range used {
			found = found || k == u
		}
		if !found {
			return l.errf(k, "not used by %s", what)
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
	if errors.Is(err, strconv.ErrRange) || err == nil && (n >= histLimit || n <= -histLimit) {
		return 0, l.errf(field, "%s is out of range (integers must be below 2^62 in magnitude)", raw)
	}
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

const durationHint = `want nanoseconds as an integer, or a Go duration such as "1.5s"; times are below 2^62 ns`

func (l *histLine) duration(field string) (time.Duration, error) {
	raw := l.fields[field]
	var d time.Duration
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, l.errf(field, "bad duration %q (%s)", s, durationHint)
		}
	} else {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, l.errf(field, "%s is out of range (times must be below 2^62 ns, about 146 years)", raw)
		}
		if err != nil {
			return 0, l.errf(field, "bad duration %s (%s)", raw, durationHint)
		}
		d = time.Duration(n)
	}
	if d < 0 {
		return 0, l.errf(field, "negative duration %s", d)
	}
	if d >= histLimit {
		return 0, l.errf(field, "%s is out of range (times must be below 2^62 ns, about 146 years)", raw)
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

// firstInitial rejects a second initial line for one key; lines records
// the first's.
func (l *histLine) firstInitial(lines map[string]int, key, name string) error {
	if first, dup := lines[key]; dup {
		field := "key"
		if !l.has("key") {
			field = "initial"
		}
		return l.errf(field, "a second initial line for %s (the first is line %d)", name, first)
	}
	lines[key] = l.n
	return nil
}

var kvHistFields = map[string]bool{
	"client": true, "op": true, "key": true, "value": true, "expect_mod": true,
	"call": true, "return": true, "indeterminate": true, "failed": true,
	"revision": true, "succeeded": true, "found": true, "got": true,
	"mod": true, "create": true, "version": true, "deleted": true, "initial": true,
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

const initialLineUse = "an initial line (it gives a key's state before the history, not an op)"

func parseKVInitial(l *histLine) (KVInitial, error) {
	var in KVInitial
	if err := l.checkFields(kvHistFields); err != nil {
		return in, err
	}
	if err := l.onlyUsed(initialLineUse, "initial", "key", "value", "mod", "create", "version"); err != nil {
		return in, err
	}
	var err error
	if in.Key, err = l.str("key"); err != nil {
		return in, err
	}
	if in.Key == "" {
		return in, l.errf("key", "missing")
	}
	// Without any of these, the line says the key starts absent.
	in.Found = l.has("value") || l.has("mod") || l.has("create") || l.has("version")
	if in.Value, err = l.str("value"); err != nil {
		return in, err
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"mod", &in.Mod}, {"create", &in.Create}, {"version", &in.Version}} {
		if in.Found && !l.has(f.name) {
			return in, l.errf(f.name, "missing (a key that exists needs its mod and create revisions and its version; an initial line with none of value, mod, create and version says the key starts absent)")
		}
		if *f.dst, err = l.integer(f.name); err != nil {
			return in, err
		}
	}
	if err := in.validate(); err != nil {
		return in, l.errf(err.field, "%s", err.msg)
	}
	return in, nil
}

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
	"call": true, "return": true, "indeterminate": true, "failed": true, "initial": true,
}

func parseRegisterInitial(l *histLine) (RegisterInitial, error) {
	var in RegisterInitial
	if err := l.checkFields(regHistFields); err != nil {
		return in, err
	}
	if err := l.onlyUsed(initialLineUse, "initial", "key", "value"); err != nil {
		return in, err
	}
	var err error
	if in.Key, err = l.str("key"); err != nil {
		return in, err
	}
	in.None = !l.has("value")
	if in.Value, err = l.value("value"); err != nil {
		return in, err
	}
	return in, nil
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
		if !l.has("value") {
			op.None = !c.indeterminate && !c.failed
		} else if op.Value, err = l.value("value"); err != nil {
			return op, err
		}
	case RegisterWrite:
		if err := l.notUsed(kind, "from", "to", "ok"); err != nil {
			return op, err
		}
		if !l.has("value") {
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
			if f.name == "from" && l.isNull("from") {
				op.FromNone = true // a create: the register must be empty
				continue
			}
			if !l.has(f.name) {
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

// missingInitial is an op that shows its key existing before any op could
// have created it, while the history gives the key no initial state.
type missingInitial struct {
	i     int    // in the ops
	line  int    // of the file
	field string // the output (or input) that shows it
}

// firstMissingInitial finds, among ops on keys without an initial line, those
// that show their key existing (field says where; "" when the op does not)
// although no op that may create the key (creates) was called before they
// returned: from an absent key they cannot linearize, whatever comes
// after. It returns the earliest such op by call time (then line), and
// the other keys with such ops, in order of their earliest.
func firstMissingInitial(n int, lines []int, key func(int) string, stated map[string]bool,
	creates func(int) bool, call, ret func(int) time.Duration, field func(int) string) (missingInitial, []string, bool) {
	firstCreate := map[string]time.Duration{}
	for i := range n {
		if k := key(i); !stated[k] && creates(i) {
			if t, ok := firstCreate[k]; !ok || call(i) < t {
				firstCreate[k] = call(i)
			}
		}
	}
	var found []missingInitial
	for i := range n {
		k := key(i)
		if stated[k] {
			continue
		}
		f := field(i)
		if f == "" {
			continue
		}
		if t, ok := firstCreate[k]; ok && t <= ret(i) {
			continue // it may have created the key first
		}
		found = append(found, missingInitial{i, lines[i], f})
	}
	if len(found) == 0 {
		return missingInitial{}, nil, false
	}
	sort.Slice(found, func(a, b int) bool {
		ca, cb := call(found[a].i), call(found[b].i)
		return ca < cb || ca == cb && found[a].line < found[b].line
	})
	var others []string
	seen := map[string]bool{key(found[0].i): true}
	for _, m := range found[1:] {
		if k := key(m.i); !seen[k] {
			seen[k] = true
			others = append(others, k)
		}
	}
	return found[0], others, true
}

// alsoMissing names the other keys that lack an initial line, if any.
func alsoMissing(others []string, noun string, name func(string) string) string {
	if len(others) == 0 {
		return ""
	}
	var b strings.Builder
	if len(others) == 1 {
		fmt.Fprintf(&b, " (and so does 1 other %s: ", noun)
	} else {
		fmt.Fprintf(&b, " (and so do %d other %ss: ", len(others), noun)
	}
	for i, k := range others {
		if i == 3 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name(k))
	}
	b.WriteString(")")
	return b.String()
}

// histJSON renders fields as a history line, for messages: placeholders
// bare, other values (strings, integers, booleans) as JSON.
func histJSON(fs []histField) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		name, _ := json.Marshal(f.name)
		b.Write(name)
		b.WriteString(": ")
		if p, ok := f.value.(histPlaceholder); ok {
			b.WriteString(string(p))
			continue
		}
		val, err := json.Marshal(f.value)
		if err != nil { // not a plain value: a bug here
			panic(fmt.Sprintf("histJSON: field %s: %v", f.name, err))
		}
		b.Write(val)
	}
	b.WriteByte('}')
	return b.String()
}

// histPlaceholder stands for a value a message cannot know.
type histPlaceholder string

func kvMissingInitial(h KVHistory, lines []int) error {
	stated := map[string]bool{}
	for _, in := range h.Initial {
		stated[in.Key] = true
	}
	ops := h.Ops
	m, others, ok := firstMissingInitial(len(ops), lines, func(i int) string { return ops[i].Key }, stated,
		func(i int) bool {
			o := &ops[i]
			return !o.Failed && (o.Kind == KVPut || o.Kind == KVCas && o.ExpectMod == 0 && (o.Succeeded || o.Indeterminate))
		},
		func(i int) time.Duration { return ops[i].Start },
		func(i int) time.Duration { return ops[i].End },
		func(i int) string {
			o := &ops[i]
			switch {
			case o.Failed || o.Indeterminate:
				return ""
			case (o.Kind == KVGet || o.Kind == KVCas && !o.Succeeded) && o.Found:
				return "found"
			case o.Kind == KVCas && o.Succeeded && o.ExpectMod != 0:
				return "expect_mod"
			case o.Kind == KVDelete && o.Deleted == 1:
				return "deleted"
			}
			return ""
		})
	if !ok {
		return nil
	}
	o := ops[m.i]
	k := strconv.Quote(o.Key)
	// An example initial line: what this op saw, where it saw it (and
	// nothing changed the key before it), placeholders otherwise.
	example := []histField{{"initial", true}, {"key", o.Key}, {"value", histPlaceholder("VALUE")},
		{"mod", histPlaceholder("MOD")}, {"create", histPlaceholder("CREATE")}, {"version", histPlaceholder("VERSION")}}
	var saw string
	switch m.field {
	case "found":
		saw = fmt.Sprintf("found it (%s mod=%d)", strconv.Quote(o.Got), o.Mod)
		example[2].value, example[3].value, example[4].value, example[5].value = o.Got, o.Mod, o.Create, o.Version
	case "expect_mod":
		saw = fmt.Sprintf("succeeded on it at mod %d", o.ExpectMod)
		example[3].value = o.ExpectMod
	default:
		saw = "removed it"
	}
	suggest := "add an initial line with the state it had then, such as " + histJSON(example)
	if m.field != "deleted" {
		suggest += " if nothing changed it before this " + string(o.Kind)
	}
	return &HistoryError{Line: m.line, Field: m.field, Msg: fmt.Sprintf(
		"key %s has no initial line, so it starts absent, yet this %s %s before any op could have created it "+
			"(no put or cas with expect_mod 0 on it is called before this %s returns): the history lacks the key's initial state%s. "+
			"If the store held %s before the history began, %s; if it really started absent, say so with %s, and the check will judge it "+
			"(as a violation: this %s cannot follow from an absent key)",
		k, o.Kind, saw, o.Kind, alsoMissing(others, "key", strconv.Quote), k, suggest,
		histJSON([]histField{{"initial", true}, {"key", o.Key}}), o.Kind)}
}

// regName names a register in messages.
func regName(key string) string {
	if key == "" {
		return "the register"
	}
	return "register " + strconv.Quote(key)
}

func regMissingInitial(h RegisterHistory, lines []int) error {
	stated := map[string]bool{}
	for _, in := range h.Initial {
		stated[in.Key] = true
	}
	ops := h.Ops
	m, others, ok := firstMissingInitial(len(ops), lines, func(i int) string { return ops[i].Key }, stated,
		func(i int) bool {
			o := &ops[i]
			return !o.Failed && (o.Kind == RegisterWrite || o.Kind == RegisterCas && o.FromNone && (o.OK || o.Indeterminate))
		},
		func(i int) time.Duration { return ops[i].Start },
		func(i int) time.Duration { return ops[i].End },
		func(i int) string {
			o := &ops[i]
			switch {
			case o.Failed || o.Indeterminate:
				return ""
			case o.Kind == RegisterRead && !o.None:
				return "value"
			case o.Kind == RegisterCas && !o.FromNone && o.OK:
				return "from"
			case o.Kind == RegisterCas && o.FromNone && !o.OK:
				return "ok"
			}
			return ""
		})
	if !ok {
		return nil
	}
	o := ops[m.i]
	name := regName(o.Key)
	base := []histField{{"initial", true}}
	if o.Key != "" {
		base = append(base, histField{"key", o.Key})
	}
	var saw string
	var v any = histPlaceholder("VALUE")
	switch m.field {
	case "value":
		saw, v = "returned "+strconv.Quote(o.Value), o.Value
	case "from":
		saw, v = fmt.Sprintf("from %s succeeded", strconv.Quote(o.From)), o.From
	default:
		saw = "from null failed"
	}
	suggest := "add an initial line with that value, such as " + histJSON(append(base, histField{"value", v}))
	if m.field != "ok" {
		suggest += " if nothing changed it before this " + string(o.Kind)
	}
	return &HistoryError{Line: m.line, Field: m.field, Msg: fmt.Sprintf(
		"%s has no initial line, so it starts empty, yet this %s %s before any op could have written it "+
			"(no write or cas from null on it is called before this %s returns): the history lacks its initial value%s. "+
			"If it held a value before the history began, %s; if it really started empty, say so with %s, and the check will judge it "+
			"(as a violation: this %s cannot follow from an empty register)",
		name, o.Kind, saw, o.Kind, alsoMissing(others, "register", regName), suggest, histJSON(base), o.Kind)}
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

// histWritable rejects what a reader would: times out of range, and text
// that is not UTF-8 (json.Marshal would replace it).
func histWritable(start, end time.Duration, texts ...string) error {
	if start >= histLimit || end >= histLimit {
		return fmt.Errorf("a time is out of range (times must be below 2^62 ns)")
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%q is not valid UTF-8", s)
		}
	}
	return nil
}

// WriteKVHistory writes ops as a history file of the kv model (see
// ReadKVHistory), times as Go duration strings. Outputs of indeterminate
// and failed ops are left out. An op that CheckLinearizable could not
// judge, or that ReadKVHistory would reject, is an error.
func WriteKVHistory(w io.Writer, ops []KVOp) error {
	return WriteKVHistoryFile(w, KVHistory{Ops: ops})
}

// WriteKVHistoryFile writes h as WriteKVHistory does, its initial lines
// first.
func WriteKVHistoryFile(w io.Writer, h KVHistory) error {
	seen := map[string]bool{}
	for i, in := range h.Initial {
		if err := in.validate(); err != nil {
			return fmt.Errorf("initial state #%d (%s): %v", i, in, err)
		}
		if seen[in.Key] {
			return fmt.Errorf("initial state #%d (%s): a second one for the key", i, in)
		}
		seen[in.Key] = true
		if err := histWritable(0, 0, in.Key, in.Value); err != nil {
			return fmt.Errorf("initial state #%d (%s): %v", i, in, err)
		}
		fs := []histField{{"initial", true}, {"key", in.Key}}
		if in.Found {
			fs = append(fs, histField{"value", in.Value}, histField{"mod", in.Mod}, histField{"create", in.Create}, histField{"version", in.Version})
		}
		if err := writeHistLine(w, fs); err != nil {
			return err
		}
	}
	for i, op := range h.Ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("op #%d (%s): %v", i, op, err)
		}
		if err := histWritable(op.Start, op.End, op.Key, op.Value, op.Got); err != nil {
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
	return WriteRegisterHistoryFile(w, RegisterHistory{Ops: ops})
}

// WriteRegisterHistoryFile writes h as WriteRegisterHistory does, its
// initial lines first.
func WriteRegisterHistoryFile(w io.Writer, h RegisterHistory) error {
	seen := map[string]bool{}
	for i, in := range h.Initial {
		if seen[in.Key] {
			return fmt.Errorf("initial state #%d (%s): a second one for the register", i, in)
		}
		seen[in.Key] = true
		if in.None && in.Value != "" {
			return fmt.Errorf("initial state #%d (%s): a register that starts empty has no value", i, in)
		}
		if err := histWritable(0, 0, in.Key, in.Value); err != nil {
			return fmt.Errorf("initial state #%d (%s): %v", i, in, err)
		}
		fs := []histField{{"initial", true}}
		if in.Key != "" {
			fs = append(fs, histField{"key", in.Key})
		}
		if !in.None {
			fs = append(fs, histField{"value", in.Value})
		}
		if err := writeHistLine(w, fs); err != nil {
			return err
		}
	}
	for i, op := range h.Ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("op #%d (%s): %v", i, op, err)
		}
		if err := histWritable(op.Start, op.End, op.Key, op.Value, op.From, op.To); err != nil {
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
