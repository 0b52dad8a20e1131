package data

import (
	"math/rand"
	"strings"
	"testing"
)

func TestCleaningSteps(t *testing.T) {
	const raw = "Hello,  WORLD! 'Tis  rock'n'roll\t‘x’"
	cases := []struct {
		p     Preprocess
		clean string
		split []string
	}{
		{Preprocess{Lowercase: true, RemoveSpecial: true, CollapseSpace: true}, "hello world tis rock'n'roll x", []string{"hello", "world", "tis", "rock'n'roll", "x"}},
		{Preprocess{RemoveSpecial: true, CollapseSpace: true}, "Hello WORLD Tis rock'n'roll x", []string{"Hello", "WORLD", "Tis", "rock'n'roll", "x"}},
		{Preprocess{Lowercase: true, RemoveSpecial: true}, "hello   world   tis  rock'n'roll  x ", []string{"hello", "world", "tis", "rock'n'roll", "x"}},
		{Preprocess{Lowercase: true, CollapseSpace: true}, "hello, world! 'tis rock'n'roll ‘x’", []string{"hello,", "world!", "'tis", "rock'n'roll", "‘x’"}},
		{Preprocess{Lowercase: true}, "hello,  world! 'tis  rock'n'roll\t‘x’", []string{"hello,", "world!", "'tis", "rock'n'roll", "‘x’"}},
		{Preprocess{}, raw, []string{"Hello,", "WORLD!", "'Tis", "rock'n'roll", "‘x’"}},
	}
	for _, c := range cases {
		c.p.Tokenizer = TokenizerSplit
		tk := NewTokenizer(c.p)
		if got := cleanText(tk, raw); got != c.clean {
			t.Errorf("%s: Clean = %q, want %q", c.p.Key(), got, c.clean)
		}
		if got := tokenStrings(tk.Tokens(raw)); !equalStrings(got, c.split) {
			t.Errorf("%s: Tokens = %q, want %q", c.p.Key(), got, c.split)
		}
	}
}

// allSettings is every combination of the cleaning switches.
func allSettings(tokenizer string) []Preprocess {
	var out []Preprocess
	for m := 0; m < 8; m++ {
		out = append(out, Preprocess{Lowercase: m&1 != 0, RemoveSpecial: m&2 != 0, CollapseSpace: m&4 != 0, Tokenizer: tokenizer})
	}
	return out
}

// scalarTokens is what clean alone finds, bypassing the ASCII fast path.
func scalarTokens(c *cleaner, text string) []string {
	buf, spans := c.clean(nil, nil, text)
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = string(buf[s.start:s.end])
	}
	return out
}

// checkFastPath compares the 64-byte fast path, with and without its
// AVX-512 blocks, with the scalar cleaner.
func checkFastPath(t *testing.T, p Preprocess, text string) {
	t.Helper()
	for _, wide := range []bool{false, true} {
		if wide && !hasClassify {
			continue
		}
		c := newCleaner(p)
		c.wide = wide
		checkFastPathWith(t, &c, p, text)
	}
}

func checkFastPathWith(t *testing.T, c *cleaner, p Preprocess, text string) {
	t.Helper()
	buf, spans, _, ok, apos := c.spansASCII(nil, nil, nil, text)
	if ok != isASCII(text) {
		t.Fatalf("wide %v: fast path took text %q: %v, ASCII: %v", c.wide, text, ok, isASCII(text))
	}
	if !ok {
		return
	}
	got := make([]string, len(spans))
	for i, s := range spans {
		got[i] = string(buf[s.start:s.end])
	}
	if want := scalarTokens(c, text); !equalStrings(got, want) {
		t.Fatalf("%s, wide %v: fast path %q, scalar %q on %q", p.Key(), c.wide, got, want, text)
	}
	if p.RemoveSpecial && apos != strings.Contains(strings.Join(got, " "), "'") {
		t.Fatalf("%s: apostrophe flag %v for tokens %q", p.Key(), apos, got)
	}
}

func TestFastPathMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	alphabet := "aZ09'' ,.!\t\n\r\x00\x01\x7f-_\"dn't@[`{AzQ"
	for i := 0; i < 3000; i++ {
		b := make([]byte, rng.Intn(300))
		for k := range b {
			b[k] = alphabet[rng.Intn(len(alphabet))]
		}
		if i%10 == 0 && len(b) > 0 {
			b[rng.Intn(len(b))] = 0xc3 // a byte of a non-ASCII character, anywhere
		}
		for _, p := range allSettings(TokenizerSplit) {
			checkFastPath(t, p, string(b))
		}
	}
	for _, s := range syntheticReviews(200, 9) {
		for _, p := range allSettings(TokenizerSplit) {
			checkFastPath(t, p, s)
		}
	}
}
