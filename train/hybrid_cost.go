package train

import (
	"math"
)

// HybridCost is the hybrid scheduler's model of one replica: a step on r
// rows takes Fixed + PerRow*r seconds of compute, and every replica given
// rows adds Reduce seconds to the step (clearing its gradient buffer
// before and summing it after). A GPU's cost is mostly Fixed (launches,
// synchronisation, the recurrence's time steps), a CPU worker's mostly
// PerRow, which is why a split by rows/s alone starves a GPU: a smaller
// share does not make its step shorter, so its measured rows/s drops and
// its share with it.
type HybridCost struct {
	Fixed  float64 `json:"fixed_s"`
	PerRow float64 `json:"per_row_s"`
	Reduce float64 `json:"reduce_s"`
	Noise  float64 `json:"noise"` // relative RMS residual of the fit; the plan pads each prediction by twice it
	// PerRowErr is the standard error of PerRow: large while the replica
	// has been measured on one share only. The plan adds twice it to
	// PerRow, so that a slope resting on few measurements is not trusted
	// far from them.
	PerRowErr float64 `json:"per_row_err_s"`
	// MeanRows is the mean share of the measurements: the fit is surest
	// there, and PerRowErr matters by the distance from it.
	MeanRows float64 `json:"mean_rows"`
	Samples  int     `json:"samples"` // measured steps in the fit (warm-up steps are not kept)
}

// Seconds is the modelled compute time of a share of rows.
func (c HybridCost) Seconds(rows int) float64 { return c.Fixed + c.PerRow*float64(rows) }

// Scheduler defaults; HybridOptions overrides them.
const (
	// defaultWarmupSteps of each replica are not measured: the first
	// step allocates workspaces, loads modules and faults in pages, and
	// on a GPU takes many times longer than the next.
	defaultWarmupSteps = 1
	// defaultReprobeEvery is how often (in steps) a replica given nothing
	// gets one row to be measured again, so that one that became faster
	// (another job left the CPU, the GPU's clocks rose) returns. A replica
	// whose single row would lengthen the step is re-probed at twice that
	// interval, so a hopelessly slow one costs one slow step in 32.
	defaultReprobeEvery = 16
	// costPriorWeight is how much the previous fit counts against the
	// window's measurements (in units of one measurement): enough to keep
	// Fixed and PerRow apart when a replica's share hardly changes, too
	// little to hold against measurements that span different shares.
	costPriorWeight = 0.1
	// costJump is the factor by which a measurement must miss its
	// prediction to count as a change of speed rather than noise. One
	// such miss is ignored as an outlier; two in a row, or one from a
	// re-probe, restart the fit from the new speed. Only measurements the
	// fit can judge count (see comparable).
	costJump = 2.0
	// minGain is the least relative shortening of the planned step that
	// earns another replica a share: giving rows away for nothing still
	// costs a buffer clear and sum, and model error.
	minGain = 0.02
	// followUpRows is the share of the second probe of a replica whose
	// re-probe found it changed.
	followUpRows = 4
	// trustGrowth bounds how far a replica's share may grow past the
	// largest share in its window in one step.
	trustGrowth = 4
	// defaultNoise is the relative noise assumed of a fit on fewer than
	// noiseSamples measurements: the fit itself is then that uncertain.
	defaultNoise = 0.15
	noiseSamples = 6
	// minNoise is the least relative noise assumed of any fit.
	minNoise = 0.01
	// noisePad multiplies each replica's relative noise in the plan, so
	// that a noisy CPU worker is not planned to finish just when the GPU
	// does and then hold it up.
	noisePad = 2
)

// planCost is the pessimistic cost the plan uses for one replica: the fit
// padded by twice its noise, and steeper by twice the slope's error on
// either side of the shares it was measured on: a share larger than those
// may cost more per row than fitted, and a smaller one may save less. So a
// replica measured on one share only (a GPU given the whole batch every
// step) is not thought to finish much sooner on a smaller share, and a
// CPU worker measured on few rows is not handed many. Piecewise linear,
// increasing.
type planCost struct {
	at, atSecs   float64 // the kink: mean measured share, and its padded time
	below, above float64 // seconds per row on either side of it
	reduce       float64
}

