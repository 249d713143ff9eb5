package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Generic objects: any resource registered with the cluster
// (Config.Resources), such as a user's custom resource, carries
// Kubernetes' object metadata (uid, generateName, labels, annotations,
// ownerReferences, finalizers, creationTimestamp, deletionTimestamp,
// generation) and its spec and status as opaque JSON.
// The API servers treat them as kube-apiserver treats a custom resource
// with the status subresource:
//   - create assigns the uid, the creationTimestamp (the API server's
//     clock) and generation 1, and drops the status; a create with
//     generateName and no name is named by the server (the prefix and
//     five random characters, another draw while the name is in use, up
//     to 7 more, then 409 AlreadyExists);
//   - an update must name the resourceVersion it read (custom resources
//     allow no unconditional update); an update of the object keeps its
//     status, and bumps the generation when the spec changes by value (specs
//     are stored canonical: keys sorted, numbers as written); an update of
//     its status subresource changes the status only;
//   - PATCH takes a JSON merge patch (RFC 7386) of the object or of its
//     status;
//   - DELETE of an object with finalizers only sets its deletionTimestamp
//     (and bumps its generation); no finalizer may be added to it then,
//     and the update that removes its last finalizer deletes it;
//   - ownerReferences need an apiVersion, kind, name (in the object's
//     namespace) and uid, and at most one is the controller (their
//     blockOwnerDeletion is kept; it matters to foreground deletion only,
//     which the model does not have); labels, annotation keys and
//     finalizers are checked too; validation failures answer 422;
//   - LIST takes a label selector.
//
// Objects in responses and watch events are deep copies: receivers share
// nothing with the server's cache (an informer's store is shared with its
// caller, as client-go's is: copy before modifying).
//
// Deviations, named: built-in kinds (pods, nodes, ...) carry none of this
// metadata; the lengths of names, labels and values are not checked; the resource name (Kind, "widgets") stands for the kind;
// names carry their namespace ("default/w1") while ownerReferences name
// an owner in the same namespace by its short name; a WATCH with a label
// selector, server-side apply and admission webhooks answer 400
// "unsupported by hasim".

// Resource registers a resource with the cluster: its API servers serve it
// as a generic object, and the controller-manager's garbage collector
// follows its ownerReferences.
type Resource struct {
	// Kind is the resource's plural name, as in its URL ("widgets").
	Kind Kind
	// APIVersion is its group/version ("example.com/v1").
	APIVersion string
}

// OwnerRef is an ownerReference: the owner, in the dependent's namespace,
// without which the garbage collector deletes the dependent.
type OwnerRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       Kind   `json:"kind"`
	Name       string `json:"name"` // in the dependent's namespace
	UID        string `json:"uid"`
	Controller bool   `json:"controller,omitempty"`
	// BlockOwnerDeletion is stored and served; it matters to foreground
	// deletion only, which the model does not have.
	BlockOwnerDeletion bool `json:"blockOwnerDeletion,omitempty"`
}

// Namespace is the namespace part of the object's name ("default").
func (o *Object) Namespace() string {
	ns, _, _ := strings.Cut(o.Name, "/")
	return ns
}

// OwnerName is the full name ("default/w1") of an owner the object
// refers to.
func (o *Object) OwnerName(r OwnerRef) string { return o.Namespace() + "/" + r.Name }

// Deleting reports whether the object's deletion has begun (it waits for
// its finalizers).
func (o *Object) Deleting() bool { return o.DeletionTimestamp != 0 }

// hasGenericFields reports whether any generic field is set (which the
// built-in kinds do not store).
func (o *Object) hasGenericFields() bool {
	return o.APIVersion != "" || o.GenerateName != "" || o.UID != "" || len(o.Labels) > 0 || len(o.Annotations) > 0 || len(o.OwnerRefs) > 0 ||
		len(o.Finalizers) > 0 || o.CreationTimestamp != 0 || o.DeletionTimestamp != 0 || o.Generation != 0 || o.Spec != "" || o.Status != ""
}

// generic reports whether the object carries generic metadata.
func (o *Object) generic() bool { return o.APIVersion != "" }

