package cuda

import (
	"fmt"
	"slices"
	"unsafe"

	"trainer/data"
	"trainer/model"
)

// layerBufs are one LSTM layer direction's activations for a batch shape,
// in that direction's step order (the reverse direction's step t of row b
// is its position len_b-1-t).
type layerBufs struct {
	g     Ptr // gate pre-activations [T][B][4H] fp32; dG in the backward pass
	acts  Ptr // activated gates [T][B][4H] fp32
	hs    Ptr // hidden states [T+1][B][H] fp32, state 0 zero
	cs    Ptr // cell states [T+1][B][H] fp32, state 0 zero
	hsLow Ptr // hs in the GEMM precision (aliases hs under FP32)
	dGLow Ptr // dG in the GEMM precision (aliases g under FP32)
	bar   Ptr // the persistent kernels' grid barrier: two words, zero between launches
	xrev  Ptr // the reverse direction's input: the layer's input mirrored (seq.cu) [T][B][In], GEMM precision
}

// workspace is a replica's device memory for batches of up to capB rows and
// capBT row-steps, and the pinned host memory the batch is staged through.
type workspace struct {
	capB, capBT, capTok int
	owned               []Ptr

	tokens, lengths, labels Ptr
	xemb                    Ptr           // layer-0 input [T][B][E], GEMM precision
	layers                  [][]layerBufs // [layer][direction]
	outs                    []Ptr         // bidirectional: layer l's output for layer l+1, both directions joined [T][B][2H] in forward order, GEMM precision
	pooled, dpooled         Ptr           // [B][D], D = H x directions
	argmax                  Ptr           // max pooling: the step each pooled value came from [B][D] int32
	dirPool                 [2]Ptr        // bidirectional last or mean pooling: one direction's pooled vector or its gradient [B][H]
	dhd                     [2]Ptr        // bidirectional or max pooling: each direction's gradient from above [T][B][H], its own step order
	logits, dlogit          Ptr           // [B]
	scalars                 Ptr           // loss sum (fp32) and correct count (int32)
	flag                    Ptr           // the host-gradient path's overflow flag (int32)
	dh                      Ptr           // [B][H] scratch of the backward recurrence
	dc                      Ptr
	dx                      [2]Ptr // [T][B][max(E,D)] input gradients: alternate layers', or a bidirectional layer's two directions
	feats                   Ptr    // the wide n-gram features [B][Ngrams*T] (ngram.cu), with the path on
	wide                    Ptr    // each row's wide term of its logit [B], with the path on

	host      unsafe.Pointer // pinned staging: tokens, lengths, labels
	readback  unsafe.Pointer // pinned, 16 bytes: scalars read back from the device
	hostBytes int
	be        Backend
}

// ensure makes the workspace fit a batch of bsz rows, T steps and token
// rows of width ldt, growing it (through the pool) when needed.
func (r *Replica) ensure(bsz, T, ldt int) error {
	if ws := r.ws; ws != nil && bsz <= ws.capB && bsz*T <= ws.capBT && bsz*ldt <= ws.capTok {
		return nil
	}
	capB, capBT, capTok := bsz, bsz*T, bsz*ldt
	if old := r.ws; old != nil {
		capB, capBT, capTok = max(capB, old.capB), max(capBT, old.capBT), max(capTok, old.capTok)
		if err := r.be.Sync(r.stream); err != nil {
			return err
		}
		old.release(r.pool)
	}
	ws, err := newWorkspace(r, capB, capBT, capTok)
	if err != nil {
		r.ws = nil
		return fmt.Errorf("%s: workspace for %d rows x %d steps: %w", r.name, bsz, T, err)
	}
	r.ws = ws
	return nil
}

