package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildVocab(t *testing.T) {
	counts := map[string]int64{"the": 9, "good": 4, "bad": 4, "avid": 4, "rare": 1, "odd": 2}
	cases := []struct {
		name      string
		size, min int
		want      []string
	}{
		{"all", 100, 1, []string{PadWord, UnkWord, "the", "avid", "bad", "good", "odd", "rare"}},
		{"min count drops rare", 100, 2, []string{PadWord, UnkWord, "the", "avid", "bad", "good", "odd"}},
		{"size cuts ties by byte order", 4, 1, []string{PadWord, UnkWord, "the", "avid"}},
		{"size 2 keeps reserved", 2, 1, []string{PadWord, UnkWord}},
		{"size 0 keeps reserved", 0, 1, []string{PadWord, UnkWord}},
		{"high min count", 100, 5, []string{PadWord, UnkWord, "the"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := vocabOf(counts, c.size, c.min)
			if !slices.Equal(v.Words(), c.want) {
				t.Fatalf("words %q, want %q", v.Words(), c.want)
			}
			if v.Size() != len(c.want) {
				t.Fatalf("size %d, want %d", v.Size(), len(c.want))
			}
			for i, w := range c.want[2:] {
				if id := v.ID([]byte(w)); id != int32(i+2) {
					t.Fatalf("ID(%q) = %d, want %d", w, id, i+2)
				}
			}
			if id := v.ID([]byte("absent")); id != UnkID {
				t.Fatalf("ID(absent) = %d, want UnkID", id)
			}
			if w := v.Word(PadID); w != PadWord {
				t.Fatalf("Word(0) = %q", w)
			}
		})
	}
}

func TestBuildVocabReservedWordsNeverReal(t *testing.T) {
	v := vocabOf(map[string]int64{PadWord: 10, UnkWord: 10, "x": 3}, 10, 1)
	if !slices.Equal(v.Words(), []string{PadWord, UnkWord, "x"}) {
		t.Fatalf("words %q", v.Words())
	}
	if v.ID([]byte(PadWord)) != UnkID {
		t.Fatal("the text <pad> must not map to the padding id")
	}
}

func TestVocabSaveLoadRoundTrip(t *testing.T) {
	v := vocabOf(map[string]int64{"a": 3, "b'c": 2, "don't": 5}, 10, 1)
	path := filepath.Join(t.TempDir(), "v.tsv")
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(raw), "0\t<pad>\t0\n1\t<unk>\t0\n2\tdon't\t5\n") {
		t.Fatalf("file not in id<TAB>word<TAB>count form:\n%s", raw)
	}
	got, err := LoadVocab(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Words(), v.Words()) || got.Count(2) != 5 {
		t.Fatalf("round trip: %q", got.Words())
	}
	again, err := NewVocabFromWords(v.Words())
	if err != nil || again.ID([]byte("a")) != v.ID([]byte("a")) {
		t.Fatalf("NewVocabFromWords: %v", err)
	}
}

func TestLoadVocabErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"fields", "0\t<pad>\t0\n1\t<unk>\n", "line 2"},
		{"id gap", "0\t<pad>\t0\n1\t<unk>\t0\n3\tx\t1\n", "line 3"},
		{"reserved", "0\tx\t0\n", "line 1"},
		{"dup", "0\t<pad>\t0\n1\t<unk>\t0\n2\tx\t1\n3\tx\t1\n", "already"},
		{"count", "0\t<pad>\t0\n1\t<unk>\t-1\n", "bad count"},
		{"empty", "", "at least"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "v.tsv")
			os.WriteFile(path, []byte(c.body), 0o644)
			_, err := LoadVocab(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want mention of %q", err, c.want)
			}
		})
	}
	if _, err := NewVocabFromWords([]string{"a", "b"}); err == nil {
		t.Fatal("NewVocabFromWords accepted a list without reserved words")
	}
}

// vocabOf is buildVocab over a map of word counts.
func vocabOf(counts map[string]int64, size, minCount int) *Vocab {
	words := make([]string, 0, len(counts))
	c := make([]int64, 0, len(counts))
	for w, n := range counts {
		words = append(words, w)
		c = append(c, n)
	}
	return buildVocab(words, c, size, minCount)
}
