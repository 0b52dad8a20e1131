package serve

import (
	"context"
	"slices"
	"testing"
	"time"
)

// collect runs a batcher over jobs submitted at once and returns the size
// of every batch it formed, in order, and the models they carried.
func collect(t *testing.T, maxBatch int, jobs []*job) (sizes []int, models []*loaded) {
	t.Helper()
	b := newBatcher(maxBatch, time.Hour, len(jobs))
	for _, j := range jobs {
		b.in <- j
	}
	close(b.in)
	go b.run()
	seen := map[*job]int{}
	for bt := range b.out {
		sizes = append(sizes, bt.n)
		models = append(models, bt.model)
		n := 0
		for _, p := range bt.pieces {
			if p.j.model != bt.model {
				t.Errorf("a piece of another model's job in a batch")
			}
			if p.lo != seen[p.j] {
				t.Errorf("piece starts at %d, expected %d: pieces out of order", p.lo, seen[p.j])
			}
			seen[p.j] = p.hi
			n += p.hi - p.lo
		}
		if n != bt.n {
			t.Errorf("batch says %d reviews, its pieces hold %d", bt.n, n)
		}
	}
	for _, j := range jobs {
		if seen[j] != len(j.ids) {
			t.Errorf("job of %d reviews: %d batched", len(j.ids), seen[j])
		}
	}
	return sizes, models
}

func jobOf(m *loaded, n int) *job {
	return newJob(context.Background(), m, make([][]int32, n))
}

func TestBatcherSplitsAndCoalesces(t *testing.T) {
	a, b := &loaded{digest: "a"}, &loaded{digest: "b"}
	cases := []struct {
		name     string
		maxBatch int
		jobs     []*job
		sizes    []int
		models   []*loaded
	}{
		{"coalesces small requests", 64, []*job{jobOf(a, 1), jobOf(a, 5), jobOf(a, 10)}, []int{16}, []*loaded{a}},
		{"splits a large request", 64, []*job{jobOf(a, 150)}, []int{64, 64, 22}, []*loaded{a, a, a}},
		{"fills across requests", 4, []*job{jobOf(a, 3), jobOf(a, 3), jobOf(a, 3)}, []int{4, 4, 1}, []*loaded{a, a, a}},
		{"a model change starts a batch", 64, []*job{jobOf(a, 2), jobOf(b, 3), jobOf(b, 1), jobOf(a, 1)}, []int{2, 4, 1}, []*loaded{a, b, a}},
		{"empty requests are answered at once", 8, []*job{jobOf(a, 0), jobOf(a, 2)}, []int{2}, []*loaded{a}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sizes, models := collect(t, c.maxBatch, c.jobs)
			if !slices.Equal(sizes, c.sizes) || !slices.Equal(models, c.models) {
				t.Errorf("batches %v, want %v", sizes, c.sizes)
			}
			for _, j := range c.jobs {
				if len(j.ids) == 0 {
					select {
					case <-j.done:
					default:
						t.Error("an empty job was not answered")
					}
				}
			}
		})
	}
}

func TestBatcherDelayBoundsTheWait(t *testing.T) {
	b := newBatcher(1000, 20*time.Millisecond, 1)
	go b.run()
	defer close(b.in)
	start := time.Now()
	b.in <- jobOf(&loaded{}, 1)
	bt := <-b.out
	if waited := time.Since(start); bt.n != 1 || waited < 20*time.Millisecond || waited > 5*time.Second {
		t.Errorf("a lone review was batched after %v (batch of %d), want about the 20ms max delay", waited, bt.n)
	}
}