func newWorkspace(r *Replica, capB, capBT, capTok int) (*workspace, error) {
	cfg := r.cfg
	E, H, L, D, dirs := cfg.EmbedDim, cfg.Hidden, cfg.Layers, cfg.OutDim(), cfg.Dirs()
	lb := r.prec.lowBytes()
	ws := &workspace{capB: capB, capBT: capBT, capTok: capTok, be: r.be}
	var firstErr error
	get := func(bytes int) Ptr {
		if firstErr != nil {
			return 0
		}
		p, err := r.pool.Get(bytes)
		if err != nil {
			firstErr = err
			return 0
		}
		ws.owned = append(ws.owned, p)
		return p
	}
	states := capBT + capB // (T+1) * B
	ws.tokens = get(4 * capTok)
	ws.lengths = get(4 * capB)
	ws.labels = get(4 * capB)
	ws.xemb = get(lb * capBT * E)
	ws.layers = make([][]layerBufs, L)
	for l := range ws.layers {
		ws.layers[l] = make([]layerBufs, dirs)
		for d := range ws.layers[l] {
			lw := &ws.layers[l][d]
			lw.g = get(4 * capBT * 4 * H)
			lw.acts = get(4 * capBT * 4 * H)
			lw.hs = get(4 * states * H)
			lw.cs = get(4 * states * H)
			lw.bar = get(8)
			lw.hsLow, lw.dGLow = lw.hs, lw.g
			if r.prec != FP32 {
				lw.hsLow = get(lb * states * H)
				lw.dGLow = get(lb * capBT * 4 * H)
			}
			if d == 1 {
				lw.xrev = get(lb * capBT * cfg.InDim(l))
			}
		}
		if dirs == 2 && l < L-1 {
			ws.outs = append(ws.outs, get(lb*capBT*D))
		}
	}
	ws.pooled = get(4 * capB * D)
	ws.dpooled = get(4 * capB * D)
	if cfg.Pool == model.PoolMax {
		ws.argmax = get(4 * capB * D)
	}
	for d := 0; d < dirs; d++ {
		if dirs == 2 {
			ws.dirPool[d] = get(4 * capB * H)
		}
		if dirs == 2 || cfg.Pool == model.PoolMax {
			ws.dhd[d] = get(4 * capBT * H)
		}
	}
	ws.logits = get(4 * capB)
	ws.dlogit = get(4 * capB)
	ws.scalars = get(8)
	ws.flag = get(4)
	ws.dh = get(4 * capB * H)
	ws.dc = get(4 * capB * H)
	ws.dx[0] = get(4 * capBT * max(E, D))
	if L > 1 || dirs == 2 {
		ws.dx[1] = get(4 * capBT * max(E, D))
	}
	if n := cfg.Ngrams; n > 0 {
		// A row of T tokens has at most T features per n.
		ws.feats = get(4 * n * capBT)
		ws.wide = get(4 * capB)
	}
	if firstErr != nil {
		ws.release(r.pool)
		return nil, firstErr
	}
	// State 0 is the zero initial state; the kernels never write it.
	for _, lw := range slices.Concat(ws.layers...) {
		if err := r.be.Zero(lw.bar, 8, r.stream); err != nil {
			return nil, err
		}
		if err := r.be.Zero(lw.hs, 4*capB*H, r.stream); err != nil {
			return nil, err
		}
		if err := r.be.Zero(lw.cs, 4*capB*H, r.stream); err != nil {
			return nil, err
		}
		if lw.hsLow != lw.hs {
			if err := r.be.Zero(lw.hsLow, lb*capB*H, r.stream); err != nil {
				return nil, err
			}
		}
	}
	ws.hostBytes = 4*(capTok+2*capB) + 16 // + scalar read-back
	host, err := r.be.HostAlloc(ws.hostBytes)
	if err != nil {
		ws.release(r.pool)
		return nil, fmt.Errorf("pinned staging buffer: %w", err)
	}
	ws.host = host
	ws.readback = unsafe.Add(host, 4*(capTok+2*capB))
	return ws, nil
}

// stage copies the batch into pinned memory and queues its upload.
func (ws *workspace) stage(be Backend, b data.Batch, s int) error {
	nt := b.Size * b.MaxLen
	tok := unsafe.Slice((*int32)(ws.host), nt)
	copy(tok, b.Tokens[:nt])
	lens := unsafe.Slice((*int32)(unsafe.Add(ws.host, 4*nt)), b.Size)
	copy(lens, b.Lengths[:b.Size])
	labels := unsafe.Slice((*float32)(unsafe.Add(ws.host, 4*(nt+b.Size))), b.Size)
	copy(labels, b.Labels[:b.Size])
	if err := be.CopyHtoD(ws.tokens, unsafe.Pointer(&tok[0]), 4*nt, s); err != nil {
		return err
	}
	if err := be.CopyHtoD(ws.lengths, unsafe.Pointer(&lens[0]), 4*b.Size, s); err != nil {
		return err
	}
	return be.CopyHtoD(ws.labels, unsafe.Pointer(&labels[0]), 4*b.Size, s)
}

// release returns the device blocks to the pool and frees the staging memory.
func (ws *workspace) release(p *Pool) {
	for _, ptr := range ws.owned {
		p.Put(ptr)
	}
	ws.owned = nil
	if ws.host != nil {
		_ = ws.be.HostFree(ws.host)
		ws.host = nil
		ws.readback = nil
	}
}