// newPlanCost pads a fit for planning by sigmas standard errors.
func newPlanCost(c HybridCost, sigmas float64) planCost {
	pad := 1 + sigmas*c.Noise
	err := sigmas * c.PerRowErr
	return planCost{
		at:     c.MeanRows,
		atSecs: c.Seconds(0)*pad + c.PerRow*pad*c.MeanRows,
		below:  math.Max((c.PerRow-err)*pad, 1e-12),
		above:  math.Max((c.PerRow+err)*pad, 1e-12),
		reduce: c.Reduce,
	}
}

// Seconds is the planned compute time of a share of rows.
func (c planCost) Seconds(rows int) float64 {
	r := float64(rows)
	if r <= c.at {
		return c.atSecs - c.below*(c.at-r)
	}
	return c.atSecs + c.above*(r-c.at)
}

// rowsBy is the (fractional) share the replica finishes by t.
func (c planCost) rowsBy(t float64) float64 {
	if t <= c.atSecs {
		return c.at - (c.atSecs-t)/c.below
	}
	return c.at + (t-c.atSecs)/c.above
}

// costObs is one measured step of a replica.
type costObs struct {
	rows int
	secs float64
}

// replicaCost is what the scheduler knows about one replica.
type replicaCost struct {
	fit       HybridCost
	known     bool     // fit holds a prior or a measurement
	seen      int      // steps measured, warm-up included
	sums      costSums // its measurements since the fit last restarted
	strikes   int      // consecutive measurements off by more than costJump
	lastRows  int      // rows of its latest step with rows, for Rates
	idleSince int      // step from which it has had no rows (0: it has rows)
	lastProbe int      // step of its latest re-probe
	followUp  bool     // a re-probe found it changed: probe it again next step, on more rows
}

// costPolicy chooses the hybrid scheduler's shares from each replica's
// fitted cost: the set of replicas and the rows that minimise the modelled
// step, where a replica joins only if it shortens the step by at least
// minGain. Without priors the first three steps are the probe: the
// warm-up and one measured step split evenly, then one split as if every
// replica's cost were all per row, which gives each replica a second
// measurement on a different share, so that from the fourth step the fit
// separates fixed from per-row cost. With priors, the plan starts from them.
type costPolicy struct {
	reps         []replicaCost
	warmup       int
	reprobeEvery int
	step         int
	planned      float64 // modelled seconds of the latest split, 0 when not modelled
}

// newCostPolicy builds a policy for k replicas with optional priors.
func newCostPolicy(k, warmup, reprobeEvery int, prior []HybridCost) *costPolicy {
	p := &costPolicy{reps: make([]replicaCost, k), warmup: warmup, reprobeEvery: reprobeEvery}
	for i, c := range prior {
		if c.Fixed > 0 || c.PerRow > 0 {
			p.reps[i].fit = HybridCost{Fixed: c.Fixed, PerRow: c.PerRow, Reduce: c.Reduce}
			p.reps[i].known = true
		}
	}
	return p
}

// models returns each replica's current fit.
func (p *costPolicy) models() []HybridCost {
	out := make([]HybridCost, len(p.reps))
	for i := range p.reps {
		out[i] = p.reps[i].fit
	}
	return out
}

// rate is replica i's modelled rows/s at its latest share (at n rows when
// it has had none), 0 while it has no model.
func (p *costPolicy) rate(i, n int) float64 {
	r := &p.reps[i]
	if !r.known {
		return 0
	}
	rows := r.lastRows
	if rows == 0 {
		rows = max(n, 1)
	}
	s := r.fit.Seconds(rows)
	if s <= 0 {
		return 0
	}
	return float64(rows) / s
}

// split returns the rows of each replica for the next step of n rows and
// which of them are re-probes, and advances the step count.
func (p *costPolicy) split(n int) (rows []int, probe []bool) {
	p.step++
	k := len(p.reps)
	rows, probe = make([]int, k), make([]bool, k)
	p.planned = 0
	if n <= 0 {
		return rows, probe
	}
	for i := range p.reps {
		if !p.reps[i].known {
			evenRows(n, rows)
			p.track(rows)
			return rows, probe
		}
	}
	// Who takes part is decided on the fits as they are (expected
	// costs): padded ones would keep out for good a replica measured on
	// few steps, whose padding is wide because it was kept out. The
	// shares are then sized on the padded costs, so that a replica the fit
	// is unsure of is given few rows.
	cost, expected := make([]planCost, k), make([]planCost, k)
	for i := range p.reps {
		cost[i] = newPlanCost(p.reps[i].fit, noisePad)
		expected[i] = newPlanCost(p.reps[i].fit, 0)
	}
	active := planActive(n, expected)
	p.planned = fillRows(n, cost, active, p.trust(), rows)
	p.reprobe(n, cost, rows, probe)
	p.track(rows)
	return rows, probe
}

