package job

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"trainer/train"
)

// ModelName is the model file a run writes into its directory.
const ModelName = "model.bin"

// OpenRunDir prepares the output directory: a fresh run creates it and
// refuses to replace a run already there (unless Overwrite); a resume
// loads its checkpoint, never creating the directory, and takes the input
// files the run was started with when the options name no training file.
func (o *Options) OpenRunDir() (*train.Checkpoint, error) {
	if !o.Resume {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if o.Overwrite {
			return nil, nil
		}
		// A fresh run would replace these; never lose a finished or
		// interrupted run by re-running a command.
		for _, name := range []string{ModelName, train.CheckpointName} {
			if _, err := os.Stat(filepath.Join(o.Out, name)); err == nil {
				return nil, usagef("train: %s already holds a run (%s): --resume %s continues it, --overwrite replaces it", o.Out, name, o.Out)
			}
		}
		return nil, nil
	}
	if fi, err := os.Stat(o.Out); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("train --resume %s: no run directory there", o.Out)
	}
	ck, err := train.LoadCheckpoint(filepath.Join(o.Out, train.CheckpointName))
	if err != nil {
		return nil, fmt.Errorf("train --resume: %w", err)
	}
	if ck.Epoch >= o.Epochs {
		return nil, fmt.Errorf("train --resume: the run in %s already finished %d epochs (asked for %d)", o.Out, ck.Epoch, o.Epochs)
	}
	var stored runSettings
	storedErr := json.Unmarshal(ck.Run, &stored)
	if o.Vectors.Path == "" && storedErr == nil {
		// The weights come from the checkpoint, so the vectors file
		// need not be named again, nor still be there, nor the vectors
		// learned again.
		o.Vectors.Source = stored.Vectors
		o.Vectors.Learn = stored.LearnVectors
	}
	if p := &o.Data.Prep; p.Train == "" {
		if storedErr != nil || stored.Train == "" {
			return nil, fmt.Errorf("train --resume %s: the checkpoint does not name its training file; give --train", o.Out)
		}
		p.Train = stored.Train
		if p.Test == "" {
			p.Test = stored.Test
		}
		if o.Data.Dev == "" {
			o.Data.Dev = stored.Dev
		}
	}
	return ck, nil
}

// checkResume proves that the run about to train continues the one resume
// was written by: the same settings, epochs and input data.
func (o *Options) checkResume(resume *train.Checkpoint, settings runSettings, td *train.Data) error {
	diff, err := diffSettings(resume.Run, settings)
	if err != nil {
		return fmt.Errorf("train --resume %s: %w", o.Out, err)
	}
	if len(diff) > 0 {
		return usagef("train --resume %s: settings differ from the interrupted run: %s", o.Out, strings.Join(diff, "; "))
	}
	if err := train.CheckResume(resume, o.Epochs, td.Inputs); err != nil {
		return usagef("train --resume %s: %v", o.Out, err)
	}
	return nil
}
