package data

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestWordDictMatchesMap checks the provisional dictionary against a map on
// words of every length class, through several table growths.
func TestWordDictMatchesMap(t *testing.T) {
	backing := make([]byte, 0, 1<<20)
	var words [][]byte
	for i := 0; i < 50000; i++ {
		w := fmt.Sprintf("w%d", i*7919%100003)
		if i%3 == 0 {
			w += strings.Repeat("x", i%20) // longer than 8 bytes
		}
		if i%11 == 0 {
			w = w[:1+i%2] // short, many repeats
		}
		backing = append(backing, w...)
		words = append(words, backing[len(backing)-len(w):len(backing):len(backing)])
	}
	// Words at the end of their backing array (cap < 8) take the slow path.
	words = append(words, []byte("ab"), []byte("abcdefgh"), []byte("abcdefghi"), []byte{0}, []byte{0, 0})
	d := newWordDict()
	ref := map[string]int32{}
	counts := map[string]int64{}
	for round := 0; round < 2; round++ {
		for _, w := range words {
			id := d.id(w)
			if want, ok := ref[string(w)]; ok && id != want {
				t.Fatalf("word %q: id %d, earlier %d", w, id, want)
			} else if !ok {
				if id != int32(len(ref)) {
					t.Fatalf("new word %q: id %d, want %d", w, id, len(ref))
				}
				ref[string(w)] = id
			}
			counts[string(w)]++
		}
	}
	if d.size() != len(ref) {
		t.Fatalf("size %d, want %d", d.size(), len(ref))
	}
	got := d.counts()
	for w, id := range ref {
		if string(d.word(id)) != w || got[id] != counts[w] {
			t.Fatalf("id %d: word %q count %d, want %q %d", id, d.word(id), got[id], w, counts[w])
		}
	}
}

// TestWordDictIDsMatchesID checks the per-review fast path against the
// word-at-a-time one on tokenizer output: words of every length class,
// both tokenizers, and a buffer without slack after its last word.
func TestWordDictIDsMatchesID(t *testing.T) {
	var texts []string
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for j := 0; j < 1+i%37; j++ {
			n := 1 + (i*7+j*13)%41 // 1..41 bytes
			fmt.Fprintf(&b, "%s%d ", strings.Repeat(string(rune('a'+(i+j)%26)), n), (i*j)%97)
			if j%9 == 0 {
				b.WriteString("don't can't it's CANNOT ")
			}
		}
		texts = append(texts, b.String())
	}
	for _, tb := range []string{TokenizerSplit, TokenizerTreebank} {
		p := DefaultPreprocess()
		p.Tokenizer = tb
		tok := NewTokenizer(p)
		fast, slow := newWordDict(), newWordDict()
		var got []int32
		for i, text := range texts {
			buf, spans := tok.tokenSpans(text)
			if i%5 == 0 {
				buf = buf[:len(buf):len(buf)] // no slack: the careful path
			}
			got = fast.ids(buf, spans, got[:0])
			for k, s := range spans {
				if want := slow.id(buf[s.start:s.end:s.end]); got[k] != want {
					t.Fatalf("%s: text %d token %d %q: id %d, want %d", tb, i, k, buf[s.start:s.end], got[k], want)
				}
			}
		}
		if !reflect.DeepEqual(fast.counts(), slow.counts()) || fast.size() != slow.size() {
			t.Fatalf("%s: counts or sizes differ (%d and %d words)", tb, fast.size(), slow.size())
		}
		if fast.size() < 1000 {
			t.Fatalf("%s: only %d distinct words; the table never grew", tb, fast.size())
		}
	}
}

func TestEncodeFileUsesVocabulary(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.txt", "__label__2 Good movie: I don't like it\n__label__1 ???: !!!\n__label__1 Bad: zzz qqq\n")
	v := vocabOf(map[string]int64{"good": 5, "movie": 4, "bad": 3, "i": 2}, 10, 1)
	d, rep, err := EncodeFile(context.Background(), in, v, DefaultPreprocess(), ReaderOptions{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	id := func(w string) int32 { return v.ID([]byte(w)) }
	want := &Dataset{
		Tokens:  []int32{id("good"), id("movie"), id("i"), UnkID, UnkID, UnkID, id("bad"), UnkID, UnkID},
		Offsets: []int64{0, 6, 9},
		Labels:  []uint8{Positive, Negative},
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %+v\nwant %+v", d, want)
	}
	if rep.ReviewsRead != 3 || rep.Kept != 2 || rep.Dropped[DropEmpty] != 1 || rep.UnkTokens != 5 || rep.Tokens != 9 {
		t.Fatalf("report %+v", rep)
	}
}

// TestTokenStoreInFile fills a file-backed token store past one slab and
// checks that the cache file then holds exactly the tokens, in order.
func TestTokenStoreInFile(t *testing.T) {
	w, err := newCacheWriter(filepath.Join(t.TempDir(), "x.cache"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.abort()
	if _, free, err := mapTokensRW(w.f, cacheHeaderSize, 1024); err != nil {
		t.Skipf("no shared file mappings here: %v", err)
	} else {
		free()
	}
	s := tokenStore{file: w.f, base: cacheHeaderSize}
	n := slabTokens + 12345
	chunk := make([]int32, 100003)
	for i := 0; i < n; i += len(chunk) {
		c := chunk[:min(len(chunk), n-i)]
		for k := range c {
			c[k] = int32((i + k) * 7)
		}
		s.append(c)
	}
	if s.err != nil || s.n != int64(n) || len(s.slabs) != 2 {
		t.Fatalf("store: err %v, %d tokens in %d slabs", s.err, s.n, len(s.slabs))
	}
	if err := w.adoptTokens(&s); err != nil {
		t.Fatal(err)
	}
	if w.written != 4*int64(n) || s.slabs != nil {
		t.Fatalf("written %d, want %d; slabs %d", w.written, 4*n, len(s.slabs))
	}
	st, err := w.f.Stat()
	if err != nil || st.Size() != cacheHeaderSize+4*int64(n) {
		t.Fatalf("file size %v (%v), want %d", st.Size(), err, cacheHeaderSize+4*n)
	}
	got := make([]byte, 4*n)
	if _, err := w.f.ReadAt(got, cacheHeaderSize); err != nil {
		t.Fatal(err)
	}
	for i, v := range bytesAsInt32(got) {
		if v != int32(i*7) {
			t.Fatalf("token %d: %d, want %d", i, v, i*7)
		}
	}
}
