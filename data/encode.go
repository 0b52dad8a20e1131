package data

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The encoder makes one streaming pass over an input. A reader goroutine
// cuts the input into chunks; workers clean and tokenize them and map each
// token to an id; the caller's goroutine collects the chunks in input order
// into a compact token store. Building a vocabulary needs the counts of the
// whole input, so a training input is mapped to provisional ids from a
// dictionary private to each worker (no locks, no per-token allocation);
// after the pass the dictionaries are merged, the vocabulary cut, and the
// provisional ids rewritten in place with one table lookup per token. The
// token store is the size of the final cache, and when a cache is being
// built it is that file, mapped (see tokenStore); everything else in
// flight is a few chunks per worker.

// slabTokens is the token store's unit of allocation (64 MiB).
const slabTokens = 1 << 24

// tokenStore is an append-only array of token ids in fixed-size slabs, so
// that growing it never copies. With a file it is the file itself: slab k
// is a shared mapping of the file from byte base+k*4*slabTokens, so a
// cache's tokens reach the file without being copied by write calls (which
// cost several times more than filling the mapping).
type tokenStore struct {
	slabs [][]int32
	free  []func()
	n     int64
	file  *os.File // nil: slabs are anonymous memory
	base  int64    // file offset of the first token
	err   error    // the first failure to extend or map the file
}

func (s *tokenStore) append(ids []int32) {
	for len(ids) > 0 && s.err == nil {
		if s.n == int64(len(s.slabs))*slabTokens {
			var slab []int32
			var free func()
			if s.file != nil {
				off := s.base + 4*int64(len(s.slabs))*slabTokens
				slab, free, s.err = mapTokensRW(s.file, off, slabTokens)
				if s.err != nil {
					return
				}
			} else {
				slab, free = allocTokens(slabTokens)
			}
			s.slabs = append(s.slabs, slab)
			s.free = append(s.free, free)
		}
		slab := s.slabs[len(s.slabs)-1]
		k := copy(slab[s.n%slabTokens:], ids)
		ids = ids[k:]
		s.n += int64(k)
	}
}

// spans calls f on the contiguous pieces of tokens [lo, hi), in order,
// stopping at the first error.
func (s *tokenStore) spans(lo, hi int64, f func([]int32) error) error {
	for lo < hi {
		slab := s.slabs[lo/slabTokens]
		off := lo % slabTokens
		end := min(int64(len(slab)), off+hi-lo)
		if err := f(slab[off:end]); err != nil {
			return err
		}
		lo += end - off
	}
	return nil
}

// release returns the slabs to the system.
func (s *tokenStore) release() {
	for _, f := range s.free {
		f()
	}
	s.slabs, s.free, s.n = nil, nil, 0
}

// wordDict is one worker's provisional dictionary, an open-addressing hash
// table built for the per-token hot path of the encoder, where it is most
// of the cost. A 32-byte slot, half a cache line, holds a word's first and
// last 8 bytes, its length, a hash tag, its id and its count, so that a
// word of up to 16 bytes (nearly every token) is found, verified and
// counted with one access to one cache line; longer words are verified
// against the word arena. The words of a review are hashed and their
// slots prefetched before any is looked up, so that the cache misses of a
// table larger than the caches (100k words take 8 MiB) overlap instead of
// following one another. It allocates nothing per word and holds no
// pointers for the garbage collector.
type wordDict struct {
	slots []dictSlot
	mask  uint64
	arena []byte    // the words, end to end
	ends  []uint32  // end of word id in arena
	hs    []uint64  // the hashes of a review's words
	keys  []dictKey // and their keys
}

type dictSlot struct {
	prefix uint64 // first 8 bytes of the word, zero-padded
	suffix uint64 // last 8 bytes of a word longer than 8 bytes, else 0
	meta   uint64 // tag<<40 | min(length, 255)<<32 | id+1; 0 = empty
	count  int64
}

// dictKey is a word's hash and first and last 8 bytes.
type dictKey struct {
	h, prefix, suffix uint64
}

// prefetchSlots assumes the slot size.
var _ = [1]int{}[unsafe.Sizeof(dictSlot{})-1<<prefetchShift]

const (
	dictInitialSlots = 1 << 15
	dictMetaLow      = 1<<32 - 1
)

func newWordDict() *wordDict {
	return &wordDict{
		slots: make([]dictSlot, dictInitialSlots),
		mask:  dictInitialSlots - 1,
		arena: make([]byte, 0, 1<<20),
	}
}

