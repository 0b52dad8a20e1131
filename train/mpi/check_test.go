package mpi

import "testing"

func TestFirstDiff(t *testing.T) {
	cases := []struct {
		root, mine []string
		want       string
	}{
		{[]string{"a=1", "b=2"}, []string{"a=1", "b=3"}, `rank 0 has "b=2", this rank "b=3"`},
		{[]string{"a=1"}, []string{"a=1", "c=1"}, `rank 0 has "", this rank "c=1"`},
		{[]string{"a=1"}, []string{"a=1"}, "settings"},
	}
	for _, c := range cases {
		if got := firstDiff(c.root, c.mine); got != c.want {
			t.Errorf("firstDiff(%v, %v) = %q, want %q", c.root, c.mine, got, c.want)
		}
	}
}

func TestLaunched(t *testing.T) {
	for _, c := range []struct {
		env  string
		want bool
	}{{"", false}, {"1", false}, {"2", true}, {"x", false}} {
		t.Setenv("OMPI_COMM_WORLD_SIZE", c.env)
		if got := launchedBySize(); got != c.want {
			t.Errorf("OMPI_COMM_WORLD_SIZE=%q: launched %v, want %v", c.env, got, c.want)
		}
	}
}