// trust returns the most rows each replica may get: four times the largest
// share it was measured on since its fit last restarted, so that a fit made
// on small shares is not extrapolated far (a GPU measured on 20 rows is not
// handed 256 at once); 0 (no limit) for a replica known only from a prior.
func (p *costPolicy) trust() []int {
	limit := make([]int, len(p.reps))
	for i := range p.reps {
		limit[i] = trustGrowth * p.reps[i].sums.hi
	}
	return limit
}

// track records who got rows this step, for re-probing and Rates.
func (p *costPolicy) track(rows []int) {
	for i, r := range rows {
		rc := &p.reps[i]
		switch {
		case r > 0:
			rc.idleSince, rc.lastRows = 0, r
		case rc.idleSince == 0:
			rc.idleSince = p.step
		}
	}
}

// reprobe gives one row to the replica left out longest, if it is due
// (followUpRows to one whose last probe found it changed),
// taking the row from the active replica planned to finish last: one probe
// a step, so that probing a dozen idle CPU workers costs one buffer sum a
// step, not twelve. A replica whose one row fits in the planned step is
// due every reprobeEvery steps; one whose row would lengthen it, every
// 2*reprobeEvery.
func (p *costPolicy) reprobe(n int, cost []planCost, rows []int, probe []bool) {
	if p.reprobeEvery <= 0 {
		return
	}
	due, dueSince, size := -1, 0, 1
	for j := range rows {
		rc := &p.reps[j]
		if rows[j] > 0 || rc.idleSince == 0 {
			continue
		}
		if rc.followUp {
			// A second share, larger than the first, gives the fit the
			// slope that one-row probes cannot.
			due, size = j, followUpRows
			break
		}
		every := p.reprobeEvery
		if cost[j].Seconds(1)+cost[j].reduce > p.planned {
			every *= 2
		}
		since := max(rc.idleSince, rc.lastProbe)
		if p.step-since >= every && (due < 0 || since < dueSince) {
			due, dueSince = j, since
		}
	}
	if due < 0 {
		return
	}
	p.reps[due].followUp = false
	for range size {
		donor := -1
		for i, r := range rows {
			if i != due && r > 1 && (donor < 0 || cost[i].Seconds(r) > cost[donor].Seconds(rows[donor])) {
				donor = i
			}
		}
		if donor < 0 {
			break // every active replica is down to one row
		}
		rows[donor]--
		rows[due]++
	}
	if rows[due] > 0 {
		probe[due] = true
		p.reps[due].lastProbe = p.step
	}
}

// observe records one measured step of replica i: rows it computed in secs
// seconds, reduce seconds of clearing and summing its buffer, and whether
// it was a re-probe; alpha weighs the newest reduce cost in its moving
// average.
func (p *costPolicy) observe(i, rows int, secs, reduce float64, probe bool, alpha float64) {
	rc := &p.reps[i]
	rc.seen++
	if rc.seen == 1 {
		rc.fit.Reduce = reduce
	} else {
		rc.fit.Reduce = alpha*reduce + (1-alpha)*rc.fit.Reduce
	}
	if rc.seen <= p.warmup || rows <= 0 {
		return
	}
	secs = math.Max(secs, 1e-9) // a clock too coarse for a tiny share
	if rc.sums.count >= 2 && (probe || rc.sums.near(rows)) {
		pred := rc.fit.Seconds(rows)
		if pred > 0 && (secs > costJump*pred || secs < pred/costJump) {
			rc.strikes++
			if rc.strikes < 2 && !probe {
				return // one outlier: a page fault, a preempted thread
			}
			// The replica changed speed: keep the shape of the old fit,
			// scaled to the new measurement, and forget the old ones.
			s := secs / pred
			rc.fit.Fixed *= s
			rc.fit.PerRow *= s
			rc.sums = costSums{}
			rc.followUp = probe
		}
	}
	rc.strikes = 0
	rc.sums.add(rows, secs)
	rc.fit = rc.sums.fit(rc.fit, rc.known)
	rc.known = true
}