// load8 returns the n <= 8 bytes at b[i:] zero-padded; it reads 8 bytes
// at once when b has them (the tokenizer's buffer has slack at its end).
func load8(b []byte, i, n int) uint64 {
	if i+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[i:]) & (^uint64(0) >> (64 - 8*uint(n)))
	}
	var x uint64
	for k := n - 1; k >= 0; k-- {
		x = x<<8 | uint64(b[i+k])
	}
	return x
}

// wordKey hashes the n bytes at b[i:]. Words of up to 16 bytes, nearly
// every token, are hashed by mixing their first and last 8 bytes (no loop,
// no call); longer ones 8 bytes at a time.
func wordKey(b []byte, i, n int) dictKey {
	var k dictKey
	if n <= 8 {
		k.prefix = load8(b, i, n)
	} else {
		k.prefix = binary.LittleEndian.Uint64(b[i:])
		k.suffix = binary.LittleEndian.Uint64(b[i+n-8:])
	}
	h := (k.prefix ^ uint64(n)<<56) * 0x9e3779b97f4a7c15
	h ^= h>>29 ^ k.suffix
	if n > 16 {
		for j := i + 8; j < i+n-8; j += 8 {
			h = (h ^ binary.LittleEndian.Uint64(b[j:])) * 0x9e3779b97f4a7c15
			h ^= h >> 29
		}
	}
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	k.h = h
	return k
}

// id returns the provisional id of w, adding it if new, and counts it.
func (d *wordDict) id(w []byte) int32 {
	return d.lookup(wordKey(w, 0, len(w)), w)
}

// shortKey returns the first and last 8 bytes of the n-byte word at b[i:]
// (zero-padded first bytes when n < 8, no last bytes when n <= 8) and the
// hash wordKey gives a word of up to 16 bytes. b must hold 8 bytes from i
// and from i+n-8; the branches are on n only, and mostly predicted.
func shortKey(b []byte, i, n int) (prefix, suffix, h uint64) {
	prefix = binary.LittleEndian.Uint64(b[i:]) & (^uint64(0) >> (64 - 8*uint(min(n, 8))))
	if n > 8 {
		suffix = binary.LittleEndian.Uint64(b[i+n-8:])
	}
	h = (prefix ^ uint64(n)<<56) * 0x9e3779b97f4a7c15
	h ^= h>>29 ^ suffix
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return prefix, suffix, h
}

// ids appends the provisional ids of the tokens buf[s.start:s.end] of one
// review to out, adding new words and counting them. It is the encoder's
// innermost loop: a word of up to 16 bytes found in its home slot costs a
// few dozen instructions, with no call; anything else goes through lookup.
func (d *wordDict) ids(buf []byte, spans []span, out []int32) []int32 {
	n := len(spans)
	if n == 0 {
		return out
	}
	if len(buf)+8 > cap(buf) {
		// No slack to read 8 bytes past a word's start: the careful path.
		for _, s := range spans {
			out = append(out, d.id(buf[s.start:s.end]))
		}
		return out
	}
	if cap(d.hs) < n {
		d.hs = make([]uint64, n+64)
		d.keys = make([]dictKey, n+64)
	}
	hs, keys := d.hs[:n], d.keys[:n]
	full := buf[:cap(buf)]
	slots, mask := d.slots, d.mask
	for k, s := range spans {
		st, ln := int(s.start), int(s.end-s.start)
		var key dictKey
		if ln <= 16 {
			key.prefix, key.suffix, key.h = shortKey(full, st, ln)
		} else {
			key = wordKey(full, st, ln)
		}
		hs[k] = key.h
		keys[k] = key
	}
	// The slots of a large table are mostly cache misses: ask for all of
	// the review's at once, so that they overlap instead of following one
	// another.
	if prefetchSlots(unsafe.Pointer(&slots[0]), hs, mask) == 1 {
		d.mask = mask // never: keeps the loads of the portable version
	}
	base := len(out)
	out = slices.Grow(out, n)[:base+n]
	dst := out[base:]
	for k, s := range spans {
		st, ln := int(s.start), int(s.end-s.start)
		key := &keys[k]
		sl := &slots[key.h&mask]
		if ln <= 16 && sl.meta&^dictMetaLow == (key.h>>40)<<40|uint64(ln)<<32 && sl.prefix == key.prefix && sl.suffix == key.suffix {
			sl.count++
			dst[k] = int32(uint32(sl.meta)) - 1
			continue
		}
		dst[k] = d.lookup(*key, buf[st:st+ln])
		slots, mask = d.slots, d.mask // an insert may have grown the table
	}
	return out
}

