package tune

import "testing"

func TestShellQuote(t *testing.T) {
	cases := []struct{ in, want string }{
		{"--lr=0.002", "--lr=0.002"},
		{"--train=data/a b.txt", "'--train=data/a b.txt'"},
		{"--label-map=1,2=neg 4,5=pos", "'--label-map=1,2=neg 4,5=pos'"},
		{"it's", `'it'\''s'`},
		{"", "''"},
	}
	for _, c := range cases {
		if got := shellQuote(c.in); got != c.want {
			t.Errorf("shellQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestReproduce(t *testing.T) {
	defaults := Point{"lr": "0.002", "hidden": "64", "bidirectional": "true"}
	best := Trial{ID: 4, Epochs: 3, Point: Point{"lr": "0.005", "hidden": "64", "bidirectional": "false"}}
	got := reproduce([]string{"--train=my reviews.txt", "--seed=2"}, best, defaults)
	want := "trainer train '--train=my reviews.txt' --seed=2 --epochs 3 --out DIR --bidirectional=false --lr=0.005"
	if got != want {
		t.Fatalf("reproduce:\n got %s\nwant %s", got, want)
	}
	if got := pointLabel(Trial{Point: defaults}, defaults); got != "the defaults" {
		t.Fatalf("pointLabel of the defaults = %q", got)
	}
}

func TestResumeMayChange(t *testing.T) {
	for flag, want := range map[string]bool{"cpu-workers": true, "cache-dir": true, "train": true, "dev": true,
		"seed": false, "vocab-size": false, "tokenizer": false, "dev-fraction": false} {
		if got := ResumeMayChange(flag); got != want {
			t.Errorf("ResumeMayChange(%q) = %v, want %v", flag, got, want)
		}
	}
}
