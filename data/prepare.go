package data

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zeebo/xxh3"
)

// Defaults of PrepOptions.
const (
	DefaultCacheDir  = ".cache/trainer"
	DefaultVocabSize = 20000
	DefaultMinCount  = 2
)

// PrepOptions says what Prepare reads and how.
type PrepOptions struct {
	Train, Test string     // input paths; "-" is stdin (never cached for reuse); Test may be empty
	CacheDir    string     // default DefaultCacheDir
	Workers     int        // 0 uses every core
	SkipBad     bool       // skip bad records and count them instead of failing
	LabelMap    string     // ParseLabelMap spec; "" is the Amazon polarity convention
	Preprocess  Preprocess // the zero value means DefaultPreprocess
	VocabSize   int        // ids including pad and unknown; default DefaultVocabSize
	MinCount    int        // default DefaultMinCount
	Balance     bool
	Seed        uint64 // chooses the reviews --balance drops
	// QuickCacheCheck reuses a cache on its key alone (size, modification
	// time, first and last MiB of each input) without reading the whole
	// input to prove it unchanged: faster on a huge input, but an edit in
	// the middle that keeps the size and restores the time goes unnoticed.
	// Off by default.
	QuickCacheCheck bool
	// Progress, when set, receives progress and warnings from the caller's
	// goroutine.
	Progress func(ProgressEvent)
}

// ProgressEvent is a progress report or a warning from Prepare.
type ProgressEvent struct {
	Stage   string // e.g. "encode train"
	Done    int64  // input bytes consumed
	Total   int64  // input size, -1 when unknown (stdin)
	Reviews int64  // reviews kept so far
	Final   bool   // the stage is complete
	Warning string // set for a warning, such as a corrupt cache being rebuilt
}

// Prepared is the outcome of Prepare: the vocabulary and the encoded
// datasets, memory-mapped from the cache. Close releases them.
type Prepared struct {
	Vocab       *Vocab
	Train, Test *Dataset // Test is nil without a test input
	Report      Report   // train report; Report.Test describes the test set
	caches      []*cacheFile
}

// Close unmaps the datasets; they must not be used afterwards.
func (p *Prepared) Close() error {
	var err error
	for _, c := range p.caches {
		err = errors.Join(err, c.Close())
	}
	p.caches = nil
	return err
}

