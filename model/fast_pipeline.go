package model

// The step-range entry points a pipeline stage needs beyond
// ForwardRange and BackwardRange: a layer's input projection as a unit of
// its own (ProjectBegin, ProjectRange), and a recurrence whose input
// projections come from that table (StepsBegin, StepsRange), so that a stage
// boundary can fall between a layer's projection and its recurrence.

// ProjectBegin packs W_ih^T for ProjectRange.
func (a *LSTMActs) ProjectBegin(w LSTMWeights) {
	if a.vec(w) && w.In > 0 {
		a.wihT.Pack(w.Wih, w.In, w.In, 4*w.Hidden, true)
	}
}

// ProjectRange sets the rows of steps [s0, s1) of pre ([N, 4H]) to the
// input projection plus bias of the same rows of x ([N, In]): the table
// StepsRange reads. A pipeline runs it as a unit of its own, so that the
// projection of a layer can sit in the stage before its recurrence.
func (a *LSTMActs) ProjectRange(w LSTMWeights, x []float32, st Steps, s0, s1 int, pre []float32) {
	if s0 >= s1 {
		return
	}
	g4 := 4 * w.Hidden
	lo, hi := st.Offsets[s0], st.Offsets[s1]
	a.project(w, x[lo*w.In:hi*w.In], hi-lo, pre[lo*g4:hi*g4])
}

// StepsBegin starts a forward pass, saving for a backward pass, whose
// input projections come from a table (StepsRange).
func (a *LSTMActs) StepsBegin(w LSTMWeights, st Steps) {
	a.grow(st.N(), w.Hidden, true)
	if a.vec(w) {
		a.whhT.Pack(w.Whh, w.Hidden, w.Hidden, 4*w.Hidden, true)
	}
}

// StepsRange runs steps [s0, s1), the steps before s0 being done, with
// packed row j's input projection plus bias in row ids[j] of tab ([U,
// 4H]); ids is the identity for a table made by ProjectRange.
func (a *LSTMActs) StepsRange(w LSTMWeights, tab []float32, ids []int32, st Steps, s0, s1 int) {
	lstmSteps(w, st, s0, s1, a, stepInput{tab: tab, ids: ids}, true)
}
