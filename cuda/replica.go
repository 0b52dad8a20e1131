package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// Result is what a replica reports for one micro-batch.
type Result = device.Result

// lossScaler is the dynamic loss scale a host-gradient replica consults
// under FP16; *device.LossScaler is the one OpenSet gives it.
type lossScaler interface {
	Scale() float32
	Update(foundInf bool)
}

// Threads per block of the element-wise kernels, and the grid cap beyond
// which their grid-stride loops take over.
const (
	blockThreads = 256
	maxBlocks    = 8192
)

// Replica computes the loss and gradients of micro-batches on one stream of
// a device, with the flat parameter and gradient layout of model.Layout.
// A Replica is not safe for concurrent use; use one per stream.
type Replica struct {
	be     Backend
	stream int
	cfg    model.Config
	layout model.Layout
	prec   Precision
	pool   *Pool
	name   string

	params Ptr // fp32 master weights [N]
	grad   Ptr // fp32 gradients [N]
	low    Ptr // low-precision weights [N], indexed like params (FP16/BF16)
	// shared is set when params and low belong to a Resident, which keeps
	// them current: Forward then ignores its params argument.
	shared bool

	lossScale float32    // multiplies the loss gradient (FP16)
	scaler    lossScaler // dynamic loss scale for Compute, nil for a fixed one

	ws       *workspace
	rec      recurrence // launch shape of the persistent LSTM kernels
	hostGrad []float32  // gradient download buffer
}

// NewReplica prepares a replica for models of shape cfg on stream s of be.
// The GPU path runs every valid model: uni- or bidirectional LSTMs of any
// depth, "last", "mean" or "max" pooling, with or without the wide n-gram
// path.
// Its device memory is allocated on first use, so that a set of replicas
// nobody computes with costs nothing.
func NewReplica(be Backend, s int, cfg model.Config, prec Precision) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := Supports(cfg); err != nil {
		return nil, err
	}
	if s < 0 || s >= be.Streams() {
		return nil, fmt.Errorf("%s: stream %d out of range (the device has %d)", be.Name(), s, be.Streams())
	}
	return &Replica{
		be: be, stream: s, cfg: cfg, layout: model.NewLayout(cfg), prec: prec,
		pool: NewPool(be), lossScale: 1,
		name: fmt.Sprintf("%s/stream%d/%s", be.Name(), s, prec),
	}, nil
}

