package data

import (
	"unicode"
	"unicode/utf8"
)

// Character classes used while cleaning.
const (
	clsSep  uint8 = iota // ends a token
	clsWord              // part of a token
	clsApos              // apostrophe: part of a token only between word characters
)

// cleaner holds the per-settings lookup table of the cleaning pass. It is
// built once per Tokenizer and never changes.
type cleaner struct {
	lower    bool
	special  bool // RemoveSpecial
	collapse bool
	// tab maps each byte to what the ASCII fast path does with it: the byte
	// to write for a word character (lowercased if on), or one of the codes
	// below, all smaller than any printable byte.
	tab [256]byte
	// fast is the table of the 64-bytes-at-a-time path (cleanfast.go):
	// the output byte and the fastWord flag, for ASCII bytes (256 entries
	// so that indexing by a byte needs no bounds check).
	fast [256]uint16
	// wide says spansASCII may classify whole 64-byte blocks with AVX-512
	// (hasClassify); tests turn it off to compare the two paths.
	wide bool
}

// Codes in cleaner.tab.
const (
	tabSep   = 0 // separator
	tabApos  = 1 // apostrophe (with RemoveSpecial)
	tabMulti = 2 // first byte of a multi-byte character: slow path
	tabCtl   = 3 // ASCII control or other byte below tabWord
	tabWord  = 4 // smallest value that is a byte to write
)

func newCleaner(p Preprocess) cleaner {
	c := cleaner{lower: p.Lowercase, special: p.RemoveSpecial, collapse: p.CollapseSpace, wide: hasClassify}
	for b := 0; b < 256; b++ {
		switch {
		case b >= utf8.RuneSelf:
			c.tab[b] = tabMulti
		case c.runeClass(rune(b)) == clsSep:
			c.tab[b] = tabSep
		case c.runeClass(rune(b)) == clsApos:
			c.tab[b] = tabApos
		case b < tabWord:
			// control characters 0..3 are word characters only without
			// RemoveSpecial; they take the slow path
			c.tab[b] = tabCtl
		case c.lower && b >= 'A' && b <= 'Z':
			c.tab[b] = byte(b) + 'a' - 'A'
		default:
			c.tab[b] = byte(b)
		}
	}
	c.fastTable()
	return c
}

// runeClass classifies one character. With RemoveSpecial, letters (any
// script), decimal digits and combining marks are word characters, the
// ASCII apostrophe and U+2019 (the typographic apostrophe of "don’t") are
// apostrophes, and everything else separates tokens. Without it, only
// white space (unicode.IsSpace) separates tokens and every other character
// belongs to one.
func (c *cleaner) runeClass(r rune) uint8 {
	if !c.special {
		if unicode.IsSpace(r) {
			return clsSep
		}
		return clsWord
	}
	switch {
	case r == '\'' || r == '\u2019':
		return clsApos
	case r < utf8.RuneSelf:
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return clsWord
		}
		return clsSep
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
		return clsWord
	}
	return clsSep
}

// classAt classifies the character starting at text[i] and returns its
// size in bytes.
func (c *cleaner) classAt(text string, i int) (uint8, rune, int) {
	b := text[i]
	if b < utf8.RuneSelf {
		return c.runeClass(rune(b)), rune(b), 1
	}
	r, size := utf8.DecodeRuneInString(text[i:])
	return c.runeClass(r), r, size
}

// span is a token's [start, end) in the cleaned buffer.
type span struct{ start, end int32 }

// clean writes the cleaned text into buf and the [start, end) of each
// cleaned token into spans, in one pass over text. The steps, each
// switched by its Preprocess field:
//
//   - Lowercase: unicode.ToLower on every character (a table lookup for
//     ASCII). Unlike Python's str.lower it maps one character to one
//     character ("İ" becomes "i", final "Σ" becomes "σ").
//   - RemoveSpecial: letters of any script, decimal digits and combining
//     marks are word characters; every other character becomes a space,
//     except an apostrophe (ASCII ' or U+2019, the typographic one in
//     "don’t") with a word character on both sides, which stays as an
//     ASCII '. So "don't", "o'neill" and "rock'n'roll" keep theirs and
//     "'quoted'" and "dogs'" lose them, as does an apostrophe next to
//     another apostrophe. The reference's
//     [^a-z0-9' ] differs in two ways: it also removes non-ASCII letters
//     (splitting "café" into "caf") and keeps stray apostrophes ("'quoted'"
//     would be a token of its own, unlike "quoted").
//     Without RemoveSpecial only white space (unicode.IsSpace) separates
//     tokens and every other character is kept.
//   - CollapseSpace: runs of separators become one space and the ends are
//     trimmed; without it each removed character leaves one space and
//     white space is kept as it was.
//
// Tokens are the maximal runs of non-separators, so they are the same with
// or without CollapseSpace; that setting only shapes this text.
func (c *cleaner) clean(buf []byte, spans []span, text string) ([]byte, []span) {
	start := -1 // start of the current token in buf, -1 between tokens
	for i := 0; i < len(text); {
		v := c.tab[text[i]]
		if v >= tabWord {
			// ASCII word characters: the hot loop
			if start < 0 {
				if c.collapse && len(spans) > 0 {
					buf = append(buf, ' ')
				}
				start = len(buf)
			}
			buf = append(buf, v)
			for i++; i < len(text); i++ {
				v = c.tab[text[i]]
				if v < tabWord {
					break
				}
				buf = append(buf, v)
			}
			continue
		}
		if v == tabSep && c.collapse {
			if start >= 0 {
				spans = append(spans, span{int32(start), int32(len(buf))})
				start = -1
			}
			i++
			continue
		}
		cls, r, size := c.classAt(text, i)
		if cls == clsApos {
			cls = clsSep
			if start >= 0 && i+size < len(text) {
				if next, _, _ := c.classAt(text, i+size); next == clsWord {
					cls = clsApos
				}
			}
		}
		switch cls {
		case clsWord:
			if start < 0 {
				if c.collapse && len(spans) > 0 {
					buf = append(buf, ' ')
				}
				start = len(buf)
			}
			if c.lower {
				r = unicode.ToLower(r)
			}
			buf = utf8.AppendRune(buf, r)
		case clsApos:
			buf = append(buf, '\'')
		default:
			if start >= 0 {
				spans = append(spans, span{int32(start), int32(len(buf))})
				start = -1
			}
			if !c.collapse {
				if c.special {
					buf = append(buf, ' ')
				} else {
					buf = append(buf, text[i:i+size]...)
				}
			}
		}
		i += size
	}
	if start >= 0 {
		spans = append(spans, span{int32(start), int32(len(buf))})
	}
	return buf, spans
}
