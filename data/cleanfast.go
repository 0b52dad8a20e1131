package data

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unsafe"
)

// fastWord flags word characters in cleaner.fast entries, above the output
// byte.
const fastWord = 1 << 8

// fastTable fills c.fast: for each ASCII byte the byte the cleaned text
// holds in its place, with fastWord on word characters. An apostrophe
// (with RemoveSpecial) starts as a separator; spansASCII restores the ones
// inside words.
func (c *cleaner) fastTable() {
	for b := 0; b < 128; b++ {
		switch c.runeClass(rune(b)) {
		case clsWord:
			out := byte(b)
			if c.lower && out >= 'A' && out <= 'Z' {
				out += 'a' - 'A'
			}
			c.fast[b] = uint16(out) | fastWord
		default:
			c.fast[b] = ' '
		}
	}
}

// isASCIIString reports whether s has no byte >= 0x80, 8 bytes at a time.
func isASCIIString(s string) bool {
	// a read-only view of the string's bytes, to load 8 at a time
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// spansASCII is the token-finding half of clean for all-ASCII text, 64
// bytes at a time: one table lookup per byte writes the cleaned byte and
// sets a bit in a word mask; token boundaries then come from bit
// arithmetic instead of a branch per byte, which is what made the scalar
// loop slow on short English words. Apostrophes, rare, are found with
// strings.IndexByte and kept when both neighbours are word characters.
// Every input byte maps to one output byte (separators become spaces), so
// the cleaned text has the layout of CollapseSpace off; tokens are the
// same either way. It reports false, having done nothing, when text is not
// ASCII.
func (c *cleaner) spansASCII(buf []byte, spans []span, masks []uint64, text string) ([]byte, []span, []uint64, bool) {
	if !isASCIIString(text) {
		return buf, spans, masks, false
	}
	n := len(text)
	nb := (n + 63) / 64
	if cap(masks) < nb {
		masks = make([]uint64, nb)
	}
	words := masks[:nb]
	if cap(buf) < n {
		buf = make([]byte, 0, 2*n)
	}
	buf = buf[:n]
	for blk := 0; blk < nb; blk++ {
		lo := blk * 64
		seg := text[lo:min(lo+64, n)]
		out := buf[lo : lo+len(seg)]
		var w uint64
		for k := 0; k < len(seg); k++ {
			e := c.fast[seg[k]]
			out[k] = byte(e)
			w |= uint64(e>>8) << k
		}
		words[blk] = w
	}
	if c.special {
		isWord := func(p int) bool { return p >= 0 && p < n && words[p>>6]>>(p&63)&1 != 0 }
		for p := strings.IndexByte(text, '\''); p >= 0; {
			if isWord(p-1) && isWord(p+1) {
				words[p>>6] |= 1 << (p & 63)
				buf[p] = '\''
			}
			q := strings.IndexByte(text[p+1:], '\'')
			if q < 0 {
				break
			}
			p += q + 1
		}
	}
	start := 0
	var prevTop uint64 // last bit of the previous block's word mask
	for blk := 0; blk < nb; blk++ {
		lo := blk * 64
		m := words[blk]
		shifted := m<<1 | prevTop
		starts := m &^ shifted
		ends := shifted &^ m
		for t := starts | ends; t != 0; t &= t - 1 {
			k := bits.TrailingZeros64(t)
			if starts>>k&1 != 0 {
				start = lo + k
			} else {
				spans = append(spans, span{int32(start), int32(lo + k)})
			}
		}
		prevTop = m >> 63
	}
	if prevTop != 0 && n%64 == 0 {
		spans = append(spans, span{int32(start), int32(n)})
	}
	return buf, spans, masks, true
}
