package data

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// Tokenizer names accepted in Preprocess.Tokenizer.
const (
	TokenizerSplit    = "split"
	TokenizerTreebank = "treebank"
)

// Tokenizer cleans review text and splits it into tokens as a Preprocess
// says. It reuses its buffers, so it is not safe for concurrent use: give
// each goroutine its own.
type Tokenizer struct {
	c        cleaner
	treebank bool
	buf      []byte
	masks    []uint64
	words    []span // cleaned tokens
	spans    []span // final tokens
	toks     [][]byte
}

// NewTokenizer returns a tokenizer for p. p should have passed Validate;
// an unknown tokenizer name falls back to "split".
func NewTokenizer(p Preprocess) *Tokenizer {
	return &Tokenizer{c: newCleaner(p), treebank: p.Tokenizer == TokenizerTreebank}
}

// Tokens cleans text and returns its tokens. The slices point into the
// tokenizer's buffer and are valid until the next call; copy what must be
// kept. Once the buffers have grown to the longest text seen, a call does
// not allocate.
//
// "split" returns the cleaned tokens: the text split at separators (see
// Clean), as Python's str.split() does on cleaned text. "treebank" then
// splits each token the way NLTK's TreebankWordTokenizer splits such
// cleaned text (NLTK 3.8; on cleaned text only its contraction rules can
// fire, its punctuation rules have nothing to act on):
//
//   - a final 's 'm 'd (either case) or a final lone apostrophe becomes
//     its own token when the character before is not an apostrophe:
//     "it's" -> "it" "'s", "i'm" -> "i" "'m";
//   - then a final 'll 're 've n't (lower or upper case) likewise:
//     "don't" -> "do" "n't", "can't" -> "ca" "n't", "we're" -> "we" "'re";
//     each rule applies once per token, so "can't've" -> "can't" "'ve";
//   - NLTK's CONTRACTIONS2, on whole words (runs of letters and digits
//     between apostrophes or token ends), any case: "cannot" -> "can"
//     "not", "gimme" -> "gim" "me", "gonna" -> "gon" "na", "gotta" ->
//     "got" "ta", "lemme" -> "lem" "me", "d'ye" -> "d" "'ye", "more'n" ->
//     "more" "'n", and "wanna" at the end of a token -> "wan" "na";
//   - NLTK's CONTRACTIONS3 at the start of a piece: "'tis" -> "'t" "is",
//     "'twas" -> "'t" "was" (cleaning drops leading apostrophes, so on
//     cleaned text these fire only after a CONTRACTIONS2 split, as in
//     "cannot'tis" -> "can" "not" "'t" "is").
//
// A "word" in these rules is a regular expression \w run: letters,
// numbers and '_'.
//
// With RemoveSpecial off, "treebank" applies only these rules: punctuation
// stays attached to words, unlike in NLTK.
func (t *Tokenizer) Tokens(text string) [][]byte {
	buf, spans := t.tokenSpans(text)
	toks := t.toks[:0]
	for _, s := range spans {
		toks = append(toks, buf[s.start:s.end:s.end])
	}
	t.toks = toks
	return toks
}

// tokenSpans is Tokens without the slices: the cleaned text and each token's
// place in it. The buffer keeps at least 8 bytes of capacity after the
// last token when the text is ASCII, so that a token's first 8 bytes can
// be read at once.
func (t *Tokenizer) tokenSpans(text string) ([]byte, []span) {
	if need := 2*len(text) + 8; cap(t.buf) < need {
		t.buf = make([]byte, 0, need)
	}
	var ok, apos bool
	t.buf, t.words, t.masks, ok, apos = t.c.spansASCII(t.buf[:0], t.words[:0], t.masks, text)
	if !ok {
		t.buf, t.words = t.c.clean(t.buf[:0], t.words[:0], text)
	}
	spans := t.words
	if t.treebank {
		if ok && t.c.special {
			spans = t.treebankASCII(apos)
		} else {
			t.spans = t.spans[:0]
			for _, w := range t.words {
				t.spans = treebankSplit(t.spans, t.buf, int(w.start), int(w.end))
			}
			spans = t.spans
		}
	}
	return t.buf, spans
}

