package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Generic objects: any resource registered with the cluster
// (Config.Resources), such as a user's custom resource, carries
// Kubernetes' object metadata (uid, labels, ownerReferences, finalizers,
// deletionTimestamp, generation) and its spec and status as opaque JSON.
// The API servers treat them as kube-apiserver treats a custom resource
// with the status subresource:
//   - create assigns the uid and generation 1 and drops the status;
//   - an update of the object keeps its status, and bumps the generation
//     when the spec changes; an update of its status subresource changes
//     the status only;
//   - PATCH takes a JSON merge patch (RFC 7386) of the object or of its
//     status;
//   - DELETE of an object with finalizers only sets its deletionTimestamp;
//     the update that removes its last finalizer deletes it;
//   - LIST takes a label selector.
//
// Deviations, named: built-in kinds (pods, nodes, ...) carry none of this
// metadata; the resource name (Kind, "widgets") stands for the kind;
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

// generic reports whether the object carries generic metadata.
func (o *Object) generic() bool { return o.APIVersion != "" }

// wireGeneric is how a generic object's metadata, spec and status are
// stored: one JSON document, last in the stored value.
type wireGeneric struct {
	APIVersion string            `json:"apiVersion"`
	UID        string            `json:"uid,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	OwnerRefs  []OwnerRef        `json:"ownerReferences,omitempty"`
	Finalizers []string          `json:"finalizers,omitempty"`
	Deletion   time.Duration     `json:"deletionTimestamp,omitempty"`
	Generation int64             `json:"generation,omitempty"`
	Spec       json.RawMessage   `json:"spec,omitempty"`
	Status     json.RawMessage   `json:"status,omitempty"`
	Data       string            `json:"data,omitempty"`
}

func (o *Object) encodeGeneric() string {
	w := wireGeneric{APIVersion: o.APIVersion, UID: o.UID, Labels: o.Labels, OwnerRefs: o.OwnerRefs, Finalizers: o.Finalizers,
		Deletion: o.DeletionTimestamp, Generation: o.Generation, Data: o.Data}
	if o.Spec != "" {
		w.Spec = json.RawMessage(o.Spec)
	}
	if o.Status != "" {
		w.Status = json.RawMessage(o.Status)
	}
	b, err := json.Marshal(w) // map keys sorted: deterministic
	if err != nil {
		// Spec and status are checked when they enter the API; an
		// object built around that is a bug in its maker.
		panic("hasim: object " + o.Name + ": " + err.Error())
	}
	return string(b)
}

func (o *Object) decodeGeneric(s string) bool {
	var w wireGeneric
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return false
	}
	o.APIVersion, o.UID, o.Labels, o.OwnerRefs, o.Finalizers = w.APIVersion, w.UID, w.Labels, w.OwnerRefs, w.Finalizers
	o.DeletionTimestamp, o.Generation, o.Spec, o.Status, o.Data = w.Deletion, w.Generation, string(w.Spec), string(w.Status), w.Data
	return true
}

// canonicalJSON checks a spec or status and returns it compacted ("" stays
// "").
func canonicalJSON(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return "", fmt.Errorf("%s: not JSON: %v", field, err)
	}
	if b.Len() == 0 || b.Bytes()[0] != '{' {
		return "", fmt.Errorf("%s: must be a JSON object", field)
	}
	return b.String(), nil
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
	validKey := func(k string) error {
		if k == "" || strings.ContainsAny(k, " =!(),") {
			return fmt.Errorf("bad key %q", k)
		}
		return nil
	}
	switch {
	case p == "":
		return requirement{}, errors.New("empty requirement")
	case strings.HasPrefix(p, "!"):
		k := strings.TrimSpace(p[1:])
		return requirement{key: k, op: "!exists"}, validKey(k)
	case strings.Contains(p, "!="):
		k, v, _ := strings.Cut(p, "!=")
		return requirement{key: strings.TrimSpace(k), op: "!=", values: []string{strings.TrimSpace(v)}}, validKey(strings.TrimSpace(k))
	case strings.Contains(p, "="):
		k, v, _ := strings.Cut(p, "=")
		v = strings.TrimPrefix(v, "=")
		return requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}, validKey(strings.TrimSpace(k))
	}
	if k, set, ok := strings.Cut(p, " notin "); ok {
		vs, err := parseSet(set)
		return requirement{key: strings.TrimSpace(k), op: "notin", values: vs}, errors.Join(err, validKey(strings.TrimSpace(k)))
	}
	if k, set, ok := strings.Cut(p, " in "); ok {
		vs, err := parseSet(set)
		return requirement{key: strings.TrimSpace(k), op: "in", values: vs}, errors.Join(err, validKey(strings.TrimSpace(k)))
	}
	return requirement{key: p, op: "exists"}, validKey(p)
}

func parseSet(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("set %q: want (a,b,...)", s)
	}
	var out []string
	for v := range strings.SplitSeq(s[1:len(s)-1], ",") {
		out = append(out, strings.TrimSpace(v))
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
	Labels     map[string]string `json:"labels,omitempty"`
	OwnerRefs  []OwnerRef        `json:"ownerReferences,omitempty"`
	Finalizers []string          `json:"finalizers,omitempty"`
}

// mergePatch applies a JSON merge patch (RFC 7386) to the object's
// metadata (labels, ownerReferences, finalizers), spec and status, and
// returns the result; the caller decides which parts it may change.
func mergePatch(o Object, patch string) (Object, error) {
	var p any
	if err := json.Unmarshal([]byte(patch), &p); err != nil {
		return o, fmt.Errorf("patch: not JSON: %v", err)
	}
	if _, ok := p.(map[string]any); !ok {
		return o, errors.New("patch: must be a JSON object")
	}
	doc := patchDoc{Metadata: patchMeta{Labels: o.Labels, OwnerRefs: o.OwnerRefs, Finalizers: o.Finalizers}}
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
	var cur any
	if err := json.Unmarshal(b, &cur); err != nil {
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
	o.Labels, o.OwnerRefs, o.Finalizers = out.Metadata.Labels, out.Metadata.OwnerRefs, out.Metadata.Finalizers
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