// lookup finds or adds the word w with key k and counts it.
func (d *wordDict) lookup(k dictKey, w []byte) int32 {
	want := (k.h>>40)<<40 | uint64(min(len(w), 255))<<32
	for i := k.h & d.mask; ; i = (i + 1) & d.mask {
		s := &d.slots[i]
		if s.meta&^dictMetaLow != want || s.prefix != k.prefix || s.suffix != k.suffix {
			if s.meta == 0 {
				return d.insert(s, k, want, w)
			}
			continue
		}
		id := int32(uint32(s.meta)) - 1
		if len(w) > 16 && string(d.word(id)) != string(w) {
			continue
		}
		s.count++
		return id
	}
}

func (d *wordDict) insert(s *dictSlot, k dictKey, want uint64, w []byte) int32 {
	id := int32(len(d.ends))
	d.arena = append(d.arena, w...)
	d.ends = append(d.ends, uint32(len(d.arena)))
	*s = dictSlot{prefix: k.prefix, suffix: k.suffix, meta: want | uint64(id+1), count: 1}
	if 2*len(d.ends) > len(d.slots) {
		d.grow()
	}
	return id
}

func (d *wordDict) grow() {
	old := d.slots
	d.slots = make([]dictSlot, 2*len(old))
	d.mask = uint64(len(d.slots) - 1)
	for _, s := range old {
		if s.meta == 0 {
			continue
		}
		w := d.word(int32(uint32(s.meta)) - 1)
		i := wordKey(w, 0, len(w)).h & d.mask
		for d.slots[i].meta != 0 {
			i = (i + 1) & d.mask
		}
		d.slots[i] = s
	}
}

// counts returns how often each word was seen, by id.
func (d *wordDict) counts() []int64 {
	c := make([]int64, d.size())
	for _, s := range d.slots {
		if s.meta != 0 {
			c[uint32(s.meta)-1] = s.count
		}
	}
	return c
}

// size is the number of distinct words.
func (d *wordDict) size() int { return len(d.ends) }

// word returns the bytes of the word with the given id.
func (d *wordDict) word(id int32) []byte {
	start := uint32(0)
	if id > 0 {
		start = d.ends[id-1]
	}
	return d.arena[start:d.ends[id]]
}

// segment is a run of tokens collected from one chunk: the reviews and
// tokens it covers and the worker whose dictionary its provisional ids
// belong to.
type segment struct {
	lo, hi   int64 // tokens
	rlo, rhi int64 // reviews
	worker   int
}

// chunkOut is a worker's result for one chunk.
type chunkOut struct {
	worker int
	ids    []int32
	lens   []int32
	labels []uint8
	empty  int64 // reviews with no tokens, dropped
	unk    int64 // unknown tokens (fixed vocabulary only)
}

// pass is the outcome of one encoding pass over an input.
type pass struct {
	store   tokenStore
	offsets []int64
	labels  []uint8
	segs    []segment
	dicts   []*wordDict // provisional mode only
	empty   int64
	unk     int64
	stats   ReadStats
	format  string
	comp    string
	size    int64
}

// progressFunc receives the bytes of input consumed, the input size (-1 when
// unknown) and the reviews kept so far.
type progressFunc func(done, total, reviews int64)

// encodePass reads r to the end, tokenizing with p on the given number of
// workers. With a vocabulary v, tokens get their final ids and unknown
// tokens are counted; with v nil they get provisional ids from per-worker
// dictionaries (see vocabulary).
func encodePass(ctx context.Context, r *Reader, p Preprocess, v *Vocab, workers int, progress progressFunc) (*pass, error) {
	return encodePassTo(ctx, r, p, v, workers, progress, nil, 0)
}