// costSums are a replica's measurements since its fit last restarted, as
// the sums of least squares, each older measurement weighing costMemory
// times the next: the fit follows slow drift, and keeps what shares of
// different sizes taught it about the per-row cost for a hundred steps or
// so, long after the shares settled.
type costSums struct {
	n, sr, st, srr, srt, stt float64
	count                    int // measurements, unweighted
	lo, hi                   int // smallest and largest share measured
}

// costMemory is the weight decay per measurement of costSums.
const costMemory = 0.99

// add folds in one measurement.
func (c *costSums) add(rows int, secs float64) {
	r := float64(rows)
	for _, v := range []*float64{&c.n, &c.sr, &c.st, &c.srr, &c.srt, &c.stt} {
		*v *= costMemory
	}
	c.n++
	c.sr += r
	c.st += secs
	c.srr += r * r
	c.srt += r * secs
	c.stt += secs * secs
	if c.count == 0 {
		c.lo, c.hi = rows, rows
	}
	c.lo, c.hi = min(c.lo, rows), max(c.hi, rows)
	c.count++
}

// near says whether a share lies close enough to the measured ones for
// the fit to judge it. Far from them a miss says more about the fit than
// about the replica (the second probe step is where a fixed cost first
// shows).
func (c *costSums) near(rows int) bool { return 2*rows >= c.lo && rows <= 2*c.hi }

// fitCost fits Fixed + PerRow*rows to measurements with equal weights (see
// costSums.fit).
func fitCost(obs []costObs, prev HybridCost, hasPrev bool) HybridCost {
	var c costSums
	for _, o := range obs {
		r := float64(o.rows)
		c.n++
		c.sr += r
		c.st += o.secs
		c.srr += r * r
		c.srt += r * o.secs
		c.stt += o.secs * o.secs
		c.count++
	}
	return c.fit(prev, hasPrev)
}

// fit fits Fixed + PerRow*rows by weighted least squares, pulled toward the
// previous fit (rescaled to the measurements' mean) with weight
// costPriorWeight, so that measurements whose shares hardly vary keep the
// previous split between fixed and per-row cost instead of an arbitrary
// one. With no previous fit the pull is toward a pure per-row cost. Both
// coefficients are kept non-negative.
func (c *costSums) fit(prev HybridCost, hasPrev bool) HybridCost {
	n := c.n
	mr, mt := c.sr/n, c.st/n
	a0, b0 := 0.0, mt/mr
	if hasPrev && prev.Fixed+prev.PerRow*mr > 0 {
		s := mt / (prev.Fixed + prev.PerRow*mr)
		a0, b0 = prev.Fixed*s, prev.PerRow*s
	}
	// Normal equations of sum (t - a - b r)^2 + w (a - a0)^2 + w mr^2 (b - b0)^2.
	w := costPriorWeight
	m11, m12, m22 := n+w, c.sr, c.srr+w*mr*mr
	y1, y2 := c.st+w*a0, c.srt+w*mr*mr*b0
	det := m11*m22 - m12*m12
	a, b := a0, b0
	if det > 0 {
		a = (y1*m22 - m12*y2) / det
		b = (m11*y2 - m12*y1) / det
	}
	switch {
	case b < 0: // time falling with rows is noise: keep the old shape
		a, b = a0, b0
	case a < 0:
		a, b = 0, c.srt/c.srr
	}
	fit := HybridCost{Fixed: a, PerRow: b, Reduce: prev.Reduce, Samples: c.count, MeanRows: mr}
	fit.Noise = defaultNoise
	if c.count >= noiseSamples && n > 2 {
		// The weighted residual sum of squares, relative to the mean time;
		// two coefficients were fitted to it, so n-2 degrees of freedom, or
		// a fit on few points looks more certain than it is.
		ss := c.stt - 2*a*c.st - 2*b*c.srt + a*a*n + 2*a*b*c.sr + b*b*c.srr
		fit.Noise = math.Max(minNoise, math.Sqrt(math.Max(ss, 0)/(n-2))/mt)
	}
	// The slope's information: the spread of the shares, plus the pull
	// toward the previous fit.
	spread := c.srr - n*mr*mr + w*mr*mr
	fit.PerRowErr = fit.Noise * mt / math.Sqrt(math.Max(spread, 1e-12))
	return fit
}

