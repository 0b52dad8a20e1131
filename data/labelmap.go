package data

import (
	"fmt"
	"sort"
	"strings"
)

// LabelAction is what a LabelMap does with a raw label: turn it into a
// class or drop the record.
type LabelAction int8

// Label actions. LabelNegative and LabelPositive carry the class values
// Negative and Positive so a lookup result converts directly.
const (
	LabelNegative LabelAction = LabelAction(Negative)
	LabelPositive LabelAction = LabelAction(Positive)
	LabelDrop     LabelAction = -1
)

// labelEntry is one raw label and what it maps to.
type labelEntry struct {
	key    string
	action LabelAction
}

// LabelMap maps raw labels as they appear in a file (the text after
// "__label__" in fastText, the first field in CSV) to classes. Its zero
// value is the Amazon Review Polarity convention: "1" is negative, "2" is
// positive and any other label is an error. A LabelMap is immutable and safe
// for concurrent use. It holds a handful of entries, so lookup is a linear
// scan over byte strings, which is faster than a map for this size and does
// not allocate.
type LabelMap struct {
	entries []labelEntry // sorted by key; nil means the default map
}

// defaultLabelEntries is the Amazon polarity convention.
var defaultLabelEntries = []labelEntry{{"1", LabelNegative}, {"2", LabelPositive}}

func (m LabelMap) list() []labelEntry {
	if m.entries == nil {
		return defaultLabelEntries
	}
	return m.entries
}

// Lookup returns the action for a raw label; ok is false when the label is
// not in the map.
func (m LabelMap) Lookup(label []byte) (action LabelAction, ok bool) {
	for _, e := range m.list() {
		if string(label) == e.key {
			return e.action, true
		}
	}
	return 0, false
}

// Known lists the labels the map knows, sorted, for error messages.
func (m LabelMap) Known() []string {
	l := m.list()
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.key
	}
	return out
}

// String is the canonical form of the map, accepted by ParseLabelMap:
// groups of labels per target, targets in the order neg, pos, drop, for
// example "1,2=neg 4,5=pos 3=drop". The default map prints as "1=neg 2=pos".
func (m LabelMap) String() string {
	var groups [3][]string
	for _, e := range m.list() {
		switch e.action {
		case LabelNegative:
			groups[0] = append(groups[0], e.key)
		case LabelPositive:
			groups[1] = append(groups[1], e.key)
		default:
			groups[2] = append(groups[2], e.key)
		}
	}
	names := [3]string{"neg", "pos", "drop"}
	var parts []string
	for i, g := range groups {
		if len(g) > 0 {
			parts = append(parts, strings.Join(g, ",")+"="+names[i])
		}
	}
	return strings.Join(parts, " ")
}

// ParseLabelMap parses a label mapping such as "1,2=neg 4,5=pos 3=drop".
// Groups are separated by spaces or semicolons; each is a comma-separated
// list of raw labels, '=', and a target: "neg", "negative" or "0" for the
// negative class, "pos", "positive" or "1" for the positive class, "drop"
// or "skip" to drop the record (counted, not an error). Commas may also
// separate groups, as in "1=neg,2=pos": a target ends its group, so the
// labels after its comma start the next one ("1,2=neg,4,5=pos" is two
// groups). A "__label__" prefix on a raw label is ignored, so
// "__label__1=neg" works. Labels not listed are errors when read. A label
// may appear only once.
func ParseLabelMap(spec string) (LabelMap, error) {
	groups := strings.FieldsFunc(spec, func(r rune) bool { return r == ' ' || r == ';' || r == '\t' })
	if len(groups) == 0 {
		return LabelMap{}, fmt.Errorf("label map %q: empty; want groups like \"1,2=neg 4,5=pos 3=drop\"", spec)
	}
	seen := map[string]bool{}
	var entries []labelEntry
	for _, g := range groups {
		// Items are labels, the last of each run carrying "=target".
		var keys []string
		for _, item := range strings.Split(g, ",") {
			key, target, found := strings.Cut(item, "=")
			keys = append(keys, key)
			if !found {
				continue
			}
			action, err := labelTarget(target)
			if err != nil {
				return LabelMap{}, fmt.Errorf("label map %q: %v in group %q (want neg, pos, drop, 0 or 1)", spec, err, g)
			}
			for _, k := range keys {
				k = strings.TrimPrefix(strings.TrimSpace(k), "__label__")
				if k == "" {
					return LabelMap{}, fmt.Errorf("label map %q: empty label in group %q", spec, g)
				}
				if seen[k] {
					return LabelMap{}, fmt.Errorf("label map %q: label %q listed twice", spec, k)
				}
				seen[k] = true
				entries = append(entries, labelEntry{k, action})
			}
			keys = nil
		}
		if len(keys) > 0 {
			return LabelMap{}, fmt.Errorf("label map %q: group %q has no '=' after labels %q (want labels=neg|pos|drop)",
				spec, g, strings.Join(keys, ","))
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	return LabelMap{entries: entries}, nil
}

// labelTarget reads the target after '=' in a label map.
func labelTarget(target string) (LabelAction, error) {
	switch strings.ToLower(strings.TrimSpace(target)) {
	case "neg", "negative", "0":
		return LabelNegative, nil
	case "pos", "positive", "1":
		return LabelPositive, nil
	case "drop", "skip":
		return LabelDrop, nil
	}
	return 0, fmt.Errorf("unknown target %q", target)
}
