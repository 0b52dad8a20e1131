package data

import "testing"

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