// treebankASCII splits the cleaned ASCII words in t.words. Such words hold
// only letters, digits and apostrophes, so one without an apostrophe is a
// single word that only the five- and six-letter CONTRACTIONS2 words can
// split. Most reviews have no word to split: then t.words is returned as
// it is, and t.spans is filled only from the first word that splits.
func (t *Tokenizer) treebankASCII(apos bool) []span {
	buf, words := t.buf, t.words
	// nextApos is the first apostrophe at or after the current word's
	// start, or len(buf); apostrophes in cleaned text lie inside words.
	nextApos := len(buf)
	if apos {
		nextApos = aposFrom(buf, 0)
	}
	copied := false
	for i, w := range words {
		s, e := int(w.start), int(w.end)
		if nextApos < s {
			nextApos = aposFrom(buf, s)
		}
		// One test, rarely true, screens out the words that cannot
		// split: no apostrophe, and not five or six characters starting
		// with c, g, l or w (some digits pass too; contraction2 decides).
		if nextApos >= e && c2Len>>(uint(e-s)&63)&(c2First>>(uint(buf[s]|0x20)&63))&1 == 0 {
			if copied {
				t.spans = append(t.spans, w)
			}
			continue
		}
		if !copied {
			t.spans = append(t.spans[:0], words[:i]...)
			copied = true
		}
		t.spans = treebankSplit(t.spans, buf, s, e)
	}
	if !copied {
		return words
	}
	return t.spans
}

// Bit sets over a word's length and over its first byte (as byte|0x20,
// modulo 64) for the CONTRACTIONS2 words "cannot", "gimme", "gonna",
// "gotta", "lemme" and "wanna".
const (
	c2Len   = 1<<5 | 1<<6
	c2First = 1<<('c'&63) | 1<<('g'&63) | 1<<('l'&63) | 1<<('w'&63)
)

// aposFrom returns the index of the first apostrophe in buf[from:], or
// len(buf) when there is none.
func aposFrom(buf []byte, from int) int {
	if k := bytes.IndexByte(buf[from:], '\''); k >= 0 {
		return from + k
	}
	return len(buf)
}

// treebankSplit appends the Treebank pieces of token buf[s:e] to out.
func treebankSplit(out []span, buf []byte, s, e int) []span {
	if isAlnumASCII(buf[s:e]) {
		return wordSplit(out, buf, s, e)
	}
	// ENDING_QUOTES rule 1: ([^' ])('[sS]|'[mM]|'[dD]|') followed by space.
	end1 := e
	switch n := e - s; {
	case n >= 3 && buf[e-2] == '\'' && isSMD(buf[e-1]) && buf[e-3] != '\'':
		end1 = e - 2
	case n >= 2 && buf[e-1] == '\'' && buf[e-2] != '\'':
		end1 = e - 1
	}
	// ENDING_QUOTES rule 2: ([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T).
	end2 := end1
	if end1-s >= 4 && buf[end1-4] != '\'' && isRule2Suffix(buf[end1-3:end1]) {
		end2 = end1 - 3
	}
	if s < end2 && isAlnumASCII(buf[s:end2]) {
		// The usual case: one plain word is left before the endings.
		out = wordSplit(out, buf, s, end2)
	} else {
		out = contractions(out, buf, s, end2)
	}
	if end2 < end1 {
		out = append(out, span{int32(end2), int32(end1)})
	}
	if end1 < e {
		out = append(out, span{int32(end1), int32(e)})
	}
	return out
}

// wordSplit appends the pieces of buf[s:e], a piece that is one ASCII word
// (no apostrophe): only the CONTRACTIONS2 words apply to it.
func wordSplit(out []span, buf []byte, s, e int) []span {
	if n := e - s; n == 5 || n == 6 {
		if split, cut := contraction2(buf, s, e, e); split >= 0 {
			return append(out, span{int32(s), int32(split)}, span{int32(split), int32(cut)})
		}
	}
	return append(out, span{int32(s), int32(e)})
}

