package deploy_test

import (
	"errors"
	"strings"

	"github.com/patas/patas-secrets/internal/config"
)

// onlyUnlanded reports whether every problem in err is a feature another issue is still
// adding ("not in this build yet"): the deployment files are written for the finished
// product, and such a problem goes away when it lands.
func onlyUnlanded(err error) bool {
	var probs config.Problems
	if !errors.As(err, &probs) || len(probs) == 0 {
		return false
	}
	for _, p := range probs {
		if !strings.Contains(p.String(), "not in this build yet") {
			return false
		}
	}
	return true
}
