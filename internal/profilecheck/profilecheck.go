// Package profilecheck applies differential-only FHIR profiles (NHS
// England's genomics StructureDefinitions, which constrain UK Core and ship
// without snapshots, so a general validator cannot load them) to resources
// as JSON. It reads each differential element's cardinality, types, target
// profiles and fixed values from the StructureDefinition itself: the rules
// are never copied into code. What it cannot decide (a slice it cannot
// recognise) it reports as a problem rather than passing silently.
package profilecheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Profile is one StructureDefinition, as much of it as is checked.
type Profile struct {
	URL          string `json:"url"`
	Type         string `json:"type"`
	Differential struct {
		Element []element `json:"element"`
	} `json:"differential"`
	set Set // the others loaded with it, which its target profiles name
}

type element struct {
	ID              string          `json:"id"`
	SliceName       string          `json:"sliceName"`
	Min             *int            `json:"min"`
	Max             string          `json:"max"`
	Type            []elementType   `json:"type"`
	FixedURI        string          `json:"fixedUri"`
	FixedIdentifier *fixedSystemURI `json:"fixedIdentifier"`
}

func (e element) checkable() bool {
	return e.Min != nil || e.Max != "" || len(e.Type) > 0 || e.FixedURI != "" || e.FixedIdentifier != nil
}

type elementType struct {
	Code          string   `json:"code"`
	Profile       []string `json:"profile"`
	TargetProfile []string `json:"targetProfile"`
}

type fixedSystemURI struct {
	System string `json:"system"`
}

// Set is the loaded profiles by canonical URL.
type Set map[string]*Profile

// Load reads every *.json StructureDefinition in dir.
func Load(dir string) (Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no StructureDefinitions in %s: %v", dir, err)
	}
	set := Set{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var p Profile
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		p.set = set
		set[p.URL] = &p
	}
	return set, nil
}

// ForType is the loaded profile constraining resources of type t, if any.
func (s Set) ForType(t string) *Profile {
	for _, p := range s {
		if p.Type == t {
			return p
		}
	}
	return nil
}

// Reference is one reference the profile constrains by target profile:
// the resolved resource (nil when it is not in the Bundle) and the
// profiles it may conform to.
type Reference struct {
	Path           string
	Target         map[string]any
	TargetProfiles []string
}

// Resolver finds a referenced resource (a Bundle entry by fullUrl).
type Resolver func(reference string) map[string]any

// Check applies p to resource and returns its problems, each naming the
// element, and the references whose targets the caller should check in
// turn (target profiles are a claim about another resource).
func (p *Profile) Check(resource map[string]any, resolve Resolver) (problems []string, refs []Reference) {
	if resource["resourceType"] != p.Type {
		return []string{fmt.Sprintf("%s applies to %s, not %v", p.URL, p.Type, resource["resourceType"])}, nil
	}
	byID := map[string]element{}
	for _, e := range p.Differential.Element {
		byID[e.ID] = e
	}
	for _, e := range p.Differential.Element {
		steps := strings.Split(e.ID, ".")[1:]
		if len(steps) == 0 || !e.checkable() {
			continue // bindings, slicing and documentation: nothing this package checks
		}
		parents, err := p.selectSteps([]any{resource}, steps[:len(steps)-1], byID, p.Type)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.ID, err))
			continue
		}
		last := steps[len(steps)-1]
		for _, parent := range parents {
			values, err := p.selectSteps([]any{parent}, []string{last}, byID, strings.Join(append([]string{p.Type}, steps[:len(steps)-1]...), "."))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", e.ID, err))
				continue
			}
			problems = append(problems, cardinality(e, len(values))...)
			problems = append(problems, choiceTypes(e, parent, last)...)
			for _, v := range values {
				if e.FixedURI != "" && v != e.FixedURI {
					problems = append(problems, fmt.Sprintf("%s: %v, fixed to %s", e.ID, v, e.FixedURI))
				}
				if targets := targetProfiles(e); len(targets) > 0 {
					refs = append(refs, reference(e.ID, v, targets, resolve, &problems, p.targetTypes(targets)))
				}
			}
		}
	}
	return problems, refs
}

func cardinality(e element, n int) []string {
	var problems []string
	if e.Min != nil && n < *e.Min {
		problems = append(problems, fmt.Sprintf("%s: %d present, at least %d required", e.ID, n, *e.Min))
	}
	if e.Max != "" && e.Max != "*" {
		if max, err := strconv.Atoi(e.Max); err == nil && n > max {
			problems = append(problems, fmt.Sprintf("%s: %d present, at most %d allowed", e.ID, n, max))
		}
	}
	return problems
}

