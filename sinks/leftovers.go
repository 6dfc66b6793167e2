package sinks

import (
	"os"
	"path/filepath"
	"regexp"
)

// A process killed inside a write leaves what it was writing: WriteAtomic's temporary
// file, or an unfinished generation of the files format. Nothing else removes them, so
// each sink tidies once, at its first write after start: a crash loop (a sidecar
// OOM-killed mid-write, restarted, killed again) then leaves at most one write's
// leftovers instead of one per crash. Two processes writing the same output would remove
// each other's temporary file: the loser's rename fails and its engine retries; outputs
// stay whole either way.

// leftoverRE matches WriteAtomic's temporary names for base (see createTemp).
func leftoverRE(base string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(tempPrefix+base) + `\.[0-9a-f]{12}$`)
}

// removeLeftovers removes the regular files beside path that WriteAtomic created as
// temporary files for it. It never follows a symlink and removes nothing else; it is best
// effort (the write that follows reports a directory it cannot use).
func removeLeftovers(path string) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	names, err := filepath.Glob(filepath.Join(dir, tempPrefix+"*"))
	if err != nil {
		return
	}
	re := leftoverRE(base)
	for _, p := range names {
		if !re.MatchString(filepath.Base(p)) {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			_ = os.Remove(p)
		}
	}
}
