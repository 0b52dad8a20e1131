package data

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"trainer/internal/atomicfile"
)

// Names of the two reserved vocabulary entries, as they appear in Words and
// in the saved vocabulary file.
const (
	PadWord = "<pad>"
	UnkWord = "<unk>"
)

// Vocab maps words to dense ids. Id 0 is padding, id 1 the unknown word,
// then words by descending training count, ties broken by byte order, so
// that the same counts always give the same ids.
type Vocab struct {
	words  []string
	counts []int64 // training count per id; 0 for pad, total unknown-word count for unk when known
	index  map[string]int32
}

// buildVocab keeps the at most size-2 most frequent of words (counts
// parallel to it) whose count is at least minCount, ties broken by byte
// order; size includes the pad and unknown entries, and a size below 2
// keeps only those two.
func buildVocab(words []string, counts []int64, size, minCount int) *Vocab {
	cand := make([]int32, 0, len(words)/4)
	for i, c := range counts {
		if c >= int64(minCount) && c > 0 && words[i] != PadWord && words[i] != UnkWord && words[i] != "" {
			cand = append(cand, int32(i))
		}
	}
	slices.SortFunc(cand, func(a, b int32) int {
		if counts[a] != counts[b] {
			if counts[a] > counts[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(words[a], words[b])
	})
	cand = cand[:min(len(cand), max(size-2, 0))]
	v := &Vocab{
		words:  make([]string, 2, len(cand)+2),
		counts: make([]int64, 2, len(cand)+2),
		index:  make(map[string]int32, len(cand)),
	}
	v.words[PadID], v.words[UnkID] = PadWord, UnkWord
	for i, g := range cand {
		v.words = append(v.words, words[g])
		v.counts = append(v.counts, counts[g])
		v.index[words[g]] = int32(i + 2)
	}
	return v
}

// NewVocabFromWords rebuilds a vocabulary from its word list in id order,
// as stored in a model file. The list must start with PadWord and UnkWord
// and hold no duplicates or empty words.
func NewVocabFromWords(words []string) (*Vocab, error) {
	if len(words) < 2 || words[0] != PadWord || words[1] != UnkWord {
		return nil, fmt.Errorf("vocabulary must start with %q and %q", PadWord, UnkWord)
	}
	v := &Vocab{
		words:  slices.Clone(words),
		counts: make([]int64, len(words)),
		index:  make(map[string]int32, len(words)-2),
	}
	for i, w := range words[2:] {
		if err := v.add(w, int32(i+2)); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *Vocab) add(w string, id int32) error {
	switch {
	case w == "" || strings.ContainsAny(w, "\t\n\r"):
		return fmt.Errorf("vocabulary id %d: invalid word %q", id, w)
	case w == PadWord || w == UnkWord:
		return fmt.Errorf("vocabulary id %d: reserved word %q out of place", id, w)
	}
	if prev, dup := v.index[w]; dup {
		return fmt.Errorf("vocabulary id %d: word %q already has id %d", id, w, prev)
	}
	v.index[w] = id
	return nil
}

// Size is the number of ids, pad and unknown included.
func (v *Vocab) Size() int { return len(v.words) }

// ID returns the id of word, or UnkID when it is not in the vocabulary.
func (v *Vocab) ID(word []byte) int32 {
	// The string conversion in a map index does not allocate.
	if id, ok := v.index[string(word)]; ok {
		return id
	}
	return UnkID
}

// Word returns the word with the given id, or UnkWord for an id out of range.
func (v *Vocab) Word(id int32) string {
	if id < 0 || int(id) >= len(v.words) {
		return UnkWord
	}
	return v.words[id]
}

// Words returns all words in id order, PadWord and UnkWord first. The slice
// is shared and must not be modified.
func (v *Vocab) Words() []string { return v.words }

// Count returns the training count of the word with the given id (0 when
// unknown, e.g. for a vocabulary rebuilt from a model file).
func (v *Vocab) Count(id int32) int64 {
	if id < 0 || int(id) >= len(v.counts) {
		return 0
	}
	return v.counts[id]
}

// Encode appends the ids of text's tokens to dst, cleaning and tokenizing
// with tok, and returns the extended slice.
func (v *Vocab) Encode(tok *Tokenizer, text string, dst []int32) []int32 {
	for _, w := range tok.Tokens(text) {
		dst = append(dst, v.ID(w))
	}
	return dst
}

// Save writes the vocabulary as text, one "id<TAB>word<TAB>count" line per
// id, atomically: readers see the old file or the complete new one.
func (v *Vocab) Save(path string) error {
	var b bytes.Buffer
	b.Grow(len(v.words) * 16)
	for i, w := range v.words {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\t')
		b.WriteString(w)
		b.WriteByte('\t')
		b.WriteString(strconv.FormatInt(v.counts[i], 10))
		b.WriteByte('\n')
	}
	return atomicfile.WriteBytes(path, b.Bytes())
}

// LoadVocab reads a file written by Save.
func LoadVocab(path string) (*Vocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load vocabulary: %w", err)
	}
	defer f.Close()
	v := &Vocab{index: make(map[string]int32)}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s line %d: want 3 tab-separated fields (id, word, count), got %d", path, line, len(fields))
		}
		id, err := strconv.Atoi(fields[0])
		if err != nil || id != line-1 {
			return nil, fmt.Errorf("%s line %d: id %q, want %d", path, line, fields[0], line-1)
		}
		count, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || count < 0 {
			return nil, fmt.Errorf("%s line %d: bad count %q", path, line, fields[2])
		}
		w := fields[1]
		switch {
		case id == int(PadID) && w != PadWord, id == int(UnkID) && w != UnkWord:
			return nil, fmt.Errorf("%s line %d: id %d must be %q, got %q", path, line, id, []string{PadWord, UnkWord}[id], w)
		case id >= 2:
			if err := v.add(w, int32(id)); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, line, err)
			}
		}
		v.words = append(v.words, w)
		v.counts = append(v.counts, count)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	if len(v.words) < 2 {
		return nil, fmt.Errorf("%s: vocabulary has %d entries, want at least the 2 reserved ones", path, len(v.words))
	}
	return v, nil
}
