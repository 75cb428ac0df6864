package gostrap

import (
	"errors"
	"fmt"
	goversion "go/version"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
)

// RollbackError is an index whose answer is older than what this machine installed before.
type RollbackError struct {
	Source, Spec, Offered, Seen string
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("%s offers %s as %s, but this machine has installed %s before: a stale index or a held-back update",
		failure.Redact(e.Source), e.Offered, e.Spec, e.Seen)
}
func (e *RollbackError) Class() failure.Class { return failure.IndexRollback }

// checkRollback refuses an index's latest (or newest of a line) older than one installed here.
// The floor is raised only by verified installs (recordSeen), so a lying index cannot raise it.
func (in *Installer) checkRollback(spec mirror.Spec, v string, s *Source) error {
	if in.opts.AllowDowngrade || spec.Kind == mirror.Exact {
		return nil
	}
	sn := in.seen()
	floor := sn.Latest
	if spec.Kind == mirror.Line {
		floor = sn.Lines[spec.Version]
	}
	if floor != "" && mirror.CompareVersions(v, floor) < 0 {
		return &RollbackError{Source: s.URL, Spec: spec.String(), Offered: v, Seen: floor}
	}
	return nil
}

// seen reads the rollback floor. A corrupt record is said, and rebuilt from the records of
// the toolchains installed here: silently reading it as empty would switch the protection off.
// The rebuilt floor holds for this run whether or not it can be saved.
func (in *Installer) seen() layout.Seen {
	sn, err := in.cache.ReadSeen()
	if !errors.Is(err, layout.ErrSeenCorrupt) {
		return sn
	}
	in.logf("warning: %v; rebuilding it from the toolchains installed in %s", err, in.opts.Dir)
	sn = in.rebuiltSeen()
	if err := in.cache.UpdateSeen(func(saved *layout.Seen, readErr error) {
		if readErr != nil {
			*saved = sn
		}
	}); err != nil {
		in.logf("warning: the rebuilt rollback record could not be saved: %v", err)
	}
	return sn
}

// rebuiltSeen is the floor the stable releases installed here for this machine's platform
// give, for a record that is corrupt.
func (in *Installer) rebuiltSeen() layout.Seen {
	sn := layout.Seen{Lines: map[string]string{}}
	list, _ := layout.Layout{Dir: in.opts.Dir, Platform: mirror.Host()}.List()
	for _, i := range list {
		if i.Meta != nil && i.Meta.Verified.Method != "" {
			raise(&sn, i.Version)
		}
	}
	return sn
}

// recordSeen raises the floor after a verified install of a stable release.
func (in *Installer) recordSeen(v string) {
	err := in.cache.UpdateSeen(func(sn *layout.Seen, readErr error) {
		if readErr != nil {
			// Corrupt: start again from what is installed, this release included.
			*sn = in.rebuiltSeen()
		}
		raise(sn, v)
	})
	if err != nil {
		in.logf("warning: the rollback record could not be updated: %v", err)
	}
}

// raise raises the floor to v, if v is a stable release newer than it.
func raise(sn *layout.Seen, v string) {
	if !mirror.IsStable(v) {
		return
	}
	if sn.Latest == "" || mirror.CompareVersions(v, sn.Latest) > 0 {
		sn.Latest = v
	}
	line := goversion.Lang(v)
	if cur := sn.Lines[line]; cur == "" || mirror.CompareVersions(v, cur) > 0 {
		sn.Lines[line] = v
	}
}