// planActive chooses which replicas get rows: starting from the one that
// is fastest alone, it adds the replica that shortens the planned step
// most, while that gain is at least minGain.
func planActive(n int, cost []planCost) []bool {
	k := len(cost)
	active := make([]bool, k)
	best, bestT := -1, math.Inf(1)
	for i, c := range cost {
		if t := c.Seconds(n) + c.reduce; t < bestT {
			best, bestT = i, t
		}
	}
	active[best] = true
	for size := 1; size < min(k, n); size++ {
		cand, candT := -1, bestT
		for j := range cost {
			if active[j] {
				continue
			}
			active[j] = true
			if t := makespan(n, cost, active); t < candT {
				cand, candT = j, t
			}
			active[j] = false
		}
		if cand < 0 || candT > bestT*(1-minGain) {
			break
		}
		active[cand] = true
		bestT = candT
	}
	return active
}

// makespan is the planned step of the active set: finish plus each one's
// reduce cost.
func makespan(n int, cost []planCost, active []bool) float64 {
	t := finish(n, cost, active)
	for i, c := range cost {
		if active[i] {
			t += c.reduce
		}
	}
	return t
}

// finish is when the active replicas end their compute with the rows
// spread so that all end together (fractional rows, found by bisection);
// +Inf when one of them would end after that even with a single row.
func finish(n int, cost []planCost, active []bool) float64 {
	lo, hi := 0.0, math.Inf(1)
	for i, c := range cost {
		if active[i] {
			lo = math.Max(lo, c.Seconds(0))
			hi = math.Min(hi, c.Seconds(n))
		}
	}
	if hi <= lo {
		return hi
	}
	for range 40 {
		mid := (lo + hi) / 2
		sum := 0.0
		for i, c := range cost {
			if active[i] {
				sum += c.rowsBy(mid)
			}
		}
		if sum >= float64(n) {
			hi = mid
		} else {
			lo = mid
		}
	}
	for i, c := range cost {
		if active[i] && c.Seconds(1) > hi {
			return math.Inf(1)
		}
	}
	return hi
}

// fillRows gives the active replicas whole rows summing to n, each at least
// one and at most its limit (0: none) while the limits allow, so that the
// latest modelled finish is as early as it can be: the fractional shares
// rounded down, then one row at a time to whoever would finish a row
// earliest. It returns the modelled step.
func fillRows(n int, cost []planCost, active []bool, limit []int, rows []int) float64 {
	t := finish(n, cost, active)
	given := 0
	for i, c := range cost {
		if !active[i] {
			continue
		}
		r := 1
		if !math.IsInf(t, 0) {
			r = max(1, int(math.Floor(c.rowsBy(t))))
		}
		if limit[i] > 0 {
			r = min(r, limit[i])
		}
		rows[i] = r
		given += r
	}
	for given > n { // the one-row floor overshot: take from the latest
		j := -1
		for i, r := range rows {
			if r > 1 && (j < 0 || cost[i].Seconds(r) > cost[j].Seconds(rows[j])) {
				j = i
			}
		}
		rows[j]--
		given--
	}
	for capped := true; given < n; {
		j := -1
		for i := range rows {
			if active[i] && (!capped || limit[i] == 0 || rows[i] < limit[i]) &&
				(j < 0 || cost[i].Seconds(rows[i]+1) < cost[j].Seconds(rows[j]+1)) {
				j = i
			}
		}
		if j < 0 { // every active replica is at its limit: exceed them
			capped = false
			continue
		}
		rows[j]++
		given++
	}
	step, red := 0.0, 0.0
	for i, r := range rows {
		if r > 0 {
			step = math.Max(step, cost[i].Seconds(r))
			red += cost[i].reduce
		}
	}
	return step + red
}

// evenRows splits n rows as evenly as whole rows allow, the first
// replicas taking the remainder.
func evenRows(n int, rows []int) {
	k := len(rows)
	for i := range rows {
		rows[i] = n / k
		if i < n%k {
			rows[i]++
		}
	}
}