// choiceTypes checks that a value[x] present in parent is one of the types
// the element allows.
func choiceTypes(e element, parent any, step string) []string {
	name, _, _ := strings.Cut(step, ":")
	base, ok := strings.CutSuffix(name, "[x]")
	obj, isObj := parent.(map[string]any)
	if !ok || len(e.Type) == 0 || !isObj {
		return nil
	}
	allowed := map[string]bool{}
	for _, t := range e.Type {
		allowed[strings.ToUpper(t.Code[:1])+t.Code[1:]] = true
	}
	var problems []string
	for key := range obj {
		if suffix, ok := strings.CutPrefix(key, base); ok && suffix != "" && suffix[0] >= 'A' && suffix[0] <= 'Z' && !allowed[suffix] {
			problems = append(problems, fmt.Sprintf("%s: %s is not an allowed type (%s)", e.ID, key, strings.Join(sortedKeys(allowed), ", ")))
		}
	}
	return problems
}

func targetProfiles(e element) []string {
	var targets []string
	for _, t := range e.Type {
		if t.Code == "Reference" {
			targets = append(targets, t.TargetProfile...)
		}
	}
	return targets
}

// targetTypes is the resource types target profiles allow: a loaded
// profile's own type, else the name the canonical ends with (UK Core's and
// base FHIR's profiles are named after their resource).
func (s Set) targetTypes(targets []string) map[string]bool {
	types := map[string]bool{}
	for _, t := range targets {
		if p, ok := s[t]; ok {
			types[p.Type] = true
			continue
		}
		name := t[strings.LastIndex(t, "/")+1:]
		types[strings.TrimPrefix(name, "UKCore-")] = true
	}
	return types
}

func (p *Profile) targetTypes(targets []string) map[string]bool { return p.set.targetTypes(targets) }

func reference(path string, v any, targets []string, resolve Resolver, problems *[]string, types map[string]bool) Reference {
	r := Reference{Path: path, TargetProfiles: targets}
	obj, _ := v.(map[string]any)
	literal, _ := obj["reference"].(string)
	if literal == "" {
		return r // a logical reference (identifier only) names no resource to check
	}
	r.Target = resolve(literal)
	typ := ""
	if r.Target != nil {
		typ, _ = r.Target["resourceType"].(string)
	} else if t, _, ok := strings.Cut(literal, "/"); ok && !strings.Contains(t, ":") {
		typ = t
	}
	if typ != "" && !types[typ] {
		*problems = append(*problems, fmt.Sprintf("%s: refers to a %s; allowed: %s", path, typ, strings.Join(sortedKeys(types), ", ")))
	}
	return r
}

// selectSteps follows element steps ("identifier:pedigreeNumber",
// "value[x]") from nodes, flattening arrays. prefix is the element id the
// steps start under, to find a slice's own definition.
func (p *Profile) selectSteps(nodes []any, steps []string, byID map[string]element, prefix string) ([]any, error) {
	for _, step := range steps {
		name, slice, _ := strings.Cut(step, ":")
		id := prefix + "." + step
		var next []any
		for _, n := range nodes {
			obj, ok := n.(map[string]any)
			if !ok {
				continue
			}
			for key, v := range obj {
				if !matches(key, name) {
					continue
				}
				if arr, ok := v.([]any); ok {
					next = append(next, arr...)
				} else {
					next = append(next, v)
				}
			}
		}
		if slice != "" {
			member, err := sliceMember(name, id, byID)
			if err != nil {
				return nil, err
			}
			var in []any
			for _, v := range next {
				if member(v) {
					in = append(in, v)
				}
			}
			next = in
		}
		nodes, prefix = next, id
	}
	return nodes, nil
}

func matches(key, name string) bool {
	if base, ok := strings.CutSuffix(name, "[x]"); ok {
		suffix, ok := strings.CutPrefix(key, base)
		return ok && suffix != "" && suffix[0] >= 'A' && suffix[0] <= 'Z'
	}
	return key == name
}

// sliceMember recognises the members of the slice defined at id: an
// extension by its profile's url, a coding or identifier by its fixed
// system. A slice the differential does not make recognisable is an error:
// its rules cannot be checked without UK Core's snapshot.
func sliceMember(name, id string, byID map[string]element) (func(any) bool, error) {
	e := byID[id]
	system := ""
	if e.FixedIdentifier != nil {
		system = e.FixedIdentifier.System
	}
	if s := byID[id+".system"]; s.FixedURI != "" {
		system = s.FixedURI
	}
	if system != "" {
		return func(v any) bool { obj, _ := v.(map[string]any); return obj["system"] == system }, nil
	}
	if name == "extension" || name == "modifierExtension" {
		for _, t := range e.Type {
			if len(t.Profile) == 1 {
				url := t.Profile[0]
				return func(v any) bool { obj, _ := v.(map[string]any); return obj["url"] == url }, nil
			}
		}
	}
	return nil, fmt.Errorf("slice %s cannot be recognised from the differential alone (its discriminator value is in UK Core's snapshot)", id)
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