// encodePassTo is encodePass with the token store in file f from byte
// base on (see tokenStore); f nil keeps it in memory.
func encodePassTo(ctx context.Context, r *Reader, p Preprocess, v *Vocab, workers int, progress progressFunc, f *os.File, base int64) (*pass, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ps := &pass{offsets: make([]int64, 1, 1<<16)}
	ps.store.file, ps.store.base = f, base
	if v == nil {
		ps.dicts = make([]*wordDict, workers)
		for i := range ps.dicts {
			ps.dicts[i] = newWordDict()
		}
	}
	type job struct {
		chunk *Chunk
		out   chan *chunkOut
	}
	jobs := make(chan job)
	order := make(chan chan *chunkOut, 2*workers+2)
	pool := sync.Pool{New: func() any { return new(chunkOut) }}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := NewTokenizer(p)
			for j := range jobs {
				o := pool.Get().(*chunkOut)
				*o = chunkOut{worker: w, ids: o.ids[:0], lens: o.lens[:0], labels: o.labels[:0]}
				for _, rv := range j.chunk.Reviews {
					buf, toks := tok.tokenSpans(rv.Text)
					if len(toks) == 0 {
						o.empty++
						continue
					}
					if v != nil {
						for _, t := range toks {
							id := v.ID(buf[t.start:t.end])
							if id == UnkID {
								o.unk++
							}
							o.ids = append(o.ids, id)
						}
					} else {
						o.ids = ps.dicts[w].ids(buf, toks, o.ids)
					}
					o.lens = append(o.lens, int32(len(toks)))
					o.labels = append(o.labels, rv.Label)
				}
				j.out <- o
			}
		}()
	}

	var readErr error
	go func() {
		defer close(order)
		defer close(jobs)
		for {
			if err := ctx.Err(); err != nil {
				readErr = err
				return
			}
			ch, err := r.NextChunk()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				readErr = err
				return
			}
			out := make(chan *chunkOut, 1)
			order <- out
			jobs <- job{ch, out}
		}
	}()

	for out := range order {
		o := <-out
		seg := segment{lo: ps.store.n, rlo: int64(len(ps.labels)), worker: o.worker}
		ps.store.append(o.ids)
		if ps.store.err != nil {
			cancel() // stop reading; the failure is returned below
		}
		end := ps.offsets[len(ps.offsets)-1]
		for _, l := range o.lens {
			end += int64(l)
			ps.offsets = append(ps.offsets, end)
		}
		ps.labels = append(ps.labels, o.labels...)
		seg.hi, seg.rhi = ps.store.n, int64(len(ps.labels))
		ps.segs = append(ps.segs, seg)
		ps.empty += o.empty
		ps.unk += o.unk
		pool.Put(o)
		if progress != nil {
			done, total := r.Progress()
			progress(done, total, int64(len(ps.labels)))
		}
	}
	wg.Wait()
	ps.stats = r.Stats()
	ps.format, ps.comp = r.Format(), r.Compression()
	done, total := r.Progress()
	ps.size = total
	if total < 0 {
		ps.size = done // stdin: the bytes read
	}
	if ps.store.err != nil {
		readErr = ps.store.err
	}
	if readErr != nil {
		ps.store.release()
		return nil, readErr
	}
	return ps, nil
}

// vocabulary merges the workers' dictionaries, leaves out the reviews
// marked in drop, cuts the vocabulary and rewrites the provisional ids in
// the store to final ids in place. It returns the vocabulary, the number of
// distinct words seen and the unknown tokens in kept reviews.
func (ps *pass) vocabulary(size, minCount, workers int, drop []bool) (*Vocab, int64, int64) {
	// Merge: global index per distinct word, summed counts, and per worker
	// a translation from its provisional ids to global ones.
	n := 0
	for _, d := range ps.dicts {
		n = max(n, d.size())
	}
	global := make(map[string]int32, n)
	var words []string
	var counts []int64
	trans := make([][]int32, len(ps.dicts))
	for w, d := range ps.dicts {
		trans[w] = make([]int32, d.size())
		dcounts := d.counts()
		for local := range trans[w] {
			word := d.word(int32(local))
			g, ok := global[string(word)]
			if !ok {
				g = int32(len(words))
				s := string(word)
				global[s] = g
				words = append(words, s)
				counts = append(counts, 0)
			}
			counts[g] += dcounts[local]
			trans[w][local] = g
		}
	}
	// Dropped reviews do not count towards the vocabulary.
	if drop != nil {
		ps.eachDropped(drop, func(worker int, toks []int32) {
			for _, t := range toks {
				counts[trans[worker][t]]--
			}
		})
	}
	var distinct int64
	for _, c := range counts {
		if c > 0 {
			distinct++
		}
	}
	v := buildVocab(words, counts, size, minCount)
	final := make([]int32, len(words))
	for g, w := range words {
		if id, ok := v.index[w]; ok {
			final[g] = id
		} else {
			final[g] = UnkID
		}
	}
	tables := make([][]int32, len(trans))
	for w, t := range trans {
		tables[w] = make([]int32, len(t))
		for local, g := range t {
			tables[w][local] = final[g]
		}
	}
	var next atomic.Int64
	var unk atomic.Int64
	var wg sync.WaitGroup
	for k := 0; k < max(workers, 1); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var u int64
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ps.segs)) {
					break
				}
				s := ps.segs[i]
				tab := tables[s.worker]
				ps.store.spans(s.lo, s.hi, func(toks []int32) error {
					for j, t := range toks {
						id := tab[t]
						toks[j] = id
						if id == UnkID {
							u++
						}
					}
					return nil
				})
			}
			unk.Add(u)
		}()
	}
	wg.Wait()
	u := unk.Load()
	if drop != nil {
		ps.eachDropped(drop, func(_ int, toks []int32) {
			for _, t := range toks {
				if t == UnkID {
					u--
				}
			}
		})
	}
	// The unknown-word entry records how often unknown words occurred.
	v.counts[UnkID] = u
	return v, distinct, u
}