// Prepare reads, cleans, tokenizes and encodes the training input (and the
// test input with the training vocabulary), or reuses the caches of an
// earlier run with the same inputs and settings.
//
// Cache keys. An input is located by the SHA-256 of its size, modification
// time and first and last MiB, which names the cache file without reading
// the input. That alone would miss an edit in the middle that keeps the size
// and restores the modification time, so a cache is reused only once a
// digest of the whole input (xxh3-128 of the bytes, about 20 times the speed
// of SHA-256, a small part of an encoding pass) equals the one recorded when
// it was built; otherwise it is rebuilt with a warning. QuickCacheCheck
// skips that read. The key also covers the preprocessing settings,
// vocabulary size and minimum count, the label map, skip-bad, balance and
// its seed, and the cache format version. Inputs that are not regular files
// (stdin, pipes, FIFOs) cannot be recognised later and are never reused.
func Prepare(ctx context.Context, o PrepOptions) (*Prepared, error) {
	start := time.Now()
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	if o.Preprocess == (Preprocess{}) {
		o.Preprocess = DefaultPreprocess()
	}
	if o.VocabSize == 0 {
		o.VocabSize = DefaultVocabSize
	}
	if o.MinCount == 0 {
		o.MinCount = DefaultMinCount
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.VocabSize < 2 || o.MinCount < 1 {
		return nil, fmt.Errorf("prepare: vocabulary size %d (want >= 2) or min count %d (want >= 1) out of range", o.VocabSize, o.MinCount)
	}
	if err := o.Preprocess.Validate(); err != nil {
		return nil, err
	}
	var ro ReaderOptions
	if o.LabelMap != "" {
		lm, err := ParseLabelMap(o.LabelMap)
		if err != nil {
			return nil, err
		}
		ro.LabelMap = lm
	}
	ro.SkipBad = o.SkipBad
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	b := &builder{o: o, ro: ro}
	p, err := b.prepare(ctx)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.Report.Seconds = time.Since(start).Seconds()
	return p, nil
}

type builder struct {
	o  PrepOptions
	ro ReaderOptions
}

func (b *builder) emit(e ProgressEvent) {
	if b.o.Progress != nil {
		b.o.Progress(e)
	}
}

func (b *builder) prepare(ctx context.Context) (*Prepared, error) {
	p := &Prepared{}
	id, err := inputID(b.o.Train)
	if err != nil {
		return p, err
	}
	var seed uint64
	if b.o.Balance {
		seed = b.o.Seed
	}
	key := hashKey("train", cacheVersion, id, b.o.Preprocess.Key(), b.o.VocabSize, b.o.MinCount,
		b.ro.LabelMap.String(), b.o.SkipBad, b.o.Balance, seed)
	path := filepath.Join(b.o.CacheDir, key+".cache")
	vocabPath := filepath.Join(b.o.CacheDir, key+".vocab.tsv")
	if id == "" {
		// Stdin cannot be identified before it is read: build under a
		// private name and unlink at once (the mapping stays valid).
		path = filepath.Join(b.o.CacheDir, fmt.Sprintf("stdin-%d-%d.cache", os.Getpid(), time.Now().UnixNano()))
		vocabPath = ""
	}
	c, v, err := b.loadTrain(path, key, vocabPath, id != "")
	if err != nil {
		return p, err
	}
	if c, err = b.proven(c, b.o.Train); err != nil {
		return p, err
	}
	if c == nil {
		if c, v, err = b.buildTrain(ctx, path, key, vocabPath); err != nil {
			return p, err
		}
		if id == "" {
			os.Remove(path)
			c.report.CachePath = ""
		}
	}
	p.caches = append(p.caches, c)
	p.Vocab, p.Train, p.Report = v, &c.ds, c.report
	if b.o.Test == "" {
		return p, nil
	}
	tid, err := inputID(b.o.Test)
	if err != nil {
		return p, err
	}
	tkey := hashKey("test", key, tid)
	tpath := filepath.Join(b.o.CacheDir, tkey+".cache")
	if tid == "" || id == "" {
		tpath = filepath.Join(b.o.CacheDir, fmt.Sprintf("stdin-%d-%d.test.cache", os.Getpid(), time.Now().UnixNano()))
	}
	tstart := time.Now()
	var tc *cacheFile
	if tid != "" && id != "" {
		if tc, err = b.load(tpath, tkey, 0); err != nil {
			return p, err
		}
		if tc, err = b.proven(tc, b.o.Test); err != nil {
			return p, err
		}
	}
	if tc == nil {
		if tc, err = b.buildTest(ctx, tpath, tkey, v); err != nil {
			return p, err
		}
		if tid == "" || id == "" {
			os.Remove(tpath)
			tc.report.CachePath = ""
		}
	}
	p.caches = append(p.caches, tc)
	p.Test = &tc.ds
	tr := tc.report
	tr.Seconds = time.Since(tstart).Seconds()
	p.Report.Test = &tr
	return p, nil
}

// proven returns c if the whole input at path still has the digest
// recorded when c was built (or QuickCacheCheck trusts the key); otherwise
// it closes c, warns, and returns nil so that the cache is rebuilt.
func (b *builder) proven(c *cacheFile, path string) (*cacheFile, error) {
	if c == nil || b.o.QuickCacheCheck {
		return c, nil
	}
	sum, err := FileDigest(path)
	if err != nil {
		c.Close()
		return nil, err
	}
	if sum == c.report.InputDigest {
		return c, nil
	}
	b.emit(ProgressEvent{Warning: fmt.Sprintf("cache %s: %s changed since the cache was built (digest %s, cache has %s) though its size, time and ends did not; rebuilding",
		c.path, path, sum, c.report.InputDigest)})
	c.Close()
	return nil, nil
}

// FileDigest is "xxh3-128:" and the hex xxh3-128 of the whole file at
// path, as Reader.Digest reports it once a file has been read to the end.
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h := xxh3.New128()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	sum := h.Sum128().Bytes()
	return "xxh3-128:" + hex.EncodeToString(sum[:]), nil
}

