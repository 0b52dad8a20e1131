package data

import (
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// treebankOnly tokenizes text without cleaning, so that the Treebank rules
// see exactly the text NLTK saw.
var treebankOnly = Preprocess{Tokenizer: TokenizerTreebank}

// TestTreebankMatchesNLTK holds outputs of NLTK 3.8's
// TreebankWordTokenizer().tokenize on each input (inputs hold no
// punctuation but apostrophes, the only character cleaning keeps that its
// rules act on).
func TestTreebankMatchesNLTK(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"don't", []string{"do", "n't"}},
		{"can't", []string{"ca", "n't"}},
		{"won't", []string{"wo", "n't"}},
		{"i'm", []string{"i", "'m"}},
		{"it's", []string{"it", "'s"}},
		{"we're", []string{"we", "'re"}},
		{"they've", []string{"they", "'ve"}},
		{"you'll", []string{"you", "'ll"}},
		{"he'd", []string{"he", "'d"}},
		{"cannot", []string{"can", "not"}},
		{"gonna", []string{"gon", "na"}},
		{"gotta", []string{"got", "ta"}},
		{"wanna go", []string{"wan", "na", "go"}},
		{"wanna's", []string{"wan", "na", "'s"}},
		{"gimme", []string{"gim", "me"}},
		{"lemme", []string{"lem", "me"}},
		{"d'ye", []string{"d", "'ye"}},
		{"more'n", []string{"more", "'n"}},
		{"shouldn't've", []string{"shouldn't", "'ve"}},
		{"can't've", []string{"can't", "'ve"}},
		{"o'neill's", []string{"o'neill", "'s"}},
		{"rock'n'roll", []string{"rock'n'roll"}},
		{"o'cannot", []string{"o'", "can", "not"}},
		{"cannot's", []string{"can", "not", "'s"}},
		{"DON'T", []string{"DO", "N'T"}},
		{"Don't", []string{"Do", "n't"}},
		{"IT'S", []string{"IT", "'S"}},
		{"I'M", []string{"I", "'M"}},
		{"WE'RE", []string{"WE", "'RE"}},
		{"Can't", []string{"Ca", "n't"}},
		{"ain't", []string{"ai", "n't"}},
		{"y'all", []string{"y'all"}},
		{"n't", []string{"n't"}},
		{"'s", []string{"'s"}},
		{"x's's", []string{"x's", "'s"}},
		{"gonnax", []string{"gonnax"}},
		{"wannabe", []string{"wannabe"}},
		{"d'yes", []string{"d'yes"}},
		{"more'nx", []string{"more'nx"}},
		{"'tis", []string{"'t", "is"}},
		{"'twas", []string{"'t", "was"}},
		{"'tis'twas", []string{"'t", "is", "'t", "was"}},
		{"'tis'tis", []string{"'t", "is", "'tis"}},
		{"cannot'tis", []string{"can", "not", "'t", "is"}},
		{"students' books", []string{"students", "'", "books"}},
		{"it ' s", []string{"it", "'", "s"}},
		{"the 90's", []string{"the", "90", "'s"}},
	}
	tk := NewTokenizer(treebankOnly)
	for _, c := range cases {
		if got := tokenStrings(tk.Tokens(c.in)); !equalStrings(got, c.want) {
			t.Errorf("Tokens(%q) = %q, NLTK gives %q", c.in, got, c.want)
		}
	}
}