// eachDropped calls f with the tokens of every review marked in drop and
// the worker whose ids they are.
func (ps *pass) eachDropped(drop []bool, f func(worker int, toks []int32)) {
	seg := 0
	for i, d := range drop {
		if !d {
			continue
		}
		for ps.segs[seg].rhi <= int64(i) {
			seg++
		}
		w := ps.segs[seg].worker
		ps.store.spans(ps.offsets[i], ps.offsets[i+1], func(toks []int32) error {
			f(w, toks)
			return nil
		})
	}
}

// writeTokens streams the tokens of the reviews not marked in drop to w
// and returns the offsets and labels of the kept reviews.
func (ps *pass) writeTokens(write func([]byte) error, drop []bool) ([]int64, []uint8, error) {
	if drop == nil {
		err := ps.store.spans(0, ps.store.n, func(t []int32) error { return write(int32Bytes(t)) })
		return ps.offsets, ps.labels, err
	}
	offsets := make([]int64, 1, len(ps.offsets))
	labels := make([]uint8, 0, len(ps.labels))
	n := len(ps.labels)
	for i := 0; i < n; {
		if drop[i] {
			i++
			continue
		}
		j := i
		for j < n && !drop[j] {
			end := offsets[len(offsets)-1] + ps.offsets[j+1] - ps.offsets[j]
			offsets = append(offsets, end)
			labels = append(labels, ps.labels[j])
			j++
		}
		err := ps.store.spans(ps.offsets[i], ps.offsets[j], func(t []int32) error { return write(int32Bytes(t)) })
		if err != nil {
			return nil, nil, err
		}
		i = j
	}
	return offsets, labels, nil
}

// dataset copies the store into an in-memory Dataset.
func (ps *pass) dataset() *Dataset {
	toks := make([]int32, 0, ps.store.n)
	ps.store.spans(0, ps.store.n, func(t []int32) error { toks = append(toks, t...); return nil })
	return &Dataset{Tokens: toks, Offsets: ps.offsets, Labels: ps.labels}
}

// EncodeFile reads and encodes a labelled file with an existing
// vocabulary, as evaluation of a trained model needs, into an in-memory
// Dataset. Reviews left empty by cleaning are dropped and counted.
func EncodeFile(ctx context.Context, path string, v *Vocab, p Preprocess, ro ReaderOptions, workers int) (*Dataset, Report, error) {
	if err := p.Validate(); err != nil {
		return nil, Report{}, err
	}
	r, err := Open(path, ro)
	if err != nil {
		return nil, Report{}, err
	}
	defer r.Close()
	ps, err := encodePass(ctx, r, p, v, workers, nil)
	if err != nil {
		return nil, Report{}, err
	}
	defer ps.store.release()
	d := ps.dataset()
	rep := ps.report(path, p)
	rep.InputDigest = r.Digest()
	rep.UnkTokens = ps.unk
	rep.VocabSize = v.Size()
	rep.finish(d.Offsets, d.Labels)
	return d, rep, nil
}

// report starts a Report from the pass's reading statistics.
func (ps *pass) report(path string, p Preprocess) Report {
	rep := Report{Input: path, InputBytes: ps.size, Format: ps.format, Compression: ps.comp, Preprocess: p}
	rep.fromReader(ps.stats)
	rep.addDrop(DropEmpty, ps.empty)
	return rep
}

// errNoReviews is returned when nothing is left to train on.
func errNoReviews(path string, rep Report) error {
	return fmt.Errorf("%s: no reviews left after cleaning (%d read, %d dropped)", path, rep.ReviewsRead, rep.DroppedTotal())
}
