package data

import (
	"context"
	"fmt"
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

func TestEncodeFileUsesVocabulary(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.txt", "__label__2 Good movie: I don't like it\n__label__1 ???: !!!\n__label__1 Bad: zzz qqq\n")
	v := BuildVocab(map[string]int64{"good": 5, "movie": 4, "bad": 3, "i": 2}, 10, 1)
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