// load opens a cache if it exists and is sound: a missing one gives nil, a
// corrupt or stale one a warning and nil, so that it is rebuilt.
func (b *builder) load(path, key string, vocabCRC uint32) (*cacheFile, error) {
	c, err := openCache(path, key, vocabCRC, true)
	switch {
	case err == nil:
		c.report.CacheHit = true
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, ErrCacheCorrupt):
		b.emit(ProgressEvent{Warning: fmt.Sprintf("%v; rebuilding it", err)})
		return nil, nil
	default:
		return nil, err
	}
}

func (b *builder) loadTrain(path, key, vocabPath string, reuse bool) (*cacheFile, *Vocab, error) {
	if !reuse {
		return nil, nil, nil
	}
	crc, err := fileCRC(vocabPath)
	if err != nil {
		if _, serr := os.Stat(path); serr == nil {
			b.emit(ProgressEvent{Warning: fmt.Sprintf("cache %s: vocabulary file %s unreadable (%v); rebuilding", path, vocabPath, err)})
		}
		return nil, nil, nil
	}
	c, err := b.load(path, key, crc)
	if c == nil || err != nil {
		return nil, nil, err
	}
	v, err := LoadVocab(vocabPath)
	if err != nil {
		c.Close()
		b.emit(ProgressEvent{Warning: fmt.Sprintf("%v; rebuilding the cache", err)})
		return nil, nil, nil
	}
	return c, v, nil
}

// pass runs the encoding pass over one input, reporting progress, and the
// full input digest beside it.
//
// With w set, the tokens are stored straight into w's file (see
// tokenStore).
func (b *builder) pass(ctx context.Context, stage, path string, v *Vocab, w *cacheWriter) (*pass, string, error) {
	r, err := Open(path, b.ro)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	done, total := r.Progress()
	b.emit(ProgressEvent{Stage: stage, Done: done, Total: total})
	var f *os.File
	if w != nil {
		f = w.f
	}
	ps, err := encodePassTo(ctx, r, b.o.Preprocess, v, b.o.Workers, func(done, total, reviews int64) {
		b.emit(ProgressEvent{Stage: stage, Done: done, Total: total, Reviews: reviews})
	}, f, cacheHeaderSize)
	if err != nil {
		return nil, "", err
	}
	sum := r.Digest()
	done, total = r.Progress()
	b.emit(ProgressEvent{Stage: stage, Done: done, Total: total, Reviews: int64(len(ps.labels)), Final: true})
	return ps, sum, nil
}

// newWriter starts the cache file at path. Without balance dropping
// reviews, the encoding pass stores its tokens straight into it, where
// shared file mappings exist.
func (b *builder) newWriter(path string, direct bool) (*cacheWriter, bool, error) {
	w, err := newCacheWriter(path)
	if err != nil {
		return nil, false, err
	}
	if !direct {
		return w, false, nil
	}
	_, free, err := mapTokensRW(w.f, cacheHeaderSize, 1024)
	if err != nil {
		// Not supported here: write calls instead, from an empty body.
		if err := w.f.Truncate(cacheHeaderSize); err != nil {
			w.abort()
			return nil, false, fmt.Errorf("create cache: %w", err)
		}
		return w, false, nil
	}
	free()
	return w, true, nil
}