// isAlnumASCII reports whether b holds only ASCII letters and digits.
func isAlnumASCII(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func isSMD(c byte) bool {
	switch c {
	case 's', 'S', 'm', 'M', 'd', 'D':
		return true
	}
	return false
}

func isRule2Suffix(b []byte) bool {
	switch string(b) {
	case "'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T":
		return true
	}
	return false
}

// contractions applies CONTRACTIONS2 to the words of piece buf[s:e] and
// CONTRACTIONS3 at the start of the piece and of what follows each split,
// appending the resulting pieces.
func contractions(out []span, buf []byte, s, e int) []span {
	if s >= e {
		return out
	}
	piece := s // start of the piece not yet emitted
	fresh := true
	i := s
	for i < e {
		if fresh {
			// a piece start preceded by a space: CONTRACTIONS3
			var n int
			out, n = contractions3(out, buf, i, e)
			if n > 0 {
				i += n
				piece = i
				if i >= e {
					return out
				}
			}
			fresh = false
		}
		if !isWordAt(buf, i, e) {
			i += runeLen(buf, i, e)
			continue
		}
		j := i
		for j < e && isWordAt(buf, j, e) {
			j += runeLen(buf, j, e)
		}
		split, cut := contraction2(buf, i, j, e)
		if split < 0 {
			i = j
			continue
		}
		if i > piece {
			out = append(out, span{int32(piece), int32(i)})
		}
		out = append(out, span{int32(i), int32(split)}, span{int32(split), int32(cut)})
		i, piece, fresh = cut, cut, true
	}
	if piece < e {
		out = append(out, span{int32(piece), int32(e)})
	}
	return out
}

// contraction2 checks the word buf[i:j] (maximal, inside a piece ending at
// e) against NLTK's CONTRACTIONS2. It returns where to split and where the
// second part ends, or split -1.
func contraction2(buf []byte, i, j, e int) (split, cut int) {
	w := buf[i:j]
	switch len(w) {
	case 6:
		if eqFold(w, "cannot") {
			return i + 3, j
		}
	case 5:
		if eqFold(w, "gimme") || eqFold(w, "gonna") || eqFold(w, "gotta") || eqFold(w, "lemme") {
			return i + 3, j
		}
		if eqFold(w, "wanna") && j == e { // (?=\s): the piece ends here
			return i + 3, j
		}
	case 1: // \b(d)('ye)\b
		if (w[0] == 'd' || w[0] == 'D') && j+3 <= e && buf[j] == '\'' && eqFold(buf[j+1:j+3], "ye") && !isWordAt(buf, j+3, e) {
			return j, j + 3
		}
	case 4: // \b(more)('n)\b
		if eqFold(w, "more") && j+2 <= e && buf[j] == '\'' && (buf[j+1] == 'n' || buf[j+1] == 'N') && !isWordAt(buf, j+2, e) {
			return j, j + 2
		}
	}
	return -1, -1
}

// contractions3 applies " ('t)(is)\b" and then " ('t)(was)\b" at buf[i:],
// a piece start; it returns how many bytes it emitted. The two patterns
// are separate passes in NLTK, so 'tis may be followed by 'twas, never the
// same pattern twice.
func contractions3(out []span, buf []byte, i, e int) ([]span, int) {
	start := i
	for _, word := range [2]string{"is", "was"} {
		n := 2 + len(word)
		if i+n <= e && buf[i] == '\'' && (buf[i+1] == 't' || buf[i+1] == 'T') &&
			eqFold(buf[i+2:i+n], word) && !isWordAt(buf, i+n, e) {
			out = append(out, span{int32(i), int32(i + 2)}, span{int32(i + 2), int32(i + n)})
			i += n
		}
	}
	return out, i - start
}

// isWordAt reports whether the character at buf[i] (i < e) is a regular
// expression word character (\w): a letter, a number or '_'.
func isWordAt(buf []byte, i, e int) bool {
	if i >= e {
		return false
	}
	c := buf[i]
	if c < utf8.RuneSelf {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	r, _ := utf8.DecodeRune(buf[i:e])
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

func runeLen(buf []byte, i, e int) int {
	if buf[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRune(buf[i:e])
	return n
}

// eqFold compares b with a lowercase ASCII word, ignoring ASCII case.
func eqFold(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for k := 0; k < len(b); k++ {
		c := b[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[k] {
			return false
		}
	}
	return true
}