// wireGeneric is how a generic object's metadata, spec and status are
// stored: one JSON document, last in the stored value.
type wireGeneric struct {
	APIVersion string            `json:"apiVersion"`
	GenName    string            `json:"generateName,omitempty"`
	UID        string            `json:"uid,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Annots     map[string]string `json:"annotations,omitempty"`
	OwnerRefs  []OwnerRef        `json:"ownerReferences,omitempty"`
	Finalizers []string          `json:"finalizers,omitempty"`
	Creation   time.Duration     `json:"creationTimestamp,omitempty"`
	Deletion   time.Duration     `json:"deletionTimestamp,omitempty"`
	Generation int64             `json:"generation,omitempty"`
	Spec       json.RawMessage   `json:"spec,omitempty"`
	Status     json.RawMessage   `json:"status,omitempty"`
	Data       string            `json:"data,omitempty"`
}

func (o *Object) encodeGeneric() string {
	w := wireGeneric{APIVersion: o.APIVersion, GenName: o.GenerateName, UID: o.UID, Labels: o.Labels, Annots: o.Annotations, OwnerRefs: o.OwnerRefs, Finalizers: o.Finalizers,
		Creation: o.CreationTimestamp, Deletion: o.DeletionTimestamp, Generation: o.Generation, Data: o.Data}
	w.Spec, w.Status = rawOrQuoted(o.Spec), rawOrQuoted(o.Status)
	b, err := json.Marshal(w) // map keys sorted: deterministic
	if err != nil {
		panic("hasim: object " + o.Name + ": " + err.Error()) // unreachable: every part is valid JSON
	}
	return string(b)
}

// rawOrQuoted returns s as raw JSON when it is valid, and as a JSON string
// otherwise: the API stores only valid specs and statuses, but a request
// body on its way to being refused is traced too.
func rawOrQuoted(s string) json.RawMessage {
	switch {
	case s == "":
		return nil
	case json.Valid([]byte(s)):
		return json.RawMessage(s)
	}
	q, _ := json.Marshal("invalid JSON: " + s)
	return q
}

// copyOut is the object as a message carries it: a deep copy when it has
// maps or slices to share (only generic objects do).
func (o Object) copyOut() Object {
	if o.generic() {
		return o.DeepCopy()
	}
	return o
}

// DeepCopy returns a copy of the object that shares no map or slice with
// it. Objects handed to callers (informers' stores, responses) must not be
// modified in place, as with client-go's caches; copy first.
func (o Object) DeepCopy() Object {
	if o.Labels != nil {
		o.Labels = maps.Clone(o.Labels)
	}
	if o.Annotations != nil {
		o.Annotations = maps.Clone(o.Annotations)
	}
	o.OwnerRefs = slices.Clone(o.OwnerRefs)
	o.Finalizers = slices.Clone(o.Finalizers)
	return o
}

func (o *Object) decodeGeneric(s string) bool {
	var w wireGeneric
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return false
	}
	o.APIVersion, o.GenerateName, o.UID = w.APIVersion, w.GenName, w.UID
	o.Labels, o.Annotations, o.OwnerRefs, o.Finalizers = w.Labels, w.Annots, w.OwnerRefs, w.Finalizers
	o.CreationTimestamp, o.DeletionTimestamp, o.Generation = w.Creation, w.Deletion, w.Generation
	o.Spec, o.Status, o.Data = string(w.Spec), string(w.Status), w.Data
	return true
}

// canonicalJSON checks a spec or status and returns its canonical form
// ("" stays ""): keys sorted, no space, numbers as written. Two specs are
// the same value exactly when their canonical forms are equal, as
// kube-apiserver compares them by value (a generation bump needs a change).
func canonicalJSON(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	v, err := decodeJSON(s)
	if err != nil {
		return "", fmt.Errorf("%s: not JSON: %v", field, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return "", fmt.Errorf("%s: must be a JSON object", field)
	}
	b, err := json.Marshal(v) // map keys sorted; json.Number as written
	if err != nil {
		return "", fmt.Errorf("%s: %v", field, err)
	}
	return string(b), nil
}

// decodeJSON decodes one JSON value, keeping numbers as written (no
// rounding through float64).
func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one value")
	}
	var extra any
	if err := d.Decode(&extra); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// validateMeta checks what kube-apiserver's validation refuses (422) in
// a generic object's metadata.
func validateMeta(o Object) error {
	controllers := 0
	for i, r := range o.OwnerRefs {
		f := fmt.Sprintf("metadata.ownerReferences[%d]", i)
		switch {
		case r.APIVersion == "":
			return fmt.Errorf("%s.apiVersion: must be specified", f)
		case r.Kind == "":
			return fmt.Errorf("%s.kind: must be specified", f)
		case r.Name == "" || strings.Contains(r.Name, "/"):
			return fmt.Errorf("%s.name: %q must be a name in the object's namespace", f, r.Name)
		case r.UID == "":
			return fmt.Errorf("%s.uid: must be specified", f)
		}
		if r.Controller {
			controllers++
		}
	}
	if controllers > 1 {
		return errors.New("metadata.ownerReferences: only one reference can have controller set to true")
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		if err := validLabel(k, o.Labels[k]); err != nil {
			return fmt.Errorf("metadata.labels: %v", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Annotations)) {
		if k == "" || !labelChars(k, true) {
			return fmt.Errorf("metadata.annotations: key %q: use letters, digits, '-', '_', '.' (and one '/' after a prefix)", k)
		}
	}
	for i, f := range o.Finalizers {
		if f == "" || strings.ContainsAny(f, " ,") {
			return fmt.Errorf("metadata.finalizers[%d]: %q is not a finalizer name", i, f)
		}
	}
	return nil
}

// validLabel checks a label's key and value (the characters Kubernetes
// allows; lengths are not checked, a deviation).
func validLabel(k, v string) error {
	if k == "" || !labelChars(k, true) {
		return fmt.Errorf("key %q: use letters, digits, '-', '_', '.' (and one '/' after a prefix)", k)
	}
	if !labelChars(v, false) {
		return fmt.Errorf("value %q of %q: use letters, digits, '-', '_' and '.'", v, k)
	}
	return nil
}

func labelChars(s string, key bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || key && c == '/') {
			return false
		}
	}
	return true
}

// Selector is a parsed label selector: requirements that must all hold.
type Selector []requirement

type requirement struct {
	key    string
	op     string // "=", "!=", "in", "notin", "exists", "!exists"
	values []string
}

// ParseSelector parses a label selector as kubectl writes it:
// comma-separated requirements "k=v", "k==v", "k!=v", "k", "!k",
// "k in (a,b)" and "k notin (a,b)". The empty selector matches everything.
func ParseSelector(s string) (Selector, error) {
	var out Selector
	rest := strings.TrimSpace(s)
	for rest != "" {
		var part string
		// A set's values hold commas: cut after its closing parenthesis.
		if i := strings.IndexAny(rest, ",("); i >= 0 && rest[i] == '(' {
			j := strings.IndexByte(rest, ')')
			if j < 0 {
				return nil, fmt.Errorf("label selector %q: unclosed (", s)
			}
			part, rest = rest[:j+1], strings.TrimSpace(rest[j+1:])
			if rest != "" {
				if rest[0] != ',' {
					return nil, fmt.Errorf("label selector %q: expected , after %s", s, part)
				}
				if rest = strings.TrimSpace(rest[1:]); rest == "" {
					return nil, fmt.Errorf("label selector %q: nothing after the last ,", s)
				}
			}
		} else {
			var comma bool
			part, rest, comma = strings.Cut(rest, ",")
			if rest = strings.TrimSpace(rest); comma && rest == "" {
				return nil, fmt.Errorf("label selector %q: nothing after the last ,", s)
			}
		}
		r, err := parseRequirement(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("label selector %q: %v", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRequirement(p string) (requirement, error) {
	if p == "" {
		return requirement{}, errors.New("empty requirement")
	}
	if k, ok := strings.CutPrefix(p, "!"); ok {
		k = strings.TrimSpace(k)
		return requirement{key: k, op: "!exists"}, validLabel(k, "")
	}
	n := 0
	for n < len(p) && labelChars(p[n:n+1], true) {
		n++
	}
	key, rest := p[:n], strings.TrimSpace(p[n:])
	if err := validLabel(key, ""); err != nil {
		return requirement{}, err
	}
	value := func(op, v string) (requirement, error) {
		v = strings.TrimSpace(v)
		return requirement{key: key, op: op, values: []string{v}}, validLabel(key, v)
	}
	set := func(op, v string) (requirement, error) {
		vs, err := parseSet(v)
		return requirement{key: key, op: op, values: vs}, err
	}
	word := func(w string) (string, bool) {
		after, ok := strings.CutPrefix(rest, w)
		return after, ok && (strings.HasPrefix(after, " ") || strings.HasPrefix(after, "("))
	}
	switch {
	case rest == "":
		return requirement{key: key, op: "exists"}, nil
	case strings.HasPrefix(rest, "!="):
		return value("!=", rest[2:])
	case strings.HasPrefix(rest, "=="):
		return value("=", rest[2:])
	case strings.HasPrefix(rest, "="):
		return value("=", rest[1:])
	}
	if after, ok := word("notin"); ok {
		return set("notin", after)
	}
	if after, ok := word("in"); ok {
		return set("in", after)
	}
	return requirement{}, fmt.Errorf("%q: expected =, ==, !=, in or notin after %q", p, key)
}

func parseSet(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("set %q: want (a,b,...)", s)
	}
	var out []string
	for v := range strings.SplitSeq(s[1:len(s)-1], ",") {
		v = strings.TrimSpace(v)
		if err := validLabel("k", v); err != nil {
			return nil, fmt.Errorf("set %q: %v", s, err)
		}
		out = append(out, v)
	}
	if len(out) == 1 && out[0] == "" {
		return nil, fmt.Errorf("set %q: empty", s)
	}
	return out, nil
}

// Matches reports whether labels satisfy every requirement.
func (sel Selector) Matches(labels map[string]string) bool {
	for _, r := range sel {
		v, has := labels[r.key]
		var ok bool
		switch r.op {
		case "=":
			ok = has && v == r.values[0]
		case "!=":
			ok = !has || v != r.values[0]
		case "in":
			ok = has && slices.Contains(r.values, v)
		case "notin":
			ok = !has || !slices.Contains(r.values, v)
		case "exists":
			ok = has
		case "!exists":
			ok = !has
		}
		if !ok {
			return false
		}
	}
	return true
}

// patchDoc is the JSON form a merge patch applies to.
type patchDoc struct {
	Metadata patchMeta       `json:"metadata"`
	Spec     json.RawMessage `json:"spec,omitempty"`
	Status   json.RawMessage `json:"status,omitempty"`
}

type patchMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	OwnerRefs   []OwnerRef        `json:"ownerReferences,omitempty"`
	Finalizers  []string          `json:"finalizers,omitempty"`
}

// mergePatch applies a JSON merge patch (RFC 7386) to the object's
// metadata (labels, annotations, ownerReferences, finalizers), spec and status, and
// returns the result; the caller decides which parts it may change.
func mergePatch(o Object, patch string) (Object, error) {
	p, err := decodeJSON(patch)
	if err != nil {
		return o, fmt.Errorf("patch: not JSON: %v", err)
	}
	if _, ok := p.(map[string]any); !ok {
		return o, errors.New("patch: must be a JSON object")
	}
	doc := patchDoc{Metadata: patchMeta{Labels: o.Labels, Annotations: o.Annotations, OwnerRefs: o.OwnerRefs, Finalizers: o.Finalizers}}
	if o.Spec != "" {
		doc.Spec = json.RawMessage(o.Spec)
	}
	if o.Status != "" {
		doc.Status = json.RawMessage(o.Status)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return o, err
	}
	cur, err := decodeJSON(string(b))
	if err != nil {
		return o, err
	}
	merged, err := json.Marshal(mergeValue(cur, p))
	if err != nil {
		return o, err
	}
	var out patchDoc
	if err := json.Unmarshal(merged, &out); err != nil {
		return o, fmt.Errorf("patch: %v", err)
	}
	o = o.DeepCopy()
	o.Labels, o.Annotations, o.OwnerRefs, o.Finalizers = out.Metadata.Labels, out.Metadata.Annotations, out.Metadata.OwnerRefs, out.Metadata.Finalizers
	o.Spec, o.Status = "", ""
	if len(out.Spec) > 0 && string(out.Spec) != "null" {
		o.Spec = string(out.Spec)
	}
	if len(out.Status) > 0 && string(out.Status) != "null" {
		o.Status = string(out.Status)
	}
	return o, nil
}

// mergeValue is RFC 7386's MergePatch(target, patch).
func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for _, k := range sortedAnyKeys(pm) {
		if pm[k] == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], pm[k])
	}
	return tm
}

func sortedAnyKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m { //detlint:allow maprange the keys are sorted before use
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
