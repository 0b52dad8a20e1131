package data

import (
	"io"
	"math/rand"
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
// Tokenizer.Clean and the tokens are NLTK's on that cleaned text.
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
		if got := tk.Clean(c.raw); got != c.clean {
			t.Errorf("Clean(%q) = %q, want %q", c.raw, got, c.clean)
		}
		if got := tokenStrings(tk.Tokens(c.raw)); !equalStrings(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

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
		if got := tk.Clean(raw); got != c.clean {
			t.Errorf("%s: Clean = %q, want %q", c.p.Key(), got, c.clean)
		}
		if got := tokenStrings(tk.Tokens(raw)); !equalStrings(got, c.split) {
			t.Errorf("%s: Tokens = %q, want %q", c.p.Key(), got, c.split)
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

// referenceSplit is torch_lstm.py's split tokenizer on ASCII text
// (re.sub("[^a-z0-9' ]+", " ", s.lower()).split()), followed by the one
// documented difference: apostrophes not between two letters or digits
// are dropped.
func referenceSplit(s string) []string {
	s = regexp.MustCompile(`[^a-z0-9' ]+`).ReplaceAllString(strings.ToLower(s), " ")
	var out []string
	for _, tok := range strings.Fields(s) {
		tok = regexp.MustCompile(`''+`).ReplaceAllString(tok, " ")
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
	for {
		rv, err := r.Next()
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
		if got := split.Clean(rv.Text); got != strings.Join(toks, " ") {
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

func BenchmarkTokenizer(b *testing.B) {
	texts := syntheticReviews(2000, 7)
	var bytes int64
	for _, s := range texts {
		bytes += int64(len(s))
	}
	for _, name := range []string{TokenizerSplit, TokenizerTreebank} {
		b.Run(name, func(b *testing.B) {
			p := DefaultPreprocess()
			p.Tokenizer = name
			tk := NewTokenizer(p)
			b.SetBytes(bytes)
			b.ReportAllocs()
			var toks int
			for b.Loop() {
				for _, s := range texts {
					toks += len(tk.Tokens(s))
				}
			}
			b.ReportMetric(float64(len(texts))*float64(b.N)/b.Elapsed().Seconds(), "reviews/s")
		})
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

// checkFastPath compares the 64-byte fast path with the scalar cleaner.
func checkFastPath(t *testing.T, p Preprocess, text string) {
	t.Helper()
	c := newCleaner(p)
	buf, spans, _, ok := c.spansASCII(nil, nil, nil, text)
	if !ok {
		if isASCII(text) {
			t.Fatalf("fast path refused ASCII text %q", text)
		}
		return
	}
	got := make([]string, len(spans))
	for i, s := range spans {
		got[i] = string(buf[s.start:s.end])
	}
	if want := scalarTokens(&c, text); !equalStrings(got, want) {
		t.Fatalf("%s: fast path %q, scalar %q on %q", p.Key(), got, want, text)
	}
}

func TestFastPathMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	alphabet := "aZ09'' ,.!\t\n\r\x00\x01\x7f-_\"dn't"
	for i := 0; i < 3000; i++ {
		b := make([]byte, rng.Intn(200))
		for k := range b {
			b[k] = alphabet[rng.Intn(len(alphabet))]
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