func (b *builder) buildTrain(ctx context.Context, path, key, vocabPath string) (*cacheFile, *Vocab, error) {
	start := time.Now()
	w, direct, err := b.newWriter(path, !b.o.Balance)
	if err != nil {
		return nil, nil, err
	}
	done := false
	defer func() {
		if !done {
			w.abort()
		}
	}()
	pw := w
	if !direct {
		pw = nil
	}
	ps, sum, err := b.pass(ctx, "encode train", b.o.Train, nil, pw)
	if err != nil {
		return nil, nil, err
	}
	defer ps.store.release()
	rep := ps.report(b.o.Train, b.o.Preprocess)
	rep.InputDigest = sum
	var drop []bool
	if b.o.Balance {
		var n int64
		drop, n = balanceDrops(ps.labels, b.o.Seed)
		rep.addDrop(DropBalance, n)
	}
	v, distinct, unk := ps.vocabulary(b.o.VocabSize, b.o.MinCount, b.o.Workers, drop)
	rep.UnkTokens, rep.DistinctWords, rep.VocabSize = unk, distinct, v.Size()
	var vocabCRC uint32
	if vocabPath != "" {
		if err := v.Save(vocabPath); err != nil {
			return nil, nil, err
		}
		if vocabCRC, err = fileCRC(vocabPath); err != nil {
			return nil, nil, err
		}
		rep.VocabPath = vocabPath
	}
	done = true // write finishes or abandons the file
	c, err := b.write(ps, w, path, key, vocabCRC, drop, &rep, start)
	return c, v, err
}

func (b *builder) buildTest(ctx context.Context, path, key string, v *Vocab) (*cacheFile, error) {
	start := time.Now()
	w, direct, err := b.newWriter(path, true)
	if err != nil {
		return nil, err
	}
	pw := w
	if !direct {
		pw = nil
	}
	ps, sum, err := b.pass(ctx, "encode test", b.o.Test, v, pw)
	if err != nil {
		w.abort()
		return nil, err
	}
	defer ps.store.release()
	rep := ps.report(b.o.Test, b.o.Preprocess)
	rep.InputDigest = sum
	rep.UnkTokens, rep.VocabSize = ps.unk, v.Size()
	return b.write(ps, w, path, key, 0, nil, &rep, start)
}

// write stores the pass's kept reviews in the cache at path and maps it.
func (b *builder) write(ps *pass, w *cacheWriter, path, key string, vocabCRC uint32, drop []bool, rep *Report, start time.Time) (*cacheFile, error) {
	var offsets []int64
	var labels []uint8
	var err error
	if ps.store.file != nil && drop == nil {
		offsets, labels = ps.offsets, ps.labels
		err = w.adoptTokens(&ps.store)
	} else {
		offsets, labels, err = ps.writeTokens(w.write, drop)
	}
	if err != nil {
		w.abort()
		return nil, fmt.Errorf("write cache %s: %w", path, err)
	}
	ps.store.release()
	if len(labels) == 0 {
		w.abort()
		return nil, errNoReviews(rep.Input, *rep)
	}
	rep.finish(offsets, labels)
	rep.CachePath = path
	rep.BuildSeconds = time.Since(start).Seconds()
	if err := w.finish(key, vocabCRC, rep.Tokens, offsets, labels, rep); err != nil {
		return nil, err
	}
	// The file was just checksummed while written; skip the second read.
	return openCache(path, key, vocabCRC, false)
}

// inputID identifies an input cheaply for the cache key (see Prepare); ""
// for stdin and every other input that is not a regular file (a pipe, a
// FIFO, a character device), which can be read only once: no second read
// for the digest, no section reads here (they fail with "illegal seek").
func inputID(path string) (string, error) {
	if path == "-" {
		return "", nil
	}
	// Stat before opening: opening a FIFO to look at it would take the
	// writer's one stream away from the reader that follows.
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("read %s: %w", path, ErrIsDir)
	}
	if !st.Mode().IsRegular() {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	var meta [16]byte
	binary.LittleEndian.PutUint64(meta[:], uint64(st.Size()))
	binary.LittleEndian.PutUint64(meta[8:], uint64(st.ModTime().UnixNano()))
	h.Write(meta[:])
	const edge = 1 << 20
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, edge)); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if st.Size() > edge {
		if _, err := io.Copy(h, io.NewSectionReader(f, max(st.Size()-edge, edge), edge)); err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
