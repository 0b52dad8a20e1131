package train

import (
	"math"
	"testing"
)

func TestLRSchedule(t *testing.T) {
	lin := LRSchedule{Base: 1, Warmup: 4, Total: 12, Decay: "linear"}
	cos := LRSchedule{Base: 1, Warmup: 4, Total: 12, Decay: "cosine"}
	flat := LRSchedule{Base: 0.5}
	floor := LRSchedule{Base: 1, Total: 10, Decay: "linear", MinRatio: 0.1}
	cases := []struct {
		name string
		s    LRSchedule
		step int
		want float64
	}{
		{"warmup first", lin, 0, 0.25},
		{"warmup last", lin, 3, 1},
		{"decay start", lin, 4, 1},
		{"linear half", lin, 8, 0.5},
		{"linear end", lin, 12, 0},
		{"linear past end", lin, 20, 0},
		{"cosine quarter", cos, 6, 0.5 * (1 + math.Cos(math.Pi/4))},
		{"cosine half", cos, 8, 0.5},
		{"cosine end", cos, 12, 0},
		{"constant", flat, 1000, 0.5},
		{"floor", floor, 10, 0.1},
		{"floor half", floor, 5, 0.55},
	}
	for _, c := range cases {
		if got := c.s.LR(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: LR(%d) = %g, want %g", c.name, c.step, got, c.want)
		}
	}
}

func TestLRScheduleValidate(t *testing.T) {
	bad := []LRSchedule{{Base: 0}, {Base: math.NaN()}, {Base: 1, Warmup: -1}, {Base: 1, Decay: "step"}, {Base: 1, MinRatio: 2}}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := (LRSchedule{Base: 1e-3, Decay: "cosine", Warmup: 10}).Validate(); err != nil {
		t.Error(err)
	}
}
