// Package model is the embedding + LSTM sentiment classifier: its
// configuration, the flat parameter layout, initialisation, the CPU
// reference forward and backward of every layer, and the model file.
//
// The network is Embedding(V, E) -> LSTM (Layers, Hidden, optionally
// bidirectional) -> pooling over time -> Linear(D, 1) -> one logit, trained
// with BCE-with-logits. D is Hidden for one direction and 2*Hidden for two.
// Optionally (Config.Ngrams) a wide path adds to the logit a weighted sum of
// one learned scalar per word uni-, bi- and trigram of the review, as
// fastText does, trained jointly with the LSTM.
//
// # Reading order
//
// The reference, top to bottom: config.go (the shape of the network),
// layout.go (every parameter in one flat buffer, with named views), init.go
// (initial weights), and reference.go: the whole network, forward and
// backward, in the plainest Go (one review and one step at a time, float64,
// no packing, kernels or BLAS), which defines what everything else computes
// and which the tests hold the batch path to (ReferenceLossGrad,
// ReferenceLogits). Then the batch path layer by layer, as exported
// functions on packed buffers: packing.go (the time-major layout of a
// batch's activations, below), embedding.go (the first layer's input: the
// batch's distinct tokens and their embedding rows), lstm_cell.go (one
// step's gate math), lstm.go (one LSTM layer and direction, forward and
// backward through time), head.go (pooling over time and the linear head),
// ngram.go (the wide path: a review's n-gram features, their fixed hash,
// and the term they add to the logit),
// loss.go (binary cross-entropy), workspace.go (the layers tied together:
// Forward, LossGrad, and the stage-wise StageForward and StageBackward),
// and file.go (the model file; file_labels.go converts its records to and
// from the data package's types).
//
// The fast paths, each in files of its own that the reference calls into
// or that stand beside it: fast_products.go (which kernel computes each
// product: the packed register-blocked kernels of internal/vecmath or the
// BLAS), fast_pipeline.go (the step-range entry points a pipeline stage
// uses beyond ForwardRange and BackwardRange), fast_share.go (workers of
// one step sharing the first layer's distinct rows, with their spinning
// barrier), fast_inference.go (prediction only: the first layer tabulated
// per vocabulary word, 8-bit recurrent products, passes that save nothing
// for a backward pass), and blas.go with its bindings: blas_cgo.go
// (OpenBLAS through cgo, the package's only cgo), blas_netlib.go, and
// blas_purego.go (gonum's pure-Go BLAS under the purego build tag).
//
// # Parameters
//
// Every parameter lives in one flat []float32 (see Layout) so that one
// all-reduce moves every gradient. Matrices are row-major. The LSTM weights
// follow PyTorch: W_ih is [4H, In], W_hh is [4H, H], gate blocks in the
// order i, f, g, o; one combined bias [4H] per layer and direction stands
// for PyTorch's b_ih + b_hh.
//
// # Packed, time-major activations
//
// A padded data.Batch is first packed (see Packing), like PyTorch's
// pack_padded_sequence: rows are sorted by length, longest first, and
// activations are stored time-major with only the active rows of each
// step, so step s holds Sizes[s] rows starting at row Offsets[s]. Padding
// never enters a matrix product, so a row's result does not depend on the
// other rows of its batch, and no work is spent on padding. The reverse
// direction of a bidirectional layer runs the same code on a mirrored copy
// of its input (Packing.Rev), so its activations are in "reverse step"
// order: its step s of a row is that row's token Length-1-s.
//
// # Layers as functions
//
// Every layer is also an exported function on packed buffers, so that a
// GPU backend can compare its kernels with them and a pipeline-parallel
// engine can run layers on different workers: TokenRows (the batch's
// distinct tokens, their embedding rows, and the scatter-add of their
// gradients), LSTMForward and LSTMBackward (one layer, one direction, with
// the activations saved in LSTMActs; LSTMForwardRows and LSTMBackwardRows
// for an input given as distinct rows, and the step-range methods of
// LSTMActs for a pass a pipeline hands on range by range), LSTMCellForward
// and LSTMCellBackward (the fused gate math of one step on gate
// pre-activations), PoolForward and PoolBackward, LinearForward and
// LinearBackward, and BCEWithLogits. Workspace ties them together.
//
// # Speed
//
// The first layer works on the batch's distinct tokens: a batch of 128
// Amazon reviews has about 10,000 tokens but 2,200 distinct ones, so its
// input projection, its W_ih gradient and the embedding gradient are
// products over the distinct rows; each step's cell reads its rows'
// projections as their biases. Deeper layers project all steps' inputs in
// one product. Per step there is one product with W_hh for the rows still
// active and one fused element-wise pass; the backward pass mirrors it and
// computes the W_ih, W_hh and bias gradients as one product each over all
// steps. The gate math uses float32 exp/sigmoid/tanh in AVX2 assembly
// (internal/vecmath), one short loop per gate so that the core overlaps
// their latencies. The per-step products, the input projection and the
// input gradient use the weights packed once per batch with a
// register-blocked kernel there, which beats a general BLAS that repacks
// the weights on every call; the weight gradients, whose operands are all
// large, stay with the BLAS. Forward and Predict keep no activations for a
// backward pass: each step's gates live in a one-step scratch that stays in
// cache. Inference tabulates the first layer's input projection plus bias
// per vocabulary word for prediction, and can run the recurrent products
// in 8 bits (AVX-512 VNNI) at about three times the float32 rate.
//
// # BLAS
//
// The large matrix products go to OpenBLAS through gonum.org/v1/netlib
// (cgo) by default, or to gonum's pure-Go BLAS with the purego build tag,
// which also turns the assembly off. OpenBLAS is limited to one thread when
// the package loads, because the training engine runs one goroutine per
// worker and BLAS threads would compete with them for the same cores;
// SetBLASThreads changes it. (gonum's pure-Go BLAS spreads large products
// over goroutines by itself and has no such setting.)
package model
