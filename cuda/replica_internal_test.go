package cuda

import "testing"

func TestSplitK(t *testing.T) {
	cases := []struct{ tiles, k, want int }{
		{1, 100, 1},       // short K: no split
		{1, 1024, 2},      // two slices of 512
		{64, 25600, 4},    // dW_hh of H=256: 64 tiles, 4 slices fill 256 blocks
		{300, 1 << 20, 1}, // enough tiles already
		{0, 4096, 8},      // degenerate tile count
	}
	for _, c := range cases {
		if got := splitK(c.tiles, c.k); got != c.want {
			t.Errorf("splitK(%d tiles, K=%d) = %d, want %d", c.tiles, c.k, got, c.want)
		}
	}
}

func TestPoolRoundSize(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 256}, {256, 256}, {257, 512}, {1 << 20, 1 << 20}, {1<<20 + 1, 5 << 18}} {
		if got := roundSize(c.n); got != c.want {
			t.Errorf("roundSize(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestParsePrecision(t *testing.T) {
	for in, want := range map[string]Precision{"": FP32, "off": FP32, "fp32": FP32, "fp16": FP16, "on": FP16, "bf16": BF16} {
		if got, err := ParsePrecision(in); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil {
		t.Error("fp8 accepted")
	}
}

func TestResolvePrecision(t *testing.T) {
	cases := []struct {
		req          string
		major, minor int
		want         Precision
		bad          bool
	}{
		{"auto", 9, 0, BF16, false},
		{"auto", 8, 0, BF16, false},
		{"auto", 7, 5, FP32, false},
		{"", 8, 6, BF16, false},
		{"fp32", 9, 0, FP32, false},
		{"fp16", 7, 0, FP16, false},
		{"bf16", 8, 0, BF16, false},
		{"bf16", 7, 5, FP32, true},
		{"int4", 9, 0, FP32, true},
	}
	for _, c := range cases {
		got, err := ResolvePrecision(c.req, c.major, c.minor)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("ResolvePrecision(%q, %d.%d) = %v, %v; want %v (error %v)", c.req, c.major, c.minor, got, err, c.want, c.bad)
		}
	}
}
