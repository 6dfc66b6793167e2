// Package reliability holds only tests: the sidecar under faults (a fault-injecting proxy
// in front of the real Vault, moto and gcpsm servers), kill -9 during writes, a full or
// read-only disk, planted symlinks and hard links, and a soak. See docs/reliability.md.
package reliability
