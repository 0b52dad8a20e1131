package data

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// Flags in cleaner.fast entries, above the output byte.
const (
	fastWord = 1 << 8 // word character
	fastApos = 1 << 9 // apostrophe (with RemoveSpecial): a space unless inside a word
)

// fastTable fills c.fast: for each ASCII byte the byte the cleaned text
// holds in its place and its class flags. An apostrophe starts as a space;
// spansASCII restores the ones inside words.
func (c *cleaner) fastTable() {
	for b := 0; b < 128; b++ {
		switch c.runeClass(rune(b)) {
		case clsWord:
			out := byte(b)
			if c.lower && out >= 'A' && out <= 'Z' {
				out += 'a' - 'A'
			}
			c.fast[b] = uint16(out) | fastWord
		case clsApos:
			c.fast[b] = ' ' | fastApos
		default:
			c.fast[b] = ' '
		}
	}
}

// SWAR constants: a byte of ones, the high bit of every byte, and the
// multiplier that gathers the low bit of each byte into the top byte (byte
// i to bit 56+i; the partial products never overlap, so nothing carries).
const (
	swarOnes   = 0x0101010101010101
	swarHigh   = 0x8080808080808080
	swarGather = 0x0102040810204080
)

// spansASCII is the token-finding half of clean for ASCII text, 64 bytes
// at a time: each byte's cleaned value is written and its class lands in
// a word mask and an apostrophe mask; token boundaries then come from bit
// arithmetic instead of a branch per byte, which is what made the scalar
// loop slow on short English words. With the default settings (Lowercase
// and RemoveSpecial) 8 bytes are classified at once in a 64-bit register;
// otherwise a table gives each byte. Every input byte maps to one output
// byte (separators become spaces), so the cleaned text has the layout of
// CollapseSpace off; tokens are the same either way. It reports false,
// with nothing usable, when text is not ASCII; apos says whether any
// token holds an apostrophe (with RemoveSpecial).
func (c *cleaner) spansASCII(buf []byte, spans []span, masks []uint64, text string) (_ []byte, _ []span, _ []uint64, ok, apos bool) {
	n := len(text)
	nb := (n + 63) / 64
	if cap(masks) < 2*nb {
		masks = make([]uint64, 2*nb)
	}
	words, aposMask := masks[:nb], masks[nb:2*nb]
	if cap(buf) < n {
		buf = make([]byte, 0, 2*n)
	}
	buf = buf[:n]
	swar := c.lower && c.special
	src := unsafe.Slice(unsafe.StringData(text), n) // read-only view
	var high uint64                                 // any byte >= 0x80 sets a high bit
	first := 0
	if swar && c.wide && n >= 64 {
		// Whole blocks in AVX-512: 64 bytes per instruction instead of 8.
		first = n / 64
		if classifyAVX512(&src[0], &buf[0], first, &words[0], &aposMask[0]) != 0 {
			high = swarHigh
		}
	}
	for blk := first; blk < nb; blk++ {
		lo := blk * 64
		seg := src[lo:min(lo+64, n)]
		out := buf[lo : lo+len(seg)]
		var w, a uint64
		k := 0
		if swar {
			for ; k+8 <= len(seg); k += 8 {
				// Each range test adds a constant that carries into a
				// byte's high bit exactly when the byte is at least the
				// bound; ASCII bytes never carry into their neighbour.
				x := binary.LittleEndian.Uint64(seg[k:])
				high |= x
				upper := (x + (0x80-'A')*swarOnes) &^ (x + (0x80-'Z'-1)*swarOnes) & swarHigh
				y := x | upper>>2 // 'A'..'Z' + 0x20
				letter := (y + (0x80-'a')*swarOnes) &^ (y + (0x80-'z'-1)*swarOnes) & swarHigh
				digit := (y + (0x80-'0')*swarOnes) &^ (y + (0x80-'9'-1)*swarOnes) & swarHigh
				word := (letter | digit) >> 7
				keep := word * 0xFF
				binary.LittleEndian.PutUint64(out[k:], y&keep|' '*swarOnes&^keep)
				w |= word * swarGather >> 56 << k
				t := x ^ '\''*swarOnes // zero bytes are apostrophes
				ap := ^(t + 0x7F*swarOnes) & swarHigh >> 7
				a |= ap * swarGather >> 56 << k
			}
		}
		for ; k < len(seg); k++ {
			b := seg[k]
			high |= uint64(b)
			e := c.fast[b]
			out[k] = byte(e)
			w |= uint64(e>>8&1) << k
			a |= uint64(e>>9&1) << k
		}
		words[blk], aposMask[blk] = w, a
	}
	if high&swarHigh != 0 {
		return buf[:0], spans, masks, false, false
	}
	start := 0
	var prevTop, prevRaw uint64 // last bits of the previous block's final and raw word masks
	for blk := 0; blk < nb; blk++ {
		lo := blk * 64
		w := words[blk]
		m := w
		if a := aposMask[blk]; a != 0 {
			// an apostrophe stays only between two word characters
			var nextBottom uint64
			if blk+1 < nb {
				nextBottom = words[blk+1] & 1
			}
			keep := a & (w<<1 | prevRaw) & (w>>1 | nextBottom<<63)
			for t := keep; t != 0; t &= t - 1 {
				buf[lo+bits.TrailingZeros64(t)] = '\''
			}
			m |= keep
			apos = apos || keep != 0
		}
		prevRaw = w >> 63
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
	return buf, spans, masks, true, apos
}
