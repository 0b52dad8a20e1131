package device

import (
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		bad  bool
	}{
		{"cpu", Spec{Kind: "cpu"}, false},
		{"cuda", Spec{Kind: "cuda"}, false},
		{"cuda:0", Spec{Kind: "cuda"}, false},
		{"cuda:3", Spec{Kind: "cuda", Ordinal: 3}, false},
		{"cuda:-1", Spec{}, true},
		{"cuda:x", Spec{}, true},
		{":1", Spec{}, true},
		{"", Spec{}, true},
	} {
		got, err := ParseSpec(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("ParseSpec(%q) error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestOpenUnregisteredKind(t *testing.T) {
	_, err := Open(Spec{Kind: "cuda"}, Request{})
	if Available("cuda") {
		t.Skip("this test binary has a CUDA backend registered")
	}
	if err == nil || !strings.Contains(err.Error(), "without CUDA support") {
		t.Fatalf("Open(cuda:0) without a backend: %v", err)
	}
	_, err = Open(Spec{Kind: "tpu"}, Request{})
	if err == nil || !strings.Contains(err.Error(), `unknown device kind "tpu"`) {
		t.Fatalf("Open(tpu:0): %v", err)
	}
}

func TestRegisterAndOpen(t *testing.T) {
	opened := 0
	Register("test-kind", func(spec Spec, req Request) (*Set, error) {
		opened++
		if spec.Ordinal != 2 || req.Streams != 1 {
			t.Errorf("opener got %+v, streams %d", spec, req.Streams)
		}
		return &Set{Name: "test", Precision: "fp32"}, nil
	})
	if !Available("test-kind") {
		t.Fatal("registered kind not available")
	}
	s, err := Open(Spec{Kind: "test-kind", Ordinal: 2}, Request{})
	if err != nil || s.Name != "test" || opened != 1 {
		t.Fatalf("Open: %+v, %v (opened %d)", s, err, opened)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a kind twice did not panic")
		}
	}()
	Register("test-kind", nil)
}