// allocate gets the weight and gradient buffers the replica does not share
// with a Resident; it runs inside Do.
func (r *Replica) allocate() error {
	n := r.layout.Size()
	var err error
	if r.params == 0 {
		if r.params, err = r.pool.Get(4 * n); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	if r.grad == 0 {
		if r.grad, err = r.pool.Get(4 * n); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	if r.prec != FP32 && r.low == 0 {
		if r.low, err = r.pool.Get(2 * n); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	if r.hostGrad == nil {
		r.hostGrad = make([]float32, n)
	}
	return nil
}

// Supports reports whether the GPU path implements cfg: every shape
// model.Config.Validate accepts, so it only names a pooling the kernels do
// not know.
func Supports(cfg model.Config) error {
	switch cfg.Pool {
	case "", model.PoolLast, model.PoolMean, model.PoolMax:
	default:
		return fmt.Errorf("the CUDA replica supports %q, %q and %q pooling, not %q", model.PoolLast, model.PoolMean, model.PoolMax, cfg.Pool)
	}
	return nil
}

// Name identifies the replica in logs and metrics.
func (r *Replica) Name() string { return r.name }

// Precision is the replica's arithmetic.
func (r *Replica) Precision() Precision { return r.prec }

// SetLossScale sets a fixed factor the loss gradient is multiplied by
// before the backward pass; Compute divides it out again before returning,
// so it only matters for the range of the fp16 intermediates. An overflow
// then shows as infinite or NaN gradients.
func (r *Replica) SetLossScale(s float32) { r.lossScale = s }

// SetScaler makes Compute scale dynamically under FP16: it runs the
// micro-batch at the scaler's scale and, when the gradients overflow,
// reports it to the scaler (which halves the scale) and recomputes, so that
// the engine always receives finite gradients. Clean micro-batches count
// towards the scaler's growth. Outside FP16 the scaler is ignored.
func (r *Replica) SetScaler(s lossScaler) {
	if r.prec.NeedsLossScaling() {
		r.scaler = s
	}
}

// Close releases the replica's device memory.
func (r *Replica) Close() error {
	return r.be.Do(func() error {
		if r.ws != nil {
			r.ws.release(r.pool)
			r.ws = nil
		}
		r.params, r.grad, r.low = 0, 0, 0
		return r.pool.Close()
	})
}

// Compute adds to grad the gradient of the summed loss over b for params,
// the train.Replica contract. Under FP16 the gradient is computed with the
// current loss scale and unscaled on the device; an overflow then shows as
// infinite or NaN values in grad, which the engine's finite check catches.
func (r *Replica) Compute(params []float32, b data.Batch, grad []float32) (res Result, err error) {
	if b.Size == 0 {
		return Result{}, nil
	}
	err = r.be.Do(func() error {
		res, err = r.compute(params, b, grad)
		return err
	})
	return res, err
}

func (r *Replica) compute(params []float32, b data.Batch, grad []float32) (Result, error) {
	n := r.layout.Size()
	if len(params) != n || len(grad) != n {
		return Result{}, fmt.Errorf("%s: params/grad have %d/%d values, the model has %d", r.name, len(params), len(grad), n)
	}
	if err := r.allocate(); err != nil {
		return Result{}, err
	}
	if err := Upload(r.be, r.params, params, r.stream); err != nil {
		return Result{}, fmt.Errorf("%s: upload parameters: %w", r.name, err)
	}
	if err := r.castWeights(); err != nil {
		return Result{}, err
	}
	var res Result
	for attempt := 0; ; attempt++ {
		if r.scaler != nil {
			r.lossScale = r.scaler.Scale()
		}
		if err := r.be.Zero(r.grad, 4*n, r.stream); err != nil {
			return Result{}, err
		}
		if err := r.enqueue(b, true, r.lossScale, 0, 0); err != nil {
			return Result{}, err
		}
		if r.lossScale == 1 {
			if err := r.be.Sync(r.stream); err != nil {
				return Result{}, fmt.Errorf("%s: %w", r.name, err)
			}
			res = r.result(b)
			break
		}
		found, err := r.unscale(n)
		if err != nil {
			return Result{}, err
		}
		res = r.result(b)
		if r.scaler == nil {
			break // an overflow shows as inf/NaN in grad for the engine to catch
		}
		r.scaler.Update(found)
		if !found || attempt >= maxScaleRetries {
			break
		}
	}
	if err := Download(r.be, r.hostGrad, r.grad, r.stream); err != nil {
		return Result{}, fmt.Errorf("%s: download gradients: %w", r.name, err)
	}
	if err := r.be.Sync(r.stream); err != nil {
		return Result{}, fmt.Errorf("%s: %w", r.name, err)
	}
	for i, g := range r.hostGrad {
		grad[i] += g
	}
	return res, nil
}

// maxScaleRetries bounds the recomputations of one micro-batch at halving
// loss scales: 2^16 halves 40 times is far below any useful scale, so more
// means the gradients are non-finite at any scale.
const maxScaleRetries = 40

// unscale divides the device gradients by the loss scale and reports
// whether any is infinite or NaN.
func (r *Replica) unscale(n int) (found bool, err error) {
	flag := r.ws.flag
	if err := r.be.Zero(flag, 4, r.stream); err != nil {
		return false, err
	}
	if err := r.launch1D("unscale_check_f32", n, int64(n), r.grad, 1/r.lossScale, flag); err != nil {
		return false, err
	}
	if err := r.be.CopyDtoH(unsafe.Add(r.ws.readback, 8), flag, 4, r.stream); err != nil {
		return false, err
	}
	if err := r.be.Sync(r.stream); err != nil {
		return false, err
	}
	// The loss and correct count arrived with the same wait.
	return *(*int32)(unsafe.Add(r.ws.readback, 8)) != 0, nil
}

// Forward writes the logits of b for params into logits ([b.Size]).
func (r *Replica) Forward(params []float32, b data.Batch, logits []float32) error {
	if b.Size == 0 {
		return nil
	}
	return r.be.Do(func() error { return r.forward(params, b, logits) })
}

func (r *Replica) forward(params []float32, b data.Batch, logits []float32) error {
	if len(logits) < b.Size {
		return fmt.Errorf("%s: logits has room for %d rows, batch has %d", r.name, len(logits), b.Size)
	}
	if !r.shared {
		if err := r.allocate(); err != nil {
			return err
		}
		if len(params) != r.layout.Size() {
			return fmt.Errorf("%s: params has %d values, the model has %d", r.name, len(params), r.layout.Size())
		}
		if err := Upload(r.be, r.params, params, r.stream); err != nil {
			return fmt.Errorf("%s: upload parameters: %w", r.name, err)
		}
		if err := r.castWeights(); err != nil {
			return err
		}
	}
	if err := r.enqueue(b, false, 1, 0, 0); err != nil {
		return err
	}
	if err := Download(r.be, logits[:b.Size], r.ws.logits, r.stream); err != nil {
		return err
	}
	return r.be.Sync(r.stream)
}

// castWeights refreshes the low-precision copies of the LSTM weight
// matrices from the fp32 master weights.
func (r *Replica) castWeights() error {
	if r.prec == FP32 {
		return nil
	}
	kernel := "cast_f32" + r.prec.suffix()
	for _, v := range r.layout.Views() {
		if !isMatrix(v) {
			continue
		}
		if err := r.launch1D(kernel, v.Len, int64(v.Len), r.params.Add(v.Offset, 4), r.low.Add(v.Offset, 2)); err != nil {
			return err
		}
	}
	return nil
}

// isMatrix reports whether a view is an LSTM weight matrix, the only
// parameters the GEMMs read in low precision.
func isMatrix(v model.View) bool {
	n := len(v.Name)
	return n > 5 && v.Name[:5] == "lstm." && (v.Name[n-5:] == ".w_ih" || v.Name[n-5:] == ".w_hh")
}

// fptr and lptr are a view's fp32 and GEMM-input (low or fp32) addresses.
func (r *Replica) fptr(name string) Ptr { return r.params.Add(r.layout.View(name).Offset, 4) }
func (r *Replica) gptr(name string) Ptr { return r.grad.Add(r.layout.View(name).Offset, 4) }
func (r *Replica) lptr(name string) Ptr {
	if r.prec == FP32 {
		return r.fptr(name)
	}
	return r.low.Add(r.layout.View(name).Offset, 2)
}

// launch1D runs an element-wise kernel over n elements.
func (r *Replica) launch1D(kernel string, n int, args ...any) error {
	blocks := min(max((n+blockThreads-1)/blockThreads, 1), maxBlocks)
	if err := r.be.Launch(kernel, Dim3{blocks, 1, 1}, Dim3{blockThreads, 1, 1}, r.stream, args...); err != nil {
		return fmt.Errorf("%s: %s: %w", r.name, kernel, err)
	}
	return nil
}

// gemm computes C = op(A) op(B) + beta C with the precision's kernel; A and
// B are GEMM-input buffers (low precision under AMP), C is fp32.
func (r *Replica) gemm(ta, tb bool, m, n, k int, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) error {
	if m == 0 || n == 0 {
		return nil
	}
	kernel := "gemm" + r.prec.suffix()
	grid, block := Dim3{(n + 63) / 64, (m + 63) / 64, 1}, Dim3{128, 1, 1}
	if r.prec == FP32 {
		grid, block = Dim3{(n + 15) / 16, (m + 15) / 16, 1}, Dim3{16, 16, 1}
	}
	if beta == 1 {
		grid.Z = splitK(grid.X*grid.Y, k)
	}
	err := r.be.Launch(kernel, grid, block, r.stream, ta, tb, m, n, k, float32(1), a, lda, b, ldb, beta, c, ldc)
	if err != nil {
		return fmt.Errorf("%s: %s %dx%dx%d: %w", r.name, kernel, m, n, k, err)
	}
	return nil
}

// Split-K targets: enough blocks to fill a large GPU (an H200 has 132
// SMs), each with at least minSliceK of the shared dimension.
const (
	targetBlocks = 264
	minSliceK    = 512
)

// splitK is the number of K slices for an accumulating GEMM with the given
// number of output tiles.
func splitK(tiles, k int) int {
	return max(1, min(targetBlocks/max(tiles, 1), k/minSliceK))
}

// checkBatch rejects what the kernels cannot index safely, with the row and
// position of the first offence.
func (r *Replica) checkBatch(b data.Batch) (steps int, err error) {
	if len(b.Tokens) < b.Size*b.MaxLen || len(b.Lengths) < b.Size || len(b.Labels) < b.Size {
		return 0, fmt.Errorf("%s: malformed batch: %d rows of width %d but %d tokens, %d lengths, %d labels",
			r.name, b.Size, b.MaxLen, len(b.Tokens), len(b.Lengths), len(b.Labels))
	}
	v := int32(r.cfg.VocabSize)
	for i := 0; i < b.Size; i++ {
		l := int(b.Lengths[i])
		if l < 1 || l > b.MaxLen {
			return 0, fmt.Errorf("%s: batch row %d has length %d (width %d)", r.name, i, l, b.MaxLen)
		}
		steps = max(steps, l)
		for t, id := range b.Tokens[i*b.MaxLen : i*b.MaxLen+l] {
			if id < 0 || id >= v {
				return 0, fmt.Errorf("%s: batch row %d position %d: token id %d outside the vocabulary of %d", r.name, i, t, id, v)
			}
		}
	}
	return steps, nil
}

// enqueue queues the forward pass over b and, when backward is set, the
// backward pass adding into the device gradient buffer (which the caller
// has zeroed), with the loss gradient multiplied by scale. The loss sum and
// correct count are added to stats (the workspace's own scalars when 0,
// zeroed here) and, for the workspace's own, queued for read-back. With
// the n-gram path on and wideMarks not 0, the backward pass also marks
// there the wide table's rows the batch touches ([WideRows] int32, for a
// lazy update). Nothing waits: after a Sync of the stream, result reads
// them.
func (r *Replica) enqueue(b data.Batch, backward bool, scale float32, stats, wideMarks Ptr) error {
	steps, err := r.checkBatch(b)
	if err != nil {
		return err
	}
	bsz, T := b.Size, steps
	if err := r.ensure(bsz, T, b.MaxLen); err != nil {
		return err
	}
	ws := r.ws
	if err := ws.stage(r.be, b, r.stream); err != nil {
		return fmt.Errorf("%s: upload batch: %w", r.name, err)
	}
	cfg := r.cfg
	E, L, V := cfg.EmbedDim, cfg.Layers, cfg.VocabSize
	sfx := r.prec.suffix()
	s := r.stream

	// Embedding lookup into layer 0's input, time-major.
	if err := r.launch1D("embed_forward"+sfx, T*bsz*E, ws.tokens, r.fptr("embed"), ws.xemb, bsz, T, b.MaxLen, E, V); err != nil {
		return err
	}
	for l := 0; l < L; l++ {
		if err := r.layerForward(l, bsz, T); err != nil {
			return err
		}
	}
	if err := r.wideForward(bsz, T, b.MaxLen); err != nil {
		return err
	}
	pooled, err := r.poolForward(bsz, T)
	if err != nil {
		return err
	}
	own := stats == 0
	if own {
		stats = ws.scalars
		if err := r.be.Zero(stats, 8, s); err != nil {
			return err
		}
	}
	if !backward {
		scale = 1
	}
	err = r.be.Launch("bce_head_forward", Dim3{bsz, 1, 1}, Dim3{headThreads, 1, 1}, s,
		bsz, cfg.OutDim(), pooled, r.fptr("head.w"), r.fptr("head.b"), ws.wide, ws.labels, scale, ws.logits, ws.dlogit,
		stats, stats.Add(1, 4))
	if err != nil {
		return fmt.Errorf("%s: bce_head_forward: %w", r.name, err)
	}
	if own {
		if err := r.be.CopyDtoH(ws.readback, stats, 8, s); err != nil {
			return err
		}
	}
	if backward {
		return r.backward(bsz, T, b.MaxLen, pooled, wideMarks)
	}
	return nil
}

// headThreads is the block of the kernels that run one block per batch
// row (the head, the wide path's sum).
const headThreads = 128

// wideForward computes, with the n-gram path on, the features of the
// staged batch's rows (bsz rows of at most T tokens, width ldt) into the
// workspace and each row's wide term of its logit, which the head adds.
// Both are one launch whatever T is.
func (r *Replica) wideForward(bsz, T, ldt int) error {
	cfg := r.cfg
	if cfg.Ngrams == 0 {
		return nil
	}
	ws := r.ws
	stride := cfg.Ngrams * T
	if err := r.launch1D("ngram_features", bsz*T, ws.tokens, ws.lengths, bsz, T, ldt, cfg.VocabSize,
		cfg.Ngrams, cfg.Buckets, stride, ws.feats); err != nil {
		return err
	}
	err := r.be.Launch("ngram_forward", Dim3{bsz, 1, 1}, Dim3{headThreads, 1, 1}, r.stream,
		bsz, T, cfg.Ngrams, stride, ws.lengths, ws.feats, r.fptr("wide"), cfg.WideRows(), ws.wide)
	if err != nil {
		return fmt.Errorf("%s: ngram_forward: %w", r.name, err)
	}
	return nil
}

// result reads the loss and correct count of the last enqueue that used
// the workspace's own scalars; the stream must have been synchronised.
func (r *Replica) result(b data.Batch) Result {
	back := unsafe.Slice((*uint32)(r.ws.readback), 2)
	return Result{
		Loss:    float64(math.Float32frombits(back[0])),
		Correct: int(int32(back[1])),
		Rows:    b.Size,
		Tokens:  b.RealTokens(),
	}
}

// layerForward runs LSTM layer l over the sequence, each direction one
// GEMM for the input projection of every step and then the persistent
// recurrence kernel. The reverse direction runs the same kernels on the
// layer's input mirrored; a bidirectional layer below the top then joins
// both directions' states into the next layer's input.
func (r *Replica) layerForward(l, bsz, T int) error {
	ws := r.ws
	H := r.cfg.Hidden
	in := r.cfg.InDim(l)
	G4 := 4 * H
	low := r.prec.suffix()
	for d, lw := range ws.layers[l] {
		p := fmt.Sprintf("lstm.%d.%s.", l, model.DirName(d))
		if d == 1 {
			if err := r.seqCopy(low, T, bsz, in, true, r.input(l, 0, bsz), in, lw.xrev, in, false); err != nil {
				return err
			}
		}
		if err := r.gemm(false, true, T*bsz, G4, in, r.input(l, d, bsz), in, r.lptr(p+"w_ih"), in, 0, lw.g, G4); err != nil {
			return err
		}
		var hsLow any = Ptr(0)
		if r.prec != FP32 {
			hsLow = lw.hsLow
		}
		// The whole recurrence: one cooperative launch, whatever T is.
		err := r.recurrent("lstm_seq_forward"+r.prec.suffix(), bsz, T, lw.bar,
			ws.lengths, lw.g, r.lptr(p+"w_hh"), r.fptr(p+"b"), lw.hs, lw.cs, hsLow, lw.acts)
		if err != nil {
			return err
		}
	}
	if len(ws.layers[l]) == 1 || l == r.cfg.Layers-1 {
		return nil
	}
	lb := r.prec.lowBytes()
	out := ws.outs[l]
	for d, lw := range ws.layers[l] {
		if err := r.seqCopy(low, T, bsz, H, d == 1, lw.hsLow.Add(bsz*H, lb), H, out.Add(d*H, lb), 2*H, false); err != nil {
			return err
		}
	}
	return nil
}

// input is the GEMM-precision input of layer l's direction d, [T][B][In]
// in that direction's step order.
func (r *Replica) input(l, d, bsz int) Ptr {
	ws := r.ws
	switch {
	case d == 1:
		return ws.layers[l][1].xrev
	case l == 0:
		return ws.xemb
	case r.cfg.Bidirectional:
		return ws.outs[l-1]
	}
	return ws.layers[l-1][0].hsLow.Add(bsz*r.cfg.Hidden, r.prec.lowBytes())
}

// seqCopy runs seq_copy (kernels/seq.cu) with the given type suffix: dst
// (row stride ldd) gets, or with add adds, W columns of src (row stride
// lds) over each row's real steps, mirrored when mirror is set.
func (r *Replica) seqCopy(sfx string, T, bsz, W int, mirror bool, src Ptr, lds int, dst Ptr, ldd int, add bool) error {
	flag := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return r.launch1D("seq_copy"+sfx, T*bsz*W, T, bsz, W, r.ws.lengths, flag(mirror), src, lds, dst, ldd, flag(add))
}

// poolForward pools the top layer's states over time into the head's
// input [B][D] and returns it: each direction into its half of the row.
func (r *Replica) poolForward(bsz, T int) (Ptr, error) {
	ws, cfg := r.ws, r.cfg
	H, D := cfg.Hidden, cfg.OutDim()
	top := ws.layers[cfg.Layers-1]
	for d, lw := range top {
		var src Ptr // one direction's pooled vector [B][H], to be placed in its half
		switch cfg.Pool {
		case model.PoolMax:
			if err := r.launch1D("pool_max_forward", bsz*H, bsz, T, H, ws.lengths, lw.hs.Add(bsz*H, 4), D,
				ws.pooled.Add(d*H, 4), ws.argmax.Add(d*H, 4)); err != nil {
				return 0, err
			}
			continue
		case model.PoolMean:
			src = ws.pooled
			if len(top) == 2 {
				src = ws.dirPool[d]
			}
			if err := r.launch1D("pool_mean_forward", bsz*H, bsz, T, H, ws.lengths, lw.hs.Add(bsz*H, 4), src); err != nil {
				return 0, err
			}
		default: // "last": state T carries each row's final h, in either direction
			src = lw.hs.Add(T*bsz*H, 4)
		}
		if len(top) == 1 {
			return src, nil
		}
		if err := r.seqCopy("_f32", 1, bsz, H, false, src, H, ws.pooled.Add(d*H, 4), D, false); err != nil {
			return 0, err
		}
	}
	return ws.pooled, nil
}

// backward runs the head, the wide path, every layer and the embedding
// backwards, adding into the gradient buffer; wideMarks is enqueue's.
func (r *Replica) backward(bsz, T, ldt int, pooled, wideMarks Ptr) error {
	ws := r.ws
	cfg := r.cfg
	D, L := cfg.OutDim(), cfg.Layers
	bidi := cfg.Bidirectional
	if err := r.launch1D("bce_head_backward", D, bsz, D, pooled, r.fptr("head.w"), ws.dlogit,
		r.gptr("head.w"), r.gptr("head.b"), ws.dpooled); err != nil {
		return err
	}
	if cfg.Ngrams > 0 {
		stride := cfg.Ngrams * T
		if err := r.launch1D("ngram_backward", bsz*stride, bsz, T, cfg.Ngrams, stride, ws.lengths, ws.feats,
			ws.dlogit, cfg.WideRows(), r.gptr("wide"), wideMarks); err != nil {
			return err
		}
	}
	from, err := r.poolBackward(bsz, T)
	if err != nil {
		return err
	}
	for l := L - 1; l >= 0; l-- {
		for d := range ws.layers[l] {
			dx := ws.dx[l%2]
			if bidi {
				dx = ws.dx[d]
			}
			if err := r.layerBackward(l, d, bsz, T, from[d], dx); err != nil {
				return err
			}
			from[d] = topGrad{ext: dx}
		}
		if !bidi {
			continue
		}
		// The layer's input gradient is the sum of both directions', the
		// reverse one's mirrored back; below the top it is then split into
		// each direction's gradient of the layer below, in its own order.
		in := cfg.InDim(l)
		if err := r.seqCopy("_f32", T, bsz, in, true, ws.dx[1], in, ws.dx[0], in, true); err != nil {
			return err
		}
		if l == 0 {
			break
		}
		H := cfg.Hidden
		for d := range from {
			if err := r.seqCopy("_f32", T, bsz, H, d == 1, ws.dx[0].Add(d*H, 4), 2*H, ws.dhd[d], H, false); err != nil {
				return err
			}
			from[d] = topGrad{ext: ws.dhd[d]}
		}
	}
	return r.launch1D("embed_backward", T*bsz*cfg.EmbedDim, ws.tokens, ws.lengths, ws.dx[0], r.gptr("embed"),
		bsz, T, ldt, cfg.EmbedDim, cfg.VocabSize)
}

// topGrad is how the gradient reaches a layer direction's states: at h of
// state T ("last" pooling), as the mean-pooled output's gradient, or per
// step from above ([T][B][H], the direction's step order: max pooling, or
// the layer above). Zero pointers are absent.
type topGrad struct {
	last, mean, ext Ptr
}

// poolBackward turns the pooled gradient ([B][D]) into each top-layer
// direction's topGrad.
func (r *Replica) poolBackward(bsz, T int) ([2]topGrad, error) {
	ws, cfg := r.ws, r.cfg
	H, D := cfg.Hidden, cfg.OutDim()
	var out [2]topGrad
	for d := 0; d < cfg.Dirs(); d++ {
		if cfg.Pool == model.PoolMax {
			if err := r.launch1D("pool_max_backward", T*bsz*H, bsz, T, H, ws.argmax.Add(d*H, 4), ws.dpooled.Add(d*H, 4), D,
				ws.dhd[d]); err != nil {
				return out, err
			}
			out[d].ext = ws.dhd[d]
			continue
		}
		g := ws.dpooled
		if cfg.Bidirectional {
			g = ws.dirPool[d]
			if err := r.seqCopy("_f32", 1, bsz, H, false, ws.dpooled.Add(d*H, 4), D, g, H, false); err != nil {
				return out, err
			}
		}
		if cfg.Pool == model.PoolMean {
			out[d].mean = g
		} else {
			out[d].last = g
		}
	}
	return out, nil
}

// layerBackward runs direction d of layer l backwards through time (one
// persistent launch) from the gradient from, then its weight gradients and
// the gradient of its input into dx ([T][B][In], the direction's order).
func (r *Replica) layerBackward(l, d, bsz, T int, from topGrad, dx Ptr) error {
	ws := r.ws
	s := r.stream
	H := r.cfg.Hidden
	G4 := 4 * H
	in := r.cfg.InDim(l)
	lw := ws.layers[l][d]
	p := fmt.Sprintf("lstm.%d.%s.", l, model.DirName(d))
	// dG overwrites G (no longer needed); under AMP a low copy feeds the GEMMs.
	dG := lw.g
	dGLow := dG
	var dGLowArg any = Ptr(0)
	if r.prec != FP32 {
		dGLow = lw.dGLow
		dGLowArg = dGLow
	}
	err := r.recurrent("lstm_seq_backward"+r.prec.suffix(), bsz, T, lw.bar,
		ws.lengths, lw.acts, lw.cs, r.lptr(p+"w_hh"), from.last, from.mean, from.ext,
		ws.dh, ws.dc, dG, dGLowArg)
	if err != nil {
		return err
	}
	x := r.input(l, d, bsz)
	// Weight gradients over all steps at once: dW_hh += dG^T h_prev,
	// dW_ih += dG^T x, db += column sums of dG.
	if err := r.gemm(true, false, G4, H, T*bsz, dGLow, G4, lw.hsLow, H, 1, r.gptr(p+"w_hh"), H); err != nil {
		return err
	}
	if err := r.gemm(true, false, G4, in, T*bsz, dGLow, G4, x, in, 1, r.gptr(p+"w_ih"), in); err != nil {
		return err
	}
	rows := T * bsz
	gy := min(max(rows/64, 1), 256)
	if err := r.be.Launch("colsum_f32", Dim3{(G4 + blockThreads - 1) / blockThreads, gy, 1}, Dim3{blockThreads, 1, 1}, s,
		rows, G4, dG, r.gptr(p+"b")); err != nil {
		return fmt.Errorf("%s: colsum_f32: %w", r.name, err)
	}
	return r.gemm(false, false, T*bsz, in, G4, dGLow, G4, r.lptr(p+"w_ih"), in, 0, dx, in)
}