// TestPipelineMatchesNLTK runs the default cleaning and then the treebank
// tokenizer on raw text; the cleaned text follows the rules in the doc of
// the cleaner and the tokens are NLTK's on that cleaned text.
func TestPipelineMatchesNLTK(t *testing.T) {
	cases := []struct {
		raw, clean string
		want       []string
	}{
		{"I DON'T like it!!! 'Quoted' text, rock'n'roll; it's 5 stars.", "i don't like it quoted text rock'n'roll it's 5 stars", []string{"i", "do", "n't", "like", "it", "quoted", "text", "rock'n'roll", "it", "'s", "5", "stars"}},
		{"Great CD: I can't stop playing it...We're gonna buy more", "great cd i can't stop playing it we're gonna buy more", []string{"great", "cd", "i", "ca", "n't", "stop", "playing", "it", "we", "'re", "gon", "na", "buy", "more"}},
		{"Café’s crème brûlée — wasn’t bad", "café's crème brûlée wasn't bad", []string{"café", "'s", "crème", "brûlée", "was", "n't", "bad"}},
		{"The 90's were OK;dogs' toys & <br />cats", "the 90's were ok dogs toys br cats", []string{"the", "90", "'s", "were", "ok", "dogs", "toys", "br", "cats"}},
		{"   spaces\tand\u0085odd\u00a0spacing   ", "spaces and odd spacing", []string{"spaces", "and", "odd", "spacing"}},
		{"ΣΊΣΥΦΟΣ Ünïcödé 42x", "σίσυφοσ ünïcödé 42x", []string{"σίσυφοσ", "ünïcödé", "42x"}},
	}
	p := DefaultPreprocess()
	p.Tokenizer = TokenizerTreebank
	tk := NewTokenizer(p)
	for _, c := range cases {
		if got := cleanText(tk, c.raw); got != c.clean {
			t.Errorf("clean(%q) = %q, want %q", c.raw, got, c.clean)
		}
		if got := tokenStrings(tk.Tokens(c.raw)); !equalStrings(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestPreprocessValidateAndKey(t *testing.T) {
	p := DefaultPreprocess()
	if err := p.Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	if p.Tokenizer != TokenizerSplit || !p.Lowercase || !p.RemoveSpecial || !p.CollapseSpace {
		t.Fatalf("default %+v is not the reference's lowercase + clean + split", p)
	}
	q := p
	q.Tokenizer = "nltk"
	if err := q.Validate(); err == nil || !strings.Contains(err.Error(), `"nltk"`) {
		t.Fatalf("unknown tokenizer: err = %v", err)
	}
	keys := map[string]bool{}
	for _, v := range []Preprocess{p, {Lowercase: true, RemoveSpecial: true, Tokenizer: "split"}, {Lowercase: true, CollapseSpace: true, Tokenizer: "split"},
		{RemoveSpecial: true, CollapseSpace: true, Tokenizer: "split"}, {Lowercase: true, RemoveSpecial: true, CollapseSpace: true, Tokenizer: "treebank"}} {
		if keys[v.Key()] {
			t.Fatalf("two settings share key %q", v.Key())
		}
		keys[v.Key()] = true
	}
	if p.Key() != DefaultPreprocess().Key() {
		t.Fatal("key is not deterministic")
	}
}

func TestTokensDoNotAllocate(t *testing.T) {
	text := "Great CD: I can't stop playing it... We're gonna buy more. Café’s crème brûlée wasn't bad!"
	for _, name := range []string{TokenizerSplit, TokenizerTreebank} {
		p := DefaultPreprocess()
		p.Tokenizer = name
		tk := NewTokenizer(p)
		tk.Tokens(text)
		if n := testing.AllocsPerRun(100, func() { tk.Tokens(text) }); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

// Regular expressions of referenceSplit, compiled once.
var (
	refNotKept     = regexp.MustCompile(`[^a-z0-9' ]+`)
	refApostrophes = regexp.MustCompile(`''+`)
)

// referenceSplit is torch_lstm.py's split tokenizer on ASCII text
// (re.sub("[^a-z0-9' ]+", " ", s.lower()).split()), followed by the one
// documented difference: apostrophes not between two letters or digits
// are dropped.
func referenceSplit(s string) []string {
	s = refNotKept.ReplaceAllString(strings.ToLower(s), " ")
	var out []string
	for _, tok := range strings.Fields(s) {
		tok = refApostrophes.ReplaceAllString(tok, " ")
		for _, part := range strings.Fields(tok) {
			if part = strings.Trim(part, "'"); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// TestTokenizerOnRealLines checks, on every review of a real file: split
// tokens equal the reference's on ASCII reviews; all tokens are lowercase
// letters, digits and inner apostrophes; Clean joins the split tokens; and
// treebank pieces concatenate back to the split token they came from.
func TestTokenizerOnRealLines(t *testing.T) {
	r := openReal(t, "amazon_polarity/train.ft.txt")
	defer r.Close()
	split := NewTokenizer(DefaultPreprocess())
	tbp := DefaultPreprocess()
	tbp.Tokenizer = TokenizerTreebank
	tb := NewTokenizer(tbp)
	var n, ascii, contractions int
	rs := &oneByOne{r: r}
	for {
		rv, err := rs.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		toks := tokenStrings(split.Tokens(rv.Text))
		if isASCII(rv.Text) {
			ascii++
			if want := referenceSplit(rv.Text); !equalStrings(toks, want) {
				t.Fatalf("line %d: split %q, reference %q", rv.Line, toks, want)
			}
		}
		for _, tok := range toks {
			if !validToken(tok) {
				t.Fatalf("line %d: bad token %q", rv.Line, tok)
			}
		}
		if got := cleanText(split, rv.Text); got != strings.Join(toks, " ") {
			t.Fatalf("line %d: Clean %q is not the tokens joined", rv.Line, got)
		}
		pieces := tokenStrings(tb.Tokens(rv.Text))
		if strings.Join(pieces, "") != strings.Join(toks, "") {
			t.Fatalf("line %d: treebank pieces %q do not rebuild %q", rv.Line, pieces, toks)
		}
		contractions += len(pieces) - len(toks)
	}
	if n != 5099 || ascii < 4000 || contractions < 1000 {
		t.Fatalf("reviews %d, ascii %d, treebank splits %d: the file is not the expected one", n, ascii, contractions)
	}
}

func validToken(tok string) bool {
	if tok == "" || tok[0] == '\'' || tok[len(tok)-1] == '\'' {
		return false
	}
	for _, r := range tok {
		if r != '\'' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) || unicode.IsUpper(r) {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func tokenStrings(toks [][]byte) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = string(t)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkTokenizer runs both tokenizers on synthetic Amazon-shaped
// reviews and, when present, on the real Amazon polarity sample.
func BenchmarkTokenizer(b *testing.B) {
	sets := []struct {
		name  string
		texts []string
	}{{"synthetic", syntheticReviews(2000, 7)}}
	if r, err := Open(realData+"/amazon_polarity/train.ft.txt", ReaderOptions{}); err == nil {
		var texts []string
		rs := &oneByOne{r: r}
		for {
			rv, err := rs.Next()
			if err != nil {
				break
			}
			texts = append(texts, rv.Text)
		}
		r.Close()
		sets = append(sets, struct {
			name  string
			texts []string
		}{"real", texts})
	}
	for _, set := range sets {
		var size int64
		for _, s := range set.texts {
			size += int64(len(s))
		}
		for _, name := range []string{TokenizerSplit, TokenizerTreebank} {
			b.Run(name+"/"+set.name, func(b *testing.B) {
				p := DefaultPreprocess()
				p.Tokenizer = name
				tk := NewTokenizer(p)
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					for _, s := range set.texts {
						tk.Tokens(s)
					}
				}
				b.ReportMetric(float64(len(set.texts))*float64(b.N)/b.Elapsed().Seconds(), "reviews/s")
			})
		}
	}
}

// TestTreebankAgainstLiveNLTK sends the cleaned text of real reviews to
// NLTK's TreebankWordTokenizer, when Python with NLTK is installed, and
// compares every token.
func TestTreebankAgainstLiveNLTK(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: not starting Python")
	}
	// Debian's python3-nltk lives with the system Python, which may not be
	// the first python3 on PATH.
	python := ""
	for _, cand := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(cand); err == nil && exec.Command(p, "-c", "import nltk").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with nltk installed; the literal cases in TestTreebankMatchesNLTK still apply")
	}
	r := openReal(t, "amazon_polarity/train.ft.txt")
	defer r.Close()
	p := DefaultPreprocess()
	p.Tokenizer = TokenizerTreebank
	tk := NewTokenizer(p)
	var input strings.Builder
	var want [][]string
	rs := &oneByOne{r: r}
	for len(want) < 1000 {
		rv, err := rs.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		input.WriteString(cleanText(tk, rv.Text) + "\n")
		want = append(want, tokenStrings(tk.Tokens(rv.Text)))
	}
	const script = `import sys
from nltk.tokenize import TreebankWordTokenizer
tb = TreebankWordTokenizer()
for line in sys.stdin:
    print(" ".join(tb.tokenize(line.rstrip("\n"))))`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("NLTK returned %d lines for %d reviews", len(got), len(want))
	}
	for i := range want {
		if nltk := strings.Fields(got[i]); !equalStrings(want[i], nltk) {
			t.Fatalf("review %d: treebank %q, NLTK %q", i+1, want[i], nltk)
		}
	}
}

func ExampleTokenizer_Tokens() {
	p := DefaultPreprocess()
	fmt.Printf("%s %q\n", p.Tokenizer, NewTokenizer(p).Tokens("Don't buy it: it's BROKEN!!"))
	p.Tokenizer = TokenizerTreebank
	fmt.Printf("%s %q\n", p.Tokenizer, NewTokenizer(p).Tokens("Don't buy it: it's BROKEN!!"))
	// Output:
	// split ["don't" "buy" "it" "it's" "broken"]
	// treebank ["do" "n't" "buy" "it" "it" "'s" "broken"]
}

// cleanText is the text t's preprocessing makes of text before it cuts
// tokens: what the cleaning tests and the comparison with NLTK look at.
func cleanText(t *Tokenizer, text string) string {
	buf, _ := t.c.clean(nil, nil, text)
	return string(buf)
}
