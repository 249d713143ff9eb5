// Package deploy holds the recipes that run hasim soaks on existing engines
// with the CLI alone: a Kubernetes Indexed Job (soak-indexed-job.yaml) and
// the nightly GitHub Actions matrix (.github/workflows/nightly-soak.yml).
// Nothing here needs a cluster or a runner: the tests read the recipes, and
// run their scripts with stand-ins for hasim and kubectl (scripts_test.go),
// to catch what would otherwise only fail on a real one: an object
// referenced but never defined, a shard count that disagrees with itself,
// a pod failure policy that retries a finished shard, a merge that does not
// wait for its shards or takes an unfinished one for done.
package deploy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const workflowPath = "../.github/workflows/nightly-soak.yml"

// The scenarios the nightly soak must cover: the two cheap ones it always
// ran, and the two the leader-election and cluster checks live in.
var nightlyScenarios = []string{"store", "counter", "cluster", "election"}

// ---- reading YAML

// doc is one YAML document of a file.
type doc struct {
	file string
	n    int // 1-based position in the file
	v    map[string]any
}

func (d doc) String() string {
	return fmt.Sprintf("%s (document %d, %s %q)", d.file, d.n, str(d.v, "kind"), str(d.v, "metadata", "name"))
}

func readDocs(path string) ([]doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var docs []doc
	dec := yaml.NewDecoder(f)
	for n := 1; ; n++ {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %v", path, n, err)
		}
		if v == nil {
			continue // an empty document, such as after a trailing ---
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: document %d is a %T, not a mapping", path, n, v)
		}
		docs = append(docs, doc{file: path, n: n, v: m})
	}
}

// at walks maps (string keys) and lists (int indexes); nil when absent.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	switch x := at(v, path...).(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func list(v any, path ...any) []any { l, _ := at(v, path...).([]any); return l }

func obj(v any, path ...any) map[string]any { m, _ := at(v, path...).(map[string]any); return m }

