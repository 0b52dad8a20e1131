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

func TestParsePrecisionAndDevice(t *testing.T) {
	for in, want := range map[string]Precision{"": FP32, "off": FP32, "fp16": FP16, "on": FP16, "bf16": BF16} {
		if got, err := ParsePrecision(in); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil {
		t.Error("fp8 accepted")
	}
	for _, c := range []struct {
		in      string
		ord     int
		ok, bad bool
	}{{"cpu", 0, false, false}, {"cuda", 0, true, false}, {"cuda:3", 3, true, false}, {"cuda:x", 0, true, true}, {"cuda:-1", 0, true, true}} {
		ord, ok, err := ParseDevice(c.in)
		if ok != c.ok || (err != nil) != c.bad || (!c.bad && ord != c.ord) {
			t.Errorf("ParseDevice(%q) = %d, %v, %v", c.in, ord, ok, err)
		}
	}
}
