package data

import (
	"strings"
	"testing"
)

func TestShardRangeCoversAllItemsOnce(t *testing.T) {
	cases := []struct{ total, n int }{{10, 1}, {10, 3}, {3, 5}, {0, 2}, {128, 7}}
	for _, c := range cases {
		next := 0
		for i := 0; i < c.n; i++ {
			lo, hi := ShardRange(c.total, i, c.n)
			if lo != next || hi < lo {
				t.Fatalf("total %d n %d part %d: got [%d,%d), want start %d", c.total, c.n, i, lo, hi, next)
			}
			if size := hi - lo; size < c.total/c.n || size > c.total/c.n+1 {
				t.Fatalf("total %d n %d part %d: uneven size %d", c.total, c.n, i, size)
			}
			next = hi
		}
		if next != c.total {
			t.Fatalf("total %d n %d: covered %d", c.total, c.n, next)
		}
	}
}

func TestMakeBatchPadsAndTruncates(t *testing.T) {
	b := MakeBatch([][]int32{{5, 6, 7}, {8}}, []uint8{1, 0}, 2)
	if b.MaxLen != 2 || b.Size != 2 {
		t.Fatalf("shape %dx%d, want 2x2", b.Size, b.MaxLen)
	}
	want := []int32{5, 6, 8, PadID}
	for i, v := range want {
		if b.Tokens[i] != v {
			t.Fatalf("tokens %v, want %v", b.Tokens, want)
		}
	}
	if b.RealTokens() != 3 || b.Labels[0] != 1 || b.Labels[1] != 0 {
		t.Fatalf("real tokens %d labels %v", b.RealTokens(), b.Labels)
	}
	s := b.Shard(1, 2)
	if s.Size != 1 || s.Row(0)[0] != 8 {
		t.Fatalf("shard 1/2 = %+v", s)
	}
}

func TestTruncation(t *testing.T) {
	d := &Dataset{Tokens: make([]int32, 10), Offsets: []int64{0, 2, 7, 10}, Labels: []uint8{0, 1, 0}} // lengths 2, 5, 3
	cases := []struct {
		maxLen          int
		reviews, tokens int64
	}{{1, 3, 7}, {2, 2, 4}, {3, 1, 2}, {5, 0, 0}, {100, 0, 0}}
	for _, c := range cases {
		if got := d.Truncation(c.maxLen); got != (Truncation{MaxLen: c.maxLen, Reviews: c.reviews, Tokens: c.tokens}) {
			t.Errorf("Truncation(%d) = %+v, want %d reviews, %d tokens", c.maxLen, got, c.reviews, c.tokens)
		}
	}
	var b strings.Builder
	if err := d.Truncation(2).WriteText(&b, &Report{Kept: 3, Tokens: 10}); err != nil {
		t.Fatal(err)
	}
	if want := "  max-len                2 reviews (66.67%) longer than 2; 4 tokens (40.00%) cut\n"; b.String() != want {
		t.Errorf("WriteText:\n%q\nwant\n%q", b.String(), want)
	}
}