func num(v any, path ...any) (int, bool) {
	switch x := at(v, path...).(type) {
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

func strs(v any, path ...any) []string {
	var out []string
	for _, x := range list(v, path...) {
		out = append(out, str(x))
	}
	return out
}

// ---- Kubernetes manifests

// manifest is one file of deploy/: its objects by kind and name, and its
// comments, which is where user parameters are documented.
type manifest struct {
	file     string
	docs     []doc
	comments string
	objects  map[string]map[string]doc // kind -> name -> doc
}

func (m *manifest) get(kind, name string) (doc, bool) {
	d, ok := m.objects[kind][name]
	return d, ok
}

func loadManifests(t *testing.T) []*manifest {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		fs, _ := filepath.Glob(pat)
		files = append(files, fs...)
	}
	if len(files) == 0 {
		t.Fatal("no YAML manifests in deploy/")
	}
	var out []*manifest
	for _, f := range files {
		docs, err := readDocs(f)
		if err != nil {
			t.Fatal(err)
		}
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := &manifest{file: f, docs: docs, objects: map[string]map[string]doc{}}
		var comments []string
		for _, line := range strings.Split(string(text), "\n") {
			if s := strings.TrimSpace(line); strings.HasPrefix(s, "#") {
				comments = append(comments, s)
			} else if _, c, ok := strings.Cut(line, " # "); ok {
				comments = append(comments, c)
			}
		}
		m.comments = strings.Join(comments, "\n")
		for _, d := range docs {
			kind, name := str(d.v, "kind"), str(d.v, "metadata", "name")
			if m.objects[kind] == nil {
				m.objects[kind] = map[string]doc{}
			}
			if _, dup := m.objects[kind][name]; dup && kind != "" && name != "" {
				t.Errorf("%s: %s %q is defined twice", f, kind, name)
			}
			m.objects[kind][name] = d
		}
		out = append(out, m)
	}
	return out
}

// podSpec returns the pod template's spec of a workload, or nil.
func podSpec(d doc) map[string]any {
	switch str(d.v, "kind") {
	case "Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return obj(d.v, "spec", "template", "spec")
	case "CronJob":
		return obj(d.v, "spec", "jobTemplate", "spec", "template", "spec")
	case "Pod":
		return obj(d.v, "spec")
	}
	return nil
}

type container struct {
	m    map[string]any
	init bool
}

func (c container) name() string { return str(c.m, "name") }

// script is what the container runs: its command and arguments, one a line.
func (c container) script() string {
	return strings.Join(append(strs(c.m, "command"), strs(c.m, "args")...), "\n")
}

func containers(ps map[string]any) []container {
	var out []container
	for _, c := range list(ps, "initContainers") {
		out = append(out, container{m: obj(c), init: true})
	}
	for _, c := range list(ps, "containers") {
		out = append(out, container{m: obj(c)})
	}
	return out
}

// envOf resolves the variables a container gets from its env and envFrom
// (ConfigMaps of the same file); value "" when set from elsewhere.
func envOf(m *manifest, c container) map[string]string {
	env := map[string]string{}
	for _, ef := range list(c.m, "envFrom") {
		if name := str(ef, "configMapRef", "name"); name != "" {
			if cm, ok := m.get("ConfigMap", name); ok {
				for k, v := range obj(cm.v, "data") {
					env[str(ef, "prefix")+k] = str(v)
				}
			}
		}
	}
	for _, e := range list(c.m, "env") {
		env[str(e, "name")] = str(e, "value")
	}
	return env
}

// scriptRunning finds the containers of a pod spec whose script runs
// `hasim VERB`.
func scriptRunning(ps map[string]any, verb string) []container {
	var out []container
	for _, c := range containers(ps) {
		if hasimCall(c.script(), verb) != nil {
			out = append(out, c)
		}
	}
	return out
}

// ---- a little shell, enough for the recipes' own scripts

// logicalLines joins backslash-continued lines.
func logicalLines(script string) []string {
	return strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n")
}

// words splits one command line the way sh would for our purposes: quotes
// removed, $(...) and $((...)) kept whole, stopping at the end of the
// command (; & | > or a comment).
func words(line string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			out = append(out, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	var quote byte
	depth := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case strings.HasPrefix(line[i:], "${{") && strings.Contains(line[i:], "}}"):
			// A GitHub expression, which Actions substitutes before the
			// shell runs: one word, spaces and all.
			end := i + strings.Index(line[i:], "}}") + 2
			cur.WriteString(line[i:end])
			i = end - 1
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			depth++
			cur.WriteString("$(")
			i++
			inWord = true
		case c == '(' && depth > 0:
			depth++
			cur.WriteByte(c)
		case c == ')' && depth > 0:
			depth--
			cur.WriteByte(c)
		case depth > 0:
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			flush()
		case c == ';' || c == '&' || c == '|' || c == '>' || (c == '#' && !inWord):
			flush()
			return out
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return out
}

var assignRE = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// assignments collects a script's plain assignments, name=value alone on a
// line (the last one wins).
func assignments(script string) map[string]string {
	vars := map[string]string{}
	for _, line := range logicalLines(script) {
		if m := assignRE.FindStringSubmatch(line); m != nil {
			w := words(m[2])
			if len(w) <= 1 {
				vars[m[1]] = strings.Join(w, "")
			}
		}
	}
	return vars
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes the variables of vars, leaving the others as written.
func expand(s string, vars map[string]string) string {
	for range 5 {
		next := varRE.ReplaceAllStringFunc(s, func(ref string) string {
			m := varRE.FindStringSubmatch(ref)
			name := m[1] + m[2]
			if v, ok := vars[name]; ok {
				return v
			}
			return ref
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

// hasimCall returns the words after `hasim VERB` on the first line that
// runs it.
func hasimCall(script, verb string) []string {
	for _, line := range logicalLines(script) {
		w := words(line)
		for i := 0; i+1 < len(w); i++ {
			if (w[i] == "hasim" || strings.HasSuffix(w[i], "/hasim")) && w[i+1] == verb {
				return w[i+2:]
			}
		}
	}
	return nil
}

// flag returns a flag's value among words (--f v or --f=v).
func flag(w []string, name string) (string, bool) {
	for i, x := range w {
		if x == name && i+1 < len(w) {
			return w[i+1], true
		}
		if v, ok := strings.CutPrefix(x, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// ---- pod failure policy, evaluated the way the Job controller does: the
// first matching rule decides; no match counts the failure against the
// backoff limit ("Count").

func policyAction(rules []any, exitCode int, conditions ...string) string {
	for _, r := range rules {
		if ec := obj(r, "onExitCodes"); ec != nil {
			in := slices.ContainsFunc(list(ec, "values"), func(v any) bool { n, _ := num(v); return n == exitCode })
			switch str(ec, "operator") {
			case "In":
				if in {
					return str(r, "action")
				}
			case "NotIn":
				if !in && exitCode != 0 {
					return str(r, "action")
				}
			}
		}
		for _, pc := range list(r, "onPodConditions") {
			status := str(pc, "status")
			if slices.Contains(conditions, str(pc, "type")) && (status == "" || status == "True") {
				return str(r, "action")
			}
		}
	}
	return "Count"
}

// ---- the tests

// TestManifestsAreObjects: every document of every manifest is a whole
// Kubernetes object, all in one namespace (references between them, claim
// names, service accounts and role bindings, resolve within a namespace).
func TestManifestsAreObjects(t *testing.T) {
	for _, m := range loadManifests(t) {
		if len(m.docs) == 0 {
			t.Errorf("%s: no objects", m.file)
		}
		ns := map[string]bool{}
		for _, d := range m.docs {
			for _, f := range [][]any{{"apiVersion"}, {"kind"}, {"metadata", "name"}} {
				if str(d.v, f...) == "" {
					t.Errorf("%s: no %v", d, f)
				}
			}
			ns[str(d.v, "metadata", "namespace")] = true
		}
		if len(ns) > 1 {
			t.Errorf("%s: objects in several namespaces %v; they reference each other by name", m.file, ns)
		}
	}
}

// TestManifestReferencesResolve: everything a pod, a role binding or a
// comment's kubectl command names is defined in the same file, and every
// image and storage class (which cannot be) is a documented parameter.
func TestManifestReferencesResolve(t *testing.T) {
	for _, m := range loadManifests(t) {
		need := func(from doc, kind, name, why string) {
			t.Helper()
			if name == "" {
				t.Errorf("%s: %s without a name", from, why)
			} else if _, ok := m.get(kind, name); !ok {
				t.Errorf("%s: %s names %s %q, not defined in %s", from, why, kind, name, m.file)
			}
		}
		for _, d := range m.docs {
			switch str(d.v, "kind") {
			case "RoleBinding", "ClusterRoleBinding":
				need(d, str(d.v, "roleRef", "kind"), str(d.v, "roleRef", "name"), "roleRef")
				for _, s := range list(d.v, "subjects") {
					if str(s, "kind") == "ServiceAccount" {
						need(d, "ServiceAccount", str(s, "name"), "subject")
					}
				}
			case "Role", "ClusterRole":
				for _, r := range list(d.v, "rules") {
					if slices.Contains(strs(r, "resources"), "jobs") {
						for _, n := range strs(r, "resourceNames") {
							need(d, "Job", n, "rule on jobs")
						}
					}
				}
			case "PersistentVolumeClaim":
				if sc := str(d.v, "spec", "storageClassName"); sc != "" && !strings.Contains(m.comments, sc) {
					t.Errorf("%s: storage class %q is a cluster's own; document it as a parameter in a comment", d, sc)
				}
			}
			ps := podSpec(d)
			if ps == nil {
				continue
			}
			if sa := str(ps, "serviceAccountName"); sa != "" && sa != "default" {
				need(d, "ServiceAccount", sa, "serviceAccountName")
			}
			for _, s := range list(ps, "imagePullSecrets") {
				need(d, "Secret", str(s, "name"), "imagePullSecrets")
			}
			volumes := map[string]bool{}
			for _, v := range list(ps, "volumes") {
				volumes[str(v, "name")] = true
				if pvc := obj(v, "persistentVolumeClaim"); pvc != nil {
					need(d, "PersistentVolumeClaim", str(pvc, "claimName"), "volume "+str(v, "name"))
				}
				if cm := obj(v, "configMap"); cm != nil {
					need(d, "ConfigMap", str(cm, "name"), "volume "+str(v, "name"))
				}
				if s := obj(v, "secret"); s != nil {
					need(d, "Secret", str(s, "secretName"), "volume "+str(v, "name"))
				}
				for _, src := range list(v, "projected", "sources") {
					if cm := obj(src, "configMap"); cm != nil {
						need(d, "ConfigMap", str(cm, "name"), "projected volume "+str(v, "name"))
					}
					if s := obj(src, "secret"); s != nil {
						need(d, "Secret", str(s, "name"), "projected volume "+str(v, "name"))
					}
				}
			}
			for _, c := range containers(ps) {
				where := "container " + c.name()
				img := str(c.m, "image")
				if img == "" {
					t.Errorf("%s: %s has no image", d, where)
				} else if !strings.Contains(m.comments, img) {
					t.Errorf("%s: %s's image %q is not documented as a parameter in the file's comments", d, where, img)
				}
				for _, vm := range list(c.m, "volumeMounts") {
					if !volumes[str(vm, "name")] {
						t.Errorf("%s: %s mounts volume %q, not in the pod", d, where, str(vm, "name"))
					}
				}
				for _, ef := range list(c.m, "envFrom") {
					if n := str(ef, "configMapRef", "name"); n != "" {
						need(d, "ConfigMap", n, where+" envFrom")
					}
					if n := str(ef, "secretRef", "name"); n != "" {
						need(d, "Secret", n, where+" envFrom")
					}
				}
				for _, e := range list(c.m, "env") {
					if ref := obj(e, "valueFrom", "configMapKeyRef"); ref != nil {
						need(d, "ConfigMap", str(ref, "name"), where+" env "+str(e, "name"))
						if cm, ok := m.get("ConfigMap", str(ref, "name")); ok {
							if _, ok := obj(cm.v, "data")[str(ref, "key")]; !ok {
								t.Errorf("%s: %s env %s: ConfigMap %q has no key %q", d, where, str(e, "name"), str(ref, "name"), str(ref, "key"))
							}
						}
					}
					if ref := obj(e, "valueFrom", "secretKeyRef"); ref != nil {
						need(d, "Secret", str(ref, "name"), where+" env "+str(e, "name"))
					}
				}
			}
		}
		// The commands the comments tell people to run name objects of
		// this file (the first version's told them to exec into a
		// Deployment it never defined).
		kinds := map[string]string{"deploy": "Deployment", "deployment": "Deployment", "job": "Job",
			"pvc": "PersistentVolumeClaim", "configmap": "ConfigMap", "cm": "ConfigMap",
			"sa": "ServiceAccount", "serviceaccount": "ServiceAccount"}
		refRE := regexp.MustCompile(`(?:^|[\s=])(deploy|deployment|job|pvc|configmap|cm|sa|serviceaccount)/([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)([^\s,;)]*)`)
		for _, line := range strings.Split(m.comments, "\n") {
			if !strings.Contains(line, "kubectl") {
				continue
			}
			for _, r := range refRE.FindAllStringSubmatch(line, -1) {
				if strings.HasPrefix(r[3], ".") || strings.HasPrefix(r[3], "/") {
					continue // a path, such as deploy/soak-indexed-job.yaml
				}
				if _, ok := m.get(kinds[r[1]], r[2]); !ok {
					t.Errorf("%s: a comment's command names %s/%s, not defined in the file", m.file, r[1], r[2])
				}
			}
		}
	}
}

// TestScriptVariables: every upper-case variable a container's script uses
// comes from its env, its envFrom ConfigMap, the Job controller
// (JOB_COMPLETION_INDEX, in an Indexed Job) or the script itself; and no
// script uses $$ or $(NAME) of its own variables, which Kubernetes rewrites
// in command and args before the shell sees them.
func TestScriptVariables(t *testing.T) {
	for _, m := range loadManifests(t) {
		for _, d := range m.docs {
			ps := podSpec(d)
			if ps == nil {
				continue
			}
			indexed := str(d.v, "kind") == "Job" && str(d.v, "spec", "completionMode") == "Indexed"
			for _, c := range containers(ps) {
				env := envOf(m, c)
				script := c.script()
				local := assignments(script)
				if strings.Contains(script, "$$") {
					t.Errorf("%s: container %s: Kubernetes turns $$ into $ in command and args", d, c.name())
				}
				for _, r := range regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).FindAllStringSubmatch(script, -1) {
					if _, ok := env[r[1]]; ok {
						t.Errorf("%s: container %s: Kubernetes substitutes $(%s) before the shell runs; write ${%s}", d, c.name(), r[1], r[1])
					}
				}
				for _, r := range varRE.FindAllStringSubmatch(script, -1) {
					name := r[1] + r[2]
					if name != strings.ToUpper(name) {
						continue // lower case: the script's own
					}
					_, fromEnv := env[name]
					_, fromScript := local[name]
					fromJob := indexed && name == "JOB_COMPLETION_INDEX"
					if !fromEnv && !fromScript && !fromJob && !slices.Contains([]string{"HOME", "PATH", "HOSTNAME", "PWD"}, name) {
						t.Errorf("%s: container %s uses $%s, which neither its env, its ConfigMap nor the script sets", d, c.name(), name)
					}
				}
			}
		}
	}
}

// indexedJobs returns the Indexed Jobs of a manifest: the soaks.
func indexedJobs(m *manifest) []doc {
	var out []doc
	for _, d := range m.docs {
		if str(d.v, "kind") == "Job" && str(d.v, "spec", "completionMode") == "Indexed" {
			out = append(out, d)
		}
	}
	return out
}

// shardExprRE is the shard of an Indexed Job's pod, in sh: its completion
// index (from 0) plus 1 (hasim's shards count from 1).
var shardExprRE = regexp.MustCompile(`\$\(\(\s*JOB_COMPLETION_INDEX\s*\+\s*1\s*\)\)`)

// soakShard describes the soak container of an Indexed Job: its hasim soak
// command, its --out expanded with the script's own variables, and the
// claim and mount path that directory is on ("" when it is on none).
type soakShard struct {
	c                     container
	call                  []string
	out, claim, mountPath string
}

func soakShardOf(job doc) (soakShard, error) {
	ps := podSpec(job)
	cs := scriptRunning(ps, "soak")
	if len(cs) != 1 {
		return soakShard{}, fmt.Errorf("%s: want one container running hasim soak, have %d", job, len(cs))
	}
	s := soakShard{c: cs[0], call: hasimCall(cs[0].script(), "soak")}
	if s.call == nil {
		return s, fmt.Errorf("%s: cannot read the hasim soak command of %s", job, s.c.name())
	}
	out, ok := flag(s.call, "--out")
	if !ok {
		return s, fmt.Errorf("%s: hasim soak without --out", job)
	}
	s.out = expand(out, assignments(s.c.script()))
	vols := map[string]string{}
	for _, v := range list(ps, "volumes") {
		vols[str(v, "name")] = str(v, "persistentVolumeClaim", "claimName")
	}
	for _, vm := range list(s.c.m, "volumeMounts") {
		if p := str(vm, "mountPath"); strings.HasPrefix(s.out, strings.TrimSuffix(p, "/")+"/") && vols[str(vm, "name")] != "" {
			s.claim, s.mountPath = vols[str(vm, "name")], p
		}
	}
	return s, nil
}

// TestIndexedSoakJob: the soak is an Indexed Job whose completion index is
// the shard, retried per index, with a pod failure policy that keeps a
// shard's result (exit 1: failures found) and a usage error (exit 2) from
// being retried, and disruptions from counting.
func TestIndexedSoakJob(t *testing.T) {
	found := 0
	for _, m := range loadManifests(t) {
		for _, job := range indexedJobs(m) {
			found++
			spec := obj(job.v, "spec")
			completions, ok1 := num(spec, "completions")
			parallelism, ok2 := num(spec, "parallelism")
			if !ok1 || completions < 1 {
				t.Errorf("%s: an Indexed Job needs completions, the shard count", job)
			}
			if !ok2 || parallelism != completions {
				t.Errorf("%s: parallelism %v, completions %d: run every shard at once", job, at(spec, "parallelism"), completions)
			}
			if _, ok := num(spec, "backoffLimitPerIndex"); !ok {
				t.Errorf("%s: no backoffLimitPerIndex: one crash-looping shard would use up every shard's retries", job)
			}
			if n, ok := num(spec, "maxFailedIndexes"); !ok || n < 0 || n > completions {
				t.Errorf("%s: maxFailedIndexes %v: want 0..completions", job, at(spec, "maxFailedIndexes"))
			}
			if p := str(spec, "podReplacementPolicy"); p != "" && p != "Failed" {
				t.Errorf("%s: podReplacementPolicy %s: a replacement must not start while the old pod still writes the shard's directory", job, p)
			}
			ps := podSpec(job)
			if rp := str(ps, "restartPolicy"); rp != "Never" {
				t.Errorf("%s: restartPolicy %q: a pod failure policy needs Never", job, rp)
			}
			rules := list(spec, "podFailurePolicy", "rules")
			if len(rules) == 0 {
				t.Errorf("%s: no podFailurePolicy", job)
			}
			names := map[string]bool{}
			for _, c := range containers(ps) {
				names[c.name()] = true
			}
			for i, r := range rules {
				if cn := str(r, "onExitCodes", "containerName"); cn != "" && !names[cn] {
					t.Errorf("%s: podFailurePolicy rule %d: no container %q", job, i, cn)
				}
				if str(r, "onExitCodes", "operator") == "In" && slices.ContainsFunc(list(r, "onExitCodes", "values"), func(v any) bool { n, _ := num(v); return n == 0 }) {
					t.Errorf("%s: podFailurePolicy rule %d: exit code 0 is a success, not a failure to match", job, i)
				}
			}
			for _, want := range []struct {
				code   int
				conds  []string
				action string
				why    string
			}{
				{1, nil, "FailIndex", "exit 1 is a finished shard that found failures: a result, which a retry would only resume and repeat"},
				{2, nil, "FailJob", "exit 2 is a usage or input error, the same for every shard"},
				{137, nil, "Count", "a killed or crashed pod is retried within backoffLimitPerIndex, resuming its shard"},
				{143, []string{"DisruptionTarget"}, "Ignore", "an evicted or preempted pod is not the soak's fault"},
				{1, []string{"DisruptionTarget"}, "Ignore", "a disrupted pod's exit code says nothing about the soak"},
				{2, []string{"DisruptionTarget"}, "Ignore", "a disrupted pod's exit code says nothing about the soak"},
			} {
				if got := policyAction(rules, want.code, want.conds...); got != want.action {
					t.Errorf("%s: exit %d %v: the pod failure policy says %s, want %s (%s)", job, want.code, want.conds, got, want.action, want.why)
				}
			}
			sh, err := soakShardOf(job)
			if err != nil {
				t.Error(err)
				continue
			}
			// --shard i/n: i is the completion index + 1 (hasim counts
			// from 1), n the number of completions, so that the shards are
			// disjoint and cover every seed.
			if shard, ok := flag(sh.call, "--shard"); !ok {
				t.Errorf("%s: hasim soak without --shard", job)
			} else {
				shard = expand(shard, assignments(sh.c.script()))
				i, n, _ := strings.Cut(shard, "/")
				if shardExprRE.FindString(i) != i {
					t.Errorf("%s: --shard %s: the shard must be $((JOB_COMPLETION_INDEX + 1))", job, shard)
				}
				if v := varRE.FindStringSubmatch(n); v != nil && v[0] == n {
					n = envOf(m, sh.c)[v[1]+v[2]]
				}
				if got, err := strconv.Atoi(n); err != nil || got != completions {
					t.Errorf("%s: --shard %s: the shard count is %q, the Job's completions %d", job, shard, n, completions)
				}
			}
			// --out: one directory per shard, on a claim every pod mounts
			// (an emptyDir would die with its pod: no resuming, no merge).
			if !strings.Contains(sh.out, "JOB_COMPLETION_INDEX") {
				t.Errorf("%s: --out %s is not per shard: every pod would write the same soak directory", job, sh.out)
			}
			if sh.claim == "" {
				t.Errorf("%s: --out %s is not on a mounted PersistentVolumeClaim", job, sh.out)
			} else if pvc, ok := m.get("PersistentVolumeClaim", sh.claim); ok && parallelism > 1 &&
				!slices.Contains(strs(pvc.v, "spec", "accessModes"), "ReadWriteMany") {
				t.Errorf("%s: %d pods on any nodes mount claim %q, which is not ReadWriteMany", job, parallelism, sh.claim)
			}
		}
	}
	if found == 0 {
		t.Error("no Indexed Job in deploy/")
	}
}

// TestMergeJob: next to each Indexed soak, a Job merges its shards with
// hasim report, from the same claim, after waiting (with the rights to) for
// the soak Job to finish, whether it completed or failed.
func TestMergeJob(t *testing.T) {
	for _, m := range loadManifests(t) {
		for _, soak := range indexedJobs(m) {
			soakName := str(soak.v, "metadata", "name")
			sh, err := soakShardOf(soak)
			if err != nil {
				continue // TestIndexedSoakJob says why
			}
			out, claim, mountPath := sh.out, sh.claim, sh.mountPath
			var merges []doc
			for _, d := range m.docs {
				if str(d.v, "kind") == "Job" && len(scriptRunning(podSpec(d), "report")) > 0 {
					merges = append(merges, d)
				}
			}
			if len(merges) != 1 {
				t.Errorf("%s: want one Job running hasim report beside the soak %q, have %d", m.file, soakName, len(merges))
				continue
			}
			merge := merges[0]
			ps := podSpec(merge)
			report := scriptRunning(ps, "report")[0]
			if report.init {
				t.Errorf("%s: hasim report runs in an init container; it must run after the wait", merge)
			}
			// The same claim, at the same place, reading the directories
			// the shards write.
			sameClaim := false
			for _, v := range list(ps, "volumes") {
				if str(v, "persistentVolumeClaim", "claimName") != claim {
					continue
				}
				for _, vm := range list(report.m, "volumeMounts") {
					if str(vm, "name") == str(v, "name") && str(vm, "mountPath") == mountPath {
						sameClaim = true
					}
				}
			}
			if !sameClaim {
				t.Errorf("%s: container %s does not mount claim %q at %s, where the shards write", merge, report.name(), claim, mountPath)
			}
			if loc := shardExprRE.FindStringIndex(out); loc != nil {
				prefix := out[:loc[0]]
				if !strings.Contains(expand(report.script(), assignments(report.script())), prefix) {
					t.Errorf("%s: the merge does not read the shards' directories %s<shard>", merge, prefix)
				}
			}
			// The wait: an init container that names the soak Job and
			// stops on either end, Complete or Failed (a soak whose shards
			// found failures fails, and must still be merged).
			waits := false
			for _, c := range containers(ps) {
				if !c.init {
					continue
				}
				text := c.script()
				for _, v := range envOf(m, c) {
					text += "\n" + v
				}
				if regexp.MustCompile(`\b` + regexp.QuoteMeta(soakName) + `\b`).MatchString(text) {
					waits = true
					if !strings.Contains(c.script(), "Complete") || !strings.Contains(c.script(), "Failed") {
						t.Errorf("%s: init container %s must wait for job/%s to be Complete or Failed", merge, c.name(), soakName)
					}
				}
			}
			if !waits {
				t.Errorf("%s: no init container waits for job/%s", merge, soakName)
			}
			// The rights to read the soak Job.
			sa := str(ps, "serviceAccountName")
			granted := false
			for _, rb := range m.docs {
				if str(rb.v, "kind") != "RoleBinding" || !slices.ContainsFunc(list(rb.v, "subjects"), func(s any) bool {
					return str(s, "kind") == "ServiceAccount" && str(s, "name") == sa
				}) {
					continue
				}
				role, ok := m.get(str(rb.v, "roleRef", "kind"), str(rb.v, "roleRef", "name"))
				if !ok {
					continue
				}
				for _, r := range list(role.v, "rules") {
					names := strs(r, "resourceNames")
					if slices.Contains(strs(r, "apiGroups"), "batch") && slices.Contains(strs(r, "resources"), "jobs") &&
						slices.Contains(strs(r, "verbs"), "get") && (len(names) == 0 || slices.Contains(names, soakName)) {
						granted = true
					}
				}
			}
			if sa == "" || !granted {
				t.Errorf("%s: service account %q is not granted get on job %s", merge, sa, soakName)
			}
			// A verdict is not retried: exit 1 (failures found) and 2 (a
			// shard did not run to its end, or nothing to merge) end it.
			if b, ok := num(merge.v, "spec", "backoffLimit"); !ok || b > 0 {
				rules := list(merge.v, "spec", "podFailurePolicy", "rules")
				for _, code := range []int{1, 2} {
					if a := policyAction(rules, code); a != "FailJob" {
						t.Errorf("%s: exit %d of the merge is a verdict; the pod failure policy says %s, want FailJob", merge, code, a)
					}
				}
				if rp := str(ps, "restartPolicy"); rp != "Never" {
					t.Errorf("%s: restartPolicy %q: a pod failure policy needs Never", merge, rp)
				}
			}
		}
	}
}

// ---- the nightly workflow

var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// canon writes every ${{ expr }} the same way.
func canon(s string) string { return exprRE.ReplaceAllString(s, "${{ $1 }}") }

type ghJob struct {
	name string
	v    map[string]any
}

// stepEnv is what a run step's script sees: workflow, job and step env.
func stepEnv(wf map[string]any, job, step any) map[string]string {
	env := map[string]string{}
	for _, scope := range []any{obj(wf, "env"), obj(job, "env"), obj(step, "env")} {
		for k, v := range obj(scope) {
			env[k] = canon(str(v))
		}
	}
	return env
}

func matrixValues(job any, key string) []string { return strs(job, "strategy", "matrix", key) }

func needsOf(job any) []string {
	if s := str(job, "needs"); s != "" {
		return []string{s}
	}
	return strs(job, "needs")
}

// TestNightlyWorkflow: the nightly soak runs a matrix of scenario × shard
// with the CLI alone, covering cluster and election too, and each
// scenario's shards are merged by a report job that waits for them.
func TestNightlyWorkflow(t *testing.T) {
	docs, err := readDocs(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents", workflowPath, len(docs))
	}
	wf := docs[0].v
	for _, trigger := range []string{"schedule", "workflow_dispatch"} {
		if _, ok := obj(wf, "on")[trigger]; !ok {
			t.Errorf("%s: not triggered by %s", workflowPath, trigger)
		}
	}
	var soaks, reports []ghJob
	for name, j := range obj(wf, "jobs") {
		job := ghJob{name, obj(j)}
		for _, s := range list(j, "steps") {
			// The CLI alone: the repository's own code, Go, and GitHub's
			// artifact store.
			if uses := str(s, "uses"); uses != "" {
				action, _, _ := strings.Cut(uses, "@")
				if !slices.Contains([]string{"actions/checkout", "actions/setup-go", "actions/upload-artifact", "actions/download-artifact"}, action) {
					t.Errorf("job %s: step uses %s; the soak runs with the hasim CLI alone", name, uses)
				}
			}
			run := str(s, "run")
			if hasimCall(run, "soak") != nil && !slices.ContainsFunc(soaks, func(g ghJob) bool { return g.name == name }) {
				soaks = append(soaks, job)
			}
			if hasimCall(run, "report") != nil && !slices.ContainsFunc(reports, func(g ghJob) bool { return g.name == name }) {
				reports = append(reports, job)
			}
		}
	}
	if len(soaks) == 0 || len(reports) == 0 {
		t.Fatalf("%s: want soak and report jobs, have %d and %d", workflowPath, len(soaks), len(reports))
	}
	soaked := map[string][]string{} // scenario -> soak jobs
	uploads := map[string]string{}  // soak job -> artifact name
	for _, j := range soaks {
		scenarios, shards := matrixValues(j.v, "scenario"), matrixValues(j.v, "shard")
		if len(scenarios) == 0 || len(shards) == 0 {
			t.Errorf("job %s: want a matrix over scenario × shard, have %v", j.name, obj(j.v, "strategy", "matrix"))
			continue
		}
		for _, s := range scenarios {
			soaked[s] = append(soaked[s], j.name)
		}
		for i, s := range shards {
			if s != strconv.Itoa(i+1) {
				t.Errorf("job %s: matrix shards %v: want 1..%d", j.name, shards, len(shards))
				break
			}
		}
		for _, s := range list(j.v, "steps") {
			run := str(s, "run")
			call := hasimCall(run, "soak")
			if call == nil {
				if name := str(s, "with", "name"); strings.HasPrefix(str(s, "uses"), "actions/upload-artifact") {
					uploads[j.name] = canon(name)
				}
				continue
			}
			if !strings.Contains(run, "./cmd/hasim") {
				t.Errorf("job %s: hasim is not built or run from ./cmd/hasim", j.name)
			}
			env := stepEnv(wf, j.v, s)
			value := func(f string) string {
				v, ok := flag(call, f)
				if !ok {
					t.Errorf("job %s: hasim soak without %s", j.name, f)
				}
				return canon(expand(v, env))
			}
			if got := value("--scenario"); got != "${{ matrix.scenario }}" {
				t.Errorf("job %s: --scenario %s, want the matrix's scenario", j.name, got)
			}
			if got, want := value("--shard"), fmt.Sprintf("${{ matrix.shard }}/%d", len(shards)); got != want {
				t.Errorf("job %s: --shard %s, want %s (the matrix has %d shards)", j.name, got, want, len(shards))
			}
			if got := value("--out"); !strings.Contains(got, "${{ matrix.scenario }}") || !strings.Contains(got, "${{ matrix.shard }}") {
				t.Errorf("job %s: --out %s is not one directory per scenario and shard", j.name, got)
			}
		}
		if name := uploads[j.name]; !strings.Contains(name, "${{ matrix.scenario }}") || !strings.Contains(name, "${{ matrix.shard }}") {
			t.Errorf("job %s: artifact %q: each leg of the matrix needs its own artifact name", j.name, name)
		}
	}
	for _, s := range nightlyScenarios {
		if len(soaked[s]) == 0 {
			t.Errorf("%s: the nightly soak does not run the %s scenario", workflowPath, s)
		}
	}
	reported := map[string]bool{}
	for _, j := range reports {
		scenarios := matrixValues(j.v, "scenario")
		if len(scenarios) == 0 {
			t.Errorf("job %s: want one report per scenario (a matrix over scenario)", j.name)
		}
		for _, s := range scenarios {
			reported[s] = true
			for _, need := range soaked[s] {
				if !slices.Contains(needsOf(j.v), need) {
					t.Errorf("job %s: merges %s but does not need %s, which soaks it", j.name, s, need)
				}
			}
		}
		// Merged even when a shard failed (the report then names it), not
		// when the run was cancelled.
		if cond := str(j.v, "if"); !strings.Contains(cond, "always()") && !strings.Contains(cond, "!cancelled()") {
			t.Errorf("job %s: if %q: a failed shard would keep its scenario from being merged", j.name, cond)
		}
		downloaded := false
		for _, s := range list(j.v, "steps") {
			if !strings.HasPrefix(str(s, "uses"), "actions/download-artifact") {
				continue
			}
			downloaded = true
			pattern := canon(str(s, "with", "pattern"))
			for _, need := range needsOf(j.v) {
				if up, ok := uploads[need]; ok && pattern != strings.ReplaceAll(up, "${{ matrix.shard }}", "*") {
					t.Errorf("job %s: downloads %q; the shards of one scenario are %q", j.name, pattern, strings.ReplaceAll(up, "${{ matrix.shard }}", "*"))
				}
			}
		}
		if !downloaded {
			t.Errorf("job %s: does not download the shards", j.name)
		}
	}
	for s := range soaked {
		if !reported[s] {
			t.Errorf("%s: no report job merges the %s shards", workflowPath, s)
		}
	}
}
