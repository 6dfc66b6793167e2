package config

import (
	"path/filepath"
)

// BackupSuffix is appended to an output's path to name its backup (backup: true).
const BackupSuffix = ".bak"

// validateOutputExtras checks an output's own notify and its backup.
func (c *Config) validateOutputExtras(p *Problems, path string, o Output) {
	if o.Notify != nil {
		o.Notify.validate(path+".notify", c, p)
	}
	if o.Backup && o.Format == "files" {
		p.Add(path+".backup", "applies to one-file formats; the files format already swaps whole generations")
	}
	if o.Backup && o.Path != "" {
		bak := filepath.Clean(c.Abs(o.Path)) + BackupSuffix
		for j, other := range c.Outputs {
			if other.Path != "" && filepath.Clean(c.Abs(other.Path)) == bak {
				p.Add(path+".backup", "its backup %s is written by outputs[%d] too", bak, j)
			}
		}
	}
}
