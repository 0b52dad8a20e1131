package cuda

import (
	"errors"
	"fmt"

	"trainer/train/device"
)

// OpenSet builds what a run needs from an open device (device.Set): one
// host-gradient replica per stream for the hybrid scheduler and MPI ranks
// (each with its own dynamic loss scaler under FP16), evaluation
// forwarders, and, when the request carries initial weights and asks for
// AdamW, the Resident that trains whole steps on the device with its
// streams summing their gradients there. req.Precision "auto" runs BF16 on
// compute capability 8.0 and newer and FP32 before. Closing the set closes
// be; when OpenSet fails, be stays open for the caller to close.
func OpenSet(be Backend, spec device.Spec, req device.Request) (*device.Set, error) {
	if err := req.Model.Validate(); err != nil {
		return nil, fmt.Errorf("device %s: %w", spec, err)
	}
	if err := Supports(req.Model); err != nil {
		return nil, fmt.Errorf("device %s: %w", spec, err)
	}
	major, minor := be.ComputeCapability()
	prec, err := ResolvePrecision(req.Precision, major, minor)
	if err != nil {
		return nil, fmt.Errorf("device %s: --amp %s: %w", spec, req.Precision, err)
	}
	set := &device.Set{Name: be.Name(), Precision: prec.String()}
	var reps []*Replica
	var res *Resident
	release := func() error {
		var errs []error
		if res != nil {
			errs = append(errs, res.Close())
		}
		for _, r := range reps {
			errs = append(errs, r.Close())
		}
		return errors.Join(errs...)
	}
	set.Close = func() error { return errors.Join(release(), be.Close()) }
	fail := func(err error) (*device.Set, error) {
		_ = release()
		return nil, fmt.Errorf("device %s: %w", spec, err)
	}
	for s := 0; s < be.Streams(); s++ {
		r, err := NewReplica(be, s, req.Model, prec)
		if err != nil {
			return fail(err)
		}
		reps = append(reps, r)
		if prec.NeedsLossScaling() {
			sc := device.NewLossScaler()
			r.SetScaler(sc)
			set.Scalers = append(set.Scalers, sc)
		}
		set.Replicas = append(set.Replicas, r)
		set.Eval = append(set.Eval, r)
	}
	if req.Params != nil && (req.Optim.Kind == "" || req.Optim.Kind == "adamw" || req.Optim.Kind == "adam") {
		opt := req.Optim
		if opt.Kind == "" {
			opt = device.DefaultOptimConfig()
			opt.LazyEmbedding = req.Optim.LazyEmbedding
		}
		if res, err = NewResident(be, req.Model, prec, opt, req.Clip, req.Params); err != nil {
			return fail(err)
		}
		set.Resident = res
	}
	return set, nil
}
