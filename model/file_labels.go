package model

import (
	"fmt"
	"sort"
	"strings"

	"trainer/data"
)

// The conversions between the model file's own records and the data
// package's types live here, at the boundary, so that File holds no data
// type (Preprocess converts with a plain type conversion and needs none).

// LabelMapOf is m as File.LabelMap records it: every raw label m knows and
// its class.
func LabelMapOf(m data.LabelMap) map[string]int {
	out := make(map[string]int)
	for _, raw := range m.Known() {
		action, _ := m.Lookup([]byte(raw))
		switch action {
		case data.LabelNegative:
			out[raw] = ClassNegative
		case data.LabelPositive:
			out[raw] = ClassPositive
		default:
			out[raw] = ClassDropped
		}
	}
	return out
}

// DataLabelMap is File.LabelMap as the data package's map, for reading test
// data with the labels the model was trained with; ok is false when the
// file records none (a file written before the map was stored).
func (f *File) DataLabelMap() (m data.LabelMap, ok bool, err error) {
	if len(f.LabelMap) == 0 {
		return data.LabelMap{}, false, nil
	}
	var groups [3][]string // neg, pos, drop
	for raw, class := range f.LabelMap {
		switch class {
		case ClassNegative:
			groups[0] = append(groups[0], raw)
		case ClassPositive:
			groups[1] = append(groups[1], raw)
		default:
			groups[2] = append(groups[2], raw)
		}
	}
	var parts []string
	for i, name := range [3]string{"neg", "pos", "drop"} {
		if len(groups[i]) > 0 {
			sort.Strings(groups[i])
			parts = append(parts, strings.Join(groups[i], ",")+"="+name)
		}
	}
	m, err = data.ParseLabelMap(strings.Join(parts, " "))
	if err != nil {
		return data.LabelMap{}, false, fmt.Errorf("model file label map: %w", err)
	}
	return m, true, nil
}
